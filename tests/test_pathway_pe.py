"""PE emergency (§6.1), Wells PE (§4.3), PERC (§4.4) and limb ischaemia (§6.2): boundaries and rows."""
from __future__ import annotations

from service.cards.merge import pe_supersedes_dvt
from service.chart.facts import Pregnancy
from service.pathways import dvt, limb_ischaemia, pe, pe_pregnancy
from service.scores.perc import perc, perc_applies
from service.scores.wells_pe import wells_pe
from tests.support.msk_facts import make_facts, make_triage, not_suggested, q, src, suggested

CHEST = {"chest-pain": [src("Condition/cp")]}
HAEMOPTYSIS = {"haemoptysis": [src("Condition/hae")]}

PERC_CLEAR = dict(
    ka={"pe-suspicion-low": True, "leg-swelling": False},
    vitals={"heart_rate": q(80, "/min"), "spo2": q(98, "%")},
)


def _pe_triage(facts, **kw):
    t = make_triage(facts, **kw)
    t.pe_symptom = bool(set(facts.symptoms) & {"dyspnoea", "chest-pain", "haemoptysis", "syncope"})
    return t


def _item(w, iid):
    return next(i for i in w.items if i.id == iid)


# -- Wells PE ---------------------------------------------------------------------------------
def test_wells_pe_heart_rate_100_does_not_score_101_does():
    f100 = make_facts(50, vitals={"heart_rate": q(100, "/min")}, symptoms=CHEST)
    f101 = make_facts(50, vitals={"heart_rate": q(101, "/min")}, symptoms=CHEST)
    assert _item(wells_pe(f100), "PE-HR").state == "zero"
    assert _item(wells_pe(f101), "PE-HR").state == "scores"


def test_wells_pe_missing_heart_rate_is_unknown_and_widens_max():
    f = make_facts(50, ka={"pe-most-likely": False}, symptoms=CHEST)
    w = wells_pe(f)
    assert _item(w, "PE-HR").state == "unknown"
    assert w.score_keys()["wellsPeMax"] == w.score + 1.5


def test_wells_pe_v15_like_scores_8_5_and_likely():
    f = make_facts(45, ka={"pe-most-likely": True, "deep-vein-tenderness": True, "leg-swelling": True},
                   vitals={"heart_rate": q(112, "/min"), "spo2": q(91, "%"), "sbp": q(118, "mm[Hg]")},
                   symptoms={**CHEST, **HAEMOPTYSIS})
    w = wells_pe(f)
    assert w.score == 8.5 and w.klass == "likely"


def test_wells_pe_4_is_unlikely():
    f = make_facts(45, ka={"pe-most-likely": True, "deep-vein-tenderness": False},
                   vitals={"heart_rate": q(101, "/min")}, symptoms=CHEST)
    w = wells_pe(f)
    assert w.score == 4.5 and w.likely
    f = make_facts(45, ka={"pe-most-likely": False, "deep-vein-tenderness": True, "leg-swelling": True},
                   vitals={"heart_rate": q(90, "/min")}, symptoms={**CHEST, **HAEMOPTYSIS})
    w = wells_pe(f)
    assert w.score == 4.0 and w.klass == "unlikely" and not w.likely


# -- PERC -------------------------------------------------------------------------------------
def test_perc_heart_rate_100_is_positive_99_is_not():
    f = make_facts(40, ka=PERC_CLEAR["ka"], vitals={"heart_rate": q(100, "/min"), "spo2": q(98, "%")})
    assert perc(f).result == "positive"
    f = make_facts(40, ka=PERC_CLEAR["ka"], vitals={"heart_rate": q(99, "/min"), "spo2": q(98, "%")})
    assert perc(f).result == "negative"


