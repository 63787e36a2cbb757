"""The chart layer: FHIR R4 JSON (a :class:`cds_hooks.domain.Chart`) -> :class:`service.facts.Facts`.

Implements clinical-rules §1 (data handling) for everything the scores and pathways read. Plain dict
access only (no model parsing): a vignette-sized chart is read in well under a millisecond. Lenient by
design: an element of the wrong type is skipped with a data-quality line, never an exception (contract
§2 "parsed leniently").

Reading order: patient (§1.6) -> unreadable types (§1.13) -> Conditions, Procedures, Encounters ->
Observations (ka items, vitals, labs, D-dimers, results, symptoms, pregnancy evidence) -> latest-wins
per concept (§1.3) within windows (§1.4) -> medications (§1.12) -> anticoagulation (§1.10) ->
pregnancy (§1.9) -> setting (§1.11) -> symptoms and knee complaints (§1.8, §2) -> orders and reports (§7.7).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping

from cds_hooks.domain import Chart
from service.chart import units
from service.chart.dates import completed_years, months_before, parse_fhir_time, parse_time
from service.chart.facts import (
    CHART_TYPES,
    AgeRange,
    Anticoagulation,
    ConditionFact,
    DDimer,
    EncounterFact,
    Facts,
    MedicationFact,
    OrderFact,
    ProcedureFact,
    Pregnancy,
    Quantity,
    Reading,
    ReportFact,
    Setting,
    Source,
    Surgery,
    Value,
)
from service.terminology.code_sets import (
    ANTICOAGULANT_SETS,
    BOOLEAN,
    CODED,
    ICD10CM,
    KA_CODED_ANSWERS,
    KNEE_ASSESSMENT,
    QUANTITY,
    SIDE_QUESTION,
    LocalCode,
    Terminology,
)

UTC = timezone.utc
H = timedelta(hours=1)
D = timedelta(days=1)
FUTURE_TOLERANCE = timedelta(minutes=5)          # §1.1 item 2: "≤ now + 5 minutes"

# ---- §1.4 windows -------------------------------------------------------------------------------
# A window is a timedelta, or ("months", n) for calendar months (§1.1 item 2).
Window = timedelta | tuple[str, int]

KA_EXAM_72H = ("leg-swelling", "calf-circumference-difference", "deep-vein-tenderness", "entire-leg-swollen",
               "pitting-edema", "collateral-superficial-veins", "leg-redness-warmth", "hot-swollen-joint",
               "joint-effusion", "bear-weight-4-steps", "knee-flexion-90", "isolated-patellar-tenderness",
               "fibular-head-tenderness", "knee-deformity", "pulse-loss-on-provocation", "acute-limb-ischaemia")
KA_ATTESTATION_24H = ("alternative-diagnosis-as-likely", "pe-suspicion-low", "pe-most-likely",
                      "ultrasound-within-4h")
KA_HISTORY_30D = ("posterior-knee-pain", "symptom-side", "symptom-onset", "sudden-onset",
                  "pain-limits-walking-or-sleep", "knee-locking", "knee-giving-way", "popliteal-mass",
                  "mass-enlarging", "night-pain", "exertional-calf-pain", "synovitis-other-joints",
                  "morning-stiffness", "bedridden-3-days", "lower-limb-immobilisation", "long-haul-travel")
KA_WINDOWS: Mapping[str, Window] = {
    **{c: 72 * H for c in KA_EXAM_72H},
    **{c: 24 * H for c in KA_ATTESTATION_24H},
    **{c: 30 * D for c in KA_HISTORY_30D},
    "injury-mechanism": 42 * D, "injury-date": 42 * D,        # the "recent injury" of §6.9
    "venous-ultrasound-result": 90 * D,                       # read for 90 days; current = 8 days
    "knee-radiograph-result": ("months", 12),
}
VITAL_WINDOW = 24 * H
# Facts.vitals key -> set name
VITAL_SETS = {"body-temperature": "temperature", "heart-rate": "heart_rate",
              "respiratory-rate": "respiratory_rate", "oxygen-saturation": "spo2",
              "systolic-blood-pressure": "sbp"}
# Facts.labs: set name -> (key, window)
LAB_SETS: Mapping[str, tuple[str, Window]] = {
    "crp": ("crp", 72 * H), "crp-high-sensitivity": ("crp_hs", 72 * H), "esr": ("esr", 72 * H),
    "wbc": ("wbc", 72 * H), "urate": ("urate", 30 * D),
    "rheumatoid-factor": ("rheumatoid_factor", ("months", 12)), "anti-ccp": ("anti_ccp", ("months", 12)),
    "blood-culture": ("blood_culture", 24 * H),
}
DDIMER_SETS = ("d-dimer-feu", "d-dimer-ddu", "d-dimer-qualitative")
DDIMER_KEEP = 90 * D                 # Facts.ddimers: pathways pick their own window (§1.4, §6.3)
SMOKING_WINDOW = ("months", 12)
PREGNANCY_WINDOW = 294 * D           # 42 weeks
POSTPARTUM_WINDOW = 42 * D
SYMPTOM_WINDOW = 7 * D
COMPLAINT_WINDOW = 30 * D
INJURY_COMPLAINT_WINDOW = 42 * D     # set:knee-injury (§2 T4, §6.9)
SIX_MONTHS = ("months", 6)
SURGERY_IMAGING_FIRST = 30 * D       # §1.11 item 3
ANTICOAG_ONSET_DEFAULT = 14 * D      # §1.10 item 3: onset unknown -> pre-existing when > 14 days
APIXABAN_SURGERY_WINDOW = 42 * D     # terminology §4.1 rule 2: hip/knee replacement in the previous 6 weeks

# ---- §1.2 status filters --------------------------------------------------------------------------
OBS_COUNTED = frozenset({"final", "amended", "corrected", "preliminary"})
MR_COUNTED = frozenset({"active", "on-hold"})
MS_COUNTED = frozenset({"active", "intended"})
PROC_COUNTED = frozenset({"completed", "in-progress"})
ENC_EXCLUDED = frozenset({"cancelled", "entered-in-error"})
COND_EXCLUDED = frozenset({"refuted", "entered-in-error"})
COND_ACTIVE = frozenset({"active", "recurrence", "relapse"})
SR_CHART_COUNTED = frozenset({"active", "completed"})
ENC_CURRENT_STATUSES = frozenset({"in-progress", "arrived", "triaged", "onleave"})   # §1.11 item 1

# ---- code-set names the chart layer reads (public names, terminology.md) -------------------------
SYMPTOM_SETS = ("dyspnoea", "chest-pain", "haemoptysis", "syncope", "fever", "leg-oedema")
KNEE_COMPLAINT_SETS = ("knee-pain", "knee-injury", "bakers-cyst", "calf-strain", "hamstring-strain",
                       "septic-arthritis")
MEDICATION_CLASSES = ("antineoplastic-therapy", "oestrogen-therapy", "serm", "testosterone", "gout-medication")
# §1.12 item 3: sets whose Condition/Encounter reason codes count as current use (oestrogen, SERM)
LONG_TERM_USE_CLASSES = ("oestrogen-therapy", "serm")
SIDE_SETS = {"side-left": "left", "side-right": "right", "side-bilateral": "bilateral"}
# contract §5 orderables that are imaging (clinical-rules §7.7 "(imaging only) a report Observation")
IMAGING_ORDERABLES = frozenset({"venous-duplex-us", "popliteal-us", "knee-xray", "mri-knee", "abi",
                                "arterial-duplex", "ctpa"})
KA_RESULT_CODES = frozenset({"venous-ultrasound-result", "knee-radiograph-result"})
# clinical-rules §4.9 step 3a: positive interpretation codes (v3-ObservationInterpretation), also the
# "positive interpretation" of a pregnancy test (§1.9 item 1)
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
POSITIVE_INTERPRETATION = frozenset({"H", "HH", "HU", "A", "AA", "POS", "DET"})
# §1.9: ICD-10-CM Z3A.nn = nn weeks of gestation (Z3A.00 unknown, Z3A.01 "< 8 weeks")
Z3A = re.compile(r"^Z3A\.(\d\d)$")
Z3A_UNDER_8_WEEKS_DAYS = 56.0        # Z3A.01: read as its upper bound (8 weeks) at record time
EDD_TERM_DAYS = 280.0
# §1.3 item 4: ka booleans where false is the higher-risk value
FALSE_IS_RISK = frozenset({"bear-weight-4-steps", "knee-flexion-90", "alternative-diagnosis-as-likely",
                           "pe-suspicion-low", "ultrasound-within-4h"})
# §1.7 boolean strings
YES_STRINGS = frozenset({"true", "yes"})
NO_STRINGS = frozenset({"false", "no"})

# §1.13: prefetch keys -> resource types (used when an Unreadable names a key, not a type)
KEY_TYPES = {"encounter": "Encounter", "encounters": "Encounter", "conditions": "Condition",
             "observations": "Observation", "medicationRequests": "MedicationRequest",
             "medicationStatements": "MedicationStatement", "procedures": "Procedure",
             "serviceRequests": "ServiceRequest"}

# terminology §4.1: prophylactic regimens (upper bounds): ingredient -> ((dose, unit, per day), ...)
# Pharmacist sign-off required before release (terminology §4.1).
PROPHYLACTIC_REGIMENS: Mapping[str, tuple[tuple[float, str, float], ...]] = {
    "enoxaparin": ((40.0, "mg", 1.0), (30.0, "mg", 2.0)),
    "dalteparin": ((5000.0, "[iU]", 1.0),),
    "heparin": ((5000.0, "[iU]", 3.0),),
    "fondaparinux": ((2.5, "mg", 1.0),),
    "rivaroxaban": ((10.0, "mg", 1.0),),
    "apixaban": ((2.5, "mg", 2.0),),                  # only with the rule-2 condition
    "dabigatran etexilate": ((220.0, "mg", 1.0),),
    "edoxaban": (),                                   # none: always therapeutic
}
WARFARIN = "warfarin"
APIXABAN = "apixaban"
THERAPEUTIC, PROPHYLACTIC, UNKNOWN = "therapeutic", "prophylactic", "unknown"
_PERIOD_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0, "a": 365.0}
_DOSE_FORM_UNITS = frozenset({"tablet", "tablets", "tab", "tabs", "{tbl}", "{tablet}", "{tablets}", "capsule",
                              "capsules", "cap", "caps", "{capsule}", "{caps}", "syringe", "syringes",
                              "{syringe}", "vial", "vials", "{vial}", "{each}", "each", "ea", "1"})
_IU_UNITS = frozenset({"[iu]", "iu", "u", "[u]", "unit", "units", "[iu]/dose"})


# ==================================================================================================
# small helpers: lenient access and time
# ==================================================================================================

def _d(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list:
    return x if isinstance(x, list) else []


def _s(x: Any) -> str | None:
    return x.strip() if isinstance(x, str) and x.strip() else None


def _code_of(concept: Any) -> str | None:
    """First coding code of a CodeableConcept (clinicalStatus, verificationStatus)."""
    for c in _l(_d(concept).get("coding")):
        code = _s(_d(c).get("code"))
        if code:
            return code
    return None


def _label(concept: Any) -> str:
    cc = _d(concept)
    text = _s(cc.get("text"))
    if text:
        return text
    for c in _l(cc.get("coding")):
        disp = _s(_d(c).get("display")) or _s(_d(c).get("code"))
        if disp:
            return disp
    return ""


def window_start(now: datetime, window: Window) -> datetime:
    if isinstance(window, tuple):
        return months_before(now, window[1])
    return now - window


def within(t: datetime | None, now: datetime, window: Window) -> bool:
    """§1.1 item 2: now - N <= t <= now + 5 min (inclusive)."""
    return t is not None and window_start(now, window) <= t <= now + FUTURE_TOLERANCE


def _add_age(birth: datetime | None, age: Any) -> datetime | None:
    """birthDate + onsetAge (an Age Quantity: a / mo / wk / d / h)."""
    a = _d(age)
    value = a.get("value")
    if birth is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    unit = (_s(a.get("code")) or _s(a.get("unit")) or "a").lower()
    if unit in ("a", "y", "yr", "year", "years"):
        return birth + timedelta(days=365.25 * value)
    if unit in ("mo", "month", "months"):
        return birth + timedelta(days=30.44 * value)
    days = {"wk": 7, "d": 1, "h": 1 / 24}.get(unit)
    return birth + timedelta(days=days * value) if days else None


# ==================================================================================================
# the reader: one per build_facts call (no global mutable state)
# ==================================================================================================

@dataclass
class _Obs:
    """One Observation or component, read like an Observation (terminology §1.3)."""

    res: dict                     # the resource (parent for a component)
    part: dict                    # the resource itself, or the component (holds code and value[x])
    element: str                  # "Observation.code" | "Observation.component.code"
    ref: str
    time: datetime | None
    issued: datetime | None
    status: str
    flags: frozenset[str]


@dataclass
class _Reader:
    chart: Chart
    now: datetime
    t: Terminology
    context: dict
    hook: str
    facts: Facts = field(init=False)
    birth: datetime | None = None
    ka_values: dict[str, list[Value]] = field(default_factory=dict)
    vital_values: dict[str, list[Value]] = field(default_factory=dict)
    lab_values: dict[str, list[Value]] = field(default_factory=dict)
    smoking_values: list[Value] = field(default_factory=list)
    preg_status: list[Value] = field(default_factory=list)      # value: pregnant / not-pregnant / None
    preg_tests: list[Value] = field(default_factory=list)       # positive tests only
    ga_candidates: list[tuple[datetime | None, float, Source]] = field(default_factory=list)
    symptom_obs: list[tuple[str, Source]] = field(default_factory=list)
    complaint_obs: list[tuple[str, Source]] = field(default_factory=list)
    _quality_seen: set[tuple[str, str]] = field(default_factory=set)

    # ---- quality lines -------------------------------------------------------------------------
    def note(self, flag: str, text: str) -> None:
        key = (flag, text)
        if key not in self._quality_seen:
            self._quality_seen.add(key)
            self.facts.quality.append(key)

    def note_via(self, via_maps: Iterable[str]) -> None:
        self.facts.site_maps_used.update(via_maps)

    def guarded(self, ref: str, fn: Callable[[], None]) -> None:
        """Last line of leniency: a resource that still trips the reader is skipped, with a note."""
        try:
            fn()
        except Exception as exc:   # noqa: BLE001 - contract §2: never fail on odd input
            self.note("data-quality", f"{ref} could not be read ({type(exc).__name__}); it was skipped")

    # ---- times -------------------------------------------------------------------------------
    def read_time(self, ref: str, raw: Any, what: str = "date") -> tuple[datetime | None, set[str]]:
        """Parse, flag partial dates, drop future times (§1.1 items 2 and 3). An unreadable or future
        time is unknown (None), and every card names the resource that carried it."""
        flags: set[str] = set()
        t = parse_fhir_time(raw)
        if t is None:
            if raw is not None:
                self.date_note("undated", f"{ref}: {what} {_shown(raw)} is not a valid FHIR date; read as unknown")
            return None, flags
        if t.partial:
            flags.add("partial-date")
            self.note("partial-date", f"{ref}: partial {what} {raw} read as {t.point:%Y-%m-%d}")
        if t.point > self.now + FUTURE_TOLERANCE:
            flags.add("future-date")
            self.date_note("future-date", f"{ref}: {what} {_shown(raw)} is later than now; read as unknown")
            return None, flags
        return t.point, flags

    def date_note(self, flag: str, text: str) -> None:
        """A date the rules could not use: a quality line, and a line on every card (§1.1). An
        unreadable date is a data-quality fault; on the card it is flagged ``undated`` (no usable time)."""
        self.note("data-quality" if flag == "undated" else flag, text)
        if (flag, text) not in self.facts.date_notes:
            self.facts.date_notes.append((flag, text))


def _shown(raw: Any) -> str:
    """A recorded value as a card may show it: short, quoted, no control characters."""
    text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return repr(text[:40] + ("…" if len(text) > 40 else ""))


def build_facts(chart: Chart, now: datetime, terminology: Terminology, context: dict | None = None,
                hook: str = "patient-view") -> Facts:
    """Read ``chart`` at ``now`` (clinical-rules §1). Never raises on odd chart content."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    r = _Reader(chart, now, terminology, context if isinstance(context, dict) else {}, hook)
    _read_patient(r)
    _read_unreadable(r)
    by_type = _group_resources(r)
    for res in by_type.get("Condition", []):
        r.guarded(_ref(res), lambda res=res: _read_condition(r, res))
    for res in by_type.get("Procedure", []):
        r.guarded(_ref(res), lambda res=res: _read_procedure(r, res))
    for res in by_type.get("Encounter", []):
        r.guarded(_ref(res), lambda res=res: _read_encounter(r, res))
    for res in by_type.get("Observation", []):
        r.guarded(_ref(res), lambda res=res: _read_observation(r, res))
    _resolve_observations(r)
    for kind in ("MedicationRequest", "MedicationStatement"):
        for res in by_type.get(kind, []):
            r.guarded(_ref(res), lambda res=res, kind=kind: _read_medication(r, res, kind))
    drafts = _draft_ids(r.context)
    for res in by_type.get("ServiceRequest", []):
        r.guarded(_ref(res), lambda res=res: _read_order(r, res, drafts))
    _setting(r)
    _medication_use(r)
    _anticoagulation(r)
    _pregnancy(r)
    _symptoms(r)
    _knee_complaints(r)
    for key, text in r.chart.skipped if isinstance(r.chart.skipped, list) else []:
        r.note("data-quality", f"a {key} entry was malformed and skipped: {text}")
    return r.facts


