"""The store: versioned schema, salt kept in the store, retention, jti replay records."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from cds_hooks.store import (MIGRATIONS, AuditCard, AuditRecord, Store, audit, feedback, jwt_replay,
                             schema_version)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def store_at(url: str) -> Store:
    return Store(url)


def test_schema_is_created_once_and_versioned(store_url):
    first = store_at(store_url)
    assert first.schema_version() == len(MIGRATIONS)
    salt_hash = first.hash_patient("https://ehr/fhir/", "p1")
    second = store_at(store_url)  # a second worker / a restart
    assert second.schema_version() == len(MIGRATIONS)
    # the salt lives in the store: every worker hashes the same way, and trailing slashes do not matter
    assert second.hash_patient("https://ehr/fhir", "p1") == salt_hash
    with second.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema_version)).scalar() == len(MIGRATIONS)


def test_concurrent_first_start_migrates_once(store_url):
    stores = [store_at(store_url) for _ in range(4)]
    errors = []

    def ready(s):
        try:
            s.ensure_ready()
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=ready, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({s.hash_patient(None, "x") for s in stores}) == 1


def test_retention_deletes_old_audit_and_feedback(store_url):
    store = store_at(store_url)
    old, new = NOW - timedelta(days=400), NOW - timedelta(days=10)
    for when, uuid in ((old, "old-card"), (new, "new-card")):
        store.record_audit(AuditRecord(service_id="svc", received_at=when, http_status=200,
                                       cards=[AuditCard(uuid=uuid)]))
        store.record_feedback("svc", [{"card": uuid, "outcome": "overridden", "outcomeTimestamp": when}],
                              None, when)
    counts = store.purge(365, now=NOW)
    assert counts["audit"] == 1 and counts["audit_card"] == 1 and counts["feedback"] == 1
    assert [r["card_uuid"] for r in store.feedback_rows()] == ["new-card"]
    assert [c["card_uuid"] for r in store.audit_rows() for c in r["cards"]] == ["new-card"]
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(feedback)).scalar() == 1


def test_jti_is_refused_while_the_token_lives_and_forgotten_after(store_url):
    store = store_at(store_url)
    future = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert store.remember_jti("iss", "j1", future)
    assert not store_at(store_url).remember_jti("iss", "j1", future)  # another worker sees it
    assert store.remember_jti("other-iss", "j1", future)
    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    assert store.remember_jti("iss", "j2", past)
    store.purge(365)
    with store.engine.connect() as conn:
        assert {r.jti for r in conn.execute(select(jwt_replay.c.jti))} == {"j1"}
