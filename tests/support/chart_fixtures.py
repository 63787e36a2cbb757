"""Helpers for the chart-layer tests: render contract §9 relative times, build Charts, read Facts."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cds_hooks.domain import Chart
from service.chart.reader import build_facts
from service.terminology.code_sets import default_terminology
from tests.support.vignettes import VIGNETTE_DIR

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
VIGNETTES = VIGNETTE_DIR
KA = "http://knee-cds.example/fhir/CodeSystem/knee-assessment"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"

_REL = re.compile(r"^@now(?:([+-])(\d+(?:\.\d+)?)([ywdhm]))?(:date)?$")


def shift(now: datetime, sign: str, n: float, unit: str) -> datetime:
    if unit == "y":
        years = int(n) * (1 if sign == "+" else -1)
        try:
            return now.replace(year=now.year + years)
        except ValueError:        # 29 February
            return now.replace(year=now.year + years, day=28)
    delta = {"w": timedelta(weeks=n), "d": timedelta(days=n), "h": timedelta(hours=n),
             "m": timedelta(minutes=n)}[unit]
    return now + delta if sign == "+" else now - delta


def render(obj: Any, now: datetime = NOW) -> Any:
    """contract §9: '@now-2h' -> '2026-03-02T08:00:00Z'; ':date' -> the UTC date."""
    if isinstance(obj, dict):
        return {k: render(v, now) for k, v in obj.items()}
    if isinstance(obj, list):
        return [render(v, now) for v in obj]
    if isinstance(obj, str):
        m = _REL.match(obj)
        if m:
            t = shift(now, m.group(1), float(m.group(2)), m.group(3)) if m.group(1) else now
            t = t.astimezone(timezone.utc)
            return t.strftime("%Y-%m-%d") if m.group(4) else t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return obj


KEYS = {"Encounter": "encounters", "Condition": "conditions", "Observation": "observations",
        "MedicationRequest": "medicationRequests", "MedicationStatement": "medicationStatements",
        "Procedure": "procedures", "ServiceRequest": "serviceRequests"}


def chart_of(resources: list[dict], patient: dict | None = None, **kw) -> Chart:
    patient = patient or next((r for r in resources if r.get("resourceType") == "Patient"),
                              {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1970-01-01"})
    out: dict[str, list[dict]] = {k: [] for k in KEYS.values()}
    meds = {}
    for r in resources:
        if r.get("resourceType") in KEYS:
            out[KEYS[r["resourceType"]]].append(r)
        elif r.get("resourceType") == "Medication":
            meds[f"Medication/{r['id']}"] = r
    return Chart(patient=patient, resources=out, medications={**meds, **kw.pop("medications", {})}, **kw)


def facts_of(resources: list[dict], now: datetime = NOW, context: dict | None = None, terminology=None,
             hook: str = "patient-view", **kw):
    if kw.get("patient"):
        kw["patient"] = render(kw["patient"], now)
    chart = chart_of(render(resources, now), **kw)
    return build_facts(chart, now, terminology or default_terminology(), context or {}, hook)


def load_vignette(path: Path, now: datetime = NOW) -> dict:
    return render(json.loads(path.read_text()), now)


def vignette_context(v: dict) -> dict:
    ctx: dict = {"patientId": next(r["id"] for r in v["resources"] if r["resourceType"] == "Patient"),
                 "userId": "Practitioner/example"}
    encs = [r for r in v["resources"] if r["resourceType"] == "Encounter"]
    if encs and v["hook"] == "encounter-start":
        current = [e for e in encs if e.get("status") in ("in-progress", "arrived", "triaged", "planned")]
        ctx["encounterId"] = (current or encs)[0]["id"]
    if v.get("draftOrders"):
        ctx["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                              "entry": [{"resource": d} for d in v["draftOrders"]]}
    ctx.update(v.get("context") or {})
    return ctx


def vignette_facts(name: str, now: datetime = NOW, terminology=None):
    v = load_vignette(VIGNETTES / f"{name}.json", now)
    chart = chart_of(v["resources"])
    return build_facts(chart, now, terminology or default_terminology(), vignette_context(v), v["hook"])


# ---- tiny resource builders -----------------------------------------------------------------------

def ka_obs(code: str, when: str = "@now-1h", id: str | None = None, status: str = "final", **value) -> dict:
    if not value:
        value = {"valueBoolean": True}
    return {"resourceType": "Observation", "id": id or f"ka-{code}-{abs(hash((when, str(value)))) % 10**6}",
            "status": status, "code": {"coding": [{"system": KA, "code": code}]},
            **({"effectiveDateTime": when} if when else {}), **value}


def obs(system: str, code: str, when: str | None = "@now-1h", id: str = "o1", status: str = "final", **value) -> dict:
    return {"resourceType": "Observation", "id": id, "status": status,
            "code": {"coding": [{"system": system, "code": code}]},
            **({"effectiveDateTime": when} if when else {}), **value}


def qty(value, code=None, unit=None, comparator=None) -> dict:
    q: dict = {"value": value}
    if code:
        q.update(system=UCUM, code=code)
    if unit:
        q["unit"] = unit
    if comparator:
        q["comparator"] = comparator
    return {"valueQuantity": q}


def condition(system: str, code: str, id: str = "c1", onset: str | None = "@now-2d", clinical: str | None = "active",
              verification: str | None = "confirmed", **extra) -> dict:
    res: dict = {"resourceType": "Condition", "id": id, "code": {"coding": [{"system": system, "code": code}]}}
    if clinical:
        res["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verification:
        res["verificationStatus"] = {"coding": [{"code": verification}]}
    if onset:
        res["onsetDateTime"] = onset
    res.update(extra)
    return res


def procedure(system: str, code: str, id: str, when: str | None = "@now-5d", status: str = "completed") -> dict:
    res = {"resourceType": "Procedure", "id": id, "status": status,
           "code": {"coding": [{"system": system, "code": code}]}}
    if when:
        res["performedDateTime"] = when
    return res


def med_request(code: str | None, id: str = "m1", status: str = "active", authored: str = "@now-2d",
                dose: dict | None = None, per: tuple | None = None, **extra) -> dict:
    res: dict = {"resourceType": "MedicationRequest", "id": id, "status": status, "intent": "order",
                 "authoredOn": authored}
    if code:
        res["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": code}]}
    if dose or per:
        di: dict = {}
        if dose:
            di["doseAndRate"] = [{"doseQuantity": dose}]
        if per:
            di["timing"] = {"repeat": {"frequency": per[0], "period": per[1], "periodUnit": per[2]}}
        res["dosageInstruction"] = [di]
    res.update(extra)
    return res
