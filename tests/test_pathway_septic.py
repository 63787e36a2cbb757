"""Septic arthritis pathway, clinical-rules §6.6–§6.8 (adult, NG51 tier, gout vs septic, child/Kocher)."""
import pytest

from service.cards.draft import CardDraft, Suggest
from service.pathways import septic
from tests.support.msk_facts import (condition, days_ago, make_facts, make_triage, medication, not_suggested, q,
                                     reading, suggested, procedure)

V09_VITALS = {"temperature": q(38.9, "Cel"), "heart_rate": q(104, "/min"), "respiratory_rate": q(20, "/min"),
              "spo2": q(97, "%")}


def run(facts, **kw):
    t = make_triage(facts, **kw)
    septic.evaluate(t)
    return t, t.card("septic-arthritis")


def adult(**kw):
    ka = {"hot-swollen-joint": True, "leg-swelling": False, **kw.pop("ka", {})}
    return make_facts(kw.pop("age", 58), ka=ka, vitals=kw.pop("vitals", V09_VITALS), **kw)


def test_v09_like_same_day_without_ng51_feature():
    t, card = run(adult(labs={"wbc": q(15.2, "10*9/L"), "crp": q(180, "mg/L")}))
    assert card.tier == "emergency-same-day"
    assert card.rules == ["SEPTIC-ADULT"]
    assert card.scores == {"sepsisHighRisk": 0} and t.scores["sepsisHighRisk"] == 0
    # the rows suggest every test; §7.7 suppression of resulted CRP/WBC is the assembly's job
    assert suggested(card) == ["arthrocentesis", "blood-culture", "cbc", "crp", "esr", "knee-xray"]
    assert {"mri-knee", "d-dimer"} <= set(not_suggested(card))
    assert "bsr" in card.guidelines
    assert len(card.summary) <= 139
    assert any("before antibiotics" in line for line in card.recommendation)
    assert any(line.startswith("CRP 180 mg/L: Observation/") for line in card.evidence)


def test_baseline_xray_window_72h():
    _t, card = run(adult())
    xr = next(s for s in card.suggestions if s.orderable == "knee-xray")
    assert (card.suggestions[0].orderable, (make_facts().now - xr.done_since).total_seconds()) == \
        ("arthrocentesis", 72 * 3600)


@pytest.mark.parametrize("key,value,unit", [("sbp", 90, "mm[Hg]"), ("heart_rate", 131, "/min"),
                                            ("respiratory_rate", 25, "/min"), ("spo2", 91, "%")])
def test_ng51_feature_raises_to_immediate(key, value, unit):
    _t, card = run(adult(vitals={**V09_VITALS, key: q(value, unit)}))
    assert card.tier == "emergency-immediate"
    assert card.rules == ["SEPTIC-ADULT", "SEPTIC-ADULT-SEPSIS"]
    assert card.scores["sepsisHighRisk"] == 1


@pytest.mark.parametrize("key,value,unit", [("sbp", 91, "mm[Hg]"), ("heart_rate", 130, "/min"),
                                            ("respiratory_rate", 24, "/min"), ("spo2", 92, "%")])
def test_just_below_ng51_stays_same_day(key, value, unit):
    _t, card = run(adult(vitals={**V09_VITALS, key: q(value, unit)}))
    assert card.tier == "emergency-same-day"


def test_missing_vitals_ask_to_screen_and_do_not_upgrade():
    _t, card = run(adult(vitals={}))
    assert card.tier == "emergency-same-day" and card.scores == {"sepsisHighRisk": 0}
    assert any("screen for sepsis now" in line for line in card.unknown)


def test_septic_condition_within_30_days_triggers():
    c = condition("Condition/sa", {"septic-arthritis"}, onset=days_ago(30))
    _t, card = run(make_facts(40, conditions=[c]))
    assert card is not None and card.rules[0] == "SEPTIC-ADULT"


def test_septic_condition_older_than_30_days_does_not():
    c = condition("Condition/sa", {"septic-arthritis"}, onset=days_ago(31))
    _t, card = run(make_facts(40, conditions=[c]))
    assert card is None


def test_no_trigger_no_card():
    _t, card = run(make_facts(40, ka={"hot-swollen-joint": False}))
    assert card is None


def test_age_unknown_takes_adult_route():
    _t, card = run(adult(age=None))
    assert card.rules[0] == "SEPTIC-ADULT"


@pytest.mark.parametrize("urate,fires", [(360, True), (359, False)])
def test_gout_vs_septic_urate_boundary(urate, fires):
    _t, card = run(adult(labs={"urate": q(urate, "umol/L")}))
    assert ("GOUT-VS-SEPTIC" in card.rules) is fires
    assert ("uric-acid" in suggested(card)) is fires
    assert card.tier == "emergency-same-day"


