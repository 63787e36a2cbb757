"""The hook request schema: prefetch keys are checked one by one, prefetch values are any JSON."""
from __future__ import annotations

import pytest

from cds_hooks.errors import ProtocolError
from cds_hooks.schemas import validate_hook_request

BODY = {"hook": "patient-view", "hookInstance": "h1",
        "context": {"userId": "Practitioner/1", "patientId": "p1"}}


def test_prefetch_values_are_any_json():
    prefetch = {"patient": None, "a": [], "b": "text", "c": 0, "d": {"resourceType": "Bundle"}}
    assert validate_hook_request({**BODY, "prefetch": prefetch}, "patient-view")["prefetch"] == prefetch


@pytest.mark.parametrize("key", ["", "k" * 257])
def test_each_bad_prefetch_key_is_named(key):
    with pytest.raises(ProtocolError) as caught:
        validate_hook_request({**BODY, "prefetch": {"patient": None, key: None}}, "patient-view")
    [issue] = caught.value.issues
    assert caught.value.status == 400
    assert issue.expression == f"prefetch.{key}"
    assert issue.diagnostics == f"prefetch.{key}: Length must be between 1 and 256."


def test_prefetch_must_be_an_object_or_null():
    assert validate_hook_request({**BODY, "prefetch": None}, "patient-view")["prefetch"] is None
    with pytest.raises(ProtocolError) as caught:
        validate_hook_request({**BODY, "prefetch": ["patient"]}, "patient-view")
    assert caught.value.issues[0].diagnostics == "prefetch: Not a valid mapping type."
