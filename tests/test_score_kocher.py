"""Kocher criteria with Caird CRP substitution, clinical-rules §4.7: boundaries and unknowns."""
import pytest

from service.scores import kocher
from tests.support.msk_facts import make_facts, q


def child(**kw):
    ka = kw.pop("ka", {"bear-weight-4-steps": True})
    return make_facts(8, ka=ka, **kw)


@pytest.mark.parametrize("temp,scores", [(38.5, False), (38.6, True)])
def test_temperature_boundary(temp, scores):
    r = kocher.score(child(vitals={"temperature": q(temp, "Cel")}))
    item = next(i for i in r.items if i.code == "temperature")
    assert item.state is scores


@pytest.mark.parametrize("esr,scores", [(40, False), (41, True)])
def test_esr_boundary(esr, scores):
    r = kocher.score(child(labs={"esr": q(esr, "mm/h")}))
    assert next(i for i in r.items if i.code == "esr-crp").state is scores


@pytest.mark.parametrize("crp,unit,scores", [(20, "mg/L", False), (20.1, "mg/L", True),
                                             (2.0, "mg/dL", False), (2.1, "mg/dL", True)])
def test_crp_substitutes_when_esr_unknown(crp, unit, scores):
    r = kocher.score(child(labs={"crp": q(crp, unit)}))
    item = next(i for i in r.items if i.code == "esr-crp")
    assert item.state is scores
    assert "Caird" in item.detail


def test_crp_canonical_from_mg_dl():
    # the chart layer converts 2.0 mg/dL to 20 mg/L; the boundary does not score
    r = kocher.score(child(labs={"crp": q(20.0, "mg/L", as_recorded="2.0 mg/dL")}))
    assert next(i for i in r.items if i.code == "esr-crp").state is False


def test_esr_and_crp_disagree_positive_with_conflict_flag():
    r = kocher.score(child(labs={"esr": q(30, "mm/h"), "crp": q(50, "mg/L")}))
    item = next(i for i in r.items if i.code == "esr-crp")
    assert item.state is True and "conflict" in r.flags


@pytest.mark.parametrize("wbc,scores", [(12.0, False), (12.1, True)])
def test_wbc_boundary(wbc, scores):
    r = kocher.score(child(labs={"wbc": q(wbc, "10*9/L")}))
    assert next(i for i in r.items if i.code == "wbc").state is scores


def test_count_and_max():
    r = kocher.score(child(ka={"bear-weight-4-steps": False}, vitals={"temperature": q(39, "Cel")}))
    assert (r.value, r.max) == (2, 4)
    assert r.score_keys() == {"kocher": 2, "kocherMax": 4}
    assert "40%" in r.probability_text() and "99.6%" in r.probability_text()


def test_all_known_no_max_key():
    r = kocher.score(child(vitals={"temperature": q(37, "Cel")},
                           labs={"esr": q(10, "mm/h"), "wbc": q(8, "10*9/L")}))
    assert r.score_keys() == {"kocher": 0}


def test_comparator_unsettled_is_unknown():
    r = kocher.score(child(labs={"wbc": q(15, "10*9/L", "<")}))
    assert next(i for i in r.items if i.code == "wbc").state is None


def test_comparator_settled():
    r = kocher.score(child(labs={"crp": q(5, "mg/L", "<")}))
    assert next(i for i in r.items if i.code == "esr-crp").state is False


def test_adult_not_applicable():
    assert kocher.score(make_facts(18)).score_keys() == {}
    assert kocher.score(make_facts(None)).score_keys() == {}


def test_card_text_shows_recorded_unit_only_when_converted():
    from service.scores.score_items import fmt_quantity
    assert fmt_quantity(q(38.9, "Cel", as_recorded="38.9 Cel")) == "38.9 °C"
    assert fmt_quantity(q(20, "mg/L", as_recorded="2.0 mg/dL")) == "20 mg/L (recorded as 2.0 mg/dL)"
    assert fmt_quantity(q(5, "mg/L", "<", as_recorded="<5 mg/L")) == "<5 mg/L"
