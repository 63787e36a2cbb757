"""Partial charts through the HTTP interface (in process; the FHIR stub is a real server) (contract §2,
§7; clinical-rules §1.13, §6.14):
the Patient unreadable -> 412; any other part unreadable -> 200 with the DATA-FETCH-INCOMPLETE card,
even when no trigger is visible, and never self-care."""
from __future__ import annotations

import pytest

from tests.support.fhir_stub import FhirStub

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1970-01-01"}
TYPES = ("Encounter", "Condition", "Observation", "MedicationRequest", "MedicationStatement", "Procedure",
         "ServiceRequest")


def body(base):
    return {"hook": "patient-view", "hookInstance": "5b4f1a5e-0000-4000-8000-000000000001", "fhirServer": base,
            "fhirAuthorization": {"access_token": "t", "token_type": "Bearer", "expires_in": 300,
                                  "scope": "patient/*.read", "subject": "knee-cds"},
            "context": {"userId": "Practitioner/example", "patientId": "p1"}}


@pytest.fixture(scope="module")
def client(make_app):
    return make_app().test_client()


def post(client, base):
    return client.post("/cds-services/knee-pain-triage", json=body(base))


def assessment_card(resp):
    cards = resp.json["cards"]
    return next(c for c in cards if c["source"]["topic"]["code"] == "assessment-needed"), cards


def test_observations_server_error_gives_the_fetch_card_even_without_a_visible_trigger(client):
    with FhirStub() as stub:
        stub.add_resource(PATIENT)
        for rtype in TYPES:
            stub.add_search(rtype, [])
        stub.route("/Observation", status=500, body={"resourceType": "OperationOutcome"})
        resp = post(client, stub.base)
    assert resp.status_code == 200
    card, cards = assessment_card(resp)
    ext = card["extension"]["example.knee-cds"]
    assert "DATA-FETCH-INCOMPLETE" in ext["rules"] and ext["tier"] == "urgent"
    assert card["indicator"] == "warning" and "Observation" in card["detail"]
    assert all(c["source"]["topic"]["code"] != "self-care" for c in cards)


def test_page_cap_is_flagged_never_silent(client):
    with FhirStub() as stub:
        stub.add_resource(PATIENT)
        for rtype in TYPES:
            stub.add_search(rtype, [])
        stub.add_search("Condition", [{"resourceType": "Condition", "id": f"c{i}", "code": {"text": "x"}}
                                      for i in range(30)], page_size=1)
        resp = post(client, stub.base)
    assert resp.status_code == 200
    card, _ = assessment_card(resp)
    assert "fetch-truncated" in card["extension"]["example.knee-cds"]["flags"]
    assert "page cap reached" in card["detail"]


def test_patient_unreadable_is_412_with_an_operation_outcome(client):
    with FhirStub() as stub:
        stub.route("/Patient/p1", status=500, body={"resourceType": "OperationOutcome"})
        resp = post(client, stub.base)
    assert resp.status_code == 412
    assert resp.json["resourceType"] == "OperationOutcome"
