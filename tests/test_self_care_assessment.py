"""Self-care (§6.15), the minimum triage dataset and the assessment card (§6.14), via the whole pipeline."""
from datetime import timedelta

import pytest

from cds_hooks.domain import Unreadable
from service.engine import PATHWAYS, run_triage
from service.pathways.assessment import TYPE_IMPACT, data_fetch_lines
from tests.support.msk_facts import NOW, make_facts, make_triage

REASSURING = {"posterior-knee-pain": True, "leg-swelling": False, "symptom-onset": NOW - timedelta(days=3)}


def triage(ka, age=40, **kw):
    facts = make_facts(age, ka=ka, gender="male", **kw)
    facts.pregnancy.state = "not-pregnant"
    return run_triage(make_triage(facts), PATHWAYS)


def topics(cards):
    return [(c.topic, c.tier) for c in cards]


def test_reassuring_minimum_dataset_gives_self_care_with_safety_net():
    cards = triage(REASSURING)
    assert topics(cards) == [("self-care", "self-care")]
    assert cards[0].safety_net and "DVT-NOT-SUSPECTED" in cards[0].rules


@pytest.mark.parametrize("missing", ["leg-swelling", "symptom-onset"])
def test_unknown_minimum_dataset_item_is_never_self_care(missing):
    ka = {k: v for k, v in REASSURING.items() if k != missing}
    cards = triage(ka)
    assert topics(cards) == [("assessment-needed", "urgent")]
    assert "ASSESS-TRIAGE-INCOMPLETE" in cards[0].rules


def test_age_unknown_is_asked_for():
    cards = triage(REASSURING, age=None)
    assert ("assessment-needed", "urgent") in topics(cards)
    assert "ASSESS-AGE-UNKNOWN" in cards[0].rules


@pytest.mark.parametrize("days,topic", [(13.9, "self-care"), (14, "chronic-knee-pain-imaging")])
def test_fourteen_days_ends_self_care(days, topic):
    cards = triage({**REASSURING, "symptom-onset": NOW - timedelta(days=days)})
    assert cards[0].topic == topic


def test_unread_chart_part_blocks_self_care():
    facts = make_facts(40, ka=REASSURING, gender="male")
    facts.pregnancy.state = "not-pregnant"
    facts.fetch_problems = [Unreadable("procedures", "Procedure", "timeout", "timed out after 3 s")]
    facts.unreadable_types = {"Procedure"}
    cards = run_triage(make_triage(facts), PATHWAYS)
    assert all(c.topic != "self-care" for c in cards)
    assert any("DATA-FETCH-INCOMPLETE" in c.rules for c in cards)


def test_no_trigger_but_observations_unreadable_is_never_empty():
    facts = make_facts(40, gender="male")
    facts.fetch_problems = [Unreadable("observations", "Observation", "http-status", "HTTP 500")]
    facts.unreadable_types = {"Observation"}
    cards = run_triage(make_triage(facts), PATHWAYS)
    assert [c.rules for c in cards] == [["DATA-FETCH-INCOMPLETE"]]


def test_no_trigger_and_only_medications_unreadable_is_empty():
    facts = make_facts(40, gender="male")
    facts.fetch_problems = [Unreadable("medicationRequests", "MedicationRequest", "timeout", "")]
    facts.unreadable_types = {"MedicationRequest"}
    assert run_triage(make_triage(facts), PATHWAYS) == []


def test_deceased_patient_gets_no_cards():
    facts = make_facts(40, ka=REASSURING)
    facts.deceased = True
    assert run_triage(make_triage(facts), PATHWAYS) == []


@pytest.mark.parametrize("reason, detail", [
    ("timeout", "timed out after 3 s"), ("connection-error", "connection refused"),
    ("http-status", "HTTP 404"), ("invalid-response", "not JSON"),
])
def test_a_chart_part_not_read_is_worded_the_same_whatever_the_network_said(reason, detail):
    """No port-state oracle: refused, timed out, HTTP 404 and garbage read alike on the card."""
    facts = make_facts(40, gender="male")
    facts.fetch_problems = [Unreadable("observations", "Observation", reason, detail)]
    facts.unreadable_types = {"Observation"}
    lines, _flags = data_fetch_lines(make_triage(facts))
    assert lines == ["Observation could not be read: the FHIR server could not be read. "
                     f"Impact: {TYPE_IMPACT['Observation']}."]
    assert all(detail not in line for line in lines)
