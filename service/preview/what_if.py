"""The preview's "what if": change one knee-assessment answer in a request and run it again.

An answer is set on every Observation of that knee-assessment code in the request's prefetch (so
that no older value wins instead), or added as a new Observation when the chart has none. "unknown"
removes the value and records a ``dataAbsentReason`` — exactly what an EHR sends for a question
asked and not answered, and what the rules read as unknown (clinical-rules §0).
"""
from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from service.terminology.code_sets import BOOLEAN, KA_SYSTEM, KNEE_ASSESSMENT, QUANTITY

UNKNOWN = "unknown"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
UCUM = "http://unitsofmeasure.org"
# the unit each quantity item is entered in on the page (contract §3)
QUANTITY_UNITS = {"calf-circumference-difference": "cm", "morning-stiffness": "min"}
_VALUE_KEYS = ("valueBoolean", "valueQuantity", "valueCodeableConcept", "valueDateTime", "valueString",
               "valueInteger")


class AnswerError(ValueError):
    """An answer the page cannot apply (unknown code, wrong kind of value)."""


@dataclass(frozen=True)
class Answer:
    """One knee-assessment item as the page shows it."""

    code: str
    kind: str          # BOOLEAN or QUANTITY (the editable kinds)
    value: str         # "true" / "false" / a number / UNKNOWN
    source: str | None  # "Observation/<id>" of the answer on the chart, None when not recorded

    @property
    def unit(self) -> str | None:
        return QUANTITY_UNITS.get(self.code)


EDITABLE = tuple(code for code, kind in KNEE_ASSESSMENT.items() if kind in (BOOLEAN, QUANTITY))


def _observations(request: dict[str, Any]) -> list[dict[str, Any]]:
    bundle = (request.get("prefetch") or {}).get("observations")
    if not isinstance(bundle, dict) or not isinstance(bundle.get("entry"), list):
        return []
    return [e["resource"] for e in bundle["entry"]
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") == "Observation"]


def _ka_code(observation: dict[str, Any]) -> str | None:
    code = observation.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict) and coding.get("system") == KA_SYSTEM and coding.get("code") in KNEE_ASSESSMENT:
            return coding["code"]
    return None


def _shown_value(observation: dict[str, Any]) -> str:
    if isinstance(observation.get("valueBoolean"), bool):
        return "true" if observation["valueBoolean"] else "false"
    quantity = observation.get("valueQuantity")
    if isinstance(quantity, dict) and isinstance(quantity.get("value"), (int, float)):
        return f"{quantity['value']:g}"
    return UNKNOWN


def answers(request: dict[str, Any]) -> list[Answer]:
    """Every editable item, those on the chart first: the chart's answer, else unknown."""
    recorded: dict[str, Answer] = {}
    for observation in _observations(request):
        code = _ka_code(observation)
        if code in EDITABLE and code not in recorded:  # the prefetch is sorted newest first
            recorded[code] = Answer(code, KNEE_ASSESSMENT[code], _shown_value(observation),
                                    f"Observation/{observation.get('id')}")
    missing = [Answer(code, KNEE_ASSESSMENT[code], UNKNOWN, None) for code in EDITABLE if code not in recorded]
    return [recorded[code] for code in EDITABLE if code in recorded] + missing


def _value(code: str, text: str) -> dict[str, Any] | None:
    """The value[x] member for ``text``; None for unknown. Raises AnswerError."""
    text = text.strip().lower()
    if text == UNKNOWN or text == "":
        return None
    if KNEE_ASSESSMENT[code] == BOOLEAN:
        if text not in ("true", "false"):
            raise AnswerError(f"{code} takes true, false or unknown")
        return {"valueBoolean": text == "true"}
    try:
        number = float(text)
    except ValueError:
        raise AnswerError(f"{code} takes a number in {QUANTITY_UNITS[code]} or unknown") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise AnswerError(f"{code} takes a finite number")
    unit = QUANTITY_UNITS[code]
    return {"valueQuantity": {"value": number, "unit": unit, "system": UCUM, "code": unit}}


def apply_answer(request: dict[str, Any], code: str, text: str, now: datetime | None = None) -> dict[str, Any]:
    """A copy of ``request`` with knee-assessment ``code`` answered ``text`` (true/false/number/unknown)."""
    if code not in EDITABLE:
        raise AnswerError(f"{code!r} is not an editable knee-assessment item")
    value = _value(code, text)
    changed = copy.deepcopy(request)
    matching = [o for o in _observations(changed) if _ka_code(o) == code]
    for observation in matching:
        for key in _VALUE_KEYS:
            observation.pop(key, None)
        observation.pop("dataAbsentReason", None)
        if value is None:
            observation["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT_REASON, "code": "asked-unknown"}]}
        else:
            observation.update(copy.deepcopy(value))
    if not matching and value is not None:
        _add_observation(changed, code, value, now or datetime.now(timezone.utc))
    changed["hookInstance"] = str(uuid.uuid4())
    return changed


def _add_observation(request: dict[str, Any], code: str, value: dict[str, Any], now: datetime) -> None:
    prefetch = request.setdefault("prefetch", {})
    if not isinstance(prefetch, dict):
        raise AnswerError("the request's prefetch is not an object")
    bundle = prefetch.get("observations")
    if not isinstance(bundle, dict) or not isinstance(bundle.get("entry"), list):
        bundle = {"resourceType": "Bundle", "type": "searchset", "entry": []}
        prefetch["observations"] = bundle
    patient_id = (request.get("context") or {}).get("patientId", "example")
    observation = {
        "resourceType": "Observation", "id": f"what-if-{code}", "status": "final",
        "code": {"coding": [{"system": KA_SYSTEM, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), **value,
    }
    bundle["entry"].insert(0, {"resource": observation, "search": {"mode": "match"}})
