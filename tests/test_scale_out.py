"""One patient's calls spread over several gunicorn workers behave as on one process.

Workers (and pods) share nothing but the store: the patient-hash salt, the audit rows that feedback
links to and the JWT replay records live there. Each call below opens a new connection, so the
calls and the feedback land on whichever of the three workers accepts them.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
import requests

from cds_hooks.store import Store
from tests.support import vignettes as vg

TRIAGE = "/cds-services/knee-pain-triage"
CALLS = 12


@pytest.fixture(scope="module")
def server(service_server_factory):
    return service_server_factory({"KNEE_CDS_AUTH": "off", "KNEE_CDS_WORKERS": "3", "KNEE_CDS_THREADS": "2"},
                                  fake_domain=False, gunicorn=True)


def _v01_body() -> dict:
    path = next(p for p in vg.vignette_paths() if p.stem == "V01")
    loaded = vg.prepare(vg.load_vignette(path), datetime.now(timezone.utc).replace(microsecond=0))
    return vg.build_request(loaded, fhir_server="https://ehr.example.org/fhir")


def _post(url: str, json: dict) -> requests.Response:
    with requests.Session() as session:  # a new connection: any worker may accept it
        session.headers["Connection"] = "close"
        return session.post(url, json=json, timeout=30)


def _wait_for(predicate, timeout_s: float = 15.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_one_patient_on_several_workers(server):
    body = _v01_body()
    instances, responses = [], []
    for i in range(CALLS):
        call = {**body, "hookInstance": f"scale-out-{i}-{body['hookInstance']}"}
        resp = _post(server.url(TRIAGE), call)
        assert resp.status_code == 200, resp.text
        instances.append(call["hookInstance"])
        responses.append(resp.json())

    # the same chart gives the same advice on every worker (uuids and order windows aside)
    def advice(response):
        return [(c["summary"], c["indicator"], len(c.get("suggestions", []))) for c in response["cards"]]
    assert all(advice(r) == advice(responses[0]) for r in responses)

    # feedback on every card, sent at once, each on its own connection
    cards = [c for r in responses for c in r["cards"]]
    assert cards
    for card in cards:
        item = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-03-02T10:05:00Z"}
        resp = _post(server.url(f"{TRIAGE}/feedback"), {"feedback": [item]})
        assert resp.status_code == 200, resp.text

    store = Store(server.database_url)

    def audits():
        return [r for r in store.audit_rows("knee-pain-triage") if r["hook_instance"] in instances]
    # the audit row may be written after the answer: wait for it, bounded
    _wait_for(lambda: len(audits()) == CALLS)
    rows = audits()
    assert len(rows) == CALLS
    # one salt for every worker: the patient has one hash
    hashes = {r["patient_hash"] for r in rows}
    assert len(hashes) == 1 and None not in hashes
    issued = {c["uuid"] for c in cards}
    rows = [r for r in store.feedback_rows("knee-pain-triage") if r["card_uuid"] in issued]
    assert len(rows) == len(cards)
    assert all(r["linked"] for r in rows), [r["card_uuid"] for r in rows if not r["linked"]]
    assert {r["hook_instance"] for r in rows} == set(instances)
