"""Typed facts read from the chart (clinical-rules.md §1).

:func:`service.chart.reader.build_facts` turns the gathered FHIR JSON into one :class:`Facts`; scores and
pathways read only this. Every value remembers the resource it came from (:class:`Source`) so that
every card line can cite it. Unknown is explicit: a :class:`Reading` whose ``value`` is ``None``
or a missing key means "unknown", never "no".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from service.chart.windows import within
from service.vocabulary import AnticoagulantIntensity, AnticoagulationState, PregnancyState

# Resource types the rules read; ``Facts.unreadable_types`` holds those that could not be read.
CHART_TYPES = (
    "Observation", "Condition", "Encounter", "Procedure",
    "MedicationRequest", "MedicationStatement", "ServiceRequest",
)


@dataclass(frozen=True)
class AgeRange:
    """Age in completed years at now, as a range: a birthDate known only to the year or month allows
    several ages (born in 1974 -> born between 1974-01-01 and 1974-12-31). A full date gives one age.

    The comparisons are tri-state: True or False when the whole range is on one side of the boundary,
    None when the boundary falls inside it. Each age rule then takes its safer side and says so
    (``straddles`` / ``label`` give the card line)."""

    youngest: int
    oldest: int
    recorded: str = ""             # the birthDate as recorded ("1974", "1974-12")

    @property
    def exact(self) -> bool:
        return self.youngest == self.oldest

    @property
    def label(self) -> str:
        return str(self.youngest) if self.exact else f"{self.youngest}–{self.oldest}"

    def at_least(self, years: int) -> bool | None:
        """age >= years."""
        return _tri(self.youngest >= years, self.oldest >= years)

    def under(self, years: int) -> bool | None:
        """age < years."""
        return _tri(self.oldest < years, self.youngest < years)

    def over(self, years: int) -> bool | None:
        """age > years."""
        return _tri(self.youngest > years, self.oldest > years)

    def within(self, low: int, high: int) -> bool | None:
        """low <= age <= high."""
        if self.youngest >= low and self.oldest <= high:
            return True
        if self.oldest < low or self.youngest > high:
            return False
        return None

    def straddle_note(self, boundary: str, safer: str) -> str:
        """The card line for a boundary inside the range: which side was taken."""
        return (f"Age {self.label} (birthDate {self.recorded} gives only the "
                f"{'year' if len(self.recorded) == 4 else 'month'}): {boundary} could go either way; "
                f"{safer} (the safer side).")


def _tri(all_true: bool, any_true: bool) -> bool | None:
    return True if all_true else (None if any_true else False)


@dataclass(frozen=True)
class Source:
    """One resource behind a fact, as a card cites it."""

    ref: str                       # "Observation/v01-obs-hr"
    time: datetime | None = None   # effective time used by the rules (§1.1 item 3)
    status: str | None = None      # "final", "preliminary", "active, confirmed", "completed" ...
    display: str = ""              # short human label: "heart rate 88/min", "paclitaxel"
    via_site_map: str = ""         # "local code FS-2232, site map st-example-hospital 2026-03-01.1"

    # Built for every value of every chart: the fields are set in one step, where the generated frozen
    # __init__ makes one object.__setattr__ call per field. Same signature; frozen as declared.
    def __init__(self, ref: str, time: datetime | None = None, status: str | None = None, display: str = "",
                 via_site_map: str = ""):
        object.__setattr__(self, "__dict__", {"ref": ref, "time": time, "status": status, "display": display,
                                              "via_site_map": via_site_map})


@dataclass(frozen=True)
class Quantity:
    """A measured value in the canonical unit of terminology.md §13."""

    value: float
    unit: str | None               # canonical unit ("Cel", "%", "/min", "mg/L", "ug/L", "cm", "min" ...)
    comparator: str | None = None  # "<", "<=", ">", ">=", "ad" (terminology §13 comparators)
    as_recorded: str = ""          # "0.65 mg/L FEU", "101.3 [degF]"

    # one per measured value read: fields set in one step, as for Source
    def __init__(self, value: float, unit: str | None, comparator: str | None = None, as_recorded: str = ""):
        object.__setattr__(self, "__dict__", {"value": value, "unit": unit, "comparator": comparator,
                                              "as_recorded": as_recorded})


@dataclass(frozen=True)
class Value:
    """One usable reading of a concept from one resource (an Observation or a component)."""

    value: Any                     # bool | float | Quantity | str (code) | datetime | None (unknown)
    source: Source
    time: datetime | None          # effective time (None = undated, §1.1 item 4)
    issued: datetime | None = None
    flags: frozenset[str] = frozenset()   # preliminary, undated, partial-date, unit, unit-assumed ...

    # one per Observation value read: fields set in one step, as for Source
    def __init__(self, value: Any, source: Source, time: datetime | None, issued: datetime | None = None,
                 flags: frozenset[str] = frozenset()):
        object.__setattr__(self, "__dict__", {"value": value, "source": source, "time": time, "issued": issued,
                                              "flags": flags})


@dataclass
class Reading:
    """The winning value of one concept (§1.3) and what lost to it.

    ``value`` is None when the concept is unknown (no value in window, dataAbsentReason, value not
    usable). ``conflicts`` are same-time values that disagreed (the winner is the higher-risk one,
    flag ``conflict``); ``superseded`` are earlier differing values within 24 h (flag ``superseded``).
    """

    value: Any
    winner: Value | None = None
    conflicts: list[Value] = field(default_factory=list)
    superseded: list[Value] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)

    @property
    def known(self) -> bool:
        return self.value is not None

    @property
    def sources(self) -> list[Source]:
        out = [self.winner.source] if self.winner else []
        out.extend(v.source for v in self.conflicts)
        return out


@dataclass
class DDimer:
    """A D-dimer result (§4.9), before interpretation."""

    source: Source
    time: datetime | None
    assay: str                      # "feu" | "ddu" | "qualitative"
    quantity: Quantity | None       # canonical ug/L (FEU or DDU as ``assay``), None if not quantitative/unusable unit
    interpretation: list[str]       # v3-ObservationInterpretation codes, e.g. ["H"]
    reference_high: Quantity | None # canonical ug/L
    coded_value: str | None = None  # valueCodeableConcept/valueString for qualitative
    flags: frozenset[str] = frozenset()  # unit, preliminary, conflict (FEU/DDU word contradicts code) ...


@dataclass
class ConditionFact:
    source: Source
    codes: list[tuple[str, str]]    # (system, code) after site-map aliasing
    sets: frozenset[str]            # set names matched on Condition.code
    clinical_status: str | None     # active | recurrence | relapse | inactive | remission | resolved | None
    verification: str | None        # confirmed | unconfirmed | provisional | differential | None
    active: bool                    # §1.2: active/recurrence/relapse, or no clinicalStatus and no abatement
    onset: datetime | None          # §1.1: onset[x], else recordedDate
    recorded: datetime | None
    abatement: datetime | None      # abatement time if any (abatementBoolean true -> recorded/unknown time)
    has_abatement: bool = False

    @property
    def confirmed(self) -> bool:
        return self.verification in (None, "confirmed")


@dataclass
class ProcedureFact:
    source: Source
    codes: list[tuple[str, str]]
    sets: frozenset[str]
    orderables: frozenset[str]      # catalog ids whose codes the Procedure carries (§7.7 "done")
    status: str                     # completed | in-progress (others are filtered out)
    time: datetime | None


@dataclass
class EncounterFact:
    source: Source
    status: str | None
    class_sets: frozenset[str]      # sets matched on Encounter.class (inpatient-encounter)
    reason_sets: frozenset[str]     # sets matched on reasonCode
    type_sets: frozenset[str]       # sets matched on type (palliative-care)
    reason_condition_refs: list[str]  # reasonReference "Condition/x"
    start: datetime | None
    end: datetime | None
    is_current: bool                # §1.11 item 1


@dataclass
class MedicationFact:
    source: Source
    kind: str                       # "MedicationRequest" | "MedicationStatement"
    status: str
    sets: frozenset[str]            # set names matched (empty when unresolved)
    display: str
    resolved: bool                  # False: medicationReference could not be resolved (§1.12 item 2)
    start: datetime | None          # authoredOn / effective start (§1.1)
    asserted: datetime | None       # MedicationStatement dateAsserted else start
    intensity: AnticoagulantIntensity | None   # anticoagulants only (terminology §4.1)


@dataclass
class OrderFact:
    """A chart ServiceRequest (earlier order, §7.7), never a draft of the current hook."""

    source: Source
    status: str                     # active | completed
    orderables: frozenset[str]
    authored: datetime | None
    occurrence: datetime | None


@dataclass
class ReportFact:
    """An Observation carrying a catalog imaging code that is not a ka: result (§7.7 'done')."""

    source: Source
    orderables: frozenset[str]
    time: datetime | None


@dataclass
class Pregnancy:
    """§1.9."""

    state: PregnancyState
    sources: list[Source] = field(default_factory=list)
    gestational_age_days: float | None = None
    gestational_age_source: Source | None = None
    flags: set[str] = field(default_factory=set)   # stale-condition, conflict (with gender male)

    def __post_init__(self) -> None:
        if type(self.state) is not PregnancyState:          # a member passes as it is
            self.state = PregnancyState(self.state)


@dataclass
class Anticoagulation:
    """§1.10."""

    state: AnticoagulationState
    sources: list[Source] = field(default_factory=list)
    start: datetime | None = None   # earliest start of the current therapeutic agent(s) (None = unknown)
    pre_existing: bool | None = None  # §1.10 item 3 (current only)
    unknown_intensity: bool = False   # "anticoagulant of undetermined intensity"
    reasons: list[str] = field(default_factory=list)  # why uncertain, human text
    flags: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if type(self.state) is not AnticoagulationState:    # a member passes as it is
            self.state = AnticoagulationState(self.state)


@dataclass
class Surgery:
    """A qualifying surgery (§1.11 item 4)."""

    time: datetime | None
    sources: list[Source]           # the Procedure(s) that made it qualify


@dataclass
class Setting:
    """§1.11."""

    current_encounter: EncounterFact | None
    inpatient: bool | None          # None: Encounters unreadable
    qualifying_surgeries: list[Surgery] = field(default_factory=list)
    imaging_first: bool = False     # inpatient, qualifying surgery within 30 d, or assumed (§1.13)
    imaging_first_reason: str = ""


@dataclass
class Facts:
    """Everything the rules read about one patient at one ``now``."""

    now: datetime
    patient_ref: str
    age: int | None                 # completed years at now from the §1.1 birth point; None = unknown (§1.6)
    birth_date: datetime | None
    gender: str | None
    deceased: bool
    # the ages birthDate allows (a range when only the year or month is recorded); None = unknown
    age_range: AgeRange | None = None

    # clinical-rules §1.13: which chart types could not be read, and the fetch problems behind it
    unreadable_types: set[str] = field(default_factory=set)
    fetch_problems: list[Any] = field(default_factory=list)      # cds_hooks.domain.Unreadable
    unresolved_medications: list[MedicationFact] = field(default_factory=list)
    truncated: dict[str, int] = field(default_factory=dict)      # resource type -> pages read (page cap)

    # knee-assessment items (contract §3), winners within window (§1.3, §1.4); missing key = unknown
    ka: dict[str, Reading] = field(default_factory=dict)
    # vitals within 24 h: temperature, heart_rate, respiratory_rate, spo2, sbp (Quantity values)
    vitals: dict[str, Reading] = field(default_factory=dict)
    # labs in their windows: crp, crp_hs, esr, wbc (72 h), urate (30 d), rheumatoid_factor, anti_ccp
    # (12 months), blood_culture (24 h) — Quantity or coded values
    labs: dict[str, Reading] = field(default_factory=dict)
    # D-dimers within 90 days, latest first (pathways pick their window, §1.4 / §6.3)
    ddimers: list[DDimer] = field(default_factory=list)
    # ka:venous-ultrasound-result readings within 90 days, latest first (US state, §6.3/§6.4)
    ultrasounds: list[Value] = field(default_factory=list)
    # set:pregnancy-test results (value "positive" | "negative" | None), dated ones only (§7.7)
    pregnancy_tests: list[Value] = field(default_factory=list)
    # ka:knee-radiograph-result readings within 12 months, latest first
    radiographs: list[Value] = field(default_factory=list)

    # §1.8 symptoms present: set name (dyspnoea, chest-pain, haemoptysis, syncope, fever, leg-oedema)
    # -> sources; fever also from a temperature >= 38.0 within 24 h
    symptoms: dict[str, list[Source]] = field(default_factory=dict)
    # §2 knee complaint evidence: (trigger id T3/T4, set name, source)
    knee_complaints: list[tuple[str, str, Source]] = field(default_factory=list)

    conditions: list[ConditionFact] = field(default_factory=list)      # counted (§1.2)
    procedures: list[ProcedureFact] = field(default_factory=list)      # counted
    encounters: list[EncounterFact] = field(default_factory=list)      # counted
    medications: list[MedicationFact] = field(default_factory=list)    # counted (unresolved included)
    orders: list[OrderFact] = field(default_factory=list)              # chart ServiceRequests (§7.7)
    reports: list[ReportFact] = field(default_factory=list)

    pregnancy: Pregnancy = field(default_factory=lambda: Pregnancy(PregnancyState.UNKNOWN))
    anticoagulation: Anticoagulation = field(default_factory=lambda: Anticoagulation(AnticoagulationState.NONE))
    setting: Setting = field(default_factory=lambda: Setting(None, False))
    # §1.12 item 3: current use of a class -> sources (oestrogen-therapy, serm, testosterone,
    # antineoplastic-therapy, gout-medication); None value = unknown (medications unreadable/unresolved)
    medication_use: dict[str, list[Source]] = field(default_factory=dict)
    medication_use_unknown: set[str] = field(default_factory=set)

    # smoking status 72166-2 within 12 months (§1.4; shown as a risk factor, never
    # scored): value "current" | "former" | "never" | None (unknown)
    smoking: Reading | None = None
    # W1 "cancer treatment within 6 months" (§4.1 W1, §1.12 item 3): a Procedure,
    # Z51.- Condition (onset, else recordedDate) or Encounter reasonCode in set:antineoplastic-therapy, within
    # 6 months. Never a medication: current antineoplastic medication is in
    # medication_use["antineoplastic-therapy"] and counts only beside a cancer Condition (W1 (a)).
    cancer_treatment: list[Source] = field(default_factory=list)

    # data-quality flags raised while reading, with the line a card shows for each
    quality: list[tuple[str, str]] = field(default_factory=list)  # (flag, text)
    # dates that could not be used (unreadable or later than now: read as unknown) and a birthDate known
    # only to the year or month: (flag, line naming the resource); every card shows them (§1.1)
    date_notes: list[tuple[str, str]] = field(default_factory=list)
    # site map versions that matched something in this chart ("site 2026-03-01.1")
    site_maps_used: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        # a Facts built with a single known age (tests, tools) has the one-age range
        if self.age_range is None and self.age is not None:
            self.age_range = AgeRange(self.age, self.age)

    # -- convenience -----------------------------------------------------------------------
    def ka_value(self, code: str) -> Any:
        """The winning value of a ka: item, or None (unknown)."""
        reading = self.ka.get(code)
        return reading.value if reading else None

    def ka_true(self, code: str) -> bool:
        return self.ka_value(code) is True

    def ka_false(self, code: str) -> bool:
        return self.ka_value(code) is False

    def conditions_in(self, set_name: str) -> list[ConditionFact]:
        return [c for c in self.conditions if set_name in c.sets]

    def procedures_in(self, set_name: str) -> list[ProcedureFact]:
        return [p for p in self.procedures if set_name in p.sets]

    def surgeries_within(self, days: int) -> list[Surgery]:
        """Qualifying surgeries (§1.11 item 4) performed within ``days`` days of now (inclusive, day
        ``days`` counts). Undated ones are included: an undated finding that raises risk is used (§1.1
        item 4, flagged ``undated`` in quality)."""
        window = timedelta(days=days)
        return [s for s in self.setting.qualifying_surgeries if s.time is None or within(s.time, self.now, window)]

    def unreadable(self, resource_type: str) -> bool:
        return resource_type in self.unreadable_types

    @property
    def adult(self) -> bool:
        """Age unknown is treated as adult for pathway selection (§1.6 item 2); so is an age range that
        reaches 18 (the adult pathways read the red flags of both; the child-only rules that would
        lower urgency, such as a negative Kocher, are not used on an uncertain child)."""
        return self.age_range is None or self.age_range.at_least(18) is not False

    def age_at_least(self, years: int) -> bool | None:
        return self.age_range.at_least(years) if self.age_range else None

    def age_under(self, years: int) -> bool | None:
        return self.age_range.under(years) if self.age_range else None

    def age_over(self, years: int) -> bool | None:
        return self.age_range.over(years) if self.age_range else None
