"""NG51 sepsis high-risk features for the adult hot joint, clinical-rules §4.10."""
import pytest

from service.scores import sepsis
from service.scores.score_items import compare
from tests.support.msk_facts import make_facts, q

NORMAL = {"sbp": q(120, "mm[Hg]"), "heart_rate": q(80, "/min"), "respiratory_rate": q(16, "/min"),
          "spo2": q(97, "%")}


def run(**changes):
    vitals = {**NORMAL, **changes}
    return sepsis.score(make_facts(50, vitals=vitals))


def test_none_present():
    r = run()
    assert r.value == 0 and r.score_keys() == {"sepsisHighRisk": 0} and not r.unknown


@pytest.mark.parametrize("key,value,unit,present", [
    ("sbp", 90, "mm[Hg]", True), ("sbp", 91, "mm[Hg]", False),
    ("heart_rate", 131, "/min", True), ("heart_rate", 130, "/min", False),
    ("respiratory_rate", 25, "/min", True), ("respiratory_rate", 24, "/min", False),
    ("spo2", 91, "%", True), ("spo2", 92, "%", False),
])
def test_boundaries(key, value, unit, present):
    r = run(**{key: q(value, unit)})
    assert r.value == (1 if present else 0)


def test_several_features_count():
    r = run(sbp=q(85, "mm[Hg]"), heart_rate=q(140, "/min"))
    assert r.value == 2 and {i.code for i in r.positive} == {"sbp", "heart_rate"}


def test_missing_vitals_do_not_count_but_are_listed():
    r = sepsis.score(make_facts(50))
    assert r.value == 0 and len(r.unknown) == 4


def test_fever_and_moderate_tachycardia_do_not_upgrade():
    f = make_facts(50, vitals={**NORMAL, "heart_rate": q(104, "/min"), "temperature": q(38.9, "Cel")})
    assert sepsis.score(f).value == 0


def test_child_not_applicable():
    assert sepsis.score(make_facts(10, vitals=NORMAL)).score_keys() == {}


@pytest.mark.parametrize("qty,op,t,expected", [
    (q(100, "/min", ">"), ">", 100, True), (q(100, "/min", "<="), ">", 100, False),
    (q(100, "/min", ">="), ">", 100, None), (q(0.27, "ug/L", "<"), ">=", 0.5, False),
    (q(0.5, "ug/L", "<"), ">=", 0.5, False), (q(0.49, "ug/L", "<="), ">=", 0.5, False),
    (q(0.5, "ug/L", ">="), ">=", 0.5, True), (q(4.0, "ug/L", ">"), ">=", 0.5, True),
    (q(1.0, "ug/L", "<"), ">=", 0.5, None), (q(0.5, "ug/L", "<="), ">=", 0.5, None),
    (q(0.2, "ug/L", ">"), ">=", 0.5, None), (q(0.2, "ug/L", ">="), ">=", 0.5, None),
    (q(90, "mm[Hg]", "<"), "<=", 90, True), (q(92, "%", "<"), "<", 92, True),
    (q(92, "%", ">="), "<", 92, False), (q(5, "x", "ad"), ">", 1, None),
])
def test_comparators_terminology_13(qty, op, t, expected):
    assert compare(qty, op, t) is expected
