"""The Patient (clinical-rules §1.6): gender, deceased, and the age birthDate allows."""
from __future__ import annotations

from typing import Any

from service.chart.dates import completed_years, parse_fhir_time, parse_time
from service.chart.facts import AgeRange, Facts
from service.chart.fhir_json import as_dict, as_text, shown_value
from service.chart.read_state import ReadState
from service.chart.windows import FUTURE_TOLERANCE


def read_patient(r: ReadState) -> None:
    """Start the facts from the Patient resource."""
    p = as_dict(r.chart.patient)
    ref = f"Patient/{p.get('id', '?')}"
    deceased = p.get("deceasedBoolean") is True
    if not deceased and "deceasedDateTime" in p:
        dt, _ = parse_time(p.get("deceasedDateTime"))
        deceased = dt is not None and dt <= r.now
    gender = as_text(p.get("gender"))
    r.facts = Facts(now=r.now, patient_ref=ref, age=None, birth_date=None, gender=gender, deceased=deceased)
    if "birthDate" in p:
        _read_birth_date(r, ref, p.get("birthDate"))


def _read_birth_date(r: ReadState, ref: str, raw: Any) -> None:
    """§1.6: age from birthDate. Unreadable or later than now: age unknown (never "young"). Known only
    to the year or month: an age range (the rules take the safer side of any boundary inside it); the
    single age is read from the §1.1 point (1 July, the 15th) like every partial date."""
    if raw is None:
        return                      # null: not recorded (§1.6 age unknown, ASSESS-AGE-UNKNOWN says so)
    t = parse_fhir_time(raw)
    if t is None:
        r.date_note("undated", f"{ref}: birthDate {shown_value(raw)} is not a valid FHIR date; age unknown")
        return
    if t.earliest > r.now + FUTURE_TOLERANCE:
        r.date_note("future-date", f"{ref}: birthDate {shown_value(raw)} is later than now; age unknown")
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
