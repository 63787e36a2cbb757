"""D-dimer interpretation (clinical-rules §4.9; terminology §13; Schouten 2013 age adjustment)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from service.cards.evidence import cite
from service.chart.facts import DDimer, Facts, Quantity
from service.chart.units import compare

POSITIVE_CODES = {"H", "HH", "HU", "A", "AA", "POS", "DET"}
NEGATIVE_CODES = {"N", "NEG", "ND", "L", "LL"}
WINDOW = timedelta(hours=72)


class DDimerResult(StrEnum):
    """What the D-dimer on record says for the pathway (§4.9)."""

    NONE = "none"                   # none on record in the window
    POSITIVE = "positive"
    NEGATIVE = "negative"
    UNUSABLE = "unusable"           # on record but not interpretable here (DDIMER-UNRELIABLE)


@dataclass(frozen=True)
class DDimerState:
    state: DDimerResult
    result: DDimer | None = None
    verdict: str | None = None      # lab verdict before usability
    cutoff: float | None = None
    age_adjusted: bool = False
    rules: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def score_key(self) -> dict:
        if self.result is None:
            return {"state": DDimerResult.NONE}
        out: dict = {"state": self.state}
        q = self.result.quantity
        if q is not None:
            out["value"] = q.value
            out["unit"] = f"ug/L {self.result.assay.upper()}"
        if self.cutoff is not None:
            out["cutoff"] = self.cutoff
        out["ageAdjusted"] = self.age_adjusted
        return out

    def line(self) -> str:
        if self.result is None:
            return "No D-dimer on record."
        r = self.result
        shown = r.quantity.as_recorded if r.quantity and r.quantity.as_recorded else (r.coded_value or "value")
        text = f"D-dimer {shown}: **{self.state}**"
        if self.age_adjusted and self.cutoff is not None:
            text += f" (age-adjusted cut-off {self.cutoff:g} ug/L FEU; lab cut-off {r.reference_high.value:g} ug/L)"
        if self.reasons:
            text += f" ({'; '.join(self.reasons)})"
        return f"{text}. {cite(r.source)}"


PREGNANCY_AGE = (12, 50)
PREGNANCY_POSSIBLE_GENDERS = (None, "female", "other", "unknown")


def pregnancy_not_excluded(facts: Facts) -> bool:
    """§1.9 item 4: pregnancy status unknown for a person who could be pregnant (female, or gender
    unknown or other, aged 12–50; an unknown age, or an age range reaching into 12–50, is not read as
    outside the band)."""
    lo, hi = PREGNANCY_AGE
    return (facts.pregnancy.state == "unknown" and facts.gender in PREGNANCY_POSSIBLE_GENDERS
            and (facts.age_range is None or facts.age_range.within(lo, hi) is not False))


def select(facts: Facts, since: datetime, until: datetime | None = None) -> DDimer | None:
    """The latest D-dimer drawn in [since, until]; same-time conflicts go to the higher-risk value."""
    until = until or facts.now + timedelta(minutes=5)
    dated = [d for d in facts.ddimers if d.time is not None and since <= d.time <= until]
    if not dated:
        return None
    latest = max(d.time for d in dated)
    same = [d for d in dated if d.time == latest]
    return max(same, key=lambda d: {"positive": 2, None: 1, "negative": 0}[lab_verdict(d, None)])


def _settle(q: Quantity, cutoff: float) -> str | None:
    hit = compare(q, ">=", cutoff)        # the cut-off itself counts as positive [design, safer]
    return None if hit is None else ("positive" if hit else "negative")


def lab_verdict(d: DDimer, _unused) -> str | None:
    codes = set(d.interpretation)
    if codes & POSITIVE_CODES:
        return "positive"
    if codes & NEGATIVE_CODES:
        return "negative"
    if d.assay in ("feu", "ddu") and d.quantity is not None and d.reference_high is not None:
        return _settle(d.quantity, d.reference_high.value)
    return None


def interpret(facts: Facts, d: DDimer | None, *, age_adjusted_on: bool, wells_unlikely: bool,
              population: str, imaging_first: bool, anticoag_state: str,
              anticoag_start: datetime | None) -> DDimerState:
    if d is None:
        return DDimerState(DDimerResult.NONE)
    rules: list[str] = []
    flags: list[str] = list(f for f in d.flags if f.startswith("ddimer") or f in ("unit", "conflict", "preliminary"))
    verdict = lab_verdict(d, None)
    cutoff = d.reference_high.value if d.reference_high else None
    adjusted = False
    # age-adjusted cut-off (age x 10) only when every age the birthDate allows is over 50, from the
    # youngest of them: a higher cut-off could turn a positive result negative
    age = facts.age_range.youngest if facts.age_over(50) is True else None
    if (age_adjusted_on and age is not None and d.assay == "feu" and d.quantity is not None
            and d.reference_high is not None and 490 <= d.reference_high.value <= 510
            and population == "adult" and not imaging_first and anticoag_state == "none" and wells_unlikely):
        cutoff = age * 10.0
        settled = _settle(d.quantity, cutoff)
        if settled is not None:
            verdict, adjusted = settled, True
            rules.append("DDIMER-AGE-ADJUSTED")
    reasons: list[str] = []
    if verdict is None:
        flags.append("ddimer-uninterpretable")
        reasons.append("no lab verdict could be read")
        return DDimerState(DDimerResult.UNUSABLE, d, None, cutoff, adjusted, tuple(rules + ["DDIMER-UNRELIABLE"]),
                           tuple(dict.fromkeys(flags)), tuple(reasons))
    if verdict == "positive":
        return DDimerState(DDimerResult.POSITIVE, d, verdict, cutoff, adjusted, tuple(rules), tuple(dict.fromkeys(flags)))
    # a negative result rules out only when every usability condition holds (§4.9 step 5)
    if d.assay not in ("feu", "ddu"):
        flags.append("ddimer-qualitative"); reasons.append("qualitative assay")
    if population == "pregnancy":
        flags.append("ddimer-in-pregnancy"); reasons.append("not used in pregnancy")
    elif population == "adult" and pregnancy_not_excluded(facts):
        # RCOG GTG 37b: the D-dimer is used only once pregnancy is excluded (DDIMER-PREGNANCY-TEST-FIRST)
        flags.append("ddimer-in-pregnancy"); reasons.append("pregnancy not excluded")
    if population == "paediatric":
        flags.append("ddimer-child"); reasons.append("not validated under 18")
    if anticoag_state == "uncertain":
        flags.append("anticoagulation-uncertain"); reasons.append("anticoagulation uncertain")
    if anticoag_state in ("current", "prophylactic") and (anticoag_start is None or d.time is None or d.time >= anticoag_start):
        flags.append("ddimer-after-anticoagulation"); reasons.append("drawn after the anticoagulant was started")
    if reasons:
        return DDimerState(DDimerResult.UNUSABLE, d, verdict, cutoff, adjusted, tuple(rules + ["DDIMER-UNRELIABLE"]),
                           tuple(dict.fromkeys(flags)), tuple(reasons))
    return DDimerState(DDimerResult.NEGATIVE, d, verdict, cutoff, adjusted, tuple(rules), tuple(dict.fromkeys(flags)))


def interpret_ddimer(facts: Facts, settings, wells_unlikely: bool, population: str,
                     imaging_first: bool) -> DDimerState:
    """The D-dimer state of the last 72 h (§4.9, §6.3 inputs)."""
    ac = facts.anticoagulation
    return interpret(facts, select(facts, facts.now - WINDOW),
                     age_adjusted_on=bool(getattr(settings, "age_adjusted_ddimer", False)),
                     wells_unlikely=wells_unlikely, population=population, imaging_first=imaging_first,
                     anticoag_state=ac.state, anticoag_start=ac.start)
