"""Wells DVT (clinical-rules §4.1–4.2) at every boundary the rules name."""
from datetime import timedelta

import pytest

from service.chart.facts import Surgery
from service.scores.wells_dvt import classify, three_tier, wells_dvt
from tests.support.msk_facts import NOW, condition, make_facts, procedure, q, src

EXAM = {"deep-vein-tenderness": False, "entire-leg-swollen": False, "pitting-edema": False,
        "collateral-superficial-veins": False, "calf-circumference-difference": q(1.0, "cm")}


def facts_with(**ka):
    return make_facts(60, ka={**EXAM, **ka})


@pytest.mark.parametrize("cm,points", [(3.0, 1), (2.9, 0), (-1.0, 0), (3.5, 1)])
def test_calf_three_centimetres_scores(cm, points):
    w = wells_dvt(facts_with(**{"calf-circumference-difference": q(cm, "cm")}))
    assert (w.min, w.max) == (points, points)


def test_calf_comparator_unsettled_is_unknown():
    w = wells_dvt(facts_with(**{"calf-circumference-difference": q(3.0, "cm", "<")}))
    assert (w.min, w.max) == (0, 0)  # "< 3.0" settles "not >= 3"
    w = wells_dvt(facts_with(**{"calf-circumference-difference": q(2.0, "cm", ">")}))
    assert (w.min, w.max) == (0, 1)


def test_unknown_exam_items_widen_the_range():
    w = wells_dvt(make_facts(60))
    assert (w.min, w.max) == (0, 5)
    assert w.klass == "indeterminate"


@pytest.mark.parametrize("lo,hi,klass", [(2, 2, "likely"), (1, 1, "unlikely"), (1, 2, "indeterminate"),
                                         (-2, 1, "unlikely"), (0, 5, "indeterminate"), (2, 7, "likely")])
def test_classification(lo, hi, klass):
    assert classify(lo, hi) == klass


@pytest.mark.parametrize("lo,hi,label", [(0, 0, "low"), (1, 2, "moderate"), (3, 3, "high"), (0, 3, "low-high"),
                                         (-2, -2, "low"), (2, 3, "moderate-high")])
def test_three_tier_label(lo, hi, label):
    assert three_tier(lo, hi) == label


def test_alternative_diagnosis_subtracts_two_only_when_attested():
    w = wells_dvt(facts_with(**{"alternative-diagnosis-as-likely": True}))
    assert (w.min, w.max) == (-2, -2)
    w = wells_dvt(facts_with(**{"alternative-diagnosis-as-likely": False}))
    assert (w.min, w.max) == (0, 0)


def test_known_bakers_cyst_does_not_subtract():
    f = facts_with()
    f.conditions = [condition("Condition/cyst", {"bakers-cyst"}, onset=NOW - timedelta(days=400))]
    assert wells_dvt(f).min == 0


@pytest.mark.parametrize("days,points", [(84, 1), (85, 0)])
def test_surgery_day_84_scores_day_85_does_not(days, points):
    f = facts_with()
    f.setting.qualifying_surgeries = [Surgery(NOW - timedelta(days=days), [src("Procedure/tka", NOW - timedelta(days=days))])]
    assert wells_dvt(f).min == points


def test_cancer_without_qualifier_is_a_range_never_zero():
    f = facts_with()
    f.conditions = [condition("Condition/ca", {"active-cancer"}, onset=NOW - timedelta(days=800))]
    w = wells_dvt(f)
    assert (w.min, w.max) == (0, 1)
    assert any(i.flag == "cancer-activity-unconfirmed" for i in w.items)


def test_cancer_with_treatment_scores():
    f = facts_with()
    f.conditions = [condition("Condition/ca", {"active-cancer"}, onset=NOW - timedelta(days=800))]
    f.cancer_treatment = [src("Procedure/chemo", NOW - timedelta(days=10))]
    assert wells_dvt(f).min == 1


def test_previous_dvt_any_clinical_status_scores():
    f = facts_with()
    f.conditions = [condition("Condition/old-dvt", {"vte-history"}, onset=NOW - timedelta(days=2000))]
    assert wells_dvt(f).min == 1


def test_unreadable_conditions_make_history_items_unknown():
    f = facts_with()
    f.unreadable_types = {"Condition"}
    w = wells_dvt(f)
    assert (w.min, w.max) == (0, 3)  # W1, W2, W9 unknown


def test_leg_cast_within_84_days_scores():
    f = facts_with()
    f.procedures = [procedure("Procedure/cast", {"leg-cast"}, NOW - timedelta(days=84))]
    assert wells_dvt(f).min == 1
    f.procedures = [procedure("Procedure/cast", {"leg-cast"}, NOW - timedelta(days=85))]
    assert wells_dvt(f).min == 0
