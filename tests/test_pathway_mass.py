"""Popliteal mass and tumour red flags, clinical-rules §6.10 rows M1–M5 (young < 25, onset window)."""
import pytest

from service.pathways import popliteal_mass
from tests.support.msk_facts import (NOW, condition, days_ago, make_facts, make_triage, not_suggested, suggested)
from service.chart.dates import months_before


def run(age, ka=None, **kw):
    dvt_status = kw.pop("dvt_status", "not-suspected")
    t = make_triage(make_facts(age, ka=ka or {}, **kw), dvt_suspected=dvt_status != "not-suspected",
                    dvt_status=dvt_status)
    popliteal_mass.evaluate(t)
    return t.card("popliteal-mass")


@pytest.mark.parametrize("age,rule", [(24, "MASS-YOUNG-NG12"), (25, "MASS-ADULT")])
def test_young_boundary(age, rule):
    card = run(age, {"popliteal-mass": True})
    assert card.rules == [rule] and card.tier == "urgent"


def test_m2_young_lump_and_night_pain_very_urgent():
    card = run(16, {"popliteal-mass": True, "night-pain": True, "mass-enlarging": True,
                    "symptom-onset": days_ago(20)})
    assert suggested(card) == ["knee-xray", "cbc", "popliteal-us"]
    for s in card.suggestions:
        assert s.period == (NOW, NOW + (s.period[1] - s.period[0])) and (s.period[1] - NOW).total_seconds() == 48 * 3600
    xr = card.suggestions[0]
    assert xr.done_since == days_ago(20)                 # on or after onset (§7.7)
    assert {"mri-knee", "d-dimer"} <= set(not_suggested(card))
    assert "ng12" in card.guidelines


def test_m2_not_enlarging_ultrasound_without_period():
    card = run(16, {"popliteal-mass": True})
    us = next(s for s in card.suggestions if s.orderable == "popliteal-us")
    assert us.period is None
    assert "cbc" not in suggested(card)


def test_m2_radiograph_after_onset_no_xray():
    card = run(16, {"night-pain": True, "symptom-onset": days_ago(20)},
               radiographs=[("normal-or-effusion-only", days_ago(10))])
    assert "knee-xray" not in suggested(card) and "knee-xray" in not_suggested(card)


def test_radiograph_before_onset_does_not_count():
    card = run(16, {"night-pain": True, "symptom-onset": days_ago(20)},
               radiographs=[("normal-or-effusion-only", days_ago(30))])
    assert "knee-xray" in suggested(card)


def test_onset_unknown_radiograph_within_three_months_counts():
    card = run(40, {"night-pain": True}, radiographs=[("normal-or-effusion-only", days_ago(60))])
    assert card.rules == ["BONE-PAIN-NIGHT"] and "knee-xray" not in suggested(card)
    card = run(40, {"night-pain": True}, radiographs=[("normal-or-effusion-only", days_ago(100))])
    assert "knee-xray" in suggested(card)
    assert card.suggestions[0].done_since == months_before(NOW, 3)


def test_m3_adult_lump_with_night_pain():
    card = run(50, {"popliteal-mass": True, "night-pain": True})
    assert card.rules == ["MASS-ADULT"]
    assert suggested(card) == ["knee-xray", "popliteal-us"]


def test_m3_adult_lump_without_night_pain_ultrasound_only():
    card = run(50, {"popliteal-mass": True, "night-pain": False})
    assert suggested(card) == ["popliteal-us"]


def test_m4_known_confirmed_cyst_routine():
    cyst = condition("Condition/cyst", {"bakers-cyst"}, onset=days_ago(400))
    card = run(50, {"popliteal-mass": True, "night-pain": False, "mass-enlarging": False}, conditions=[cyst])
    assert card.rules == ["MASS-KNOWN-CYST"] and card.tier == "routine" and suggested(card) == []


@pytest.mark.parametrize("verification", ["unconfirmed", "provisional", "differential"])
def test_m4_unconfirmed_cyst_is_not_a_known_cause(verification):
    cyst = condition("Condition/cyst", {"bakers-cyst"}, onset=days_ago(400), verification=verification)
    card = run(50, {"popliteal-mass": True}, conditions=[cyst])
    assert card.rules == ["MASS-ADULT"]


def test_m4_enlarging_cyst_goes_to_m3():
    cyst = condition("Condition/cyst", {"bakers-cyst"}, onset=days_ago(400))
    card = run(50, {"popliteal-mass": True, "mass-enlarging": True}, conditions=[cyst])
    assert card.rules == ["MASS-ADULT"] and card.tier == "urgent"


def test_m4_not_for_young():
    cyst = condition("Condition/cyst", {"bakers-cyst"}, onset=days_ago(400))
    card = run(20, {"popliteal-mass": True}, conditions=[cyst])
    assert card.rules == ["MASS-YOUNG-NG12"]


def test_m5_adult_night_pain():
    card = run(60, {"night-pain": True, "popliteal-mass": False})
    assert card.rules == ["BONE-PAIN-NIGHT"] and suggested(card) == ["knee-xray"]


def test_m1_suspicious_lesion_radiograph():
    card = run(60, {}, radiographs=[("suspicious-lesion", days_ago(3))])
    assert card.rules == ["XR-SUSPICIOUS-LESION"] and card.tier == "urgent" and suggested(card) == []
    assert any("sarcoma" in line for line in card.recommendation)


def test_m1_tumour_condition_unconfirmed_counts():
    c = condition("Condition/osteosarcoma", {"bone-tumour"}, onset=days_ago(10), verification="provisional")
    card = run(15, {"night-pain": True}, conditions=[c])
    assert card.rules == ["XR-SUSPICIOUS-LESION", "MASS-YOUNG-NG12"]


def test_age_unknown_handled_as_young():
    card = run(None, {"popliteal-mass": True})
    assert card.rules == ["MASS-YOUNG-NG12"]


def test_dvt_open_no_popliteal_us():
    card = run(50, {"popliteal-mass": True}, dvt_status="open")
    assert "popliteal-us" not in suggested(card) and "popliteal-us" in not_suggested(card)
    assert "d-dimer" not in not_suggested(card)


def test_no_red_flag_no_card():
    assert run(30, {"popliteal-mass": False, "night-pain": False}) is None
