"""The knee injury episode read by Ottawa (§4.5), Pittsburgh (§4.6) and the injury pathway (§6.9).

A **recent injury** is ``ka:injury-mechanism`` in {twist, fall, blunt} or a ``set:knee-injury``
Condition, with the injury within 42 days (§6.9, §9 item 24). Its time is ``ka:injury-date``; else the
effective time of the injury-mechanism Observation (flag ``injury-date-unknown``, §4.5); else the
knee-injury Condition's onset. An injury whose time cannot be told at all is handled as acute:
unknown never lowers risk (§0, §1.1 item 4: an undated finding that raises risk is used, flagged).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, TypeVar

from service.chart.facts import ConditionFact, Facts, Source
from service.scores.score_items import ScoreItem, rule_value

T = TypeVar("T")

MECHANISMS = ("twist", "fall", "blunt")
RECENT = timedelta(days=42)    # §6.9 recent injury; §1.4 window of injury-mechanism/injury-date
ACUTE = timedelta(days=7)      # §6.9 acute; §4.5 Ottawa
PITTSBURGH = timedelta(days=6)  # §4.6


@dataclass(frozen=True)
class InjuryEpisode:
    now: datetime
    mechanism: str | None               # twist | fall | blunt | None (injury known only from a Condition)
    mechanism_source: Source | None
    conditions: tuple[Source, ...]      # set:knee-injury Conditions behind it
    time: datetime | None               # when the injury happened; None = unknown (handled as acute)
    time_source: Source | None
    time_from: str                      # "injury-date" | "mechanism-observation" | "condition-onset" | "unknown"
    knee_surgery: tuple[Source, ...]    # set:knee-surgery on record (any date): rules do not apply
    flags: frozenset[str] = frozenset()  # injury-date-unknown, undated, partial-date

    def within(self, span: timedelta) -> bool:
        """Injury within ``span`` of now (inclusive, §1.1 item 2); an unknown time counts as within."""
        if self.time is None:
            return True
        return self.now - self.time <= span

    @property
    def recent(self) -> bool:
        return self.within(RECENT)

    @property
    def acute(self) -> bool:
        return self.within(ACUTE)

    @property
    def days_ago(self) -> float | None:
        return None if self.time is None else (self.now - self.time).total_seconds() / 86400

    @property
    def surgery_on_record(self) -> bool:
        return bool(self.knee_surgery)

    @property
    def fall_or_blunt(self) -> bool:
        return self.mechanism in ("fall", "blunt")


def knee_surgery_sources(facts: Facts) -> tuple[Source, ...]:
    """set:knee-surgery at any date, as a Procedure or a Condition (e.g. a knee implant code)."""
    out = [p.source for p in facts.procedures_in("knee-surgery")]
    out += [c.source for c in facts.conditions_in("knee-surgery")]
    return tuple(out)


def _injury_conditions(facts: Facts) -> list[ConditionFact]:
    """Counted set:knee-injury Conditions with onset within 42 days, or undated and active."""
    out = []
    for c in facts.conditions_in("knee-injury"):
        if c.onset is None:
            if c.active:
                out.append(c)
        elif facts.now - RECENT <= c.onset <= facts.now + timedelta(minutes=5):
            out.append(c)
    out.sort(key=lambda c: c.onset or facts.now, reverse=True)
    return out


def injury_episode(facts: Facts) -> InjuryEpisode | None:
    """The recent knee injury, or None when there is none (or it is older than 42 days)."""
    mech_reading = facts.ka.get("injury-mechanism")
    mechanism = mech_reading.value if mech_reading and mech_reading.value in MECHANISMS else None
    mech_source = mech_reading.winner.source if mechanism and mech_reading and mech_reading.winner else None
    conditions = _injury_conditions(facts)
    if mechanism is None and not conditions:
        return None

    flags: set[str] = set()
    time: datetime | None = None
    time_source: Source | None = None
    date_reading = facts.ka.get("injury-date")
    if date_reading is not None and isinstance(date_reading.value, datetime):
        time, time_from = date_reading.value, "injury-date"
        time_source = date_reading.winner.source if date_reading.winner else None
        if date_reading.winner and "partial-date" in date_reading.winner.flags:
            flags.add("partial-date")
    elif mechanism is not None:
        # §4.5: the effective time of the mechanism Observation stands in for the date
        flags.add("injury-date-unknown")
        winner = mech_reading.winner if mech_reading else None
        time = winner.time if winner else None
        time_source = winner.source if winner else None
        time_from = "mechanism-observation" if time is not None else "unknown"
    else:
        flags.add("injury-date-unknown")
        time = conditions[0].onset
        time_source = conditions[0].source
        time_from = "condition-onset" if time is not None else "unknown"
    if time is None:
        flags.add("undated")

    episode = InjuryEpisode(
        now=facts.now,
        mechanism=mechanism,
        mechanism_source=mech_source,
        conditions=tuple(c.source for c in conditions),
        time=time,
        time_source=time_source,
        time_from=time_from,
        knee_surgery=knee_surgery_sources(facts),
        flags=frozenset(flags),
    )
    return episode if episode.recent else None


def injury_rule(result: Callable[..., T], facts: Facts, episode: InjuryEpisode | None,
                outside_rule: Callable[[Facts, InjuryEpisode], str],
                items: Callable[[Facts], tuple[ScoreItem, ...]]) -> T:
    """A knee-injury decision rule (Ottawa §4.5, Pittsburgh §4.6) for ``episode`` (default: the chart's
    recent injury): not applicable with its reason (no injury, the rule's own exclusions, then knee
    surgery on record), or its items and :func:`rule_value`."""
    if episode is None:
        episode = injury_episode(facts)
    if episode is None:
        reason = "no recent knee injury recorded"
    else:
        reason = outside_rule(facts, episode) or (
            "knee surgery or prosthesis on record: the rule does not apply" if episode.surgery_on_record else "")
    if reason:
        return result(False, None, (), reason)
    its = items(facts)
    return result(True, rule_value(its), its)   # indeterminate: handled as positive
