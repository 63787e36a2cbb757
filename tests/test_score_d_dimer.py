"""D-dimer interpretation (clinical-rules §4.9; terminology §13) at its boundaries."""
from datetime import timedelta

import pytest

from service.scores.d_dimer import interpret, lab_verdict
from tests.support.msk_facts import NOW, dd, make_facts


def run(d, age=60, adjusted=False, unlikely=True, population="adult", img=False, ac="none", start=None):
    return interpret(make_facts(age), d, age_adjusted_on=adjusted, wells_unlikely=unlikely,
                     population=population, imaging_first=img, anticoag_state=ac, anticoag_start=start)


@pytest.mark.parametrize("value,verdict", [(500, "positive"), (499, "negative"), (650, "positive")])
def test_cut_off_itself_is_positive(value, verdict):
    assert lab_verdict(dd(value), None) == verdict


def test_interpretation_comes_first():
    assert lab_verdict(dd(650, interp=["N"]), None) == "negative"
    assert lab_verdict(dd(100, interp=["H"]), None) == "positive"


@pytest.mark.parametrize("comparator,value,verdict", [("<", 270, "negative"), ("<", 500, "negative"),
                                                      (">=", 500, "positive"), ("<", 1000, None),
                                                      ("<=", 500, None), (">", 200, None)])
def test_comparators(comparator, value, verdict):
    assert lab_verdict(dd(value, comparator=comparator), None) == verdict


def test_unsettled_is_unusable_never_negative():
    state = run(dd(1000, comparator="<"))
    assert state.state == "unusable" and "ddimer-uninterpretable" in state.flags


@pytest.mark.parametrize("age,expected", [(72, "negative"), (51, "positive"), (50, "positive")])
def test_age_adjusted_cut_off_only_above_50(age, expected):
    state = run(dd(650), age=age, adjusted=True)
    assert state.state == expected
    assert state.age_adjusted is (age > 50)


@pytest.mark.parametrize("high,applies", [(490, True), (510, True), (489, False), (511, False)])
def test_age_adjustment_needs_a_500_lab_cut_off(high, applies):
    state = run(dd(650, high=high), age=72, adjusted=True)
    assert state.age_adjusted is applies


def test_never_adjusted_for_ddu_or_likely_wells():
    assert not run(dd(650, assay="ddu", interp=["H"]), age=72, adjusted=True).age_adjusted
    assert not run(dd(650), age=72, adjusted=True, unlikely=False).age_adjusted


def test_negative_after_anticoagulation_is_unusable():
    state = run(dd(300, hours=2), ac="current", start=NOW - timedelta(hours=5))
    assert state.state == "unusable" and "ddimer-after-anticoagulation" in state.flags
    state = run(dd(300, hours=10), ac="current", start=NOW - timedelta(hours=5))
    assert state.state == "negative"


def test_negative_in_pregnancy_child_qualitative_or_uncertain_is_unusable():
    assert run(dd(300), population="pregnancy").state == "unusable"
    assert run(dd(300), population="paediatric").state == "unusable"
    assert run(dd(300, assay="qualitative", interp=["NEG"])).state == "unusable"
    assert run(dd(300), ac="uncertain").state == "unusable"


def test_positive_always_used():
    assert run(dd(900), population="pregnancy").state == "positive"


def test_none():
    assert run(None).score_key() == {"state": "none"}
