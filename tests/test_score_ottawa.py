"""Ottawa knee rule, clinical-rules §4.5: applicability, items, boundaries (age 55/54, 7/8 days)."""
from datetime import timedelta

import pytest

from service.scores import ottawa_knee
from service.scores.injury import injury_episode
from tests.support.msk_facts import NOW, condition, days_ago, make_facts, procedure, reading

NEGATIVE = {"isolated-patellar-tenderness": False, "fibular-head-tenderness": False,
            "knee-flexion-90": True, "bear-weight-4-steps": True}


def injury(days=1, mechanism="twist", **extra):
    ka = {"injury-mechanism": mechanism, "injury-date": days_ago(days)}
    ka.update(extra)
    return ka


def test_all_negative_is_false():
    r = ottawa_knee.score(make_facts(40, ka={**injury(), **NEGATIVE}))
    assert r.applies and r.value is False
    assert r.score_keys() == {"ottawa": False}
    assert not r.unknown and len(r.negative) == 5


@pytest.mark.parametrize("age,expected", [(55, True), (54, False)])
def test_age_boundary(age, expected):
    r = ottawa_knee.score(make_facts(age, ka={**injury(), **NEGATIVE}))
    assert r.value is expected
    if expected:
        assert [i.code for i in r.positive] == ["age"]


@pytest.mark.parametrize("code,value", [
    ("isolated-patellar-tenderness", True), ("fibular-head-tenderness", True),
    ("knee-flexion-90", False), ("bear-weight-4-steps", False),
])
def test_each_item_scores(code, value):
    ka = {**injury(), **NEGATIVE, code: value}
    r = ottawa_knee.score(make_facts(30, ka=ka))
    assert r.value is True
    assert [i.code for i in r.positive] == [code]
    assert r.positive[0].sources[0].ref.endswith(code)


def test_unknown_item_is_indeterminate_key_absent():
    ka = {**injury(), **NEGATIVE}
    del ka["knee-flexion-90"]
    r = ottawa_knee.score(make_facts(30, ka=ka))
    assert r.applies and r.value is None and r.indeterminate
    assert r.score_keys() == {}
    assert [i.code for i in r.unknown] == ["knee-flexion-90"]


def test_age_unknown_is_indeterminate_not_negative():
    r = ottawa_knee.score(make_facts(None, ka={**injury(), **NEGATIVE}))
    assert r.applies and r.value is None
    assert [i.code for i in r.unknown] == ["age"]


def test_positive_wins_over_unknown():
    r = ottawa_knee.score(make_facts(60, ka=injury()))
    assert r.value is True and len(r.unknown) == 4


@pytest.mark.parametrize("days,applies", [(7, True), (8, False)])
def test_seven_day_window(days, applies):
    r = ottawa_knee.score(make_facts(30, ka={**injury(days), **NEGATIVE}))
    assert r.applies is applies


def test_injury_date_unknown_uses_mechanism_observation_time():
    ka = {"injury-mechanism": reading("Observation/m", "fall", time=NOW - timedelta(days=2)), **NEGATIVE}
    f = make_facts(30, ka=ka)
    ep = injury_episode(f)
    assert "injury-date-unknown" in ep.flags and ep.time_from == "mechanism-observation"
    assert ottawa_knee.score(f).applies


def test_mechanism_none_without_condition_not_applicable():
    r = ottawa_knee.score(make_facts(30, ka={"injury-mechanism": "none", **NEGATIVE}))
    assert not r.applies and r.score_keys() == {}


def test_knee_injury_condition_applies():
    c = condition("Condition/sprain", {"knee-injury"}, onset=days_ago(2))
    r = ottawa_knee.score(make_facts(30, ka=NEGATIVE, conditions=[c]))
    assert r.applies and r.value is False


def test_deformity_excludes_rule():
    r = ottawa_knee.score(make_facts(30, ka={**injury(), **NEGATIVE, "knee-deformity": True}))
    assert not r.applies and "deformity" in r.reason


def test_knee_surgery_excludes_rule():
    p = procedure("Procedure/tka", {"knee-surgery"}, days_ago(400))
    r = ottawa_knee.score(make_facts(30, ka={**injury(), **NEGATIVE}, procedures=[p]))
    assert not r.applies and "surgery" in r.reason


@pytest.mark.parametrize("age,applies", [(5, True), (4, False)])
def test_under_five_not_applicable(age, applies):
    assert ottawa_knee.score(make_facts(age, ka={**injury(), **NEGATIVE})).applies is applies
