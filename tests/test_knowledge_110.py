"""Knowledge 1.1.0 ("Changes in 1.1.0" of clinical-rules.md): each change at its boundary, through the
pathways (hand-built Facts) and the whole pipeline (run_triage), never through a vignette's answer."""
from __future__ import annotations

from datetime import timedelta

from service.engine import _load_pathways, run_triage
from service.triage import KNOWLEDGE_VERSION
from tests.support.msk_facts import NOW, make_facts, make_triage, q, src

PATHWAYS = _load_pathways()
CHEST = {"chest-pain": [src("Condition/cp")]}
REASSURING = {"posterior-knee-pain": True, "leg-swelling": False, "symptom-onset": NOW - timedelta(days=3)}


def run(facts, not_pregnant=True):
    if not_pregnant and facts.pregnancy.state == "unknown":
        facts.pregnancy.state = "not-pregnant"
    t = make_triage(facts)
    t.triggers = []
    return t, run_triage(t, PATHWAYS)


def all_rules(cards):
    return [r for c in cards for r in c.rules]


def test_knowledge_version_is_1_1_0():
    assert KNOWLEDGE_VERSION == "1.1.0"


# -- a computed PERC is on a card (§4.11, §6.1 P1) -------------------------------------------------
def test_perc_that_excluded_pe_is_in_the_scores_of_the_most_urgent_card():
    ka = {**REASSURING, "pe-suspicion-low": True}
    facts = make_facts(40, ka=ka, gender="male", symptoms=CHEST,
                       vitals={"heart_rate": q(80, "/min"), "spo2": q(98, "%")})
    _t, cards = run(facts)
    assert [c.topic for c in cards] == ["self-care"]
    assert "PE-PERC-NEG" in cards[0].rules and cards[0].scores.get("perc") == "negative"


def test_perc_on_the_review_card_when_that_is_the_most_urgent():
    ka = {**REASSURING, "pe-suspicion-low": True, "pain-limits-walking-or-sleep": True}
    facts = make_facts(40, ka=ka, gender="male", symptoms=CHEST,
                       vitals={"heart_rate": q(80, "/min"), "spo2": q(98, "%")})
    _t, cards = run(facts)
    top = cards[0]
    assert top.topic == "chronic-knee-pain-imaging"
    assert "PE-PERC-NEG" in top.rules and top.scores.get("perc") == "negative"
    assert sum("perc" in c.scores for c in cards) == 1


# -- 3. Wells W1 and cancer medication (§1.4, §4.1 W1, §5 S5) ----------------------------------------
from service.pathways import dvt_suspicion  # noqa: E402
from service.scores.wells_dvt import cancer_item, wells_dvt  # noqa: E402
from service.scores.wells_pe import wells_pe  # noqa: E402
from tests.support.msk_facts import condition  # noqa: E402

MTX = {"antineoplastic-therapy": [src("MedicationRequest/mtx", display="methotrexate 15 mg weekly")]}
CANCER = condition("Condition/breast-ca", {"active-cancer"}, onset=NOW - timedelta(days=400))
RA = condition("Condition/ra", {"rheumatoid-arthritis"}, onset=NOW - timedelta(days=2000))


def test_w1_cancer_condition_with_anticancer_drug_scores():
    item = cancer_item(make_facts(55, conditions=[CANCER], medication_use=MTX))
    assert (item.points, item.state) == (1, "scores")
    assert {s.ref for s in item.sources} == {"Condition/breast-ca", "MedicationRequest/mtx"}


def test_w1_cancer_condition_without_any_qualifier_is_a_range_flagged():
    item = cancer_item(make_facts(55, conditions=[CANCER]))
    assert item.state == "unknown" and item.points is None and item.flag == "cancer-activity-unconfirmed"


def test_w1_anticancer_drug_without_cancer_condition_is_zero_never_unknown():
    facts = make_facts(55, conditions=[RA], medication_use=MTX)
    item = cancer_item(facts)
    assert (item.points, item.state, item.flag) == (0, "zero", None)
    assert "methotrexate" in item.label and [s.ref for s in item.sources] == ["MedicationRequest/mtx"]
    w = wells_dvt(facts)
    assert next(i for i in w.items if i.id == "W1").points == 0
    assert next(i for i in wells_pe(facts).items if i.id == "PE-CANCER").state != "scores"


def test_w1_drug_alone_with_medications_unreadable_stays_zero_but_cancer_becomes_unknown():
    facts = make_facts(55, conditions=[RA], medication_use=MTX)
    facts.unreadable_types = {"MedicationStatement"}
    assert cancer_item(facts).state == "zero"
    facts = make_facts(55, conditions=[CANCER])
    facts.unreadable_types = {"MedicationStatement"}
    assert cancer_item(facts).state == "unknown"


def test_w1_cancer_treatment_procedure_on_its_own_scores():
    facts = make_facts(55)
    facts.cancer_treatment = [src("Procedure/chemo", NOW - timedelta(days=30), "completed")]
    assert cancer_item(facts).state == "scores"