# ==================================================================================================
# §1.6 patient, §1.13 unreadable
# ==================================================================================================

def _ref(res: Any) -> str:
    res = _d(res)
    return f"{res.get('resourceType', 'Resource')}/{res.get('id', '?')}"


def _read_patient(r: _Reader) -> None:
    p = _d(r.chart.patient)
    ref = f"Patient/{p.get('id', '?')}"
    deceased = p.get("deceasedBoolean") is True
    if not deceased and "deceasedDateTime" in p:
        dt, _ = parse_time(p.get("deceasedDateTime"))
        deceased = dt is not None and dt <= r.now
    gender = _s(p.get("gender"))
    r.facts = Facts(now=r.now, patient_ref=ref, age=None, birth_date=None, gender=gender, deceased=deceased)
    if "birthDate" in p:
        _read_birth_date(r, ref, p.get("birthDate"))


def _read_birth_date(r: _Reader, ref: str, raw: Any) -> None:
    """§1.6: age from birthDate. Unreadable or later than now: age unknown (never "young"). Known only
    to the year or month: an age range (the rules take the safer side of any boundary inside it); the
    single age is read from the §1.1 point (1 July, the 15th) like every partial date."""
    if raw is None:
        return                      # null: not recorded (§1.6 age unknown, ASSESS-AGE-UNKNOWN says so)
    t = parse_fhir_time(raw)
    if t is None:
        r.date_note("undated", f"{ref}: birthDate {_shown(raw)} is not a valid FHIR date; age unknown")
        return
    if t.earliest > r.now + FUTURE_TOLERANCE:
        r.date_note("future-date", f"{ref}: birthDate {_shown(raw)} is later than now; age unknown")
        return
    today = r.now.date()
    point = min(t.point, r.now)
    ages = AgeRange(youngest=completed_years(min(t.latest, r.now).date(), today),
                    oldest=completed_years(t.earliest.date(), today), recorded=str(raw).strip())
    r.birth = point
    r.facts.birth_date = point
    r.facts.age = completed_years(point.date(), today)
    r.facts.age_range = ages
    if t.partial:
        r.note("partial-date", f"{ref}: partial birthDate {raw} read as {point:%Y-%m-%d}")
        if not ages.exact:
            r.date_note("partial-date", f"{ref}: birthDate {ages.recorded} gives only the "
                                        f"{'year' if t.precision == 'year' else 'month'}: age {ages.label}; "
                                        "an age rule whose threshold falls in this range takes its safer side")


