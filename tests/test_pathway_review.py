"""Knee pain review and chronic knee pain imaging, clinical-rules §6.13 (V20/V24b-like; r1–r7, C1–C4)."""
import pytest

from service.cards.draft import CardDraft, NotSuggested
from service.pathways import knee_review
from service.pathways.knee_review import ReviewReason
from service.chart.dates import months_before
from tests.support.msk_facts import (NOW, condition, days_ago, make_facts, make_triage, not_suggested, q,
                                     suggested)

OA = condition("Condition/oa", {"knee-osteoarthritis"}, onset=days_ago(730))


def run(ka, age=65, dvt_status="not-suspected", cards=None, **kw):
    t = make_triage(make_facts(age, ka=ka, **kw), dvt_suspected=dvt_status != "not-suspected",
                    dvt_status=dvt_status, cards=cards)
    knee_review.evaluate(t)
    return t, t.card("chronic-knee-pain-imaging")


def test_v20_like_routine_known_cause_xray_first():
    t, card = run({"symptom-onset": days_ago(26 * 7), "pain-limits-walking-or-sleep": False,
                   "morning-stiffness": q(20, "min"), "leg-swelling": False, "joint-effusion": False}, conditions=[OA])
    assert card.tier == "routine" and card.rules == ["CKP-ROUTINE-KNOWN-CAUSE", "CKP-XR-FIRST"]
    assert suggested(card) == ["knee-xray"]
    assert card.suggestions[0].done_since == months_before(NOW, 12)
    assert {"mri-knee", "d-dimer", "venous-duplex-us", "rheumatoid-factor", "anti-ccp"} <= set(not_suggested(card))
    assert "acr" in card.guidelines


def test_v24b_like_dvt_closed_review_drafted_for_the_merge():
    t, card = run({"symptom-onset": days_ago(21), "leg-swelling": False}, age=72, dvt_status="closed",
                  conditions=[OA])
    assert card.topic == "chronic-knee-pain-imaging"
    assert card.tier == "urgent" and card.rules == ["KNEE-PAIN-REVIEW", "CKP-XR-FIRST"]
    assert suggested(card) == ["knee-xray"]
    assert {"venous-duplex-us", "d-dimer", "mri-knee"} <= set(not_suggested(card))
    assert card.summary.startswith("DVT excluded") and len(card.summary) <= 139
    assert card.recommendation[0] == "DVT excluded; the knee pain still needs review."


@pytest.mark.parametrize("days,rules", [(13, None), (14, ["KNEE-PAIN-REVIEW", "CKP-XR-FIRST"]),
                                        (83, ["KNEE-PAIN-REVIEW", "CKP-XR-FIRST"])])
def test_duration_14_days_r6(days, rules):
    _t, card = run({"symptom-onset": days_ago(days)})
    assert (card.rules if card else None) == rules


@pytest.mark.parametrize("cause,rules,tier", [
    (True, ["CKP-ROUTINE-KNOWN-CAUSE", "CKP-XR-FIRST"], "routine"),
    (False, ["KNEE-PAIN-REVIEW", "CKP-XR-FIRST"], "urgent"),
])
def test_twelve_weeks_r7_vs_known_cause(cause, rules, tier):
    _t, card = run({"symptom-onset": days_ago(84)}, conditions=[OA] if cause else [])
    assert card.rules == rules and card.tier == tier


def test_unconfirmed_oa_is_not_a_known_cause():
    oa = condition("Condition/oa", {"knee-osteoarthritis"}, onset=days_ago(730), verification="provisional")
    _t, card = run({"symptom-onset": days_ago(100)}, conditions=[oa])
    assert card.rules[0] == "KNEE-PAIN-REVIEW"


def test_oa_radiograph_is_a_known_cause_c3():
    _t, card = run({"symptom-onset": days_ago(100)}, radiographs=[("osteoarthritis", days_ago(60))])
    assert card.rules == ["CKP-ROUTINE-KNOWN-CAUSE", "CKP-OA-ON-XR"]
    assert suggested(card) == [] and {"mri-knee", "knee-xray"} <= set(not_suggested(card))


