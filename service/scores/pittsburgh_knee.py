"""Pittsburgh knee rule (Seaberg 1994/1998), clinical-rules §4.6.

Applies to a fall or blunt injury (twisting injuries are outside the rule) within 6 days with no knee
surgery on record. Radiograph if age < 12 or > 50 (51 scores, 50 does not), or the patient cannot walk
4 weight-bearing steps. Indeterminate -> key absent, handled as positive (§6.9 R3).
"""
from __future__ import annotations

from dataclasses import dataclass

from service.chart.facts import Facts
from service.scores.injury import PITTSBURGH, InjuryEpisode, injury_rule
from service.scores.ottawa_knee import patient_source
from service.scores.score_items import ItemizedResult, ScoreItem, reading_flags, reading_sources

YOUNG_BELOW = 12
OLD_ABOVE = 50


@dataclass(frozen=True)
class PittsburghResult(ItemizedResult):
    applies: bool
    value: bool | None
    items: tuple[ScoreItem, ...] = ()
    reason: str = ""

    @property
    def indeterminate(self) -> bool:
        return self.applies and self.value is None

    @property
    def positive_or_indeterminate(self) -> bool:
        return self.applies and self.value is not False

    def score_keys(self) -> dict[str, bool]:
        """§4.11: "pittsburgh": true|false; absent when indeterminate or not applicable."""
        return {"pittsburgh": self.value} if self.applies and self.value is not None else {}


def items(facts: Facts) -> tuple[ScoreItem, ...]:
    label = f"age under {YOUNG_BELOW} or over {OLD_ABOVE}"
    if facts.age_range is None:
        age = ScoreItem("age", label, None, detail="age unknown (no date of birth)")
    else:
        young, old = facts.age_under(YOUNG_BELOW), facts.age_over(OLD_ABOVE)
        if young is True or old is True:
            age = ScoreItem("age", label, True, (patient_source(facts),), f"age {facts.age_range.label}")
        elif young is None or old is None:   # a boundary inside the range: counted as met (radiograph)
            boundary = f"under {YOUNG_BELOW}" if young is None else f"over {OLD_ABOVE}"
            age = ScoreItem("age", label, True, (patient_source(facts),),
                            facts.age_range.straddle_note(boundary, "counted as met"), frozenset({"partial-date"}))
        else:
            age = ScoreItem("age", label, False, (patient_source(facts),), f"age {facts.age_range.label}")
    reading = facts.ka.get("bear-weight-4-steps")
    value = reading.value if reading else None
    if isinstance(value, bool):
        walk = ScoreItem("bear-weight-4-steps", "unable to walk 4 weight-bearing steps", not value,
                         reading_sources(reading),
                         "cannot walk 4 weight-bearing steps" if not value else "walks 4 weight-bearing steps",
                         reading_flags(reading))
    else:
        walk = ScoreItem("bear-weight-4-steps", "unable to walk 4 weight-bearing steps", None,
                         reading_sources(reading), "not recorded", reading_flags(reading))
    return (age, walk)


def outside_rule(facts: Facts, episode: InjuryEpisode) -> str:
    """Why the rule does not apply to this injury ("" when it does)."""
    if not episode.fall_or_blunt:
        return "not a fall or blunt injury (twisting injuries are outside the rule)"
    if not episode.within(PITTSBURGH):
        return "injury more than 6 days ago"
    return ""


def score(facts: Facts, episode: InjuryEpisode | None = None) -> PittsburghResult:
    """§4.6. ``episode`` defaults to the chart's recent injury (service.scores.injury)."""
    return injury_rule(PittsburghResult, facts, episode, outside_rule, items)