def _read_unreadable(r: _Reader) -> None:
    """§1.13: types that could not be read, page caps (contract §2 wording), fetch problems."""
    for u in r.chart.unreadable or []:
        r.facts.fetch_problems.append(u)
        rtype = getattr(u, "resource_type", None)
        if rtype not in CHART_TYPES:
            rtype = KEY_TYPES.get(getattr(u, "key", ""), None)
        if rtype is None:
            continue    # a Medication read: the medication is unresolved (§1.12), not a whole type
        r.facts.unreadable_types.add(rtype)
        if getattr(u, "reason", "") == "page-cap":
            pages = getattr(u, "truncated_pages", None) or 0
            r.facts.truncated[rtype] = pages
            r.note("fetch-truncated", f"Only the first {pages} pages of {rtype} were read (page cap reached); "
                                      "older records were not read and may hold history that changes this "
                                      "assessment.")


def _group_resources(r: _Reader) -> dict[str, list[dict]]:
    """Resources by type, deduplicated by (type, id): the encounter read and search may overlap."""
    out: dict[str, list[dict]] = {}
    seen: set[tuple[str, str]] = set()
    resources = r.chart.resources if isinstance(r.chart.resources, dict) else {}
    for key, items in resources.items():
        for res in _l(items):
            if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
                r.note("data-quality", f"a {key} entry is not a FHIR resource; skipped")
                continue
            ident = (res["resourceType"], str(res.get("id")))
            if res.get("id") is not None and ident in seen:
                continue
            seen.add(ident)
            out.setdefault(res["resourceType"], []).append(res)
    return out


# ==================================================================================================
# Conditions, Procedures, Encounters (§1.1, §1.2)
# ==================================================================================================

def _canon_codes(r: _Reader, concept: Any) -> list[tuple[str, str]]:
    out = []
    for c in _l(_d(concept).get("coding")):
        key, _alias = r.t.canonical(_d(c))
        if key:
            out.append(key)
    return out


def _read_condition(r: _Reader, res: dict) -> None:
    ref = _ref(res)
    verification = _code_of(res.get("verificationStatus"))
    if verification in COND_EXCLUDED:
        return                                                    # §1.2
    clinical = _code_of(res.get("clinicalStatus"))
    match = r.t.match("Condition.code", res.get("code"))
    r.note_via(match.maps)
    onset, flags = None, set()
    for key in ("onsetDateTime",):
        if key in res:
            onset, flags = r.read_time(ref, res.get(key), "onset")
    if onset is None and "onsetPeriod" in res:
        onset, flags = r.read_time(ref, _d(res.get("onsetPeriod")).get("start"), "onset")
    if onset is None and "onsetAge" in res:
        onset = _add_age(r.birth, res.get("onsetAge"))
    recorded, rflags = r.read_time(ref, res.get("recordedDate"), "recordedDate") if "recordedDate" in res \
        else (None, set())
    if onset is None:
        onset, flags = recorded, flags | rflags
    abatement, has_abatement = _abatement(r, ref, res)
    active = clinical in COND_ACTIVE or (clinical is None and not has_abatement)
    status = ", ".join(x for x in (clinical, verification) if x) or None
    source = Source(ref, onset, status, _label(res.get("code")), match.via)
    r.facts.conditions.append(ConditionFact(
        source=source, codes=_canon_codes(r, res.get("code")), sets=match.sets, clinical_status=clinical,
        verification=verification, active=active, onset=onset, recorded=recorded, abatement=abatement,
        has_abatement=has_abatement))


def _abatement(r: _Reader, ref: str, res: dict) -> tuple[datetime | None, bool]:
    # an abatement later than now has not happened yet: the Condition is not abated (§1.1 item 2); an
    # unreadable one still says the Condition abated, at an unknown time (like abatementBoolean)
    if "abatementDateTime" in res:
        t, flags = r.read_time(ref, res.get("abatementDateTime"), "abatement")
        return t, "future-date" not in flags
    if "abatementPeriod" in res:
        p = _d(res.get("abatementPeriod"))
        t, flags = r.read_time(ref, p.get("end") or p.get("start"), "abatement")
        return t, "future-date" not in flags
    if "abatementAge" in res:
        return _add_age(r.birth, res.get("abatementAge")), True
    if res.get("abatementBoolean") is True or _s(res.get("abatementString")):
        return None, True                                          # abated at an unknown time
    return None, False


def _read_procedure(r: _Reader, res: dict) -> None:
    status = _s(res.get("status"))
    if status not in PROC_COUNTED:
        return
    ref = _ref(res)
    if "performedDateTime" in res:
        t, _ = r.read_time(ref, res.get("performedDateTime"), "performed")
    else:
        p = _d(res.get("performedPeriod"))
        t, _ = r.read_time(ref, p.get("end") or p.get("start"), "performed")
    match = r.t.match("Procedure.code", res.get("code"))
    r.note_via(match.maps)
    r.facts.procedures.append(ProcedureFact(
        source=Source(ref, t, status, _label(res.get("code")), match.via),
        codes=_canon_codes(r, res.get("code")), sets=match.sets,
        orderables=r.t.orderables_for(res.get("code")), status=status, time=t))


def _context_encounter_id(context: dict) -> str | None:
    eid = _s(context.get("encounterId"))
    return eid.split("/")[-1] if eid else None


def _read_encounter(r: _Reader, res: dict) -> None:
    status = _s(res.get("status"))
    if status in ENC_EXCLUDED:
        return
    ref = _ref(res)
    period = _d(res.get("period"))
    start, _ = r.read_time(ref, period.get("start"), "period start") if period.get("start") else (None, set())
    end, _ = parse_time(period.get("end"))        # an end in the future is normal for a stay
    cls = r.t.match("Encounter.class", res.get("class"))
    reasons = r.t.match("Encounter.reasonCode", _l(res.get("reasonCode")))
    types = r.t.match("Encounter.type", _l(res.get("type")))
    r.note_via(cls.maps | reasons.maps | types.maps)
    refs = [ref_ for ref_ in (_s(_d(x).get("reference")) for x in _l(res.get("reasonReference"))) if ref_]
    eid = _context_encounter_id(r.context)
    if eid:
        current = str(res.get("id")) == eid
    else:
        current = status in ENC_CURRENT_STATUSES and (end is None or end >= r.now)   # §1.11 item 1
    label = _label(_l(res.get("type"))[0]) if _l(res.get("type")) else (status or "encounter")
    r.facts.encounters.append(EncounterFact(
        source=Source(ref, start, status, label, reasons.via or cls.via),
        status=status, class_sets=cls.sets, reason_sets=reasons.sets, type_sets=types.sets,
        reason_condition_refs=refs, start=start, end=end, is_current=current))


# ==================================================================================================
# Observations (§1.3–§1.5, §1.7)
# ==================================================================================================

def _read_observation(r: _Reader, res: dict) -> None:
    status = _s(res.get("status"))
    if status not in OBS_COUNTED:
        return                                                    # §1.2
    ref = _ref(res)
    t, flags = _obs_time(r, ref, res)
    if "future-date" in flags:
        return                                                    # §1.1 item 2: ignored
    issued, _ = parse_time(res.get("issued"))
    if t is None:
        flags.add("undated")
    if status == "preliminary":
        flags.add("preliminary")
    base = _Obs(res, res, "Observation.code", ref, t, issued, status, frozenset(flags))
    _read_obs_part(r, base)
    for comp in _l(res.get("component")):
        if isinstance(comp, dict):
            _read_obs_part(r, replace(base, part=comp, element="Observation.component.code"))