def test_gout_condition_any_status_and_medication():
    c = condition("Condition/gout", {"gout"}, onset=days_ago(900), clinical_status="resolved")
    _t, card = run(adult(conditions=[c]))
    assert "GOUT-VS-SEPTIC" in card.rules and "ng219" in card.guidelines
    assert any("urate alone" in line for line in card.recommendation)
    _t, card = run(adult(medication_use={"gout-medication": [medication("allo", {"gout-medication"}).source]}))
    assert "GOUT-VS-SEPTIC" in card.rules


def test_d_dimer_not_forbidden_when_dvt_suspected():
    _t, card = run(adult(), dvt_suspected=True, dvt_status="open")
    assert "d-dimer" not in not_suggested(card)


def test_d_dimer_not_forbidden_when_dvt_card_suggests_it():
    dvt = CardDraft("dvt-pathway", "emergency-same-day", suggestions=[Suggest("d-dimer", "DVT-UNLIKELY-DDIMER", "x")])
    _t, card = run(adult(), cards=[dvt])
    assert "d-dimer" not in not_suggested(card)


def test_prosthetic_knee_goes_to_orthopaedics():
    p = procedure("Procedure/tka", {"knee-surgery"}, days_ago(400))
    _t, card = run(adult(procedures=[p]))
    assert any("orthopaedics" in line and "prosthetic" in line.lower() for line in card.recommendation)
    assert any("Procedure/tka" in line for line in card.evidence)


def test_conflict_flag_carried_from_reading():
    hot = reading("Observation/hot", True, flags=frozenset({"conflict"}))
    _t, card = run(make_facts(50, ka={"hot-swollen-joint": hot}, vitals=V09_VITALS))
    assert "conflict" in card.flags


# -- child ----------------------------------------------------------------------------------
def test_child_hot_joint_kocher_info():
    f = make_facts(8, ka={"hot-swollen-joint": True, "bear-weight-4-steps": False},
                   vitals={"temperature": q(38.6, "Cel")}, labs={"esr": q(41, "mm/h"), "wbc": q(12.1, "10*9/L")})
    t, card = run(f)
    assert card.rules == ["SEPTIC-CHILD", "KOCHER-INFO"]
    assert card.tier == "emergency-same-day"
    assert card.scores == {"kocher": 4} and t.scores["kocher"] == 4
    assert "sepsisHighRisk" not in card.scores
    assert {"d-dimer", "venous-duplex-us"} <= set(not_suggested(card))
    assert suggested(card) == ["arthrocentesis", "blood-culture", "cbc", "crp", "esr", "knee-xray"]
    assert any("99.6%" in line and "hip" in line for line in card.evidence)
    assert "kocher" in card.guidelines


def test_child_never_upgraded_by_vitals():
    f = make_facts(8, ka={"hot-swollen-joint": True}, vitals={"heart_rate": q(160, "/min"), "sbp": q(80, "mm[Hg]")})
    _t, card = run(f)
    assert card.tier == "emergency-same-day"


def test_child_kocher_max_when_unknown():
    _t, card = run(make_facts(8, ka={"hot-swollen-joint": True}))
    assert card.scores == {"kocher": 0, "kocherMax": 4}
    assert sum("Kocher criterion" in line for line in card.unknown) == 4


@pytest.mark.parametrize("ka,fires", [
    ({"bear-weight-4-steps": False}, True), ({"joint-effusion": True}, True),
    ({"bear-weight-4-steps": True, "joint-effusion": False}, False),
])
def test_child_fever_with_non_weight_bearing_or_effusion(ka, fires):
    f = make_facts(6, ka=ka, vitals={"temperature": q(38.2, "Cel")})
    _t, card = run(f)
    assert (card is not None) is fires


def test_child_fever_symptom_counts():
    f = make_facts(6, ka={"joint-effusion": True}, symptoms={"fever": [reading("Condition/fever", True).winner.source]})
    _t, card = run(f)
    assert card is not None


def test_child_dvt_suspected_keeps_dvt_tests_open():
    _t, card = run(make_facts(8, ka={"hot-swollen-joint": True}), dvt_suspected=True, dvt_status="open")
    assert not {"d-dimer", "venous-duplex-us"} & set(not_suggested(card))


def test_seventeen_is_child_eighteen_adult():
    _t, card = run(make_facts(17, ka={"hot-swollen-joint": True}))
    assert card.rules[0] == "SEPTIC-CHILD"
    _t, card = run(make_facts(18, ka={"hot-swollen-joint": True}))
    assert card.rules[0] == "SEPTIC-ADULT"