def test_perc_spo2_95_is_absent_94_is_present():
    f = make_facts(40, ka=PERC_CLEAR["ka"], vitals={"heart_rate": q(80, "/min"), "spo2": q(95, "%")})
    assert perc(f).result == "negative"
    f = make_facts(40, ka=PERC_CLEAR["ka"], vitals={"heart_rate": q(80, "/min"), "spo2": q(94, "%")})
    assert perc(f).result == "positive"


def test_perc_age_50_is_positive_49_is_not():
    assert perc(make_facts(50, **PERC_CLEAR)).result == "positive"
    assert perc(make_facts(49, **PERC_CLEAR)).result == "negative"


def test_perc_calf_2_cm_is_swelling_unless_bilateral():
    ka = {"pe-suspicion-low": True, "leg-swelling": False, "calf-circumference-difference": q(2.0, "cm")}
    assert perc(make_facts(40, ka=ka, vitals=PERC_CLEAR["vitals"])).result == "positive"
    ka["calf-circumference-difference"] = q(1.9, "cm")
    assert perc(make_facts(40, ka=ka, vitals=PERC_CLEAR["vitals"])).result == "negative"
    ka = {"pe-suspicion-low": True, "leg-swelling": True, "symptom-side": "bilateral"}
    assert perc(make_facts(40, ka=ka, vitals=PERC_CLEAR["vitals"])).result == "negative"


def test_perc_missing_vital_is_incomplete_and_gate():
    f = make_facts(40, ka=PERC_CLEAR["ka"], vitals={"heart_rate": q(80, "/min")})
    assert perc(f).result == "incomplete"
    assert perc_applies(f)
    assert not perc_applies(make_facts(17, **PERC_CLEAR))
    assert not perc_applies(make_facts(40, ka={"pe-suspicion-low": False}))


# -- pathway ----------------------------------------------------------------------------------
def test_not_applicable_without_pe_symptom():
    t = _pe_triage(make_facts(40))
    pe.evaluate(t)
    assert "pe-emergency" not in t.cards


def test_p1_perc_negative_no_card_rule_carried():
    t = _pe_triage(make_facts(40, symptoms=CHEST, **PERC_CLEAR))
    pe.evaluate(t)
    assert "pe-emergency" not in t.cards
    assert t.pe_excluded_rule == "PE-PERC-NEG" and "PE-PERC-NEG" in t.carry_rules
    assert t.scores["perc"] == "negative"
    assert {n.orderable for n in t.carry_not_recommended} >= {"d-dimer", "ctpa"}


def test_p5_likely_ctpa_and_superseding_dvt():
    f = make_facts(45, ka={"pe-most-likely": True, "deep-vein-tenderness": True, "leg-swelling": True},
                   vitals={"heart_rate": q(112, "/min"), "spo2": q(91, "%"), "sbp": q(118, "mm[Hg]")},
                   symptoms={**CHEST, **HAEMOPTYSIS})
    t = _pe_triage(f, dvt_suspected=True)
    t.suspicion = ["S1: leg swelling"]
    pe.evaluate(t)
    card = t.cards["pe-emergency"]
    assert card.tier == "emergency-immediate" and t.pe_tier == "emergency-immediate"
    assert card.rules == ["PE-RED-FLAG", "PE-LIKELY-CTPA"] and t.pe_supersedes_dvt
    assert t.pe_supersede_text == pe_pregnancy.SUPERSEDE_NOTE
    dvt.evaluate(t)
    assert "dvt-pathway" in t.cards                       # recorded; assembly decides it is superseded
    pe_supersedes_dvt(t)
    assert "dvt-pathway" not in t.cards
    assert "DVT-SUPERSEDED-BY-PE" in card.rules and card.recommendation[-1] == pe_pregnancy.SUPERSEDE_NOTE
    assert card.scores["wellsPe"] == 8.5 and "wellsPeMax" not in card.scores
    assert "wellsDvt" in card.scores and "dDimer" in card.scores
    assert "DVT suspected, S1: leg swelling" in card.evidence
    assert suggested(card) == ["ctpa"]
    assert {"d-dimer", "knee-xray", "mri-knee", "popliteal-us"} <= set(not_suggested(card))
    assert len(card.summary) <= 139 and "Wells PE 8.5" in card.summary
    assert t.pe_likely


