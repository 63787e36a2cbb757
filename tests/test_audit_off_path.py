"""Advice never waits for the store: the audit row is queued and written by a background thread;
feedback stays synchronous (acknowledged only after its commit). On SQLite and PostgreSQL."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import event

from cds_hooks.store import AuditCard, AuditRecord, Store
from cds_hooks.store.audit_writer import AuditWriter
from cds_hooks.store.records import StoreStats
from tests.support.fake_domain import FakeDomain
from tests.support.protocol_requests import hook_body
from tests.support.store_faults import locked_store, module_store_url, wait_until

TRIAGE = "/cds-services/knee-pain-triage"
# far above a normal call, far below the 30 s the store may wait for a lock: not a speed goal
PROMPT_S = 5.0


def feedback_for(card: dict, outcome: str = "overridden") -> dict:
    return {"feedback": [{"card": card["uuid"], "outcome": outcome, "outcomeTimestamp": "2026-03-02T10:05:00Z"}]}


def test_a_hook_call_does_not_touch_the_store(make_app, store_url):
    """Every connection checkout blocks until released: a hook call that touched the database in
    any way (audit insert, patient hash, salt) would hang."""
    app = make_app({"KNEE_CDS_DATABASE_URL": store_url}, domain=FakeDomain())
    store: Store = app.extensions["cds_hooks"].store
    release = threading.Event()
    checkouts: list[str] = []

    @event.listens_for(store.engine.pool, "checkout")
    def _block(*_args):
        checkouts.append(threading.current_thread().name)
        release.wait(60)

    result: dict = {}
    body = hook_body("patient-view", fhirServer="https://ehr.example.org/fhir/")

    def call():
        resp = app.test_client().post(TRIAGE, json=body)
        result.update(status=resp.status_code, cards=resp.get_json()["cards"])

    caller = threading.Thread(target=call, name="hook-caller")
    caller.start()
    caller.join(PROMPT_S)
    try:
        assert not caller.is_alive(), "the hook call waited for the store"
        assert result["status"] == 200 and len(result["cards"]) == 1
        assert "hook-caller" not in checkouts
    finally:
        release.set()
    assert store.flush(30)
    [row] = [r for r in store.audit_rows() if r["hook_instance"] == body["hookInstance"]]
    assert row["http_status"] == 200 and len(row["patient_hash"]) == 64
    assert [c["card_uuid"] for c in row["cards"]] == [result["cards"][0]["uuid"]]
    store.close(5)


@pytest.fixture
def server_on(service_server_factory, store_url):
    return service_server_factory({"KNEE_CDS_DATABASE_URL": store_url}, fake_domain=True)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_server(request, service_server_factory, tmp_path_factory):
    url = module_store_url(request, tmp_path_factory, "offpath")
    return service_server_factory({"KNEE_CDS_DATABASE_URL": url}, fake_domain=True)


def test_a_locked_store_does_not_delay_advice_and_feedback_waits_for_its_commit(shared_server):
    server_on, store_url = shared_server, shared_server.database_url
    body = hook_body("patient-view")
    with locked_store(store_url):
        started = time.monotonic()
        resp = requests.post(server_on.url(TRIAGE), json=body, timeout=PROMPT_S * 2)
        assert resp.status_code == 200 and time.monotonic() - started < PROMPT_S
        card = resp.json()["cards"][0]

        answer: dict = {}

        def send_feedback():
            r = requests.post(server_on.url(f"{TRIAGE}/feedback"), json=feedback_for(card), timeout=60)
            answer.update(status=r.status_code, at=time.monotonic())

        sender = threading.Thread(target=send_feedback)
        sender.start()
        time.sleep(1.0)
        assert sender.is_alive(), "feedback was acknowledged while the store could not commit it"
        released_at = time.monotonic()
    sender.join(60)
    assert answer["status"] == 200 and answer["at"] >= released_at
    store = Store(store_url)
    mine = lambda: [r for r in store.feedback_rows() if r["card_uuid"] == card["uuid"]]  # noqa: E731
    assert len(mine()) == 1
    # the audit row queued during the lock lands afterwards, and the feedback is linked to it
    wait_until(lambda: [r for r in store.audit_rows() if r["hook_instance"] == body["hookInstance"]])
    wait_until(lambda: mine()[0]["linked"])
    assert mine()[0]["hook_instance"] == body["hookInstance"]


def test_queued_audit_rows_are_written_at_a_clean_shutdown(server_on, store_url):
    instances = []
    with locked_store(store_url):
        for _ in range(5):
            body = hook_body("patient-view")
            assert requests.post(server_on.url(TRIAGE), json=body, timeout=PROMPT_S * 2).status_code == 200
            instances.append(body["hookInstance"])
        server_on.process.terminate()     # SIGTERM while every row still waits in the queue
        time.sleep(0.5)
    server_on.process.wait(timeout=30)
    stored = {r["hook_instance"] for r in Store(store_url).audit_rows()}
    assert set(instances) <= stored


def test_feedback_before_its_audit_row_is_linked_when_the_row_lands(store_url):
    store = Store(store_url)
    now = datetime.now(timezone.utc)
    assert store.record_feedback("svc", [{"card": "c-early", "outcome": "overridden", "outcomeTimestamp": now}],
                                 None, now) == [False]
    store.record_audit(AuditRecord(service_id="other-svc", received_at=now, cards=[AuditCard(uuid="c-early")]))
    assert not store.feedback_rows()[0]["linked"]   # another service's card is not this one
    store.record_audit(AuditRecord(service_id="svc", received_at=now, hook_instance="h1",
                                   cards=[AuditCard(uuid="c-early", tier="urgent")]))
    [row] = store.feedback_rows()
    assert row["linked"] and row["hook_instance"] == "h1" and row["tier"] == "urgent"


# --------------------------------------------------------------------------- the writer itself

def record(n: int) -> AuditRecord:
    return AuditRecord(service_id="svc", received_at=datetime.now(timezone.utc), hook_instance=f"h{n}")


def test_overflow_is_counted_and_logged_and_nothing_blocks(caplog):
    gate, entered = threading.Event(), threading.Event()
    written: list[str] = []

    def write(batch):
        entered.set()
        gate.wait(30)
        written.extend(r.hook_instance for r in batch)

    stats = StoreStats()
    events: list[tuple[str, float]] = []
    stats.add_listener(lambda name, value, labels: events.append((name, value)))
    writer = AuditWriter(write, stats, queue_size=3, batch_size=2)
    with caplog.at_level(logging.ERROR, logger="cds_hooks.store.audit_writer"):
        assert writer.submit(record(0))
        assert entered.wait(10)                  # the writer holds h0 and waits for the store
        started = time.monotonic()
        accepted = [writer.submit(record(n)) for n in range(1, 10)]
        assert time.monotonic() - started < PROMPT_S
    assert accepted == [True] * 3 + [False] * 6
    assert writer.depth() == 4 and stats.snapshot()["audit_dropped"] == 6
    assert "dropped" in caplog.text and "full" in caplog.text
    gate.set()
    assert writer.close(10)
    assert sorted(written) == ["h0", "h1", "h2", "h3"]
    assert stats.snapshot()["audit_written"] == 4 and writer.depth() == 0
    assert ("audit_dropped", 1) in events and ("audit_written", 1) in events
    assert any(name == "audit_queue_depth" for name, _ in events)


def test_a_failing_store_is_retried_and_what_shutdown_cannot_write_is_counted(caplog):
    fail = threading.Event()
    fail.set()
    written: list[str] = []

    def write(batch):
        if fail.is_set():
            raise ConnectionError("store down")
        written.extend(r.hook_instance for r in batch)

    stats = StoreStats()
    writer = AuditWriter(write, stats)
    writer.submit(record(1))
    wait_until(lambda: stats.snapshot()["store_error"] >= 2)   # retried, not dropped
    fail.clear()
    assert writer.flush(15) and written == ["h1"]
    fail.set()
    writer.submit(record(2))
    writer.submit(record(3))
    with caplog.at_level(logging.ERROR, logger="cds_hooks.store.audit_writer"):
        assert not writer.close(1.0)
    assert stats.snapshot()["audit_dropped"] == 2 and "lost" in caplog.text
    assert not writer.submit(record(4)) and stats.snapshot()["audit_dropped"] == 3


def test_a_row_the_database_refuses_costs_only_itself(store_url):
    store = Store(store_url)
    # a value the database refuses (not a time): a permanent error, never retried, never blocking
    refused = AuditRecord(service_id="svc", received_at="not a time", hook_instance="bad")
    good = [record(n) for n in range(3)]
    store.submit_audit(good[0])
    store.submit_audit(refused)
    for r in good[1:]:
        store.submit_audit(r)
    assert store.flush(30)
    assert {r["hook_instance"] for r in store.audit_rows()} == {"h0", "h1", "h2"}
    assert store.stats.snapshot()["audit_dropped"] == 1
    store.close(5)


def test_an_idle_writer_thread_ends_and_the_next_record_starts_another(monkeypatch):
    from cds_hooks.store import audit_writer  # noqa: PLC0415

    monkeypatch.setattr(audit_writer, "IDLE_EXIT_S", 0.3)
    written: list[str] = []
    writer = AuditWriter(lambda batch: written.extend(r.hook_instance for r in batch), StoreStats())
    writer.submit(record(1))
    assert writer.flush(10)
    wait_until(lambda: writer._thread is None)
    writer.submit(record(2))
    assert writer.flush(10) and written == ["h1", "h2"]
    assert writer.close(5)
