"""Pittsburgh knee rule, clinical-rules §4.6: fall/blunt, 6 days, age < 12 or > 50, 4 steps."""
import pytest

from service.scores import pittsburgh_knee
from tests.support.msk_facts import days_ago, make_facts, procedure


def ka(mechanism="fall", days=1, walks=True):
    out = {"injury-mechanism": mechanism, "injury-date": days_ago(days)}
    if walks is not None:
        out["bear-weight-4-steps"] = walks
    return out


@pytest.mark.parametrize("age,expected", [(11, True), (12, False), (50, False), (51, True)])
def test_age_boundaries(age, expected):
    r = pittsburgh_knee.score(make_facts(age, ka=ka()))
    assert r.applies and r.value is expected
    assert r.score_keys() == {"pittsburgh": expected}


def test_cannot_walk_scores():
    r = pittsburgh_knee.score(make_facts(30, ka=ka(walks=False)))
    assert r.value is True and [i.code for i in r.positive] == ["bear-weight-4-steps"]


def test_twist_not_applicable():
    r = pittsburgh_knee.score(make_facts(60, ka=ka("twist")))
    assert not r.applies and r.score_keys() == {}


@pytest.mark.parametrize("mechanism", ["fall", "blunt"])
def test_fall_and_blunt_apply(mechanism):
    assert pittsburgh_knee.score(make_facts(30, ka=ka(mechanism))).applies


@pytest.mark.parametrize("days,applies", [(6, True), (7, False)])
def test_six_day_window(days, applies):
    assert pittsburgh_knee.score(make_facts(30, ka=ka(days=days))).applies is applies


def test_walking_unknown_is_indeterminate():
    r = pittsburgh_knee.score(make_facts(30, ka=ka(walks=None)))
    assert r.applies and r.value is None and r.positive_or_indeterminate
    assert r.score_keys() == {}


def test_age_unknown_is_indeterminate():
    r = pittsburgh_knee.score(make_facts(None, ka=ka()))
    assert r.value is None and [i.code for i in r.unknown] == ["age"]


def test_knee_surgery_not_applicable():
    p = procedure("Procedure/tka", {"knee-surgery"}, days_ago(900))
    assert not pittsburgh_knee.score(make_facts(60, ka=ka(), procedures=[p])).applies
