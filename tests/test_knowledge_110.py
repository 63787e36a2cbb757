"""Knowledge 1.1.0 ("Changes in 1.1.0" of clinical-rules.md): each change at its boundary, through the
pathways (hand-built Facts) and the whole pipeline (run_triage), never through a vignette's answer."""
from __future__ import annotations

import re
from datetime import timedelta

from service.engine import PATHWAYS, run_triage
from service.pathways.state import KNOWLEDGE_VERSION
from tests.support.msk_facts import NOW, make_facts, make_triage, q, src


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
    from tests.support.chart_fixtures import ICD, condition as fhir_condition, facts_of, med_request
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


# -- 1. PE in pregnancy: leg scan first only with DVT signs (§6.1 P7, superseding, §6.16) -----------
from service.chart.facts import Pregnancy, Value  # noqa: E402
from service.pathways.pe_pregnancy import SUPERSEDE_DUPLEX_FIRST, SUPERSEDE_DVT_CONFIRMED, SUPERSEDE_NOTE  # noqa: E402

SIGNS = {"S1": {"leg-swelling": True}, "S2": {"deep-vein-tenderness": True}, "S3": {"pitting-edema": True},
         "S3b": {"entire-leg-swollen": True}, "S4": {"calf-circumference-difference": q(2.0, "cm")}}
NO_SIGNS = {"leg-swelling": False, "deep-vein-tenderness": False, "pitting-edema": False,
            "entire-leg-swollen": False, "calf-circumference-difference": q(1.9, "cm")}


def pregnant_pe(ka, ultrasound=None, sbp=None):
    ka = {"posterior-knee-pain": True, "symptom-onset": NOW - timedelta(days=2), **ka}
    facts = make_facts(30, ka=ka, symptoms=CHEST, vitals={"sbp": q(sbp, "mm[Hg]")} if sbp else None)
    facts.pregnancy = Pregnancy("pregnant", [src("Observation/preg")], 100)
    if ultrasound:
        facts.ultrasounds = [Value(ultrasound, src("Observation/us", NOW - timedelta(hours=3)),
                                   NOW - timedelta(hours=3))]
    t = make_triage(facts, population="pregnancy")
    return t, run_triage(t, PATHWAYS)


def supersede_texts(card):
    return [x for x in (SUPERSEDE_NOTE, SUPERSEDE_DUPLEX_FIRST, SUPERSEDE_DVT_CONFIRMED) if x in card.recommendation]


def test_each_dvt_sign_in_pregnancy_gives_duplex_first_and_only_its_text():
    for name, sign in SIGNS.items():
        _t, cards = pregnant_pe({**NO_SIGNS, **sign})
        pe_card = cards[0]
        assert pe_card.topic == "pe-emergency" and "DVT-SUPERSEDED-BY-PE" in pe_card.rules, name
        assert [s.orderable for s in pe_card.suggestions] == ["venous-duplex-us"], name
        assert supersede_texts(pe_card) == [SUPERSEDE_DUPLEX_FIRST], name
        assert "dvt-pathway" not in [c.topic for c in cards]


def test_pregnancy_alone_goes_to_chest_imaging_and_never_says_duplex_first():
    _t, cards = pregnant_pe(NO_SIGNS)
    pe_card = cards[0]
    assert "DVT-SUPERSEDED-BY-PE" in pe_card.rules            # S5: pregnancy with knee pain
    assert [s.orderable for s in pe_card.suggestions] == ["ctpa"]
    assert supersede_texts(pe_card) == [SUPERSEDE_NOTE]
    text = " ".join(pe_card.recommendation)
    assert "without waiting for a leg scan" in text and "duplex first" not in text.lower()


def test_pregnancy_with_signs_after_a_negative_scan_goes_to_chest_imaging():
    _t, cards = pregnant_pe({**NO_SIGNS, "leg-swelling": True}, ultrasound="no-dvt-seen")
    pe_card = cards[0]
    assert [s.orderable for s in pe_card.suggestions] == ["ctpa"]
    assert supersede_texts(pe_card) == [SUPERSEDE_NOTE]


