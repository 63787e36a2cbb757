"""The state of one chart read: the :class:`Facts` being filled, its quality lines, and the evidence the
Observations leave for the later steps (pregnancy, symptoms). One per ``build_facts`` call: no global
mutable state."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from cds_hooks.domain import Chart
from service.chart.dates import Precision, day_text, parse_fhir_time
from service.chart.facts import Facts, Source, Value
from service.chart.fhir_json import resource_ref, shown_value
from service.chart.windows import FUTURE_TOLERANCE
from service.terminology.code_sets import Terminology

# sorts an unknown time before every known one
MIN_TIME = datetime.min.replace(tzinfo=timezone.utc)


@dataclass
class ReadState:
    chart: Chart
    now: datetime
    terminology: Terminology
    context: dict
    hook: str
    facts: Facts = field(init=False)
    birth: datetime | None = None
    # Observation values per concept, before latest-wins (§1.3)
    ka_values: dict[str, list[Value]] = field(default_factory=dict)
    vital_values: dict[str, list[Value]] = field(default_factory=dict)
    lab_values: dict[str, list[Value]] = field(default_factory=dict)
    smoking_values: list[Value] = field(default_factory=list)
    # pregnancy evidence from Observations (§1.9)
    preg_status: list[Value] = field(default_factory=list)      # value: pregnant / not-pregnant / None
    preg_tests: list[Value] = field(default_factory=list)       # positive tests only
    ga_candidates: list[tuple[datetime | None, float, Source]] = field(default_factory=list)
    # symptom and knee-complaint Observations (§1.8, §2): (set name, source)
    symptom_obs: list[tuple[str, Source]] = field(default_factory=list)
    complaint_obs: list[tuple[str, Source]] = field(default_factory=list)
    _quality_seen: set[tuple[str, str]] = field(default_factory=set)
    # the latest time that is not "the future" (§1.1 item 2), computed once per read
    latest_allowed: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.latest_allowed = self.now + FUTURE_TOLERANCE

    # ---- quality lines -------------------------------------------------------------------------
    def note(self, flag: str, text: str) -> None:
        key = (flag, text)
        if key not in self._quality_seen:
            self._quality_seen.add(key)
            self.facts.quality.append(key)

    def note_via(self, via_maps: Iterable[str]) -> None:
        self.facts.site_maps_used.update(via_maps)

    def guarded(self, read: Callable[["ReadState", dict], None], res: dict) -> None:
        """``read(self, res)``, as the last line of leniency: a resource that still trips the reader is
        skipped, with a note."""
        try:
            read(self, res)
        except Exception as exc:   # noqa: BLE001 - contract §2: never fail on odd input
            self.note("data-quality", f"{resource_ref(res)} could not be read ({type(exc).__name__}); "
                                      "it was skipped")

    # ---- times -------------------------------------------------------------------------------
    def read_time(self, ref: str, raw: Any, what: str = "date") -> tuple[datetime | None, set[str]]:
        """Parse, flag partial dates, drop future times (§1.1 items 2 and 3). An unreadable or future
        time is unknown (None), and every card names the resource that carried it."""
        flags: set[str] = set()
        t = parse_fhir_time(raw)
        if t is None:
            if raw is not None:
                self.date_note("undated", f"{ref}: {what} {shown_value(raw)} is not a valid FHIR date; "
                                          "read as unknown")
            return None, flags
        if t.precision is not Precision.TIME and t.partial:
            flags.add("partial-date")
            self.note("partial-date", f"{ref}: partial {what} {raw} read as {day_text(t.point)}")
        if t.point > self.latest_allowed:
            flags.add("future-date")
            self.date_note("future-date", f"{ref}: {what} {shown_value(raw)} is later than now; read as unknown")
            return None, flags
        return t.point, flags

    def read_time_of(self, ref: str, res: dict, key: str, what: str) -> datetime | None:
        """The time of ``res[key]`` when the element is present (else None, no note)."""
        return self.read_time(ref, res.get(key), what)[0] if key in res else None

    def date_note(self, flag: str, text: str) -> None:
        """A date the rules could not use: a quality line, and a line on every card (§1.1). An
        unreadable date is a data-quality fault; on the card it is flagged ``undated`` (no usable time)."""
        self.note("data-quality" if flag == "undated" else flag, text)
        if (flag, text) not in self.facts.date_notes:
            self.facts.date_notes.append((flag, text))
