"""PERC (Kline; clinical-rules §4.4), gated by ka:pe-suspicion-low (NICE NG158).

Negative only when all 8 criteria are known and absent; positive if any is present; incomplete
otherwise (handled as positive).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from service.chart.facts import Facts, Source
from service.scores.score_items import cited_line, compare, fmt_quantity, quantity
from service.scores.wells_pe import calf_at_least


@dataclass(frozen=True)
class PercItem:
    id: str
    label: str
    state: bool | None              # True = criterion present, False = absent, None = unknown
    sources: tuple[Source, ...] = ()
    detail: str = ""


class PercResult(StrEnum):
    NEGATIVE = "negative"           # all 8 criteria known and absent
    POSITIVE = "positive"           # any criterion present
    INCOMPLETE = "incomplete"       # none present, some unknown: handled as positive


@dataclass(frozen=True)
class Perc:
    result: PercResult
    items: tuple[PercItem, ...] = field(default_factory=tuple)

    @property
    def positive_items(self) -> list[PercItem]:
        return [i for i in self.items if i.state is True]

    @property
    def unknown_items(self) -> list[PercItem]:
        return [i for i in self.items if i.state is None]

    def evidence_lines(self) -> list[str]:
        lines = []
        for i in self.positive_items:
            text = f"PERC criterion present: {i.label}" + (f" ({i.detail})" if i.detail else "")
            lines.append(cited_line(text, i.sources, with_time=any(s.time for s in i.sources)))
        lines.append(f"PERC (Kline): **{self.result}**.")
        return lines

    def unknown_lines(self) -> list[str]:
        return [f"PERC criterion not known: {i.label}{f' ({i.detail})' if i.detail else ''}; PERC cannot be "
                "negative until it is recorded." for i in self.unknown_items]


def perc_applies(facts: Facts) -> bool:
    """§4.4 gate: ka:pe-suspicion-low = true, age >= 18, not pregnant or postpartum. An age range that
    reaches below 18 does not open the gate: PERC rules out only in adults."""
    return (facts.ka_true("pe-suspicion-low") and facts.age_at_least(18) is True
            and facts.pregnancy.state not in ("pregnant", "postpartum"))


def age_criterion(facts: Facts) -> PercItem:
    """PERC "age 50 or over"; an age range reaching 50 counts as present (PERC cannot be negative)."""
    if facts.age_range is None:
        return PercItem("age", "age 50 or over", None, detail="age unknown")
    state = facts.age_at_least(50)
    if state is None:   # the range straddles 50: counted as present, so PERC cannot rule out
        detail = facts.age_range.straddle_note("50 or over", "counted as 50 or over")
        return PercItem("age", "age 50 or over", True, (Source(facts.patient_ref),), detail)
    return PercItem("age", "age 50 or over", state, (Source(facts.patient_ref),), f"age {facts.age_range.label}")


def _vital(facts: Facts, key: str, iid: str, label: str, op: str, threshold: float, missing: str) -> PercItem:
    reading = facts.vitals.get(key)
    q = quantity(reading)
    if q is None:
        return PercItem(iid, label, None, detail=missing)
    return PercItem(iid, label, compare(q, op, threshold), tuple(reading.sources), fmt_quantity(q))


def _swelling(facts: Facts) -> PercItem:
    label = "unilateral leg swelling"
    bilateral = facts.ka_value("symptom-side") == "bilateral"
    sources: list[Source] = []
    present = False
    for code in ("leg-swelling", "entire-leg-swollen"):
        if facts.ka_true(code):
            present = True
            sources.extend(facts.ka[code].sources)
    calf = calf_at_least(facts, 2.0)
    if calf is True:
        present = True
        sources.extend(facts.ka["calf-circumference-difference"].sources)
    if present:
        if bilateral:
            return PercItem("swelling", label, False, tuple(sources), "swelling is bilateral")
        return PercItem("swelling", label, True, tuple(sources))
    if facts.ka_value("leg-swelling") is None:
        return PercItem("swelling", label, None, detail="ka:leg-swelling not recorded")
    return PercItem("swelling", label, False, tuple(facts.ka["leg-swelling"].sources))


def _haemoptysis(facts: Facts) -> PercItem:
    sources = facts.symptoms.get("haemoptysis") or []
    return PercItem("haemoptysis", "haemoptysis", bool(sources), tuple(sources))


def _surgery(facts: Facts) -> PercItem:
    label = "surgery or trauma requiring general anaesthesia or hospitalisation within 4 weeks"
    sources = [s for surgery in facts.surgeries_within(28) for s in surgery.sources]
    start = facts.now - timedelta(days=28)
    sources += [e.source for e in facts.encounters
                if "inpatient-encounter" in e.class_sets and e.start is not None and e.start >= start]
    if sources:
        return PercItem("surgery", label, True, tuple(sources))
    if facts.unreadable("Procedure") or facts.unreadable("Encounter"):
        return PercItem("surgery", label, None, detail="procedures or encounters could not be read")
    return PercItem("surgery", label, False)


def _previous(facts: Facts, previous_dvt: Any = None) -> PercItem:
    from service.scores.wells_dvt import previous_dvt_item
    item = previous_dvt if previous_dvt is not None else previous_dvt_item(facts)
    state = True if item.state == "scores" else None if item.state == "unknown" else False
    return PercItem("previous-vte", "prior DVT or PE", state, tuple(item.sources))


def _oestrogen(facts: Facts) -> PercItem:
    label = "exogenous oestrogen use"
    sources = facts.medication_use.get("oestrogen-therapy") or []
    if sources:
        return PercItem("oestrogen", label, True, tuple(sources))
    if ("oestrogen-therapy" in facts.medication_use_unknown or facts.unresolved_medications
            or facts.unreadable("MedicationRequest") or facts.unreadable("MedicationStatement")):
        return PercItem("oestrogen", label, None, detail="a medication could not be resolved or read")
    return PercItem("oestrogen", label, False)


def perc(facts: Facts, previous_dvt: Any = None) -> Perc:
    """``previous_dvt``: Wells DVT's W9 item, which "prior DVT or PE" reads, when the caller has it."""
    items = (
        age_criterion(facts),
        _vital(facts, "heart_rate", "hr", "heart rate 100/min or more", ">=", 100, "no heart rate within 24 h"),
        _vital(facts, "spo2", "spo2", "SpO2 below 95% on room air", "<", 95, "no SpO2 within 24 h"),
        _swelling(facts),
        _haemoptysis(facts),
        _surgery(facts),
        _previous(facts, previous_dvt),
        _oestrogen(facts),
    )
    if any(i.state is True for i in items):
        result = PercResult.POSITIVE
    elif any(i.state is None for i in items):
        result = PercResult.INCOMPLETE
    else:
        result = PercResult.NEGATIVE
    return Perc(result, items)
