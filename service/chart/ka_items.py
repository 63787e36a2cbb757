"""Knee-assessment items (contract §3): the value of one item Observation or component, read by its
kind (boolean, quantity, coded, dateTime), with site-map answers and units (contract §10)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from service.chart import units
from service.chart.dates import day_text
from service.chart.facts import Quantity
from service.chart.fhir_json import as_dict, as_list, as_text, coding_list
from service.chart.observation_part import ObservationPart
from service.chart.read_state import ReadState
from service.terminology.code_sets import (
    BOOLEAN,
    CODED,
    KA_CODED_ANSWERS,
    KNEE_ASSESSMENT,
    QUANTITY,
    SIDE_QUESTION,
)
from service.terminology.site_maps import LocalCode

# §1.7 boolean strings
YES_STRINGS = frozenset({"true", "yes"})
NO_STRINGS = frozenset({"false", "no"})
SIDE_SETS = {"side-left": "left", "side-right": "right", "side-bilateral": "bilateral"}


def read_ka_item(r: ReadState, obs: ObservationPart, code: str, local: LocalCode | None) -> None:
    """One value of item ``code``; unknown (None) when the value is absent or unusable."""
    kind = KNEE_ASSESSMENT[code]
    via = local.note if local else ""
    if local:
        r.note_via([local.map_label])
    part = obs.part
    extra: set[str] = set()
    if "dataAbsentReason" in part and not has_value(part):
        value = None                                               # §0: dataAbsentReason -> unknown
    elif kind == BOOLEAN:
        value = boolean_answer(r, part, local)
    elif kind == QUANTITY:
        result = units.read_quantity(code, part.get("valueQuantity"),
                                     default_unit=local.unit if local else None,
                                     unit_aliases=local.units if local else None)
        value = result.quantity if "valueQuantity" in part else None
        if "valueQuantity" in part:
            extra |= set(result.flags)
            if result.note:
                r.note(next(iter(result.flags)), f"{obs.ref}: {result.note}")
    elif kind == CODED:
        value = _coded_answer(r, code, part, local)
    else:  # DATETIME
        value = None
        raw = part.get("valueDateTime")
        if raw is not None:
            value, vflags = r.read_time(obs.ref, raw, code)
            extra |= vflags
    display = f"{code}: {shown(value)}"
    r.ka_values.setdefault(code, []).append(obs.value(value, display, via, extra))


def has_value(part: dict) -> bool:
    return any(k.startswith("value") for k in part)


def shown(value: Any) -> str:
    """An item value as a card line shows it."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Quantity):
        return f"{value.comparator or ''}{value.value:g} {value.unit or ''}".strip()
    if isinstance(value, datetime):
        return day_text(value)
    return str(value)


def boolean_answer(r: ReadState, part: dict, local: LocalCode | None) -> bool | None:
    """§1.7: valueBoolean; coded answer in answer-yes/answer-no; "true"/"yes"/"false"/"no"; site-map answers."""
    if isinstance(part.get("valueBoolean"), bool):
        return part["valueBoolean"]
    if "valueCodeableConcept" in part:
        cc = part.get("valueCodeableConcept")
        if local:
            for c in as_list(as_dict(cc).get("coding")):
                found, mapped = local.answer_for(as_dict(c).get("code"))
                if found:
                    return mapped if isinstance(mapped, bool) else None
        return r.terminology.yes_no(cc)
    if "valueString" in part:
        s = part.get("valueString")
        if local:
            found, mapped = local.answer_for(s)
            if found:
                return mapped if isinstance(mapped, bool) else None
        s = as_text(s)
        if s and s.lower() in YES_STRINGS:
            return True
        if s and s.lower() in NO_STRINGS:
            return False
    return None


def mapped_codings(part: dict, local: LocalCode | None) -> list[dict]:
    """The answer codings of ``valueCodeableConcept``, each replaced by its site-map answer if any."""
    codings = coding_list(part.get("valueCodeableConcept"))
    if not local:
        return codings
    out = []
    for c in codings:
        found, mapped = local.answer_for(c.get("code"))
        out.append(mapped if found and isinstance(mapped, dict) else c)
    return out


def _coded_answer(r: ReadState, code: str, part: dict, local: LocalCode | None) -> str | None:
    """Coded items: symptom-side -> left/right/bilateral (side sets); results and mechanism -> CS code."""
    codings = mapped_codings(part, local)
    if local and not codings and "valueString" in part:
        found, mapped = local.answer_for(part.get("valueString"))
        if found and isinstance(mapped, dict):
            codings = [mapped]
    if code == "symptom-side":
        sides = {SIDE_SETS[s] for s in r.terminology.answer_sets(codings, SIDE_QUESTION) if s in SIDE_SETS}
        return sides.pop() if len(sides) == 1 else None
    system, allowed = KA_CODED_ANSWERS[code]
    for c in codings:
        if as_text(c.get("system")) == system and as_text(c.get("code")) in allowed:
            return as_text(c.get("code"))
    return None
