"""Feedback (CDS Hooks 2.0) and the audit row of each hook call, on SQLite and on a real PostgreSQL: in
process through Flask's test client, and across a restart of a real server process."""
from __future__ import annotations

import hashlib
import hmac
import logging

import pytest
import requests
from sqlalchemy import select, text

from cds_hooks.store import SALT_KEY, Store, head_revision, store_meta
from tests.support.fake_domain import FakeDomain
from tests.support.protocol_requests import hook_body
from tests.support.store_faults import module_store_url, wait_until

TRIAGE = "/cds-services/knee-pain-triage"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request, make_app, tmp_path_factory):
    """One app per store: every test of this module runs on SQLite and on PostgreSQL."""
    url = module_store_url(request, tmp_path_factory, "feedback")
    return make_app({"KNEE_CDS_DATABASE_URL": url}, domain=FakeDomain())


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def stored(client) -> Store:
    """The app's database, read through a store of its own: what was written, not what is cached."""
    return Store(client.application.extensions["knee_cds_settings"].database_url)


def audit_row(store: Store, hook_instance):
    """The audit row of a call, once the background writer has written it (bounded wait)."""
    return wait_until(lambda: next((r for r in store.audit_rows() if r["hook_instance"] == hook_instance), None))


def call(client, body):
    resp = client.post(TRIAGE, json=body)
    assert resp.status_code == 200, resp.text
    return resp.json["cards"]


def call_server(server, body):
    resp = requests.post(server.url(TRIAGE), json=body, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()["cards"]


def feedback_item(card, outcome="overridden", **extra):
    item = {"card": card["uuid"], "outcome": outcome, "outcomeTimestamp": "2026-03-02T10:05:00Z"}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
    item.update(extra)
    return item


def test_feedback_is_linked_to_the_audit_card_and_stored(client, caplog):
    caplog.set_level(logging.DEBUG)   # every record the call logs, at any level
    body = hook_body("patient-view", fhirServer="https://ehr.example.org/fhir/")
    body["prefetch"]["patient"]["id"] = "p1"
    card = call(client, body)[0]
    store = stored(client)
    audit_row(store, body["hookInstance"])
    reason = {"reason": {"system": "http://knee-cds.example/fhir/CodeSystem/override-reason",
                         "code": "patient-declined", "display": "Patient declined"},
              "userComment": "secret comment"}
    resp = client.post(f"{TRIAGE}/feedback", json={"feedback": [
        feedback_item(card, "accepted"),
        feedback_item(card, "overridden", overrideReason=reason),
        feedback_item({"uuid": "not-issued-here"}, "overridden"),
    ]})
    assert resp.status_code == 200 and resp.json == {}
    rows = [r for r in store.feedback_rows("knee-pain-triage") if r["card_uuid"] in (card["uuid"], "not-issued-here")]
    assert [(r["outcome"], r["linked"]) for r in rows] == [("accepted", True), ("overridden", True), ("overridden", False)]
    assert rows[0]["accepted_suggestions"] == [card["suggestions"][0]["uuid"]]
    assert rows[1]["override_code"] == "patient-declined" and rows[1]["user_comment"] == "secret comment"
    assert rows[1]["hook_instance"] == body["hookInstance"] and rows[1]["topic"] == "fake-topic"
    assert rows[1]["tier"] == "urgent" and rows[1]["rules"] == ["FAKE-RULE"]
    assert "secret comment" not in caplog.text


def test_audit_row_of_a_hook_call(client):
    body = hook_body("patient-view", fhirServer="https://ehr.example.org/fhir/")
    del body["prefetch"]["observations"]  # unreadable: absent and no fetch possible from a dead server
    body["fhirServer"] = "http://127.0.0.1:9/fhir/"
    card = call(client, body)[0]
    store = stored(client)
    row = audit_row(store, body["hookInstance"])
    with store.engine.connect() as conn:
        salt = bytes.fromhex(conn.execute(select(store_meta.c.value).where(store_meta.c.key == SALT_KEY)).scalar_one())
    expected = hmac.new(salt, b"http://127.0.0.1:9/fhir|p1", hashlib.sha256).hexdigest()
    assert len(salt) == 32
    assert row["patient_hash"] == expected
    assert row["hook"] == "patient-view" and row["http_status"] == 200 and row["duration_ms"] > 0
    assert row["fhir_server"] == "http://127.0.0.1:9/fhir/"
    assert row["overall_tier"] == "urgent" and row["knowledge_version"] == "fake-1"
    assert row["site_map_versions"] == ["fake-site 1"]
    assert "observations" in row["unreadable_keys"]
    assert row["client_iss"] is None
    [audited] = row["cards"]
    assert audited["card_uuid"] == card["uuid"] and audited["topic"] == "fake-topic"
    assert audited["suggestion_uuids"] == [card["suggestions"][0]["uuid"]]


def test_error_calls_are_audited_with_their_status(client):
    body = hook_body("patient-view")
    body["prefetch"]["patient"] = None
    assert client.post(TRIAGE, json=body).status_code == 412
    row = audit_row(stored(client), body["hookInstance"])
    assert row["http_status"] == 412 and row["cards"] == []


@pytest.mark.parametrize("feedback", [
    [{"card": "c", "outcome": "maybe", "outcomeTimestamp": "2026-03-02T10:05:00Z"}],
    [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-03-02T10:05:00Z"}],
    [{"card": "c", "outcome": "overridden"}],
    [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}],
    [{"card": 5, "outcome": "overridden", "outcomeTimestamp": "2026-03-02T10:05:00Z"}],
    [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-03-02T10:05:00Z",
      "overrideReason": {"reason": {"display": "no code"}}}],
    [],
    None,
    "x",
])
def test_invalid_feedback_is_400_and_nothing_is_stored(client, feedback):
    marker = {"card": "valid-marker-card", "outcome": "overridden", "outcomeTimestamp": "2026-03-02T10:05:00Z"}
    items = [marker] + feedback if isinstance(feedback, list) and feedback else feedback
    resp = client.post(f"{TRIAGE}/feedback", json={"feedback": items})
    assert resp.status_code == 400, resp.text
    assert resp.json["resourceType"] == "OperationOutcome"
    assert not [r for r in stored(client).feedback_rows() if r["card_uuid"] == "valid-marker-card"]