def test_p6_unlikely_ddimer_and_low_suspicion_perc_positive_same_day():
    f = make_facts(55, ka={"pe-most-likely": False, "deep-vein-tenderness": False, "pe-suspicion-low": True,
                           "leg-swelling": False},
                   vitals={"heart_rate": q(90, "/min"), "spo2": q(97, "%")}, symptoms=CHEST)
    t = _pe_triage(f, dvt_suspected=True)
    pe.evaluate(t)
    card = t.cards["pe-emergency"]
    assert "PE-UNLIKELY-DDIMER" in card.rules and "PE-LOW-SUSPICION-PERC-POS" in card.rules
    assert card.tier == "emergency-same-day"
    assert "DVT-SUPERSEDED-BY-PE" not in card.rules
    assert suggested(card) == ["d-dimer"]
    assert card.scores["perc"] == "positive"


def test_p3_unstable_with_dvt_suspected_only():
    f = make_facts(60, vitals={"sbp": q(85, "mm[Hg]")})
    t = _pe_triage(f, dvt_suspected=True)
    pe.evaluate(t)
    card = t.cards["pe-emergency"]
    assert card.rules[0] == "PE-UNSTABLE" and card.tier == "emergency-immediate"
    assert "ctpa" in suggested(card)
    f = make_facts(60, vitals={"sbp": q(90, "mm[Hg]")})
    t = _pe_triage(f, dvt_suspected=True)
    pe.evaluate(t)
    assert "pe-emergency" not in t.cards


def test_p7_pregnancy_duplex_first_only_with_dvt_signs():
    f = make_facts(30, symptoms=CHEST, ka={"leg-swelling": True})
    f.pregnancy = Pregnancy("pregnant", [src("Observation/preg")], 70)
    t = _pe_triage(f, dvt_suspected=True, population="pregnancy")
    pe.evaluate(t)
    card = t.cards["pe-emergency"]
    assert "PE-PREGNANCY" in card.rules and "wellsPe" not in card.scores and "perc" not in card.scores
    assert suggested(card) == ["venous-duplex-us"] and "d-dimer" in not_suggested(card)
    # pregnancy alone (an S5 risk factor) suspects DVT but never holds back chest imaging (RCOG GTG 37b)
    f = make_facts(30, symptoms=CHEST)
    f.pregnancy = Pregnancy("pregnant", [src("Observation/preg")], 70)
    t = _pe_triage(f, dvt_suspected=True, population="pregnancy")
    pe.evaluate(t)
    assert suggested(t.cards["pe-emergency"]) == ["ctpa"]


def test_p8_paediatric_no_scores_no_tests():
    t = _pe_triage(make_facts(12, symptoms=CHEST))
    pe.evaluate(t)
    card = t.cards["pe-emergency"]
    assert "PE-PAEDIATRIC" in card.rules and not card.suggestions and not card.scores


def test_limb_ischaemia():
    t = make_triage(make_facts(60, ka={"acute-limb-ischaemia": False}))
    limb_ischaemia.evaluate(t)
    assert "limb-ischaemia" not in t.cards
    t = make_triage(make_facts(60, ka={"acute-limb-ischaemia": True, "pulse-loss-on-provocation": True}))
    limb_ischaemia.evaluate(t)
    card = t.cards["limb-ischaemia"]
    assert card.tier == "emergency-immediate" and card.rules[0] == "ALI-RED-FLAG"
    assert "PAES-PULSE-LOSS" in card.rules and not card.suggestions
    assert {"abi", "arterial-duplex", "d-dimer", "knee-xray", "mri-knee"} <= set(not_suggested(card))
