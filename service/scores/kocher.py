"""Kocher criteria with Caird CRP substitution, clinical-rules §4.7 (children, §6.7).

Four criteria: non-weight-bearing; temperature > 38.5 °C; ESR > 40 mm/h (if ESR is unknown, CRP >
20 mg/L = 2.0 mg/dL, Caird); WBC > 12 x 10⁹/L. ``kocher`` counts the positive criteria and
``kocherMax`` adds the unknown ones (reported only when it differs). Derived for the hip: use at the
knee is extrapolation. Kocher never lowers the tier.
"""
from __future__ import annotations

from dataclasses import dataclass

from service.chart.facts import Facts, Reading
from service.scores.score_items import (ItemizedResult, ScoreItem, check_reading, fmt_quantity, quantity, reading_flags,
                                        reading_sources)

TEMP_ABOVE = 38.5        # °C; 38.5 does not score
ESR_ABOVE = 40.0         # mm/h; 40 does not score
CRP_ABOVE = 20.0         # mg/L (2.0 mg/dL); 20 does not score
WBC_ABOVE = 12.0         # 10⁹/L; 12.0 does not score
CRP_FACTORS = {"mg/dL": 10.0}   # terminology §13, in case a value reaches us unconverted

# Kocher 1999 derivation probabilities of septic arthritis by number of criteria (§4.7)
PROBABILITY = {0: "< 0.2%", 1: "3%", 2: "40%", 3: "93.1%", 4: "99.6%"}
CAVEAT = ("Kocher criteria were derived for the hip; at the knee they are an extrapolation and never "
          "lower the urgency.")


@dataclass(frozen=True)
class KocherResult(ItemizedResult):
    applies: bool
    value: int
    max: int
    items: tuple[ScoreItem, ...] = ()
    flags: frozenset[str] = frozenset()   # conflict (ESR and CRP disagree)

    def probability_text(self) -> str:
        text = f"derivation probability {PROBABILITY[self.value]}"
        if self.max != self.value:
            text += f" (up to {PROBABILITY[self.max]} if the unknown criteria are positive)"
        return text

    def score_keys(self) -> dict[str, int]:
        """§4.11: "kocher": n, plus "kocherMax" only when it differs."""
        if not self.applies:
            return {}
        keys = {"kocher": self.value}
        if self.max != self.value:
            keys["kocherMax"] = self.max
        return keys


def _threshold_item(code: str, label: str, name: str, reading: Reading | None, above: float,
                    factors: dict[str, float] | None = None) -> ScoreItem:
    state = check_reading(reading, ">", above, factors)
    q = quantity(reading)
    detail = f"{name} {fmt_quantity(q)}" if q is not None else f"{name} not on record"
    if q is not None and state is None:
        detail += " (comparator does not settle the threshold)"
    return ScoreItem(code, label, state, reading_sources(reading), detail, reading_flags(reading))


def _weight_bearing(facts: Facts) -> ScoreItem:
    reading = facts.ka.get("bear-weight-4-steps")
    value = reading.value if reading else None
    label = "non-weight-bearing on the affected side"
    if not isinstance(value, bool):
        return ScoreItem("bear-weight-4-steps", label, None, reading_sources(reading), "not recorded",
                         reading_flags(reading))
    return ScoreItem("bear-weight-4-steps", label, not value, reading_sources(reading),
                     "cannot bear weight" if not value else "bears weight", reading_flags(reading))


def _esr_crp(facts: Facts) -> tuple[ScoreItem, frozenset[str]]:
    """ESR > 40; if ESR unknown, CRP > 20 mg/L (Caird). Both known: positive when either is."""
    label = f"ESR > {ESR_ABOVE:g} mm/h (or, if ESR is unknown, CRP > {CRP_ABOVE:g} mg/L)"
    esr_r, crp_r = facts.labs.get("esr"), facts.labs.get("crp")
    esr = check_reading(esr_r, ">", ESR_ABOVE)
    crp = check_reading(crp_r, ">", CRP_ABOVE, CRP_FACTORS)
    parts = []
    if quantity(esr_r) is not None:
        parts.append(f"ESR {fmt_quantity(quantity(esr_r))}")
    if quantity(crp_r) is not None:
        parts.append(f"CRP {fmt_quantity(quantity(crp_r))}")
    detail = ", ".join(parts) or "ESR and CRP not on record"
    flags: set[str] = set(reading_flags(esr_r)) | set(reading_flags(crp_r))
    if esr is not None and crp is not None:
        state: bool | None = esr or crp
        sources = reading_sources(esr_r) + reading_sources(crp_r)
        if esr != crp:
            flags.add("conflict")
            detail += " (ESR and CRP disagree: the positive one counts)"
    elif esr is not None:
        # CRP unknown or unsettled: the known ESR decides (CRP only substitutes for an unknown ESR)
        state, sources = esr, reading_sources(esr_r)
    elif crp is not None:
        state, sources = crp, reading_sources(crp_r)
        detail += " (ESR unknown: CRP substituted, Caird)"
    else:
        state, sources = None, reading_sources(esr_r) + reading_sources(crp_r)
    return ScoreItem("esr-crp", label, state, sources, detail, frozenset(flags)), frozenset(flags & {"conflict"})


def score(facts: Facts) -> KocherResult:
    """Computed for a known age under 18 (§4.7); ``applies`` is False otherwise."""
    applies = facts.age_under(18) is True
    esr_item, flags = _esr_crp(facts)
    its = (
        _weight_bearing(facts),
        _threshold_item("temperature", f"temperature > {TEMP_ABOVE} °C", "temperature",
                        facts.vitals.get("temperature"), TEMP_ABOVE),
        esr_item,
        _threshold_item("wbc", f"WBC > {WBC_ABOVE:g} × 10⁹/L", "WBC", facts.labs.get("wbc"), WBC_ABOVE),
    )
    value = sum(1 for i in its if i.state is True)
    maximum = value + sum(1 for i in its if i.state is None)
    return KocherResult(applies, value, maximum, its, flags)
