"""Inflammatory arthritis bloodwork, clinical-rules §6.12 (NG100; V21-like facts; 30 min, 12 weeks)."""
import pytest

from service.pathways import inflammatory
from tests.support.msk_facts import condition, days_ago, make_facts, make_triage, not_suggested, q, suggested

BLOODS = ["rheumatoid-factor", "anti-ccp", "crp", "esr", "cbc"]


def run(ka, age=45, **kw):
    t = make_triage(make_facts(age, ka=ka, **kw))
    inflammatory.evaluate(t)
    return t.card("inflammatory-arthritis")


def test_v21_like_other_joints_urgent():
    card = run({"synovitis-other-joints": True, "joint-effusion": True, "morning-stiffness": q(90, "min"),
                "hot-swollen-joint": False, "symptom-onset": days_ago(56)})
    assert card.rules == ["IA-NG100-URGENT"] and card.tier == "urgent"
    assert suggested(card) == BLOODS
    assert {"d-dimer", "mri-knee"} <= set(not_suggested(card))
    assert any("must not delay referral" in line for line in card.recommendation)
    assert "ng100" in card.guidelines


@pytest.mark.parametrize("minutes,fires", [(30, True), (29, False)])
def test_morning_stiffness_boundary(minutes, fires):
    card = run({"joint-effusion": True, "morning-stiffness": q(minutes, "min"), "symptom-onset": days_ago(20)})
    assert (card is not None) is fires


def test_stiffness_in_hours_converted_by_chart_layer():
    card = run({"joint-effusion": True, "morning-stiffness": q(60, "min", as_recorded="1 h"),
                "symptom-onset": days_ago(20)})
    assert card.rules == ["IA-NG100-REFER"]


@pytest.mark.parametrize("days,rule,tier", [(84, "IA-NG100-URGENT", "urgent"), (83, "IA-NG100-REFER", "routine")])
def test_twelve_weeks_boundary(days, rule, tier):
    card = run({"joint-effusion": True, "morning-stiffness": q(45, "min"), "symptom-onset": days_ago(days)})
    assert card.rules == [rule] and card.tier == tier
    assert suggested(card) == BLOODS


def test_onset_unknown_handled_as_urgent():
    card = run({"joint-effusion": True, "morning-stiffness": q(45, "min")})
    assert card.rules == ["IA-NG100-URGENT"]


def test_hot_joint_is_not_synovitis_branch():
    assert run({"joint-effusion": True, "morning-stiffness": q(45, "min"), "hot-swollen-joint": True}) is None


def test_recent_injury_is_not_synovitis_branch():
    assert run({"joint-effusion": True, "morning-stiffness": q(45, "min"), "injury-mechanism": "twist",
                "injury-date": days_ago(5)}) is None


def test_stiffness_unknown_no_card():
    assert run({"joint-effusion": True}) is None


def test_known_ra_flare_no_serology():
    ra = condition("Condition/ra", {"rheumatoid-arthritis"}, onset=days_ago(1000))
    card = run({"synovitis-other-joints": True}, conditions=[ra])
    assert card.rules == ["IA-KNOWN-FLARE"] and card.tier == "urgent" and suggested(card) == []


def test_unconfirmed_ra_does_not_remove_serology():
    ra = condition("Condition/ra", {"rheumatoid-arthritis"}, onset=days_ago(1000), verification="provisional")
    card = run({"synovitis-other-joints": True}, conditions=[ra])
    assert card.rules == ["IA-NG100-URGENT"]


def test_dvt_suspected_keeps_d_dimer_open():
    t = make_triage(make_facts(45, ka={"synovitis-other-joints": True}), dvt_suspected=True, dvt_status="open")
    inflammatory.evaluate(t)
    assert "d-dimer" not in not_suggested(t.card("inflammatory-arthritis"))
