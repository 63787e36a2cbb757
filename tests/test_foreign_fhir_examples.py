"""Foreign data never breaks the service: the official FHIR R4 (4.0.1) examples of the types the service
reads, written by others (tests/data/fhir-r4-examples/, source in its README), fed through prefetch to all
four hooks of the app (in process, Flask's test client) — one request per resource, then mixed requests.
Every answer is 200 with well-formed cards, or 412 with an OperationOutcome that says why; never a 5xx.

``KNEE_CDS_FHIR_EXAMPLES=<dir>`` adds every ``*.json`` of another folder (for example the whole R4
examples package) to the corpus.
"""
from __future__ import annotations

import copy
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.protocol_requests import SERVICE_FOR_HOOK
from tests.support.vignettes import validate_cards

CORPUS_DIR = Path(__file__).resolve().parent / "data" / "fhir-r4-examples"
SEARCH_KEYS = {"Encounter": "encounters", "Condition": "conditions", "Observation": "observations",
               "MedicationRequest": "medicationRequests", "MedicationStatement": "medicationStatements",
               "Procedure": "procedures", "ServiceRequest": "serviceRequests"}
READ_TYPES = frozenset(SEARCH_KEYS) | {"Patient", "Medication"}
BASE_PATIENT = {"resourceType": "Patient", "id": "example", "gender": "female", "birthDate": "1974-12-25"}


def corpus_files() -> list[Path]:
    files = sorted(CORPUS_DIR.glob("*.json"))
    extra = os.environ.get("KNEE_CDS_FHIR_EXAMPLES", "").strip()
    if extra:
        files += sorted(p for p in Path(extra).glob("*.json")
                        if p.name.split("-", 1)[0] in READ_TYPES)
    return files


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


CORPUS = [(p.name, load(p)) for p in corpus_files()]


def searchset(resources: list[dict], includes: list[dict] = ()) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r, "search": {"mode": "match"}}
                      for r in resources]
                     + [{"resource": r, "search": {"mode": "include"}} for r in includes]}


def body_for(hook: str, resources: list[dict], patient: dict | None = None) -> dict[str, Any]:
    """A prefetch-filled request holding ``resources`` under the keys of their types (Medications as
    _include'd entries of the MedicationRequest search; ServiceRequests also as draft orders)."""
    patient = copy.deepcopy(patient or BASE_PATIENT)
    pid = patient.get("id") if isinstance(patient.get("id"), str) else "example"
    by_type: dict[str, list[dict]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    prefetch: dict[str, Any] = {"patient": patient}
    for rtype, key in SEARCH_KEYS.items():
        includes = by_type.get("Medication", []) if rtype == "MedicationRequest" else []
        prefetch[key] = searchset(by_type.get(rtype, []), includes)
    context: dict[str, Any] = {"userId": "Practitioner/example", "patientId": pid}
    if hook == "encounter-start":
        encounter = (by_type.get("Encounter") or [{"resourceType": "Encounter", "id": "visit", "status": "in-progress"}])[0]
        context["encounterId"] = str(encounter.get("id"))
        prefetch["encounter"] = encounter
    if hook in ("order-select", "order-sign"):
        drafts = [{**copy.deepcopy(sr), "status": "draft"} for sr in by_type.get("ServiceRequest", [])]
        drafts = drafts or [{"resourceType": "ServiceRequest", "id": "draft-1", "status": "draft",
                             "intent": "order", "code": {"text": "knee X-ray"},
                             "subject": {"reference": f"Patient/{pid}"}}]
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": d} for d in drafts]}
        if hook == "order-select":
            context["selections"] = [f"ServiceRequest/{drafts[0].get('id')}"]
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, "prefetch": prefetch}


def problems_of(resp) -> list[str]:
    """[] when the answer is one the contract allows for foreign data."""
    if resp.status_code >= 500:
        return [f"HTTP {resp.status_code}: {resp.text[:300]}"]
    body = resp.get_json(silent=True)
    if body is None:
        return [f"HTTP {resp.status_code}: not JSON"]
    if resp.status_code == 200:
        return validate_cards(body)
    if resp.status_code == 412:
        issues = body.get("issue") if isinstance(body, dict) else None
        if body.get("resourceType") == "OperationOutcome" and issues and issues[0].get("diagnostics"):
            return []
        return ["412 without an OperationOutcome that says why"]
    return [f"HTTP {resp.status_code}: {resp.text[:300]}"]


@pytest.fixture(scope="module")
def client(make_app):
    return make_app().test_client()


def post(client, hook: str, body: dict):
    return client.post(f"/cds-services/{SERVICE_FOR_HOOK[hook]}", json=body)


def test_corpus_is_present_and_covers_every_type_read():
    types = {r["resourceType"] for _name, r in CORPUS}
    assert types >= READ_TYPES, READ_TYPES - types
    assert (CORPUS_DIR / "README.md").is_file()


@pytest.mark.parametrize("hook", sorted(SERVICE_FOR_HOOK))
def test_one_request_per_resource(client, hook):
    failures = []
    for name, resource in CORPUS:
        if resource["resourceType"] == "Patient":
            body = body_for(hook, [], patient=resource)
        else:
            body = body_for(hook, [resource])
        found = problems_of(post(client, hook, body))
        if found:
            failures.append((name, found[:3]))
    assert not failures, failures[:10]


@pytest.mark.parametrize("hook", sorted(SERVICE_FOR_HOOK))
def test_mixed_requests(client, hook):
    """Every non-Patient example in one chart, for each example Patient (and the examples' own ids)."""
    others = [r for _n, r in CORPUS if r["resourceType"] != "Patient"]
    patients = [r for _n, r in CORPUS if r["resourceType"] == "Patient"]
    failures = []
    for patient in patients:
        found = problems_of(post(client, hook, body_for(hook, others, patient=patient)))
        if found:
            failures.append((patient.get("id"), found[:3]))
    # types mixed within one key: each search key also given every example (wrong types are skipped)
    body = body_for(hook, others)
    for key in SEARCH_KEYS.values():
        body["prefetch"][key] = searchset(others)
    found = problems_of(post(client, hook, body))
    if found:
        failures.append(("every example under every key", found[:3]))
    assert not failures, failures[:10]


@pytest.mark.parametrize("hook", sorted(SERVICE_FOR_HOOK))
def test_examples_as_the_wrong_prefetch_values(client, hook):
    """Each example as the value of a key it does not answer (a read for a search and the reverse):
    the key is unreadable (no fhirServer) and named, never a 5xx."""
    failures = []
    for name, resource in CORPUS[:: max(1, len(CORPUS) // 25)]:
        body = body_for(hook, [])
        body["prefetch"]["conditions"] = resource
        body["prefetch"]["patient"] = resource if resource["resourceType"] != "Patient" else BASE_PATIENT
        found = problems_of(post(client, hook, body))
        if found:
            failures.append((name, found[:3]))
    assert not failures, failures[:10]
