"""Lenient access to FHIR JSON: an element of the wrong type reads as absent, never as an exception
(contract §2 "parsed leniently"). Plain dict access only: the chart layer reads every resource of every
chart, and model parsing would cost more than the rules themselves."""
from __future__ import annotations

import json
from typing import Any

def as_dict(x: Any) -> dict:
    """``x`` when it is a JSON object, else an empty one."""
    return x if isinstance(x, dict) else {}


def as_list(x: Any) -> list:
    """``x`` when it is a JSON array, else an empty one."""
    return x if isinstance(x, list) else []


def as_text(x: Any) -> str | None:
    """A string with its whitespace trimmed; None for anything else or a blank string."""
    if isinstance(x, str):
        x = x.strip()
        return x or None
    return None


def first_code(concept: Any) -> str | None:
    """First coding code of a CodeableConcept (clinicalStatus, verificationStatus)."""
    for c in as_list(as_dict(concept).get("coding")):
        code = as_text(as_dict(c).get("code"))
        if code:
            return code
    return None


def concept_label(concept: Any) -> str:
    """What a card shows for a CodeableConcept: its text, else the first display or code."""
    cc = as_dict(concept)
    text = as_text(cc.get("text"))
    if text:
        return text
    for c in as_list(cc.get("coding")):
        disp = as_text(as_dict(c).get("display")) or as_text(as_dict(c).get("code"))
        if disp:
            return disp
    return ""


def coding_list(concept: Any) -> list[dict]:
    """The codings of a CodeableConcept (non-objects read as empty codings)."""
    return [as_dict(c) for c in as_list(as_dict(concept).get("coding"))]


def resource_ref(res: Any) -> str:
    """``Type/id`` as a card cites the resource."""
    res = as_dict(res)
    return f"{res.get('resourceType', 'Resource')}/{res.get('id', '?')}"


def shown_value(raw: Any) -> str:
    """A recorded value as a card may show it: short, quoted, no control characters."""
    text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return repr(text[:40] + ("…" if len(text) > 40 else ""))
