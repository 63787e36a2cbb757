"""Small pieces shared by the musculoskeletal scores (clinical-rules §4.5–§4.7, §4.10).

- :class:`ScoreItem`: one criterion of a score, with the resources behind it.
- :func:`compare` (from :mod:`service.chart.units`): a threshold test on a :class:`Quantity` honouring
  comparators (terminology.md §13 "Comparators"): settled -> True/False, unsettled -> None (unknown).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from service.cards.evidence import cite_all
from service.chart.facts import Quantity, Reading, Source
from service.chart.units import compare

@dataclass(frozen=True)
class ScoreItem:
    """One criterion: ``state`` True = scores (positive), False = known negative, None = unknown."""

    code: str                          # stable id, e.g. "age", "bear-weight-4-steps", "esr-crp"
    label: str                         # human criterion text: "age 55 or over"
    state: bool | None
    sources: tuple[Source, ...] = ()
    detail: str = ""                   # what was found: "age 60", "ESR 55 mm/h"
    flags: frozenset[str] = frozenset()

    @property
    def known(self) -> bool:
        return self.state is not None


def quantity(reading: Reading | None) -> Quantity | None:
    """The Quantity of a reading, or None when unknown (plain numbers are wrapped)."""
    if reading is None or reading.value is None:
        return None
    value: Any = reading.value
    if isinstance(value, Quantity):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Quantity(float(value), None)
    return None


def check_reading(reading: Reading | None, op: str, threshold: float,
                 factors: dict[str, float] | None = None) -> bool | None:
    """Threshold test on a reading: None when unknown or unsettled (never "below").

    ``factors`` converts a non-canonical unit the chart layer may have left (e.g. CRP mg/dL x 10,
    terminology §13); values are canonical otherwise.
    """
    q = quantity(reading)
    if q is None:
        return None
    if factors and q.unit in factors:
        q = Quantity(q.value * factors[q.unit], None, q.comparator, q.as_recorded)
    return compare(q, op, threshold)


def num(value: float) -> str:
    """38.0 -> '38', 38.55 -> '38.55' (card text)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


_RECORDED = re.compile(r"^([<>=]*|ad)\s*(-?\d+(?:\.\d+)?)\s*(.*)$")

UNIT_TEXT = {
    "Cel": " °C", "/min": "/min", "%": "%", "mm[Hg]": " mmHg", "10*9/L": " × 10⁹/L",
    "mg/L": " mg/L", "mm/h": " mm/h", "umol/L": " µmol/L", "min": " min", "cm": " cm",
}


def fmt_quantity(q: Quantity | None) -> str:
    if q is None:
        return "unknown"
    comparator = q.comparator if q.comparator not in (None, "ad") else ""
    unit = UNIT_TEXT.get(q.unit or "", f" {q.unit}" if q.unit else "")
    text = f"{comparator}{num(q.value)}{unit}"
    # show the recorded form only when it differs from the canonical value (a converted unit)
    m = _RECORDED.match(q.as_recorded.strip()) if q.as_recorded else None
    unchanged = m is not None and float(m.group(2)) == q.value and m.group(3).strip() in ("", q.unit or "")
    if q.as_recorded and not unchanged:
        text += f" (recorded as {q.as_recorded})"
    return text


def reading_sources(reading: Reading | None) -> tuple[Source, ...]:
    return tuple(reading.sources) if reading else ()


def reading_flags(reading: Reading | None) -> frozenset[str]:
    if reading is None:
        return frozenset()
    flags = set(reading.flags)
    if reading.winner is not None:
        flags |= set(reading.winner.flags)
    return frozenset(flags)


def cited_line(text: str, sources, **cite_options) -> str:
    """An item's evidence line: its text, then the records behind it (none: the text alone)."""
    return f"{text}. {cite_all(list(sources), **cite_options)}" if sources else text


def rule_value(items) -> bool | None:
    """A decision rule over items: positive when any item is, negative only when every item is known and
    negative, otherwise indeterminate (None), which the pathways handle as positive."""
    if any(i.state is True for i in items):
        return True
    if all(i.state is False for i in items):
        return False
    return None


class ItemizedResult:
    """Shared views of a score's items (true / false / unknown state) for the result dataclasses."""

    items: tuple[ScoreItem, ...]

    @property
    def positive(self) -> tuple[ScoreItem, ...]:
        return tuple(i for i in self.items if i.state is True)

    @property
    def negative(self) -> tuple[ScoreItem, ...]:
        return tuple(i for i in self.items if i.state is False)

    @property
    def unknown(self) -> tuple[ScoreItem, ...]:
        return tuple(i for i in self.items if i.state is None)