def test_feedback_survives_a_server_restart(service_server_factory, store_url):
    server = service_server_factory({"KNEE_CDS_DATABASE_URL": store_url}, fake_domain=True)
    card = call_server(server, hook_body("patient-view"))[0]
    resp = requests.post(server.url(f"{TRIAGE}/feedback"), timeout=10,
                         json={"feedback": [feedback_item(card, "accepted")]})
    assert resp.status_code == 200
    server.stop()
    server.start()
    rows = Store(server.database_url).feedback_rows()
    assert [(r["card_uuid"], r["linked"]) for r in rows] == [(card["uuid"], True)]
    assert Store(server.database_url).schema_revision() == head_revision()
    server.stop()


def test_feedback_store_unavailable_is_503(make_app, store_url):
    app = make_app({"KNEE_CDS_DATABASE_URL": store_url}, domain=FakeDomain())
    client = app.test_client()
    card = client.post(TRIAGE, json=hook_body("patient-view")).get_json()["cards"][0]
    assert app.extensions["cds_hooks"].store.flush(10)
    with app.extensions["cds_hooks"].store.engine.begin() as conn:
        conn.execute(text("DROP TABLE feedback"))  # the store breaks under the running service
    resp = client.post(f"{TRIAGE}/feedback", json={"feedback": [feedback_item(card, "accepted")]})
    assert resp.status_code == 503 and resp.get_json()["resourceType"] == "OperationOutcome"
    # hooks still answer when the audit cannot be written either
    with app.extensions["cds_hooks"].store.engine.begin() as conn:
        conn.execute(text("DROP TABLE audit_card"))
    assert client.post(TRIAGE, json=hook_body("patient-view")).status_code == 200
    app.extensions["cds_hooks"].store.close(0.5)   # the row cannot be written: counted as lost
    assert app.extensions["cds_hooks"].store.stats.snapshot()["audit_dropped"] == 1
