"""Hand-built Facts for the musculoskeletal score and pathway tests (no chart layer needed).

    f = make_facts(age=60, ka={"injury-mechanism": "fall", "injury-date": days_ago(1)},
                   vitals={"temperature": q(38.9, "Cel")}, labs={"crp": q(180, "mg/L")})
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from service.chart.facts import (
    ConditionFact,
    DDimer,
    Facts,
    MedicationFact,
    ProcedureFact,
    Quantity,
    Reading,
    Source,
    Value,
)
from service.pathways.state import Triage

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
OBS_TIME = NOW - timedelta(hours=1)


def days_ago(days: float, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days)


def hours_ago(hours: float, now: datetime = NOW) -> datetime:
    return now - timedelta(hours=hours)


def q(value: float, unit: str | None, comparator: str | None = None, as_recorded: str = "") -> Quantity:
    return Quantity(float(value), unit, comparator, as_recorded)


def src(ref: str, time: datetime | None = OBS_TIME, status: str | None = "final", display: str = "") -> Source:
    return Source(ref=ref, time=time, status=status, display=display)


def reading(ref: str, value: Any, time: datetime | None = OBS_TIME, status: str = "final",
            flags: frozenset[str] = frozenset()) -> Reading:
    source = src(ref, time, status)
    winner = Value(value=value, source=source, time=time, flags=flags)
    return Reading(value=value, winner=winner, flags=set(flags))


def condition(ref: str, sets: set[str] | frozenset[str], onset: datetime | None = None,
              clinical_status: str | None = "active", verification: str | None = "confirmed",
              active: bool | None = None) -> ConditionFact:
    if active is None:
        active = clinical_status in ("active", "recurrence", "relapse") or clinical_status is None
    status = ", ".join(s for s in (clinical_status, verification) if s)
    return ConditionFact(source=src(ref, onset, status), codes=[], sets=frozenset(sets),
                         clinical_status=clinical_status, verification=verification, active=active,
                         onset=onset, recorded=onset, abatement=None)


def procedure(ref: str, sets: set[str] | frozenset[str], time: datetime | None) -> ProcedureFact:
    return ProcedureFact(source=src(ref, time, "completed"), codes=[], sets=frozenset(sets),
                         orderables=frozenset(), status="completed", time=time)


def medication(ref: str, sets: set[str], display: str = "") -> MedicationFact:
    return MedicationFact(source=src(f"MedicationRequest/{ref}", OBS_TIME, "active", display),
                          kind="MedicationRequest", status="active", sets=frozenset(sets), display=display,
                          resolved=True, start=OBS_TIME, asserted=OBS_TIME, intensity=None)


# the five Ottawa knee rule findings, each on the negative side (clinical-rules §6.9)
OTTAWA_NEG = {"bear-weight-4-steps": True, "knee-flexion-90": True, "isolated-patellar-tenderness": False,
              "fibular-head-tenderness": False, "knee-deformity": False}


def dd(value, high=500.0, assay="feu", comparator=None, interp=(), hours=2) -> DDimer:
    """A D-dimer result in ug/L ``hours`` before NOW (``value`` None: a result without a number)."""
    t = NOW - timedelta(hours=hours)
    return DDimer(src("Observation/dd", t), t, assay, q(value, "ug/L", comparator) if value is not None else None,
                  list(interp), q(high, "ug/L") if high else None)


def make_facts(age: int | None = 40, *, now: datetime = NOW, ka: dict[str, Any] | None = None,
               vitals: dict[str, Any] | None = None, labs: dict[str, Any] | None = None,
               conditions: list[ConditionFact] | None = None,
               procedures: list[ProcedureFact] | None = None,
               radiographs: list[tuple[str, datetime | None]] | None = None,
               symptoms: dict[str, list[Source]] | None = None,
               medication_use: dict[str, list[Source]] | None = None,
               gender: str | None = "female", pid: str = "p1") -> Facts:
    """Facts with ``ka`` items (code -> value; or code -> Reading), vitals/labs (key -> Quantity or
    Reading), radiographs as (result code, time), latest first order not required."""
    facts = Facts(now=now, patient_ref=f"Patient/{pid}", age=age,
                  birth_date=None if age is None else now - timedelta(days=365.25 * age + 30),
                  gender=gender, deceased=False)
    for code, value in (ka or {}).items():
        facts.ka[code] = value if isinstance(value, Reading) else reading(f"Observation/{pid}-{code}", value)
    for key, value in (vitals or {}).items():
        facts.vitals[key] = value if isinstance(value, Reading) else reading(f"Observation/{pid}-{key}", value)
    for key, value in (labs or {}).items():
        facts.labs[key] = value if isinstance(value, Reading) else reading(f"Observation/{pid}-{key}", value)
    if radiographs:
        ordered = sorted(radiographs, key=lambda r: r[1] or datetime.min.replace(tzinfo=timezone.utc),
                         reverse=True)
        for i, (result, time) in enumerate(ordered):
            source = src(f"Observation/{pid}-xr-{i}", time)
            facts.radiographs.append(Value(result, source, time))
        latest = facts.radiographs[0]
        facts.ka.setdefault("knee-radiograph-result", Reading(latest.value, latest))
    facts.conditions = list(conditions or [])
    facts.procedures = list(procedures or [])
    facts.symptoms = dict(symptoms or {})
    facts.medication_use = dict(medication_use or {})
    return facts


def make_triage(facts: Facts, *, dvt_suspected: bool = False, dvt_status: str = "not-suspected",
                population: str | None = None, cards: list | None = None) -> Triage:
    t = Triage(facts=facts)
    t.dvt_suspected = dvt_suspected
    t.dvt_status = dvt_status
    t.population = population or ("paediatric" if facts.age is not None and facts.age < 18 else "adult")
    for card in cards or []:
        t.add_card(card)
    return t


def suggested(draft) -> list[str]:
    return [s.orderable for s in draft.suggestions]


def not_suggested(draft) -> list[str]:
    return [n.orderable for n in draft.not_recommended]
