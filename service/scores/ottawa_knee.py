"""Ottawa knee rule (Stiell 1995/1996), clinical-rules §4.5.

Applies to a knee injury within 7 days (mechanism twist/fall/blunt or a knee-injury Condition), age
>= 5 or unknown, no gross deformity (that is §6.9 R1) and no knee surgery on record (§6.9 R3b).
Radiographs are indicated when any item is positive; ``false`` needs all five known and negative;
otherwise indeterminate (the score key is absent) and imaging follows the positive branch.
"""
from __future__ import annotations

from dataclasses import dataclass

from service.chart.facts import Facts, Source
from service.scores.injury import ACUTE, InjuryEpisode, injury_rule
from service.scores.score_items import ItemizedResult, ScoreItem, reading_flags, reading_sources

AGE_LIMIT = 55          # "age 55 years or older" scores (55 scores, 54 does not)
MIN_AGE = 5             # under 5: the rule was not derived for them (children: secondary evidence)

# ka code -> (criterion label, the value that makes the item positive, finding when positive, when negative)
KA_ITEMS = (
    ("isolated-patellar-tenderness", "isolated tenderness of the patella", True,
     "isolated patellar tenderness", "no isolated patellar tenderness"),
    ("fibular-head-tenderness", "tenderness at the head of the fibula", True,
     "fibular-head tenderness", "no fibular-head tenderness"),
    ("knee-flexion-90", "inability to flex to 90°", False,
     "cannot flex to 90°", "flexes to 90°"),
    ("bear-weight-4-steps", "inability to bear weight (4 steps) immediately and now", False,
     "cannot bear weight for 4 steps", "bears weight for 4 steps"),
)


@dataclass(frozen=True)
class OttawaResult(ItemizedResult):
    applies: bool
    value: bool | None                  # True positive, False negative, None indeterminate / not applicable
    items: tuple[ScoreItem, ...] = ()
    reason: str = ""                    # why it does not apply

    @property
    def indeterminate(self) -> bool:
        return self.applies and self.value is None

    def score_keys(self) -> dict[str, bool]:
        """§4.11: "ottawa": true|false; absent when indeterminate or not applicable."""
        return {"ottawa": self.value} if self.applies and self.value is not None else {}


def age_item(facts: Facts) -> ScoreItem:
    """Ottawa "age 55 or over"; an age range that straddles 55 counts as met (a radiograph)."""
    label = f"age {AGE_LIMIT} or over"
    if facts.age_range is None:
        return ScoreItem("age", label, None, detail="age unknown (no date of birth)")
    state = facts.age_at_least(AGE_LIMIT)
    if state is None:   # the range straddles 55: the criterion counts (radiograph), never "rule negative"
        return ScoreItem("age", label, True, (patient_source(facts),),
                         facts.age_range.straddle_note(f"{AGE_LIMIT} or over", "counted as met"), frozenset({"partial-date"}))
    return ScoreItem("age", label, state, (patient_source(facts),), f"age {facts.age_range.label}")


def patient_source(facts: Facts) -> Source:
    """The Patient resource behind an age criterion (its birthDate)."""
    return Source(ref=facts.patient_ref, display="date of birth")


def items(facts: Facts) -> tuple[ScoreItem, ...]:
    out = [age_item(facts)]
    for code, label, positive_value, yes_text, no_text in KA_ITEMS:
        reading = facts.ka.get(code)
        value = reading.value if reading else None
        if not isinstance(value, bool):
            out.append(ScoreItem(code, label, None, reading_sources(reading), "not recorded",
                                 reading_flags(reading)))
            continue
        state = value is positive_value
        out.append(ScoreItem(code, label, state, reading_sources(reading),
                             yes_text if state else no_text, reading_flags(reading)))
    return tuple(out)


def outside_rule(facts: Facts, episode: InjuryEpisode) -> str:
    """Why the rule does not apply to this injury ("" when it does)."""
    if not episode.within(ACUTE):
        return "injury more than 7 days ago"
    if facts.age_range is not None and facts.age_under(MIN_AGE) is not False:
        # an age range reaching below the rule's minimum: the rule is not used to withhold a radiograph
        return f"age {facts.age_range.label}: the rule is for age {MIN_AGE} and over"
    if facts.ka_true("knee-deformity"):
        return "gross deformity (suspected dislocation): image regardless"
    return ""


def score(facts: Facts, episode: InjuryEpisode | None = None) -> OttawaResult:
    """§4.5. ``episode`` defaults to the chart's recent injury (service.scores.injury)."""
    return injury_rule(OttawaResult, facts, episode, outside_rule, items)
