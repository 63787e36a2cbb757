"""Knee injury imaging, clinical-rules §6.9 rows R1–R9 (V17/V18/V30-like facts, boundaries)."""
import pytest

from service.pathways import knee_injury
from tests.support.msk_facts import (NOW, OTTAWA_NEG, condition, days_ago, make_facts, make_triage, not_suggested,
                                     procedure, suggested)

def run(age=30, *, mechanism="twist", days=1, ka=None, **kw):
    items = {"injury-mechanism": mechanism, "injury-date": days_ago(days), **OTTAWA_NEG, **(ka or {})}
    items = {k: v for k, v in items.items() if v is not None}
    t = make_triage(make_facts(age, ka=items, **kw), dvt_suspected=kw.pop("dvt", False))
    knee_injury.evaluate(t)
    return t, t.card("knee-injury-imaging")


def test_v17_fall_age_60_ottawa_and_pittsburgh_positive():
    t, card = run(60, mechanism="fall", ka={"leg-swelling": False})
    assert card.tier == "urgent"
    assert card.rules == ["OTTAWA-POS", "PITTSBURGH-POS"]
    assert card.scores == {"ottawa": True, "pittsburgh": True}
    assert t.scores["ottawa"] is True and t.scores["pittsburgh"] is True
    assert suggested(card) == ["knee-xray"]
    assert {"mri-knee", "d-dimer", "venous-duplex-us"} <= set(not_suggested(card))
    xr = card.suggestions[0]
    assert xr.done_since == days_ago(1)                    # on or after the injury (§7.7)
    assert len(card.summary) <= 139 and card.summary.startswith("Knee radiograph")
    assert {"ottawa", "acr"} <= set(card.guidelines)


def test_v18_twist_effusion_locking_giving_way():
    t, card = run(30, days=3, ka={"joint-effusion": True, "knee-locking": True, "knee-giving-way": True})
    assert card.rules == ["ACR-EFFUSION-XR", "KNEE-DERANGEMENT-XR-FIRST"]
    assert card.scores == {"ottawa": False}                # Pittsburgh does not apply to a twist
    assert suggested(card) == ["knee-xray"]
    assert {"mri-knee", "d-dimer"} <= set(not_suggested(card))
    assert card.tier == "urgent"


def test_r9_rules_negative_no_card_rules_carried():
    t, card = run(30)
    assert card is None
    assert t.carry_rules == ["OTTAWA-NEG", "KNEE-INJURY-NO-XR"]
    assert t.scores == {"ottawa": False}
    assert {n.orderable for n in t.carry_not_recommended} == {"knee-xray", "mri-knee"}
    assert any("< 1.5%" in n.reason for n in t.carry_not_recommended)
    assert t.carry_evidence


def test_r9_with_pittsburgh_negative():
    t, card = run(30, mechanism="fall")
    assert card is None and t.scores == {"ottawa": False, "pittsburgh": False}


def test_r2b_unknown_item_indeterminate_images():
    t, card = run(30, ka={"knee-flexion-90": None})
    assert card.rules == ["OTTAWA-INDETERMINATE"]
    assert "ottawa" not in card.scores and "ottawa" not in t.scores
    assert suggested(card) == ["knee-xray"]
    assert any("knee-flexion-90" in line for line in card.unknown)


@pytest.mark.parametrize("age,rule", [(55, "OTTAWA-POS"), (54, None)])
def test_ottawa_age_boundary(age, rule):
    _t, card = run(age)
    assert (card.rules[0] if card else None) == rule


@pytest.mark.parametrize("age,fires", [(12, False), (11, True), (50, False), (51, True)])
def test_pittsburgh_age_boundary(age, fires):
    # age < 5 would stop Ottawa; these ages keep Ottawa negative below 55
    _t, card = run(age, mechanism="blunt")
    assert (card is not None and "PITTSBURGH-POS" in card.rules) is fires


@pytest.mark.parametrize("days,acute", [(7, True), (8, False)])
def test_acute_seven_days(days, acute):
    _t, card = run(60, days=days)
    assert (card is not None) is acute


@pytest.mark.parametrize("days,applies", [(6, True), (7, False)])
def test_pittsburgh_six_days(days, applies):
    t, _card = run(30, mechanism="fall", days=days)
    assert ("pittsburgh" in t.scores) is applies