def test_s5_anticancer_drug_without_cancer_is_not_a_risk_factor():
    ka = {"posterior-knee-pain": True}
    t = make_triage(make_facts(55, ka=ka, conditions=[RA], medication_use=MTX))
    t.triggers = ["T1"]
    assert dvt_suspicion.suspicion(t) == []
    t = make_triage(make_facts(55, ka=ka, conditions=[CANCER], medication_use=MTX))
    t.triggers = ["T1"]
    assert any(line.startswith("S5:") and "Condition/breast-ca" in line for line in dvt_suspicion.suspicion(t))
    t = make_triage(make_facts(55, ka=ka, conditions=[CANCER]))          # activity unconfirmed still counts
    t.triggers = ["T1"]
    assert any(line.startswith("S5:") for line in dvt_suspicion.suspicion(t))


def test_ra_on_methotrexate_with_leg_swelling_is_unlikely_and_gets_a_ddimer_not_a_scan():
    exam = {"posterior-knee-pain": True, "leg-swelling": True, "deep-vein-tenderness": False,
            "entire-leg-swollen": False, "calf-circumference-difference": q(1.0, "cm"), "pitting-edema": False,
            "collateral-superficial-veins": False, "symptom-onset": NOW - timedelta(days=3)}
    facts = make_facts(60, ka=exam, gender="male", conditions=[RA], medication_use=MTX)
    _t, cards = run(facts)
    dvt = next(c for c in cards if c.topic == "dvt-pathway")
    assert dvt.scores["wellsDvt"]["max"] <= 1 and "DVT-UNLIKELY-DDIMER" in dvt.rules
    assert not any("cancer" in line.lower() and "+1" in line for line in dvt.evidence)


def test_chart_methotrexate_started_this_month_is_not_cancer_treatment():
    from tests.chart_fixtures import ICD, condition as fhir_condition, facts_of, med_request
    facts = facts_of([fhir_condition(ICD, "M06.9", id="ra", onset="@now-5y"),
                      med_request("1544403", id="mtx", authored="@now-10d")])
    assert facts.cancer_treatment == []
    assert [s.ref for s in facts.medication_use["antineoplastic-therapy"]] == ["MedicationRequest/mtx"]
    assert cancer_item(facts).state == "zero"


# -- 2. Known Baker's cyst with suspected rupture (§6.10 M3/M4, §6.3 DVT-BAKER-MIMIC) ---------------
from service.pathways import popliteal_mass  # noqa: E402

CYST = condition("Condition/bakers", {"bakers-cyst", "knee-pain"}, onset=NOW - timedelta(days=200))
LUMP = {"posterior-knee-pain": True, "popliteal-mass": True, "mass-enlarging": False, "night-pain": False}


def test_known_cyst_unchanged_is_routine_known_cyst():
    facts = make_facts(60, ka={**LUMP, "sudden-onset": False, "leg-swelling": False}, conditions=[CYST])
    assert popliteal_mass.rows(facts, dvt_suspected=False) == ["MASS-KNOWN-CYST"]


def test_sudden_onset_without_swelling_and_no_dvt_suspicion_is_mass_adult_not_known_cyst():
    facts = make_facts(60, ka={**LUMP, "sudden-onset": True, "leg-swelling": False}, conditions=[CYST])
    assert popliteal_mass.rows(facts, dvt_suspected=False) == ["MASS-ADULT"]


def test_sudden_onset_while_dvt_suspected_gives_no_mass_row():
    facts = make_facts(60, ka={**LUMP, "sudden-onset": True}, conditions=[CYST])
    assert popliteal_mass.rows(facts, dvt_suspected=True) == []


def test_each_swelling_sign_is_a_suspected_rupture():
    for ka in ({"leg-swelling": True}, {"pitting-edema": True}, {"entire-leg-swollen": True},
               {"calf-circumference-difference": q(2.0, "cm")}):
        facts = make_facts(60, ka={**LUMP, **ka}, conditions=[CYST])
        assert popliteal_mass.rupture_suspected(facts), ka
        assert "MASS-KNOWN-CYST" not in popliteal_mass.rows(facts, dvt_suspected=True)
    facts = make_facts(60, ka={**LUMP, "calf-circumference-difference": q(1.9, "cm")}, conditions=[CYST])
    assert popliteal_mass.rows(facts, dvt_suspected=False) == ["MASS-KNOWN-CYST"]


def test_enlarging_cyst_is_never_treated_as_rupture_or_known():
    facts = make_facts(60, ka={**LUMP, "mass-enlarging": True, "leg-swelling": True}, conditions=[CYST])
    assert popliteal_mass.rows(facts, dvt_suspected=True) == ["MASS-ADULT"]


def test_rupture_with_calf_swelling_goes_to_the_dvt_card_only():
    exam = {**LUMP, "leg-swelling": True, "sudden-onset": True, "deep-vein-tenderness": False,
            "entire-leg-swollen": False, "calf-circumference-difference": q(2.5, "cm"), "pitting-edema": False,
            "collateral-superficial-veins": False, "symptom-onset": NOW - timedelta(days=1)}
    _t, cards = run(make_facts(60, ka=exam, gender="male", conditions=[CYST]))
    topics = [c.topic for c in cards]
    assert "popliteal-mass" not in topics and "dvt-pathway" in topics
    dvt = next(c for c in cards if c.topic == "dvt-pathway")
    assert "DVT-BAKER-MIMIC" in dvt.rules and "MASS-KNOWN-CYST" not in all_rules(cards)
    assert any("rupture" in line for line in dvt.recommendation)
    assert not any("unchanged" in (c.summary + " ".join(c.recommendation)).lower() for c in cards)
