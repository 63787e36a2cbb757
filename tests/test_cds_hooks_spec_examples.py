"""The CDS Hooks specification's own example requests (tests/data/cds-hooks-examples/, source in its
README) answer without a 5xx: 200 with well-formed cards, or 412 with an OperationOutcome saying why the
patient could not be read. The service runs in process; the FHIR stub it reads from is a real server."""
from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest

from tests.support.fhir_stub import FhirStub
from tests.support.protocol_requests import SERVICE_FOR_HOOK
from tests.support.vignettes import validate_cards

EXAMPLES = Path(__file__).resolve().parent / "data" / "cds-hooks-examples"
# file -> hook (the fragments do not name their hook; the full request does)
FILES = {
    "calling-a-cds-service.json": "patient-view",
    "example-prefetch-data.json": "patient-view",
    "patient-view-context-1.json": "patient-view",
    "patient-view-context-2.json": "patient-view",
    "encounter-start-context.json": "encounter-start",
    "order-select-r4.json": "order-select",
    "order-sign-r4.json": "order-sign",
}
# the example patient of the spec (its "Calling a CDS Service" prefetch) and an encounter for it
SPEC_PATIENT = {"resourceType": "Patient", "gender": "male", "birthDate": "1925-12-23", "id": "1288992",
                "active": True}
SPEC_CONTEXT = {"userId": "Practitioner/example", "patientId": "1288992"}
MODES = ("without-fhir-server", "stub-without-data", "stub-with-patient")


def example_request(name: str) -> dict:
    """The example completed into a request: hook and hookInstance added where the block lacks them; a
    block without context (the prefetch data example) gets the context of the spec's full example."""
    body = json.loads((EXAMPLES / name).read_text())
    body.setdefault("hook", FILES[name])
    body.setdefault("hookInstance", str(uuid.uuid4()))
    body.setdefault("context", dict(SPEC_CONTEXT))
    return body


@pytest.fixture(scope="module")
def client(make_app):
    return make_app().test_client()


def verdict(resp) -> list[str]:
    if resp.status_code >= 500:
        return [f"HTTP {resp.status_code}: {resp.text[:300]}"]
    body = resp.json
    if resp.status_code == 200:
        return validate_cards(body)
    if resp.status_code == 412:
        diagnostics = (body.get("issue") or [{}])[0].get("diagnostics", "")
        return [] if body.get("resourceType") == "OperationOutcome" and "patient" in diagnostics.lower() else [
            f"412 that does not say why: {body}"]
    return [f"HTTP {resp.status_code}: {resp.text[:300]}"]


def test_every_example_file_is_listed_with_its_source():
    readme = (EXAMPLES / "README.md").read_text()
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == sorted(FILES)
    assert all(f"`{name}`" in readme for name in FILES)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(FILES))
def test_spec_example_answers_without_5xx(client, name, mode):
    body = example_request(name)
    with FhirStub() as stub:
        if mode == "without-fhir-server":
            body.pop("fhirServer", None)                 # tests never leave 127.0.0.1
            body.pop("fhirAuthorization", None)
            expected = {200, 412}
        else:
            body["fhirServer"] = stub.base            # stands in for the spec's hooks.smarthealthit.org
            body.setdefault("fhirAuthorization", {"access_token": "some-opaque-fhir-access-token",
                                                  "token_type": "Bearer", "expires_in": 300,
                                                  "scope": "patient/*.read", "subject": "cds-service4"})
            expected = {200, 412}
            if mode == "stub-with-patient":
                stub.add_resource(copy.deepcopy(SPEC_PATIENT))
                for eid in ("456", "89284"):
                    stub.add_resource({"resourceType": "Encounter", "id": eid, "status": "in-progress",
                                       "subject": {"reference": "Patient/1288992"}})
                expected = {200}
        resp = client.post(f"/cds-services/{SERVICE_FOR_HOOK[body['hook']]}", json=body)
    if "userId" not in body["context"]:
        # the stored patient-view page is hook version 1.0, before CDS Hooks 2.0 made userId required:
        # the answer is the contract §7 400 naming the missing field
        assert resp.status_code == 400 and resp.json["issue"][0]["expression"] == ["context.userId"]
        return
    assert not verdict(resp), verdict(resp)
    assert resp.status_code in expected, resp.text[:500]


def test_prefetch_data_example_uses_the_patient_without_id_and_names_what_is_missing(client):
    """The spec's prefetch example: a Patient without id (the context's patient), a key the service
    does not know, no fhirServer: 200, and the unread keys are named, never read as 'nothing recorded'."""
    body = example_request("example-prefetch-data.json")
    resp = client.post("/cds-services/knee-pain-triage", json=body)
    assert resp.status_code == 200, resp.text[:500]
    cards = resp.json["cards"]
    text = " ".join(c["detail"] for c in cards)
    assert cards and "could not be read" in text and "Observation" in text


def test_full_example_without_a_patient_key_is_412_naming_the_patient(client):
    """The spec's full example prefetches its patient under its own key ("patientToGreet"), not this
    service's "patient": without a reachable fhirServer the patient cannot be read (contract §7: 412)."""
    body = example_request("calling-a-cds-service.json")
    del body["fhirServer"], body["fhirAuthorization"]
    resp = client.post("/cds-services/knee-pain-triage", json=body)
    assert resp.status_code == 412
    assert "patient" in resp.json["issue"][0]["diagnostics"].lower()
