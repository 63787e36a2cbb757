"""Rendered cards to the letter of CDS Hooks 2.0 and contract §4: delete actions name one draft by a
string ``resourceId``; every suggested ServiceRequest carries reasonCode and note; occurrencePeriod is
scheduled to the minute and never longer than the rule's window."""
from __future__ import annotations

from datetime import timedelta

from service.cards.render import CardRenderer
from service.cards.draft import AdviceSuggestion, Suggest
from service.terminology.code_sets import default_terminology
from tests.support.order_factory import NOW, card, facts

RENDERER = CardRenderer(default_terminology())


def _actions(rendered):
    return [a for s in rendered["suggestions"] for a in s["actions"]]


def test_delete_action_resource_id_is_one_relative_reference_string():
    c = card("order-advice", "urgent", ["OA-MRI-BEFORE-XR"])
    c.advice = [AdviceSuggestion("OA-MRI-BEFORE-XR", "Remove the MRI draft", deletes=["sr-mri", "sr-mri-2"],
                                 reason="radiographs first")]
    deletes = [a for a in _actions(RENDERER.render(c, facts())) if a["type"] == "delete"]
    assert [a["resourceId"] for a in deletes] == ["ServiceRequest/sr-mri", "ServiceRequest/sr-mri-2"]
    assert all(isinstance(a["description"], str) and a["description"] for a in deletes)


def test_every_suggested_service_request_has_reason_and_note():
    plain = Suggest("d-dimer", "DVT-UNLIKELY-DDIMER", "DVT unlikely (Wells 1): D-dimer")
    detailed = Suggest("venous-duplex-us", "DVT-LIKELY-US4H", "DVT likely", note="D-dimer only if the scan is negative.")
    c = card("dvt-pathway", "urgent", ["DVT-UNLIKELY-DDIMER"], suggestions=[plain, detailed])
    resources = [a["resource"] for a in _actions(RENDERER.render(c, facts()))]
    assert [r["reasonCode"][0]["text"] for r in resources] == ["DVT-UNLIKELY-DDIMER: DVT unlikely (Wells 1): D-dimer",
                                                             "DVT-LIKELY-US4H: DVT likely"]
    # no extra detail: the note restates why; with detail: the detail
    assert [r["note"][0]["text"] for r in resources] == ["DVT-UNLIKELY-DDIMER: DVT unlikely (Wells 1): D-dimer",
                                                       "DVT-LIKELY-US4H: D-dimer only if the scan is negative."]


def test_occurrence_period_is_floored_to_the_minute_and_never_grows():
    start = NOW + timedelta(seconds=41, microseconds=5)
    s = Suggest("blood-culture", "SEPTIC-ADULT-SEPSIS", "before antibiotics", period=(start, start + timedelta(hours=1)))
    c = card("septic-arthritis", "emergency-immediate", ["SEPTIC-ADULT-SEPSIS"], suggestions=[s])
    (action,) = _actions(RENDERER.render(c, facts()))
    assert action["resource"]["occurrencePeriod"] == {"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T11:00:00Z"}
