"""service/pathways/state.py: a value derived from the facts is computed once per triage and shared."""
from service.pathways.dvt_suspicion import dvt_sign_lines
from service.pathways.state import Triage
from tests.support.order_factory import facts


def test_a_derived_value_is_computed_once_per_triage():
    calls = []

    def lines(f):
        calls.append(f)
        return ["S1: leg swelling"]

    t = Triage(facts=facts())
    first = t.derived(lines)
    assert t.derived(lines) is first
    assert calls == [t.facts]


def test_a_derived_none_is_remembered_too():
    calls = []

    def nothing(f):
        calls.append(f)

    t = Triage(facts=facts())
    assert t.derived(nothing) is None and t.derived(nothing) is None
    assert len(calls) == 1


def test_each_triage_derives_from_its_own_facts():
    swollen = Triage(facts=facts(ka={"leg-swelling": True}))
    not_swollen = Triage(facts=facts(ka={"leg-swelling": False}))
    assert [line[:3] for line in swollen.derived(dvt_sign_lines)] == ["S1:"]
    assert not_swollen.derived(dvt_sign_lines) == []