def test_pregnancy_with_a_current_positive_scan_needs_no_pe_imaging():
    _t, cards = pregnant_pe({**NO_SIGNS, "leg-swelling": True}, ultrasound="dvt-seen")
    pe_card = cards[0]
    assert pe_card.suggestions == []
    assert supersede_texts(pe_card) == [SUPERSEDE_DVT_CONFIRMED]


def test_unstable_pregnant_patient_with_signs_gets_ctpa_not_duplex_first():
    _t, cards = pregnant_pe({**NO_SIGNS, "leg-swelling": True}, sbp=85)
    pe_card = cards[0]
    assert "PE-UNSTABLE" in pe_card.rules and "ctpa" in [s.orderable for s in pe_card.suggestions]
    assert "venous-duplex-us" not in [s.orderable for s in pe_card.suggestions]
    assert supersede_texts(pe_card) == [SUPERSEDE_NOTE]


# -- 7. Fixed texts that contradicted their rows (§6.3 L1–L5, U2, U3, U5, M-ANTI/M-IMG; §4.1 W10) -----
from service.chart.facts import Anticoagulation, DDimer, Quantity as Qty, Setting  # noqa: E402
from service.pathways.dvt_text import (DDIMER_AFTER_NEGATIVE_SCAN, INTERIM_DRAW_FIRST,  # noqa: E402
                                  INTERIM_WITHOUT_DRAW)

EXAM_LIKELY = {"posterior-knee-pain": True, "leg-swelling": True, "deep-vein-tenderness": True,
               "entire-leg-swollen": True, "calf-circumference-difference": q(3.5, "cm"), "pitting-edema": False,
               "collateral-superficial-veins": False, "symptom-onset": NOW - timedelta(days=2)}
EXAM_UNLIKELY = {**EXAM_LIKELY, "deep-vein-tenderness": False, "entire-leg-swollen": False,
                 "calf-circumference-difference": q(1.0, "cm")}


def dvt_card(ka, anticoag=None, imaging_first=False, ultrasounds=(), ddimer=None):
    facts = make_facts(60, ka=ka, gender="male")
    if anticoag is not None:
        facts.anticoagulation = anticoag
    if imaging_first:
        facts.setting = Setting(None, True, imaging_first=True, imaging_first_reason="inpatient (Encounter/e1)")
    for result, hours in ultrasounds:
        t = NOW - timedelta(hours=hours)
        facts.ultrasounds.append(Value(result, src(f"Observation/us-{hours}", t), t))
    if ddimer is not None:
        facts.ddimers.append(ddimer)
    t, cards = run(facts)
    return t, next(c for c in cards if c.topic in ("dvt-pathway", "self-care"))


def texts(card):
    return "\n".join(card.evidence + card.unknown + card.recommendation + [n.reason for n in card.not_recommended]
                     + [card.summary, card.headline])


def positive_ddimer(hours):
    at = NOW - timedelta(hours=hours)
    return DDimer(src("Observation/dd", at), at, "feu", Qty(1800.0, "ug/L"), ["H"], Qty(500.0, "ug/L"))


def test_l5_stops_interim_anticoagulation_but_never_says_dvt_excluded():
    interim = Anticoagulation("current", [src("MedicationRequest/riva", NOW - timedelta(hours=19), "active")],
                              start=NOW - timedelta(hours=19), pre_existing=False)
    _t, card = dvt_card(EXAM_LIKELY, anticoag=interim, ultrasounds=[("no-dvt-seen", 3)], ddimer=positive_ddimer(20))
    assert "DVT-LIKELY-US-NEG-DDIMER-POS-REPEAT" in card.rules
    body = texts(card)
    assert "not yet excluded" in body and "Stop the interim anticoagulation" in body
    # "imaging once DVT is excluded" is a future condition, not a claim
    assert not re.search(r"(?<!once )DVT is excluded|DVT excluded", body)