@pytest.mark.parametrize("days,recent", [(42, True), (43, False)])
def test_recent_injury_42_days_derangement(days, recent):
    _t, card = run(30, days=days, ka={"knee-locking": True})
    assert (card is not None and card.rules == ["KNEE-DERANGEMENT-XR-FIRST"]) is recent


def test_r1_dislocation_without_injury():
    t = make_triage(make_facts(30, ka={"knee-deformity": True}))
    knee_injury.evaluate(t)
    card = t.card("knee-injury-imaging")
    assert card.rules == ["KNEE-DISLOCATION"] and card.tier == "emergency-immediate"
    assert suggested(card) == ["knee-xray", "abi"]
    assert "mri-knee" in not_suggested(card) and "d-dimer" in not_suggested(card)
    assert (NOW - card.suggestions[0].done_since).total_seconds() == 24 * 3600


def test_r3b_prior_surgery_fall():
    p = procedure("Procedure/tka", {"knee-surgery"}, days_ago(800))
    t, card = run(30, mechanism="fall", procedures=[p])
    assert card.rules == ["KNEE-INJURY-PRIOR-SURGERY"]
    assert "ottawa" not in t.scores and "pittsburgh" not in t.scores
    assert suggested(card) == ["knee-xray"]


def test_twist_with_prior_surgery_no_rule_no_card():
    p = procedure("Procedure/tka", {"knee-surgery"}, days_ago(800))
    t, card = run(30, procedures=[p])
    assert card is None and t.carry_rules == []


def test_r6_mri_after_normal_radiograph():
    t, card = run(30, days=10, ka={"knee-giving-way": True}, radiographs=[("normal-or-effusion-only", days_ago(5))])
    assert card.rules == ["KNEE-DERANGEMENT-MRI"]
    assert suggested(card) == ["mri-knee"]
    assert "knee-xray" in not_suggested(card)


def test_radiograph_before_injury_does_not_count():
    _t, card = run(30, days=10, ka={"knee-giving-way": True}, radiographs=[("normal-or-effusion-only", days_ago(11))])
    assert card.rules == ["KNEE-DERANGEMENT-XR-FIRST"]
    assert "mri-knee" in not_suggested(card)


def test_r7_fracture():
    _t, card = run(60, days=2, radiographs=[("fracture", days_ago(1))])
    assert card.rules == ["KNEE-FRACTURE"] and card.tier == "urgent"
    assert suggested(card) == [] and "knee-xray" in not_suggested(card)


def test_r8_no_fracture_routine_and_r2_skipped():
    _t, card = run(60, days=2, radiographs=[("normal-or-effusion-only", days_ago(1))])
    assert card.rules == ["KNEE-INJURY-XR-NO-FRACTURE"] and card.tier == "routine"
    assert suggested(card) == [] and {"knee-xray", "mri-knee"} <= set(not_suggested(card))


def test_injury_date_unknown_flag_uses_mechanism_time():
    t = make_triage(make_facts(60, ka={"injury-mechanism": "fall", **OTTAWA_NEG}))
    knee_injury.evaluate(t)
    card = t.card("knee-injury-imaging")
    assert "injury-date-unknown" in card.flags


def test_knee_injury_condition_without_mechanism():
    c = condition("Condition/sprain", {"knee-injury"}, onset=days_ago(2))
    t = make_triage(make_facts(60, ka=OTTAWA_NEG, conditions=[c]))
    knee_injury.evaluate(t)
    card = t.card("knee-injury-imaging")
    assert card.rules == ["OTTAWA-POS"] and any("Condition/sprain" in line for line in card.evidence)


def test_dvt_suspected_keeps_dvt_tests_open():
    t = make_triage(make_facts(60, ka={"injury-mechanism": "fall", "injury-date": days_ago(1), **OTTAWA_NEG}),
                    dvt_suspected=True, dvt_status="open")
    knee_injury.evaluate(t)
    assert not {"d-dimer", "venous-duplex-us"} & set(not_suggested(t.card("knee-injury-imaging")))


def test_blunt_derangement_pcl_text():
    _t, card = run(30, mechanism="blunt", ka={"knee-locking": True})
    assert any("PCL" in line for line in card.recommendation)


def test_no_injury_no_card():
    t = make_triage(make_facts(30, ka={"injury-mechanism": "none"}))
    knee_injury.evaluate(t)
    assert t.cards == {} and t.carry_rules == []