@pytest.mark.parametrize("ka,reason", [
    ({"pain-limits-walking-or-sleep": True}, ReviewReason.PAIN_LIMITS_WALKING_OR_SLEEP),
    ({"knee-locking": True}, ReviewReason.DERANGEMENT), ({"knee-giving-way": True}, ReviewReason.DERANGEMENT),
    ({"joint-effusion": True}, ReviewReason.EFFUSION), ({"leg-redness-warmth": True}, ReviewReason.RED_WARM_LEG),
])
def test_short_duration_reasons(ka, reason):
    _t, card = run({"symptom-onset": days_ago(3), **ka})
    assert card.rules[0] == "KNEE-PAIN-REVIEW" and card.tier == "urgent"
    assert any(str(reason) in line for line in card.evidence)   # the reason in words
    # imaging under 14 days only with derangement or an effusion
    assert (suggested(card) == ["knee-xray"]) is (reason in (ReviewReason.DERANGEMENT, ReviewReason.EFFUSION))


def test_fever_r5():
    _t, card = run({"symptom-onset": days_ago(3)}, vitals={"temperature": q(38.0, "Cel")})
    assert card.rules == ["KNEE-PAIN-REVIEW"] and suggested(card) == []


def test_locking_with_recent_injury_is_not_r2():
    _t, card = run({"symptom-onset": days_ago(3), "knee-locking": True, "injury-mechanism": "twist",
                    "injury-date": days_ago(3)})
    assert card is None


def test_c2_mri_after_normal_radiograph():
    _t, card = run({"symptom-onset": days_ago(100)}, radiographs=[("normal-or-effusion-only", days_ago(30))])
    assert card.rules == ["KNEE-PAIN-REVIEW", "CKP-MRI-AFTER-XR"]
    assert suggested(card) == ["mri-knee"] and "knee-xray" in not_suggested(card)


def test_c2_needs_12_weeks_or_r2():
    _t, card = run({"symptom-onset": days_ago(30)}, radiographs=[("normal-or-effusion-only", days_ago(10))])
    assert card.rules == ["KNEE-PAIN-REVIEW"] and suggested(card) == []
    _t, card = run({"symptom-onset": days_ago(30), "knee-locking": True},
                   radiographs=[("normal-or-effusion-only", days_ago(10))])
    assert "CKP-MRI-AFTER-XR" in card.rules


def test_c4_fracture_raises_to_urgent():
    _t, card = run({"symptom-onset": days_ago(100)}, conditions=[OA], radiographs=[("fracture", days_ago(10))])
    assert "KNEE-FRACTURE" in card.rules and card.tier == "urgent"
    assert "mri-knee" in not_suggested(card)


def test_radiograph_older_than_12_months_does_not_count():
    # the chart layer keeps 12 months; an older one is absent -> C1
    _t, card = run({"symptom-onset": days_ago(100)}, conditions=[OA])
    assert "CKP-XR-FIRST" in card.rules


@pytest.mark.parametrize("topic", ["pe-emergency", "limb-ischaemia", "septic-arthritis", "knee-injury-imaging",
                                   "popliteal-mass", "paes", "inflammatory-arthritis"])
def test_not_evaluated_beside_other_cards(topic):
    _t, card = run({"symptom-onset": days_ago(30)}, cards=[CardDraft(topic, "urgent")])
    assert card is None


def test_not_evaluated_while_dvt_open():
    _t, card = run({"symptom-onset": days_ago(30)}, dvt_status="open")
    assert card is None


def test_onset_unknown_no_duration_reasons():
    _t, card = run({})
    assert card is None


def test_gout_history_listed():
    gout = condition("Condition/gout", {"gout"}, onset=days_ago(900))
    _t, card = run({"symptom-onset": days_ago(30)}, conditions=[gout])
    assert any("Gout history" in line for line in card.evidence)


def test_ottawa_negative_carry_knee_xray_dropped_when_review_suggests_it():
    t = make_triage(make_facts(40, ka={"symptom-onset": days_ago(30)}))
    t.carry_rules += ["OTTAWA-NEG", "KNEE-INJURY-NO-XR"]
    t.carry_not_recommended += [NotSuggested("knee-xray", "x"), NotSuggested("mri-knee", "y")]
    knee_review.evaluate(t)
    assert [n.orderable for n in t.carry_not_recommended] == ["mri-knee"]