def test_interim_text_draws_the_ddimer_first_only_without_one_on_record():
    _t, l2 = dvt_card({**EXAM_LIKELY, "ultrasound-within-4h": False})
    assert "DVT-LIKELY-SCAN-DELAYED" in l2.rules and INTERIM_DRAW_FIRST in l2.recommendation
    _t, l3 = dvt_card({**EXAM_LIKELY, "ultrasound-within-4h": False}, ddimer=positive_ddimer(5))
    assert INTERIM_WITHOUT_DRAW in l3.recommendation and "draw the D-dimer first" not in texts(l3)
    _t, u3 = dvt_card(EXAM_UNLIKELY, ddimer=positive_ddimer(5))
    assert "DVT-UNLIKELY-DDIMER-POS-US" in u3.rules and "draw the D-dimer first" not in texts(u3)
    _t, img = dvt_card(EXAM_LIKELY, imaging_first=True)
    assert "DVT-IMAGING-FIRST" in img.rules and "draw the D-dimer first" not in texts(img)
    assert any(line.startswith(INTERIM_WITHOUT_DRAW) for line in img.recommendation)


def test_the_record_that_decides_a_delayed_scan_is_cited():
    _t, l2 = dvt_card({**EXAM_LIKELY, "ultrasound-within-4h": False})
    assert any("No scan result within 4 hours" in line and "Observation/p1-ultrasound-within-4h" in line
               for line in l2.evidence)


def test_under_m_anti_or_m_img_a_repeat_scan_replaces_the_ddimer_step():
    pre_existing = Anticoagulation("current", [src("MedicationRequest/apixaban", NOW - timedelta(days=200), "active")],
                                   start=NOW - timedelta(days=200), pre_existing=True)
    for kwargs, why in (({"anticoag": pre_existing}, "anticoagulated"),
                        ({"imaging_first": True}, "inpatient or recent surgery")):
        for exam in (EXAM_LIKELY, EXAM_UNLIKELY):
            _t, card = dvt_card(exam, **kwargs)
            body = texts(card)
            assert "Scan negative: D-dimer" not in body and DDIMER_AFTER_NEGATIVE_SCAN not in body
            assert f"Scan negative: no D-dimer (not reliable here: {why})" in body
            assert "repeat proximal scan 6–8 days" in body


def test_interim_text_under_uncertain_anticoagulation_asks_first():
    uncertain = Anticoagulation("uncertain", [src("MedicationStatement/old")], reasons=["old statement"])
    _t, card = dvt_card({**EXAM_LIKELY, "ultrasound-within-4h": False}, anticoag=uncertain)
    interim = [line for line in card.recommendation if "interim therapeutic anticoagulation" in line]
    assert interim and all(line.startswith("Confirm whether the patient is still taking an anticoagulant first")
                           for line in interim)


def test_w10_recorded_false_is_shown_as_attested_false_never_as_no_attestation():
    _t, card = dvt_card({**EXAM_LIKELY, "alternative-diagnosis-as-likely": False})
    body = texts(card)
    assert ("Wells 0, alternative diagnosis at least as likely: attested false "
            "(Observation/p1-alternative-diagnosis-as-likely, 2026-03-02 09:00 UTC)") in body
    assert "No attestation" not in body
    _t, card = dvt_card(EXAM_LIKELY)
    assert "No attestation that an alternative diagnosis is at least as likely" in texts(card)


# -- §5: a red, warm leg is named as a differential on the DVT card ----------------------------------
def test_red_warm_leg_names_cellulitis_on_the_dvt_card_citing_its_record():
    _t, card = dvt_card({**EXAM_LIKELY, "leg-redness-warmth": True})
    line = next(line for line in card.recommendation if "cellulitis" in line)
    assert "Observation/p1-leg-redness-warmth" in line and "superficial thrombophlebitis" in line
    _t, card = dvt_card({**EXAM_LIKELY, "leg-redness-warmth": False})
    assert not any("superficial thrombophlebitis" in line for line in card.recommendation)


