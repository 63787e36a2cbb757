"""Sepsis high-risk features for the adult hot joint (NICE NG51), clinical-rules §4.10.

Present when any latest vital sign within 24 h shows: systolic BP <= 90 mmHg; HR > 130/min;
respiratory rate >= 25/min; SpO2 < 92% (on air). Fever, HR 91–130 or a raised WBC alone do not
upgrade. Unknown vitals do not count (the card asks to screen for sepsis now). NG51's other high-risk
criteria have no coded input here; the card asks for them.
"""
from __future__ import annotations

from dataclasses import dataclass

from service.chart.facts import Facts
from service.scores.score_items import (ItemizedResult, ScoreItem, check_reading, fmt_quantity, quantity, reading_flags,
                                        reading_sources)

# (vital key in Facts.vitals, name on the card, operator, threshold, criterion label)
CRITERIA = (
    ("sbp", "systolic BP", "<=", 90.0, "systolic BP 90 mmHg or less"),
    ("heart_rate", "heart rate", ">", 130.0, "heart rate over 130/min"),
    ("respiratory_rate", "respiratory rate", ">=", 25.0, "respiratory rate 25/min or more"),
    ("spo2", "SpO2", "<", 92.0, "SpO2 under 92% (on air)"),
)
UNCODED_NG51 = ("new need for oxygen to keep SpO2 at 92% or more, altered mental state, mottled or ashen "
                "skin, non-blanching rash, no urine in 18 h")


@dataclass(frozen=True)
class SepsisResult(ItemizedResult):
    """The high-risk features present (``positive``) and not recorded (``unknown``)."""

    applies: bool                       # adult (age >= 18 or unknown), §4.10 "adult hot joint only"
    value: int                          # number of high-risk features present
    items: tuple[ScoreItem, ...] = ()

    @property
    def high_risk(self) -> bool:
        return self.value > 0

    def score_keys(self) -> dict[str, int]:
        """§4.11: "sepsisHighRisk": n (features present)."""
        return {"sepsisHighRisk": self.value} if self.applies else {}


def score(facts: Facts) -> SepsisResult:
    its = []
    for key, name, op, threshold, label in CRITERIA:
        reading = facts.vitals.get(key)
        state = check_reading(reading, op, threshold)
        q = quantity(reading)
        detail = f"{name} {fmt_quantity(q)}" if q is not None else f"{name} not recorded within 24 h"
        its.append(ScoreItem(key, label, state, reading_sources(reading), detail, reading_flags(reading)))
    value = sum(1 for i in its if i.state is True)
    return SepsisResult(facts.adult, value, tuple(its))