def _obs_time(r: _Reader, ref: str, res: dict) -> tuple[datetime | None, set[str]]:
    """§1.1 item 3: effectiveDateTime / effectiveInstant / effectivePeriod.end (else .start), else issued."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        if key in res:
            return r.read_time(ref, res.get(key), "effective time")
    if "effectivePeriod" in res:
        p = _d(res.get("effectivePeriod"))
        raw = p.get("end") or p.get("start")
        if raw:
            return r.read_time(ref, raw, "effective time")
    if "issued" in res:
        return r.read_time(ref, res.get("issued"), "issued")
    return None, set()


def _source(obs: _Obs, display: str, via: str = "") -> Source:
    status = "preliminary" if obs.status == "preliminary" else obs.status
    return Source(obs.ref, obs.time, status, display, via)


def _value(obs: _Obs, value: Any, display: str, via: str = "", extra: Iterable[str] = ()) -> Value:
    return Value(value, _source(obs, display, via), obs.time, obs.issued, obs.flags | frozenset(extra))


def _read_obs_part(r: _Reader, obs: _Obs) -> None:
    code = obs.part.get("code")
    ka = r.t.ka_code(code)
    if ka is not None:
        # contract §3: a knee-assessment Observation is that item and nothing else (§7.7: a ka result
        # carrying an imaging LOINC is a result only)
        _read_ka(r, obs, ka[0], ka[1])
        return
    match = r.t.match(obs.element, code)
    local = r.t.local_entry(code)
    if match.sets:
        r.note_via(match.maps)
    sets = match.sets
    for set_name, key in VITAL_SETS.items():
        if set_name in sets:
            _add_measure(r, r.vital_values, key, set_name, obs, match.via, local)
    for set_name, (key, _w) in LAB_SETS.items():
        if set_name in sets:
            _add_measure(r, r.lab_values, key, set_name, obs, match.via, local)
    ddimer_sets = [s for s in DDIMER_SETS if s in sets]
    if ddimer_sets:
        _add_ddimer(r, obs, ddimer_sets[0], match.via, local)
    if obs.element == "Observation.code":
        present = _symptom_present(r, obs.part, local)
        for s in SYMPTOM_SETS:
            if s in sets and present:
                r.symptom_obs.append((s, _source(obs, _label(code) or s, match.via)))
        for s in KNEE_COMPLAINT_SETS:
            if s in sets and present:
                r.complaint_obs.append((s, _source(obs, _label(code) or s, match.via)))
        orderables = r.t.orderables_for(code) & IMAGING_ORDERABLES
        if orderables:      # §7.7: an imaging report Observation ("done"), never a ka result
            r.facts.reports.append(ReportFact(_source(obs, _label(code), match.via), frozenset(orderables),
                                              obs.time))
    if "pregnancy-status" in sets:
        _add_pregnancy_status(r, obs, match.via, local)
    if "pregnancy-test" in sets:
        verdict = _pregnancy_test_verdict(obs.part)
        if verdict == "positive":
            r.preg_tests.append(_value(obs, True, _label(code) or "pregnancy test positive", match.via))
        if obs.time is not None:
            # §7.7: a result within 24 h stops the test from being suggested again (either verdict)
            r.facts.pregnancy_tests.append(_value(obs, verdict, _label(code) or "pregnancy test", match.via))
    if "gestational-age" in sets:
        _add_gestational_age(r, obs, match.via, local)
    if "estimated-delivery-date" in sets:
        _add_edd(r, obs, match.via)
    if "smoking-status" in sets:
        _add_smoking(r, obs, match.via)


def _pregnancy_test_verdict(part: dict) -> str | None:
    """§1.9 item 1 reads a positive interpretation (§4.9 step 3a codes); N/NEG/ND read as negative;
    anything else is a result without a verdict (None)."""
    if _positive(part):
        return "positive"
    for cc in _l(part.get("interpretation")):
        for c in _l(_d(cc).get("coding")):
            c = _d(c)
            if _s(c.get("system")) == INTERPRETATION_SYSTEM and _s(c.get("code")) in ("N", "NEG", "ND"):
                return "negative"
    return None


def _positive(part: dict) -> bool:
    for cc in _l(part.get("interpretation")):
        for c in _l(_d(cc).get("coding")):
            c = _d(c)
            if _s(c.get("system")) == INTERPRETATION_SYSTEM and _s(c.get("code")) in POSITIVE_INTERPRETATION:
                return True
    return False


# ---- ka items ----------------------------------------------------------------------------------

def _read_ka(r: _Reader, obs: _Obs, code: str, local: LocalCode | None) -> None:
    kind = KNEE_ASSESSMENT[code]
    via = local.note if local else ""
    if local:
        r.note_via([local.map_label])
    part = obs.part
    extra: set[str] = set()
    if "dataAbsentReason" in part and not _has_value(part):
        value = None                                               # §0: dataAbsentReason -> unknown
    elif kind == BOOLEAN:
        value = _boolean(r, part, local)
    elif kind == QUANTITY:
        result = units.read_quantity(code, part.get("valueQuantity"),
                                     default_unit=local.unit if local else None,
                                     unit_aliases=local.units if local else None)
        value = result.quantity if "valueQuantity" in part else None
        if "valueQuantity" in part:
            extra |= set(result.flags)
            if result.note:
                r.note(next(iter(result.flags)), f"{obs.ref}: {result.note}")
    elif kind == CODED:
        value = _coded(r, code, part, local)
    else:  # DATETIME
        value = None
        raw = part.get("valueDateTime")
        if raw is not None:
            value, vflags = r.read_time(obs.ref, raw, code)
            extra |= vflags
    display = f"{code}: {_show(value)}"
    r.ka_values.setdefault(code, []).append(_value(obs, value, display, via, extra))


def _has_value(part: dict) -> bool:
    return any(k.startswith("value") for k in part)


def _show(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Quantity):
        return f"{value.comparator or ''}{value.value:g} {value.unit or ''}".strip()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _boolean(r: _Reader, part: dict, local: LocalCode | None) -> bool | None:
    """§1.7: valueBoolean; coded answer in answer-yes/answer-no; "true"/"yes"/"false"/"no"; site-map answers."""
    if isinstance(part.get("valueBoolean"), bool):
        return part["valueBoolean"]
    if "valueCodeableConcept" in part:
        cc = part.get("valueCodeableConcept")
        if local:
            for c in _l(_d(cc).get("coding")):
                found, mapped = local.answer_for(_d(c).get("code"))
                if found:
                    return mapped if isinstance(mapped, bool) else None
        return r.t.yes_no(cc)
    if "valueString" in part:
        s = part.get("valueString")
        if local:
            found, mapped = local.answer_for(s)
            if found:
                return mapped if isinstance(mapped, bool) else None
        s = _s(s)
        if s and s.lower() in YES_STRINGS:
            return True
        if s and s.lower() in NO_STRINGS:
            return False
    return None


def _coded(r: _Reader, code: str, part: dict, local: LocalCode | None) -> str | None:
    """Coded ka items: symptom-side -> left/right/bilateral (side sets); results and mechanism -> CS code."""
    codings = [_d(c) for c in _l(_d(part.get("valueCodeableConcept")).get("coding"))]
    if local:
        mapped_codings = []
        for c in codings:
            found, mapped = local.answer_for(c.get("code"))
            mapped_codings.append(mapped if found and isinstance(mapped, dict) else c)
        codings = mapped_codings
        if not codings and "valueString" in part:
            found, mapped = local.answer_for(part.get("valueString"))
            if found and isinstance(mapped, dict):
                codings = [mapped]
    if code == "symptom-side":
        sides = {SIDE_SETS[s] for s in r.t.answer_sets(codings, SIDE_QUESTION) if s in SIDE_SETS}
        return sides.pop() if len(sides) == 1 else None
    system, allowed = KA_CODED_ANSWERS[code]
    for c in codings:
        if _s(c.get("system")) == system and _s(c.get("code")) in allowed:
            return _s(c.get("code"))
    return None


# ---- vitals, labs, D-dimer ------------------------------------------------------------------------

def _add_measure(r: _Reader, bucket: dict[str, list[Value]], key: str, set_name: str, obs: _Obs, via: str,
                 local: LocalCode | None) -> None:
    part = obs.part
    extra: set[str] = set()
    if "valueQuantity" in part:
        result = units.read_quantity(set_name, part.get("valueQuantity"),
                                     default_unit=local.unit if local else None,
                                     unit_aliases=local.units if local else None)
        value: Any = result.quantity
        extra |= set(result.flags)
        if result.note:
            r.note(next(iter(result.flags)), f"{obs.ref}: {result.note}")
        shown = result.as_recorded
    elif "valueCodeableConcept" in part:
        value = _code_of(part.get("valueCodeableConcept")) or _label(part.get("valueCodeableConcept")) or None
        shown = _label(part.get("valueCodeableConcept"))
    elif "valueString" in part:
        value = _s(part.get("valueString"))
        shown = value or ""
    else:
        value, shown = None, "no value"
    display = f"{key.replace('_', ' ')} {shown}".strip()
    bucket.setdefault(key, []).append(_value(obs, value, display, via, extra))


def _add_ddimer(r: _Reader, obs: _Obs, set_name: str, via: str, local: LocalCode | None) -> None:
    """§4.9 items 1-2 reading (interpretation is the pathways'); kept 90 days, latest first."""
    if obs.time is not None and not within(obs.time, r.now, DDIMER_KEEP):
        return
    part = obs.part
    flags = set(obs.flags)
    quantity = None
    assay = "qualitative"
    coded = None
    if set_name != "d-dimer-qualitative" and "valueQuantity" in part:
        assay = "feu" if set_name == "d-dimer-feu" else "ddu"
        result = units.read_quantity(set_name, part.get("valueQuantity"),
                                     default_unit=local.unit if local else None,
                                     unit_aliases=local.units if local else None)
        quantity = result.quantity
        flags |= result.flags
        if result.note:
            r.note("unit", f"{obs.ref}: {result.note}")
        if result.assay_word and result.assay_word.lower() != assay:
            # terminology §13 D-dimer item 1: the unit's word contradicts the code's set
            flags.add("conflict")
            r.note("conflict", f"{obs.ref}: unit says {result.assay_word} but the code is a "
                               f"{assay.upper()} D-dimer; not used to rule out")
    elif set_name != "d-dimer-qualitative":
        assay = "qualitative"   # §4.9 item 2: a quantitative code with a coded/string value is "other"
    if "valueCodeableConcept" in part:
        coded = _code_of(part.get("valueCodeableConcept")) or _label(part.get("valueCodeableConcept"))
    elif "valueString" in part:
        coded = _s(part.get("valueString"))
    elif set_name == "d-dimer-qualitative" and "valueQuantity" in part:
        coded = units.read_quantity(set_name, part.get("valueQuantity")).as_recorded
    interpretation = [
        _s(_d(c).get("code")) for cc in _l(part.get("interpretation")) for c in _l(_d(cc).get("coding"))
        if _s(_d(c).get("system")) == INTERPRETATION_SYSTEM and _s(_d(c).get("code"))]
    reference_high = None
    for rr in _l(part.get("referenceRange")):
        high = _d(rr).get("high")
        if isinstance(high, dict) and assay in ("feu", "ddu"):
            reference_high = units.read_quantity(set_name, high, unit_aliases=local.units if local else None).quantity
            break
    shown = quantity.as_recorded if quantity else (coded or "D-dimer")
    r.facts.ddimers.append(DDimer(
        source=_source(obs, f"D-dimer {shown}", via), time=obs.time, assay=assay, quantity=quantity,
        interpretation=interpretation, reference_high=reference_high, coded_value=coded,
        flags=frozenset(flags)))


def _symptom_present(r: _Reader, part: dict, local: LocalCode | None) -> bool:
    """§1.8 (b): a value that is not false / not in set:answer-no; no value = present."""
    if not _has_value(part):
        return True
    answer = _boolean(r, part, local)
    return answer is not False


# ---- pregnancy evidence, smoking ------------------------------------------------------------------

def _answer_value(r: _Reader, part: dict, question: str, local: LocalCode | None) -> frozenset[str]:
    cc = part.get("valueCodeableConcept")
    codings = [_d(c) for c in _l(_d(cc).get("coding"))]
    if local:
        codings = [(lambda f: f[1] if f[0] and isinstance(f[1], dict) else c)(local.answer_for(c.get("code")))
                   for c in codings]
    return r.t.answer_sets(codings, question)


def _add_pregnancy_status(r: _Reader, obs: _Obs, via: str, local: LocalCode | None) -> None:
    sets = _answer_value(r, obs.part, "pregnancy-status", local)
    if "pregnancy" in sets:
        value = "pregnant"
    elif "not-pregnant" in sets:
        value = "not-pregnant"
    else:
        value = None                     # pregnancy-status-unknown, or no usable answer: unknown
    r.preg_status.append(_value(obs, value, f"pregnancy status: {value or 'unknown'}", via))


def _add_gestational_age(r: _Reader, obs: _Obs, via: str, local: LocalCode | None) -> None:
    if "valueQuantity" not in obs.part or obs.time is None:
        return
    q = units.read_quantity("gestational-age", obs.part.get("valueQuantity"),
                            default_unit=local.unit if local else None).quantity
    if q is None:
        r.note("unit", f"{obs.ref}: gestational age unit not recognised; not used")
        return
    days = q.value + (r.now - obs.time).total_seconds() / 86400
    r.ga_candidates.append((obs.time, days, _source(obs, f"gestational age {q.as_recorded}", via)))


def _add_edd(r: _Reader, obs: _Obs, via: str) -> None:
    edd, _ = parse_time(obs.part.get("valueDateTime") or obs.part.get("valueDate"))
    if edd is None:
        return
    days = EDD_TERM_DAYS - (edd - r.now).total_seconds() / 86400
    r.ga_candidates.append((obs.time, days, _source(obs, f"estimated delivery date {edd:%Y-%m-%d}", via)))


def _add_smoking(r: _Reader, obs: _Obs, via: str) -> None:
    sets = _answer_value(r, obs.part, "smoking-status", None)
    value = next((s.replace("-smoker", "") for s in ("current-smoker", "former-smoker", "never-smoker")
                  if s in sets), None)
    r.smoking_values.append(_value(obs, value, f"smoking status: {value or 'unknown'}", via))


# ==================================================================================================
# §1.3 latest value wins, conflicts, superseded
# ==================================================================================================

def _risk_rank(concept: str, value: Any) -> float:
    """Higher = higher risk (§1.3 item 4 table). Unknown sits between the extremes where the table says
    so (D-dimer, pregnancy), else below every known value."""
    if concept in KNEE_ASSESSMENT and KNEE_ASSESSMENT[concept] == BOOLEAN:
        if value is None:
            return 1
        return 2 if value is (concept not in FALSE_IS_RISK) else 0
    if value is None:
        return {"venous-ultrasound-result": 1, "knee-radiograph-result": 2, "injury-mechanism": 1,
                "pregnancy": 1}.get(concept, float("-inf"))
    if concept == "venous-ultrasound-result":
        return 2 if value == "dvt-seen" else 0
    if concept == "knee-radiograph-result":
        return {"suspicious-lesion": 4, "fracture": 3, "normal-or-effusion-only": 1}.get(value, 0)
    if concept == "injury-mechanism":
        return {"fall": 3, "blunt": 3, "twist": 2}.get(value, 0)
    if concept == "symptom-side":
        return {"left": 2, "bilateral": 1}.get(value, 0)
    if concept == "pregnancy":
        return 2 if value == "pregnant" else 0
    if isinstance(value, datetime):
        ts = value.timestamp()
        return -ts if concept == "symptom-onset" else ts       # earlier onset; later injury date
    if isinstance(value, Quantity):
        return -value.value if concept in ("spo2", "sbp") else value.value
    return 0


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return (a.value, a.unit, a.comparator) == (b.value, b.unit, b.comparator)
    return a == b


_MIN_TIME = datetime.min.replace(tzinfo=UTC)


def _order_key(v: Value) -> tuple[datetime, datetime]:
    return (v.time or _MIN_TIME, v.issued or _MIN_TIME)


def _raises_risk(concept: str, value: Any) -> bool:
    """§1.1 item 4: an undated value is used only when it raises risk."""
    if value is None:
        return False
    kind = KNEE_ASSESSMENT.get(concept)
    if kind == BOOLEAN:
        return value is (concept not in FALSE_IS_RISK)
    return {"venous-ultrasound-result": value == "dvt-seen",
            "knee-radiograph-result": value in ("suspicious-lesion", "fracture"),
            "injury-mechanism": value in ("twist", "fall", "blunt"),
            "symptom-side": value == "left"}.get(concept, False)


def resolve(concept: str, values: list[Value], now: datetime, window: Window) -> Reading | None:
    """One concept's Reading: latest in window wins; same-time disagreement -> higher risk + conflict;
    earlier differing values within 24 h -> superseded. Undated: used only when risk-raising."""
    dated = [v for v in values if v.time is not None and within(v.time, now, window)]
    if not dated:
        undated = [v for v in values if v.time is None]
        if not undated:
            return None
        risky = [v for v in undated if _raises_risk(concept, v.value)]
        if risky:
            winner = max(risky, key=lambda v: _risk_rank(concept, v.value))
            return Reading(winner.value, winner, flags=set(winner.flags) | {"undated"})
        return Reading(None, None, flags={"undated"})     # undated reassuring value -> unknown
    dated.sort(key=_order_key)
    top = _order_key(dated[-1])
    ties = [v for v in dated if _order_key(v) == top]
    winner = max(ties, key=lambda v: _risk_rank(concept, v.value))
    reading = Reading(winner.value, winner, flags=set(winner.flags))
    reading.conflicts = [v for v in ties if v is not winner and not _same(v.value, winner.value)]
    if reading.conflicts:
        reading.flags.add("conflict")
    floor = winner.time - 24 * H
    reading.superseded = [v for v in reversed(dated) if _order_key(v) < top and v.time >= floor
                          and not _same(v.value, winner.value)]
    if reading.superseded:
        reading.flags.add("superseded")
    return reading


def _resolve_observations(r: _Reader) -> None:
    f = r.facts
    for code, values in r.ka_values.items():
        reading = resolve(code, values, r.now, KA_WINDOWS.get(code, 30 * D))
        if reading is not None:
            f.ka[code] = reading
            _note_reading(r, f"ka:{code}", reading)
    for key, values in r.vital_values.items():
        reading = resolve(key, values, r.now, VITAL_WINDOW)
        if reading is not None:
            f.vitals[key] = reading
            _note_reading(r, key.replace("_", " "), reading)
    windows = {k: w for k, w in LAB_SETS.values()}
    for key, values in r.lab_values.items():
        reading = resolve(key, values, r.now, windows[key])
        if reading is not None:
            f.labs[key] = reading
            _note_reading(r, key.replace("_", " "), reading)
    smoking = resolve("smoking", r.smoking_values, r.now, SMOKING_WINDOW)
    if smoking is not None:
        f.smoking = smoking
    f.ultrasounds = _result_list(r, "venous-ultrasound-result")
    f.radiographs = _result_list(r, "knee-radiograph-result")
    f.ddimers.sort(key=lambda d: (d.time or _MIN_TIME), reverse=True)


def _result_list(r: _Reader, code: str) -> list[Value]:
    """ka results in their read window (§1.4), latest first; undated ones last (flag undated)."""
    window = KA_WINDOWS[code]
    values = [v for v in r.ka_values.get(code, []) if v.time is None or within(v.time, r.now, window)]
    return sorted(values, key=_order_key, reverse=True)


def _note_reading(r: _Reader, name: str, reading: Reading) -> None:
    w = reading.winner
    if w is not None and "preliminary" in reading.flags:
        r.note("preliminary", f"{name}: {w.source.ref} is preliminary")
    if w is not None and "undated" in reading.flags:
        r.note("undated", f"{name}: {w.source.ref} has no date; used because it raises risk")
    elif w is None and "undated" in reading.flags:
        r.note("undated", f"{name}: only undated values on record; treated as unknown")
    if reading.conflicts:
        others = ", ".join(v.source.ref for v in reading.conflicts)
        r.note("conflict", f"{name}: {w.source.ref} and {others} at the same time disagree; "
                           f"the higher-risk value ({_show(reading.value)}) is used")
    for v in reading.superseded:
        when = v.time.strftime("%Y-%m-%d %H:%M UTC") if v.time else "undated"
        r.note("superseded", f"{name}: {v.source.ref} ({when}, {_show(v.value)}) superseded by "
                             f"{w.source.ref} ({_show(reading.value)})")


# ==================================================================================================
# §1.12 medications, §4.1 intensity
# ==================================================================================================

def _resolve_reference(r: _Reader, res: dict) -> dict | None:
    """§1.12 item 1: a contained Medication (#id) first, then chart.medications["Medication/<id>"]."""
    ref = _s(_d(res.get("medicationReference")).get("reference"))
    if not ref:
        return None
    if ref.startswith("#"):
        for c in _l(res.get("contained")):
            if _d(c).get("resourceType") == "Medication" and str(_d(c).get("id")) == ref[1:]:
                return c
        return None
    parts = ref.rstrip("/").split("/")
    key = "/".join(parts[-2:]) if len(parts) >= 2 else ref
    meds = r.chart.medications if isinstance(r.chart.medications, dict) else {}
    med = meds.get(key) or meds.get(ref)
    return med if isinstance(med, dict) else None


def _medication_codings(r: _Reader, res: dict, kind: str) -> tuple[frozenset[str], list[dict], str, str, bool]:
    """(sets, codings, display, via, resolved)."""
    if "medicationCodeableConcept" in res:
        cc = res.get("medicationCodeableConcept")
        m = r.t.match(f"{kind}.medicationCodeableConcept", cc)
        r.note_via(m.maps)
        return m.sets, [_d(c) for c in _l(_d(cc).get("coding"))], _label(cc), m.via, True
    med = _resolve_reference(r, res)
    if med is None:
        return frozenset(), [], "", "", False
    code = _d(med.get("code"))
    ingredients = [_d(i).get("itemCodeableConcept") for i in _l(med.get("ingredient"))
                   if isinstance(_d(i).get("itemCodeableConcept"), dict)]
    codings = [_d(c) for c in _l(code.get("coding"))]
    codings += [_d(c) for cc in ingredients for c in _l(_d(cc).get("coding"))]
    if not codings:
        return frozenset(), [], _label(code), "", False        # a Medication without a code: unresolved
    m1 = r.t.match("Medication.code", code)
    m2 = r.t.match("Medication.ingredient.itemCodeableConcept", ingredients)
    r.note_via(m1.maps | m2.maps)
    return m1.sets | m2.sets, codings, _label(code) or _label(ingredients[0] if ingredients else {}), \
        m1.via or m2.via, True


def _read_medication(r: _Reader, res: dict, kind: str) -> None:
    status = _s(res.get("status"))
    if status not in (MR_COUNTED if kind == "MedicationRequest" else MS_COUNTED):
        return                                                    # §1.2
    ref = _ref(res)
    sets, codings, display, via, resolved = _medication_codings(r, res, kind)
    if kind == "MedicationRequest":
        start, _ = r.read_time(ref, res.get("authoredOn"), "authoredOn") if "authoredOn" in res else (None, set())
        asserted = None
        dosage = _l(res.get("dosageInstruction"))
    else:
        if "effectivePeriod" in res:
            start, _ = r.read_time(ref, _d(res.get("effectivePeriod")).get("start"), "effective start")
        else:
            start, _ = r.read_time(ref, res.get("effectiveDateTime"), "effective time") \
                if "effectiveDateTime" in res else (None, set())
        asserted, _ = r.read_time(ref, res.get("dateAsserted"), "dateAsserted") if "dateAsserted" in res \
            else (None, set())
        asserted = asserted or start
        dosage = _l(res.get("dosage"))
    intensity = None
    if sets & set(ANTICOAGULANT_SETS):
        intensity = classify_intensity(r, codings, sets, dosage[0] if dosage else None, res)
    if not resolved:
        display = f"unknown medication ({ref})"
    fact = MedicationFact(source=Source(ref, start, status, display or ref, via), kind=kind, status=status,
                          sets=sets, display=display or ref, resolved=resolved, start=start, asserted=asserted,
                          intensity=intensity)
    r.facts.medications.append(fact)
    if not resolved:
        r.facts.unresolved_medications.append(fact)
        r.note("medication-unresolved", f"unknown medication ({ref}): its medication could not be resolved")


def _dose(dosage: dict, metas: list[Mapping[str, Any]]) -> tuple[float | None, str | None, bool]:
    """terminology §4.1 rule 2: dose per administration in mg or IU -> (amount, "mg"|"[iU]", per_kg)."""
    for dr in _l(dosage.get("doseAndRate")):
        dq = _d(_d(dr).get("doseQuantity"))
        value = dq.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        unit = (units.quantity_unit_text(dq) or "").strip()
        low = unit.lower()
        if "/kg" in low:
            return float(value), None, True
        if low == "mg":
            return float(value), "mg", False
        if low == "g":
            return float(value) * 1000, "mg", False
        if low in _IU_UNITS:
            return float(value), "[iU]", False
        strength = next((m for m in metas if m.get("unitDose")), None)
        if strength is None:
            return None, None, False
        if low in ("ml", "milliliter", "millilitre"):
            conc = _d(strength.get("concentration"))
            cval, cunit = conc.get("value"), _s(conc.get("unit")) or ""
            if isinstance(cval, (int, float)) and "/" in cunit:
                return float(value) * cval, _dose_unit(cunit.split("/")[0]), False
            return None, None, False
        if low in _DOSE_FORM_UNITS:
            ud = _d(strength.get("unitDose"))
            uval = ud.get("value")
            if isinstance(uval, (int, float)):
                return float(value) * uval, _dose_unit(_s(ud.get("unit")) or ""), False
    return None, None, False


def _dose_unit(u: str) -> str | None:
    u = u.strip().lower()
    return "mg" if u == "mg" else ("[iU]" if u in _IU_UNITS else None)


def _per_day(dosage: dict) -> float | None:
    rep = _d(_d(dosage.get("timing")).get("repeat"))
    freq, period, unit = rep.get("frequency"), rep.get("period"), _s(rep.get("periodUnit"))
    if period is None and freq is None:
        return None
    freq = freq if isinstance(freq, (int, float)) and not isinstance(freq, bool) else 1
    if not isinstance(period, (int, float)) or isinstance(period, bool) or period <= 0 or unit not in _PERIOD_DAYS:
        return None
    return freq / (period * _PERIOD_DAYS[unit])


def _intravenous(dosage: dict) -> bool:
    route = dosage.get("route")
    words = " ".join([_label(route)] + [str(_d(c).get("display", "")) for c in _l(_d(route).get("coding"))])
    return "intravenous" in words.lower() or re.search(r"\bIV\b", words) is not None


def _prophylaxis_reason(res: dict) -> bool:
    """terminology §4.1 rule 2 (apixaban): the order's reason states VTE prophylaxis (read from text)."""
    texts = [_label(cc) for cc in _l(res.get("reasonCode"))]
    texts += [str(_d(c).get("display", "")) for cc in _l(res.get("reasonCode")) for c in _l(_d(cc).get("coding"))]
    return any("prophyla" in t.lower() for t in texts)


def classify_intensity(r: _Reader, codings: list[dict], sets: frozenset[str], dosage: dict | None,
                       res: dict) -> str:
    """terminology §4.1: therapeutic | prophylactic | unknown, first rule that applies."""
    metas = [m for m in (r.t.anticoagulant_info(c) for c in codings) if m]
    ingredients = {m.get("ingredient") for m in metas if m.get("ingredient")}
    if WARFARIN in ingredients:
        return THERAPEUTIC                                          # rule 1
    if isinstance(dosage, dict):                                    # rule 2
        amount, unit, per_kg = _dose(dosage, metas)
        per_day = _per_day(dosage)
        if per_kg or (_intravenous(dosage) and amount is not None):
            return THERAPEUTIC
        if amount is not None and unit and per_day is not None and len(ingredients) == 1:
            ingredient = next(iter(ingredients))
            regimens = PROPHYLACTIC_REGIMENS.get(ingredient)
            if regimens is not None:
                at_or_below = any(amount <= dose + 1e-9 and unit == dunit and per_day <= freq + 1e-9
                                  for dose, dunit, freq in regimens)
                if at_or_below and ingredient == APIXABAN and not (
                        _prophylaxis_reason(res) or _recent_joint_replacement(r)):
                    return THERAPEUTIC
                return PROPHYLACTIC if at_or_below else THERAPEUTIC
    if "anticoagulants-therapeutic" in sets:                         # rule 3
        return THERAPEUTIC
    if "anticoagulants-prophylactic" in sets:
        return PROPHYLACTIC
    return UNKNOWN


def _recent_joint_replacement(r: _Reader) -> bool:
    """terminology §4.1 rule 2: a major-surgery (hip/knee replacement) Procedure in the previous 6 weeks."""
    return any("major-surgery" in p.sets and within(p.time, r.now, APIXABAN_SURGERY_WINDOW)
               for p in r.facts.procedures)


def _medication_use(r: _Reader) -> None:
    """§1.12 item 3 (and §1.13 unknowns)."""
    f = r.facts
    six = window_start(r.now, SIX_MONTHS)
    for m in f.medications:
        for s in MEDICATION_CLASSES:
            if s in m.sets:
                f.medication_use.setdefault(s, []).append(m.source)
    for s in LONG_TERM_USE_CLASSES:
        for c in f.conditions:
            if s in c.sets and c.active:
                f.medication_use.setdefault(s, []).append(c.source)
        for e in f.encounters:
            if s in e.reason_sets and e.start is not None and six <= e.start <= r.now + FUTURE_TOLERANCE:
                f.medication_use.setdefault(s, []).append(e.source)
    # W1 "cancer treatment within 6 months": Procedure, Z51.- Condition (onset else recorded) or
    # Encounter reasonCode in set:antineoplastic-therapy. A medication of the set is never cancer
    # treatment on its own (§1.4, §4.1 W1): it qualifies only beside a cancer Condition, read from
    # medication_use (low-dose methotrexate for rheumatoid arthritis is not cancer)
    for p in f.procedures:
        if "antineoplastic-therapy" in p.sets and within(p.time, r.now, SIX_MONTHS):
            f.cancer_treatment.append(p.source)
    for c in f.conditions:
        if "antineoplastic-therapy" in c.sets and within(c.onset or c.recorded, r.now, SIX_MONTHS):
            f.cancer_treatment.append(c.source)
    for e in f.encounters:
        if "antineoplastic-therapy" in e.reason_sets and within(e.start, r.now, SIX_MONTHS):
            f.cancer_treatment.append(e.source)
    meds_unreadable = {"MedicationRequest", "MedicationStatement"} & f.unreadable_types
    if meds_unreadable or f.unresolved_medications:
        for s in MEDICATION_CLASSES:
            if s not in f.medication_use:
                f.medication_use_unknown.add(s)


# ==================================================================================================
# §1.10 anticoagulation
# ==================================================================================================

def _anticoagulation(r: _Reader) -> None:
    f = r.facts
    six = window_start(r.now, SIX_MONTHS)
    current, stale, prophylactic = [], [], []
    for m in f.medications:
        if m.intensity is None:
            continue
        recent = m.kind == "MedicationRequest" or (m.asserted is not None and m.asserted >= six)
        if m.intensity in (THERAPEUTIC, UNKNOWN):
            (current if recent else stale).append(m)
        elif m.intensity == PROPHYLACTIC and recent:
            prophylactic.append(m)
    reasons: list[str] = []
    sources: list[Source] = []
    for m in stale:
        reasons.append(f"{m.source.ref}: anticoagulant statement asserted "
                       f"{'at an unknown time' if m.asserted is None else 'more than 6 months ago'}")
        sources.append(m.source)
    for c in f.conditions:
        if "long-term-anticoagulant-use" in c.sets and c.active:
            reasons.append(f"{c.source.ref}: long-term anticoagulant use on the problem list")
            sources.append(c.source)
    for e in f.encounters:
        if "long-term-anticoagulant-use" in e.reason_sets and e.start is not None and e.start >= six:
            reasons.append(f"{e.source.ref}: visit for long-term anticoagulant use")
            sources.append(e.source)
    for m in f.unresolved_medications:
        reasons.append(f"unknown medication ({m.source.ref})")
        sources.append(m.source)
    for t in sorted({"MedicationRequest", "MedicationStatement"} & f.unreadable_types):
        reasons.append(f"{t} records could not be read")
    if current:
        ac = Anticoagulation("current", [m.source for m in current])
        starts = [m.start for m in current]
        ac.start = None if any(s is None for s in starts) else min(starts)
        ac.unknown_intensity = any(m.intensity == UNKNOWN for m in current)
        ac.pre_existing = _pre_existing(r, ac.start)
        if ac.unknown_intensity:
            ac.flags.add("anticoagulant-undetermined-intensity")
            r.note("anticoagulant-undetermined-intensity",
                   "anticoagulant of undetermined intensity: " + ", ".join(
                       m.source.ref for m in current if m.intensity == UNKNOWN) + " (handled as therapeutic)")
    elif reasons:
        ac = Anticoagulation("uncertain", sources, reasons=reasons, flags={"anticoagulation-uncertain"})
        r.note("anticoagulation-uncertain", "anticoagulation uncertain: " + "; ".join(reasons))
    elif prophylactic:
        ac = Anticoagulation("prophylactic", [m.source for m in prophylactic], flags={"prophylactic-anticoagulation"})
        starts = [m.start for m in prophylactic]
        ac.start = None if any(s is None for s in starts) else min(starts)
    else:
        ac = Anticoagulation("none")
    f.anticoagulation = ac


def _pre_existing(r: _Reader, start: datetime | None) -> bool:
    """§1.10 item 3: started before ka:symptom-onset (onset unknown: more than 14 days before now, or at
    an unknown time) -> pre-existing, else interim."""
    if start is None:
        return True
    onset = r.facts.ka_value("symptom-onset")
    if isinstance(onset, datetime):
        return start < onset
    return start < r.now - ANTICOAG_ONSET_DEFAULT


# ==================================================================================================
# §1.9 pregnancy
# ==================================================================================================

def _pregnancy(r: _Reader) -> None:
    f, now = r.facts, r.now
    pregnant: list[tuple[datetime | None, Source]] = []
    ended: list[tuple[datetime | None, Source]] = []        # "not pregnant" evidence (status, delivery, abatement)
    postpartum: list[Source] = []
    flags: set[str] = set()
    status_values = [v for v in r.preg_status if v.time is not None and within(v.time, now, PREGNANCY_WINDOW)]
    status_reading = resolve("pregnancy", status_values, now, PREGNANCY_WINDOW) if status_values else None
    for v in status_values:
        if v.value == "pregnant":
            pregnant.append((v.time, v.source))
        elif v.value == "not-pregnant":
            ended.append((v.time, v.source))
    for v in r.preg_tests:
        if v.time is not None and within(v.time, now, PREGNANCY_WINDOW):
            pregnant.append((v.time, v.source))
    for c in f.conditions:
        if "pregnancy" in c.sets:
            if c.has_abatement:
                ended.append((c.abatement, c.source))
                if within(c.abatement, now, POSTPARTUM_WINDOW):
                    postpartum.append(c.source)
            if c.active and c.onset is not None and within(c.onset, now, PREGNANCY_WINDOW):
                pregnant.append((c.onset, c.source))
            elif c.active and c.onset is not None:
                flags.add("stale-condition")
                r.note("stale-condition", f"{c.source.ref}: pregnancy Condition older than 42 weeks; ignored")
            elif c.active:
                pregnant.append((None, c.source))            # undated: raises risk, used (§1.1 item 4)
                r.note("undated", f"{c.source.ref}: undated pregnancy Condition; used")
        if "delivery" in c.sets and c.onset is not None:
            ended.append((c.onset, c.source))
            if within(c.onset, now, POSTPARTUM_WINDOW):
                postpartum.append(c.source)
        if "postpartum" in c.sets and c.active and within(c.onset, now, POSTPARTUM_WINDOW):
            postpartum.append(c.source)
        if "not-pregnant" in c.sets and c.onset is not None:
            ended.append((c.onset, c.source))
    for p in f.procedures:
        if "delivery" in p.sets and p.time is not None:
            ended.append((p.time, p.source))
            if within(p.time, now, POSTPARTUM_WINDOW):
                postpartum.append(p.source)
    latest_preg = max((t or _MIN_TIME for t, _ in pregnant), default=None)
    later_end = latest_preg is not None and any(t is not None and t > latest_preg for t, _ in ended)
    if pregnant and not later_end:
        state, sources = "pregnant", [s for _, s in pregnant]
    elif postpartum:
        state, sources = "postpartum", postpartum
    elif status_reading is not None and status_reading.value == "not-pregnant" and not any(
            t is not None and t > status_reading.winner.time for t, _ in pregnant):
        state, sources = "not-pregnant", [status_reading.winner.source]
    elif f.age_under(10) is True or f.age_over(55) is True:     # the whole age range outside 10-55
        state, sources = "not-pregnant", []
    else:
        state, sources = "unknown", []
    preg = Pregnancy(state, sources, flags=flags)
    if state in ("pregnant", "postpartum") and f.gender == "male":
        preg.flags.add("conflict")
        r.note("conflict", f"pregnancy evidence ({', '.join(s.ref for s in sources)}) conflicts with "
                           "recorded gender male; the pregnancy evidence is honoured")
    if state == "pregnant":
        _gestational_age(r, preg)
    f.pregnancy = preg


def _gestational_age(r: _Reader, preg: Pregnancy) -> None:
    """§1.9 gestational age from the latest source (Observation/component, EDD, Z3A.nn Condition)."""
    cands = [c for c in r.ga_candidates if c[0] is None or within(c[0], r.now, PREGNANCY_WINDOW)]
    for c in r.facts.conditions:
        if "pregnancy" not in c.sets or not c.active:
            continue
        at = c.recorded or c.onset
        for system, code in c.codes:
            m = Z3A.match(code) if system == ICD10CM else None
            if not m or at is None:
                continue
            weeks = int(m.group(1))
            if weeks == 0:
                continue                                        # Z3A.00: unknown
            at_record = Z3A_UNDER_8_WEEKS_DAYS if weeks == 1 else weeks * 7.0
            cands.append((at, at_record + (r.now - at).total_seconds() / 86400, c.source))
    if cands:
        t, days, source = max(cands, key=lambda c: c[0] or _MIN_TIME)
        preg.gestational_age_days = days
        preg.gestational_age_source = source


# ==================================================================================================
# §1.11 setting
# ==================================================================================================

def _setting(r: _Reader) -> None:
    f = r.facts
    current = [e for e in f.encounters if e.is_current]
    encounter = max(current, key=lambda e: e.start or _MIN_TIME) if current else None
    enc_unreadable = "Encounter" in f.unreadable_types
    inpatient: bool | None = None if enc_unreadable and encounter is None else bool(
        encounter and "inpatient-encounter" in encounter.class_sets)
    setting = Setting(encounter, inpatient, qualifying_surgeries=_qualifying_surgeries(r))
    reasons = []
    if inpatient:
        reasons.append(f"inpatient ({encounter.source.ref})")
    recent = [s for s in setting.qualifying_surgeries if s.time is None or within(s.time, r.now, SURGERY_IMAGING_FIRST)]
    if recent:
        reasons.append("surgery within 30 days (" + ", ".join(src.ref for s in recent for src in s.sources) + ")")
    missing = sorted({"Encounter", "Procedure"} & f.unreadable_types)
    if missing:
        # §1.13: inpatient / recent surgery unknown -> the imaging-first group is assumed
        reasons.append(f"assumed: {' and '.join(missing)} records could not be read, so an inpatient stay "
                       "or recent surgery cannot be excluded")
    setting.imaging_first = bool(reasons)
    setting.imaging_first_reason = "; ".join(reasons)
    f.setting = setting


def _qualifying_surgeries(r: _Reader) -> list[Surgery]:
    """§1.11 item 4: set:major-surgery, or any Procedure on the same UTC day as an anaesthesia Procedure
    (the anaesthesia Procedure itself included). One Surgery per UTC day (undated ones on their own)."""
    procs = r.facts.procedures
    anaesthesia_days = {p.time.date() for p in procs if "anaesthesia-general-or-regional" in p.sets and p.time}
    by_day: dict[date, list[ProcedureFact]] = {}
    undated: list[Surgery] = []
    for p in procs:
        major = "major-surgery" in p.sets
        anaesthesia = "anaesthesia-general-or-regional" in p.sets
        if p.time is None:
            if major or anaesthesia:
                undated.append(Surgery(None, [p.source]))
                r.note("undated", f"{p.source.ref}: undated surgery; counted (raises risk)")
            continue
        if major or anaesthesia or p.time.date() in anaesthesia_days:
            by_day.setdefault(p.time.date(), []).append(p)
    out = [Surgery(max(p.time for p in ps), [p.source for p in ps]) for _, ps in sorted(by_day.items())]
    return out + undated


# ==================================================================================================
# §1.8 symptoms, §2 knee complaints
# ==================================================================================================

def _symptoms(r: _Reader) -> None:
    f = r.facts
    found: dict[str, list[Source]] = {}
    for c in f.conditions:
        for s in SYMPTOM_SETS:
            if s not in c.sets:
                continue
            if within(c.onset, r.now, SYMPTOM_WINDOW) or (c.onset is None and c.active):
                found.setdefault(s, []).append(c.source)
                if c.onset is None:
                    r.note("undated", f"{c.source.ref}: undated active {s} Condition; counted")
    for s, source in r.symptom_obs:
        if source.time is None or within(source.time, r.now, SYMPTOM_WINDOW):
            found.setdefault(s, []).append(source)
            if source.time is None:
                r.note("undated", f"{source.ref}: undated {s} Observation; counted")
    enc = f.setting.current_encounter
    if enc is not None:
        for s in SYMPTOM_SETS:
            if s in enc.reason_sets:
                found.setdefault(s, []).append(enc.source)
    temp = f.vitals.get("temperature")
    if temp is not None and units.compare(temp.value, ">=", 38.0):   # §1.8: fever = temperature >= 38.0 °C
        found.setdefault("fever", []).append(temp.winner.source)
    f.symptoms = found


def _knee_complaints(r: _Reader) -> None:
    """Evidence for triggers T3 (visit reason) and T4 (Condition / present Observation), §2."""
    f = r.facts
    complaint_conditions = {c.source.ref: c for c in f.conditions
                            if any(s in c.sets for s in KNEE_COMPLAINT_SETS)}
    for e in f.encounters:
        if not (e.is_current or within(e.start, r.now, COMPLAINT_WINDOW)):
            continue
        for s in KNEE_COMPLAINT_SETS:
            if s in e.reason_sets:
                f.knee_complaints.append(("T3", s, e.source))
        for ref in e.reason_condition_refs:
            c = complaint_conditions.get(ref) or complaint_conditions.get("/".join(ref.split("/")[-2:]))
            if c is not None:
                for s in KNEE_COMPLAINT_SETS:
                    if s in c.sets:
                        f.knee_complaints.append(("T3", s, c.source))
    for c in complaint_conditions.values():
        if not c.active:
            continue
        for s in KNEE_COMPLAINT_SETS:
            if s not in c.sets:
                continue
            window = INJURY_COMPLAINT_WINDOW if s == "knee-injury" else COMPLAINT_WINDOW
            if within(c.onset, r.now, window) or c.onset is None:
                f.knee_complaints.append(("T4", s, c.source))
    for s, source in r.complaint_obs:
        window = INJURY_COMPLAINT_WINDOW if s == "knee-injury" else COMPLAINT_WINDOW
        if source.time is None or within(source.time, r.now, window):
            f.knee_complaints.append(("T4", s, source))


# ==================================================================================================
# §7.7 chart orders
# ==================================================================================================

def _draft_ids(context: dict) -> set[str]:
    """ids of the hook's draftOrders (a Bundle, or a list): never chart orders (§1.2, §6.16)."""
    drafts = context.get("draftOrders")
    items: list = []
    if isinstance(drafts, dict):
        items = [_d(e).get("resource") for e in _l(drafts.get("entry"))]
    elif isinstance(drafts, list):
        items = drafts
    return {str(_d(x).get("id")) for x in items if _d(x).get("id") is not None}


def _read_order(r: _Reader, res: dict, drafts: set[str]) -> None:
    status = _s(res.get("status"))
    if status not in SR_CHART_COUNTED or str(res.get("id")) in drafts:
        return
    ref = _ref(res)
    authored, _ = r.read_time(ref, res.get("authoredOn"), "authoredOn") if "authoredOn" in res else (None, set())
    if "occurrenceDateTime" in res:
        occurrence, _ = r.read_time(ref, res.get("occurrenceDateTime"), "occurrence")
    else:
        occurrence, _ = r.read_time(ref, _d(res.get("occurrencePeriod")).get("start"), "occurrence") \
            if "occurrencePeriod" in res else (None, set())
    r.facts.orders.append(OrderFact(
        source=Source(ref, occurrence or authored, status, _label(res.get("code"))),
        status=status, orderables=r.t.orderables_for(res.get("code")), authored=authored, occurrence=occurrence))