# -- 5. Septic arthritis with an NG51 sepsis high-risk feature (§6.6, §4.10, §7.5) ---------------------
from datetime import datetime  # noqa: E402

from service.cards.render import CardRenderer  # noqa: E402
from service.terminology.code_sets import default_terminology  # noqa: E402

HOT_KNEE = {"posterior-knee-pain": True, "hot-swollen-joint": True, "leg-swelling": False,
            "symptom-onset": NOW - timedelta(days=1)}
CALM_VITALS = {"heart_rate": q(104, "/min"), "respiratory_rate": q(20, "/min"), "spo2": q(97, "%"),
               "sbp": q(120, "mm[Hg]"), "temperature": q(38.9, "Cel")}
HIGH_RISK = {"sbp": q(90, "mm[Hg]"), "heart_rate": q(131, "/min"), "respiratory_rate": q(25, "/min"),
             "spo2": q(91, "%")}


def septic(vitals):
    _t, cards = run(make_facts(58, ka=HOT_KNEE, gender="male", vitals=vitals))
    return next(c for c in cards if c.topic == "septic-arthritis")


def _period_hours(suggestion):
    start, end = suggestion["actions"][0]["resource"]["occurrencePeriod"].values()
    parse = lambda x: datetime.fromisoformat(x.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds() / 3600


def test_each_ng51_high_risk_feature_gives_cultures_then_antibiotics_within_the_hour():
    for key, value in HIGH_RISK.items():
        card = septic({**CALM_VITALS, key: value})
        assert card.tier == "emergency-immediate" and card.rules[:2] == ["SEPTIC-ADULT", "SEPTIC-ADULT-SEPSIS"], key
        body = " ".join(card.recommendation)
        assert "blood cultures, then give intravenous broad-spectrum antibiotics within 1 hour" in body
        assert "Aspirate the knee before antibiotics" not in body
        culture = next(s for s in card.suggestions if s.orderable == "blood-culture")
        assert culture.period is not None and culture.period[1] - culture.period[0] <= timedelta(hours=1)
        assert [s.orderable for s in card.suggestions][0] == "blood-culture"
        aspiration = next(s for s in card.suggestions if s.orderable == "arthrocentesis")
        assert "only if it does not delay them" in aspiration.reason
        rendered = CardRenderer(default_terminology()).render(card, make_facts(58))
        assert "https://www.nice.org.uk/guidance/ng51" in [link["url"] for link in rendered["links"]]
        sr = next(s for s in rendered["suggestions"] if "blood" in s["label"].lower())
        assert _period_hours(sr) <= 1
        assert "within 1 hour" in card.summary and "aspirate before antibiotics" not in card.summary


def test_just_below_each_ng51_threshold_keeps_aspirate_before_antibiotics():
    card = septic({**CALM_VITALS, "sbp": q(91, "mm[Hg]"), "heart_rate": q(130, "/min"),
                   "respiratory_rate": q(24, "/min"), "spo2": q(92, "%")})
    assert card.tier == "emergency-same-day" and "SEPTIC-ADULT-SEPSIS" not in card.rules
    assert "Aspirate the knee before antibiotics" in " ".join(card.recommendation)
    culture = next(s for s in card.suggestions if s.orderable == "blood-culture")
    assert culture.period is None and "within 1 hour" not in " ".join(card.recommendation)


# -- 6. Pregnancy status unknown before a D-dimer (§1.9 item 4, §4.9 step 5, §6.3, §6.1 P6, §7.7) -------
from service.pathways.pregnancy_test_first import DDIMER_NOTE, RULE as PTEST_RULE  # noqa: E402


def woman(age, ka, pregnancy="unknown", gender="female", ddimer=None, tests=()):
    facts = make_facts(age, ka=ka, gender=gender)
    facts.pregnancy.state = pregnancy
    if ddimer is not None:
        facts.ddimers.append(ddimer)
    for verdict, hours in tests:
        at = NOW - timedelta(hours=hours)
        facts.pregnancy_tests.append(Value(verdict, src(f"Observation/hcg-{hours}", at), at))
    t = make_triage(facts)
    return t, run_triage(t, PATHWAYS)


def negative_ddimer(hours=5):
    at = NOW - timedelta(hours=hours)
    return DDimer(src("Observation/dd", at), at, "feu", Qty(300.0, "ug/L"), ["N"], Qty(500.0, "ug/L"))


def suggestions_of(cards, topic):
    card = next(c for c in cards if c.topic == topic)
    return card, [s.orderable for s in card.suggestions]


def test_unknown_pregnancy_status_puts_a_pregnancy_test_before_the_ddimer_u2():
    for age in (18, 30, 50):
        _t, cards = woman(age, EXAM_UNLIKELY)
        card, orders = suggestions_of(cards, "dvt-pathway")
        assert "DVT-UNLIKELY-DDIMER" in card.rules and PTEST_RULE in card.rules
        assert orders == ["pregnancy-test", "d-dimer"]
        ddimer = card.suggestions[1]
        assert DDIMER_NOTE in ddimer.note and card.recommendation[0].startswith("Pregnancy test first")
        assert card.suggestions[0].period == ddimer.period


def test_no_pregnancy_test_when_pregnancy_is_known_or_cannot_be():
    for kwargs in ({"pregnancy": "not-pregnant"}, {"gender": "male"}):
        _t, cards = woman(30, EXAM_UNLIKELY, **kwargs)
        card, orders = suggestions_of(cards, "dvt-pathway")
        assert orders == ["d-dimer"] and PTEST_RULE not in card.rules
    _t, cards = woman(51, EXAM_UNLIKELY)
    assert suggestions_of(cards, "dvt-pathway")[1] == ["d-dimer"]


def test_pregnancy_test_first_on_l2_and_l4():
    _t, cards = woman(30, {**EXAM_LIKELY, "ultrasound-within-4h": False})
    card, orders = suggestions_of(cards, "dvt-pathway")
    assert "DVT-LIKELY-SCAN-DELAYED" in card.rules and orders[:2] == ["pregnancy-test", "d-dimer"]
    facts = make_facts(30, ka=EXAM_LIKELY, gender="female")
    at = NOW - timedelta(hours=3)
    facts.ultrasounds.append(Value("no-dvt-seen", src("Observation/us", at), at))
    t = make_triage(facts)
    cards = run_triage(t, PATHWAYS)
    card, orders = suggestions_of(cards, "dvt-pathway")
    assert "DVT-LIKELY-US-NEG-DDIMER-NEEDED" in card.rules and orders == ["pregnancy-test", "d-dimer"]
    assert card.tier == "urgent"


def test_negative_ddimer_with_pregnancy_not_excluded_is_unusable_and_excludes_nothing():
    _t, cards = woman(30, EXAM_UNLIKELY, ddimer=negative_ddimer())
    assert all(c.topic != "self-care" for c in cards)
    card = next(c for c in cards if c.topic == "dvt-pathway")
    assert "DVT-UNLIKELY-DDIMER-POS-US" in card.rules and "DVT-UNLIKELY-DDIMER-NEG" not in card.rules
    assert "ddimer-in-pregnancy" in card.flags and "DDIMER-UNRELIABLE" in card.rules
    assert card.scores["dDimer"]["state"] == "unusable"
    assert any("pregnancy not excluded" in line for line in card.evidence)
    _t, cards = woman(30, {**EXAM_UNLIKELY, "leg-swelling": True}, pregnancy="not-pregnant",
                      ddimer=negative_ddimer())
    assert "DVT-UNLIKELY-DDIMER-NEG" in all_rules(cards)


def test_a_pregnancy_test_result_within_24_h_is_shown_instead_of_suggested():
    _t, cards = woman(30, EXAM_UNLIKELY, tests=[("negative", 2)])
    card, orders = suggestions_of(cards, "dvt-pathway")
    assert orders == ["d-dimer"] and PTEST_RULE in card.rules
    assert any("Observation/hcg-2" in line and "82810-3" in line for line in card.evidence)
    _t, cards = woman(30, EXAM_UNLIKELY, tests=[("negative", 30)])
    assert suggestions_of(cards, "dvt-pathway")[1] == ["pregnancy-test", "d-dimer"]


def test_pe_p6_ddimer_with_unknown_pregnancy_gets_the_test_after_the_emergency_line():
    ka = {"posterior-knee-pain": True, "pe-most-likely": False, "leg-swelling": False,
          "deep-vein-tenderness": False, "symptom-onset": NOW - timedelta(days=1)}
    facts = make_facts(30, ka=ka, gender="female", symptoms=CHEST,
                       vitals={"heart_rate": q(80, "/min"), "spo2": q(98, "%")})
    t = make_triage(facts)
    cards = run_triage(t, PATHWAYS)
    card, orders = suggestions_of(cards, "pe-emergency")
    assert "PE-UNLIKELY-DDIMER" in card.rules and PTEST_RULE in card.rules
    assert orders == ["pregnancy-test", "d-dimer"] and card.tier == "emergency-immediate"
    assert card.recommendation[0].startswith("Call an ambulance")
    assert card.recommendation[1].startswith("Pregnancy test first")


def test_chart_reads_negative_and_positive_pregnancy_tests():
    from tests.support.chart_fixtures import LOINC, facts_of, obs
    interp = lambda code: {"interpretation": [{"coding": [{  # noqa: E731
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": code}]}]}
    facts = facts_of([obs(LOINC, "2106-3", id="hcg-neg", when="@now-2h", **interp("NEG"))],
                     patient={"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "@now-30y:date"})
    assert [(v.value, v.source.ref) for v in facts.pregnancy_tests] == [("negative", "Observation/hcg-neg")]
    assert facts.pregnancy.state == "unknown"
    facts = facts_of([obs(LOINC, "2106-3", id="hcg-pos", when="@now-2h", **interp("POS"))],
                     patient={"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "@now-30y:date"})
    assert facts.pregnancy.state == "pregnant" and facts.pregnancy_tests[0].value == "positive"


# -- 4. Self-care in full, and the NSAID caution N1–N5 (§6.15) -----------------------------------------
from service.pathways.self_care import HOME_CARE, PAIN_RELIEF, PAIN_RELIEF_NO_NSAID  # noqa: E402


def self_care_card(facts):
    if facts.pregnancy.state == "unknown":
        facts.pregnancy.state = "not-pregnant"
    t = make_triage(facts)
    cards = run_triage(t, PATHWAYS)
    assert [c.topic for c in cards] == ["self-care"], [(c.topic, c.rules) for c in cards]
    return cards[0]


def test_self_care_gives_the_home_care_in_full_without_caution():
    card = self_care_card(make_facts(40, ka=REASSURING, gender="male"))
    assert card.recommendation == list(HOME_CARE) + [PAIN_RELIEF]
    assert "SELF-CARE-NSAID-CAUTION" not in card.rules and card.guidelines[0] == "ng158"
    assert not any("Relative rest" in line for line in card.recommendation)


def _caution(card):
    assert "SELF-CARE-NSAID-CAUTION" in card.rules and card.tier == "self-care" and not card.suggestions
    assert PAIN_RELIEF_NO_NSAID in card.recommendation and PAIN_RELIEF not in card.recommendation
    assert card.recommendation[: len(HOME_CARE)] == list(HOME_CARE)
    return card.recommendation[len(HOME_CARE) + 1:]


def test_n1_current_prophylactic_or_uncertain_anticoagulant():
    for state in ("current", "prophylactic"):
        facts = make_facts(40, ka=REASSURING, gender="male")
        facts.anticoagulation = Anticoagulation(state, [src("MedicationRequest/apx", display="apixaban 5 mg")])
        lines = _caution(self_care_card(facts))
        assert lines == ["Because you take apixaban 5 mg (MedicationRequest/apx): an anti-inflammatory adds to its "
                         "bleeding risk (stomach and elsewhere)."]
    facts = make_facts(40, ka=REASSURING, gender="male")
    facts.anticoagulation = Anticoagulation("uncertain", [src("MedicationStatement/old-warfarin")],
                                            reasons=["old statement"])
    lines = _caution(self_care_card(facts))
    assert len(lines) == 1 and "may still be taking an anticoagulant" in lines[0]
    assert "MedicationStatement/old-warfarin" in lines[0]


def test_n2_to_n4_conditions_of_any_clinical_status():
    for set_name, words in (("chronic-kidney-disease", "kidney function"), ("heart-failure", "heart failure"),
                            ("peptic-ulcer-gi-bleeding", "stomach ulcer or bleeding")):
        for status in ("active", "resolved"):
            cond = condition(f"Condition/{set_name}", {set_name}, onset=NOW - timedelta(days=900),
                             clinical_status=status)
            lines = _caution(self_care_card(make_facts(40, ka=REASSURING, gender="male", conditions=[cond])))
            assert len(lines) == 1 and f"Condition/{set_name}" in lines[0] and words in lines[0], (set_name, status)


def test_n5_pregnant_only_not_postpartum():
    facts = make_facts(30, ka=REASSURING, gender="female")
    facts.pregnancy = Pregnancy("postpartum", [src("Procedure/delivery")])
    # postpartum suspects DVT (S5) and cannot reach self-care here: N5 is checked on the finding itself
    from service.pathways.self_care import n5_pregnant
    assert n5_pregnant(facts) is None
    facts.pregnancy = Pregnancy("pregnant", [src("Observation/preg")])
    line = n5_pregnant(facts)
    assert "Observation/preg" in line and "20 weeks" in line


def test_several_findings_each_get_a_line_naming_its_resource():
    ckd = condition("Condition/ckd", {"chronic-kidney-disease"}, onset=NOW - timedelta(days=900))
    hf = condition("Condition/hf", {"heart-failure"}, onset=NOW - timedelta(days=900))
    facts = make_facts(40, ka=REASSURING, gender="male", conditions=[ckd, hf])
    facts.anticoagulation = Anticoagulation("current", [src("MedicationRequest/apx", display="apixaban 5 mg")])
    lines = _caution(self_care_card(facts))
    assert [("MedicationRequest/apx" in lines[0]), ("Condition/ckd" in lines[1]), ("Condition/hf" in lines[2])] \
        == [True, True, True]


def test_nsaid_caution_changes_no_tier_and_no_suggestion():
    plain = self_care_card(make_facts(40, ka=REASSURING, gender="male"))
    cond = condition("Condition/gi", {"peptic-ulcer-gi-bleeding"}, onset=NOW - timedelta(days=900))
    cautioned = self_care_card(make_facts(40, ka=REASSURING, gender="male", conditions=[cond]))
    assert (plain.tier, plain.suggestions, [n.orderable for n in plain.not_recommended]) == \
        (cautioned.tier, cautioned.suggestions, [n.orderable for n in cautioned.not_recommended])


def test_l1_plan_after_a_negative_scan_names_the_pregnancy_test_when_pregnancy_is_not_excluded():
    from service.pathways.dvt_text import SCAN_NEGATIVE_THEN_DDIMER, SCAN_NEGATIVE_THEN_PREGNANCY_TEST
    _t, cards = woman(30, EXAM_LIKELY)
    card = next(c for c in cards if c.topic == "dvt-pathway")
    assert "DVT-LIKELY-US4H" in card.rules and SCAN_NEGATIVE_THEN_PREGNANCY_TEST in card.recommendation
    _t, cards = woman(30, EXAM_LIKELY, pregnancy="not-pregnant")
    card = next(c for c in cards if c.topic == "dvt-pathway")
    assert SCAN_NEGATIVE_THEN_DDIMER in card.recommendation


def test_pe_symptom_with_pregnancy_unknown_asks_for_pregnancy_status_at_the_pe_tier():
    ka = {"posterior-knee-pain": True, "pe-most-likely": True, "leg-swelling": False,
          "deep-vein-tenderness": False, "symptom-onset": NOW - timedelta(days=1)}
    facts = make_facts(30, ka=ka, gender="female", symptoms=CHEST, vitals={"heart_rate": q(110, "/min")})
    t = make_triage(facts)
    cards = run_triage(t, PATHWAYS)
    pe_card = next(c for c in cards if c.topic == "pe-emergency")
    assessment = next(c for c in cards if c.topic == "assessment-needed")
    assert "ASSESS-PREGNANCY-STATUS" in assessment.rules and assessment.tier == pe_card.tier
    assert any(line.startswith("Confirm pregnancy status") for line in pe_card.recommendation)
    facts = make_facts(30, ka=ka, gender="female", symptoms=CHEST, vitals={"heart_rate": q(110, "/min")})
    facts.pregnancy.state = "not-pregnant"
    cards = run_triage(make_triage(facts), PATHWAYS)
    assert "ASSESS-PREGNANCY-STATUS" not in all_rules(cards)


def test_pregnancy_status_assessment_keeps_the_superseding_pe_tier():
    ka = {"posterior-knee-pain": True, "pe-most-likely": True, "leg-swelling": True,
          "deep-vein-tenderness": True, "symptom-onset": NOW - timedelta(days=1)}
    facts = make_facts(30, ka=ka, gender="female", symptoms=CHEST, vitals={"heart_rate": q(110, "/min")})
    cards = run_triage(make_triage(facts), PATHWAYS)
    assert [c.topic for c in cards][:1] == ["pe-emergency"] and "DVT-SUPERSEDED-BY-PE" in cards[0].rules
    assessment = next(c for c in cards if c.topic == "assessment-needed")
    assert assessment.tier == "emergency-immediate"


def test_home_care_lines_are_those_of_the_contract_self_care_example():
    import json as _json
    from tests.support.vignettes import SPEC_DIR
    text = (SPEC_DIR / "contract.md").read_text()
    detail = _json.loads('"' + re.search(r'"detail": "(\*\*Self-care with safety net.*?)",\n', text).group(1) + '"')
    block = detail.split("**Recommendation** (home care)\n")[1].split("\n\n")[0]
    assert [line[2:] for line in block.splitlines()] == list(HOME_CARE) + [PAIN_RELIEF]


def test_pregnancy_not_excluded_at_the_age_band_edges_and_for_an_age_range():
    from service.chart.facts import AgeRange
    from service.scores.d_dimer import pregnancy_not_excluded
    for age, expected in ((11, False), (12, True), (50, True), (51, False)):
        facts = make_facts(age, gender="female")
        assert pregnancy_not_excluded(facts) is expected, age
    facts = make_facts(51, gender="female")
    facts.age_range = AgeRange(50, 51, "1975")            # a year-only birthDate straddling 50
    assert pregnancy_not_excluded(facts)
    facts.age_range = AgeRange(51, 52, "1974")
    assert not pregnancy_not_excluded(facts)
    assert not pregnancy_not_excluded(make_facts(30, gender="male"))


def test_unstable_pregnant_patient_with_a_positive_scan_still_gets_the_p7_treatment_line():
    _t, cards = pregnant_pe({**NO_SIGNS, "leg-swelling": True}, ultrasound="dvt-seen", sbp=85)
    pe_card = cards[0]
    assert "PE-UNSTABLE" in pe_card.rules
    assert any(line.startswith("ECG and chest X-ray now; LMWH for the DVT seen on ultrasound")
               for line in pe_card.recommendation)
