"""The store's schema: Alembic migrations on SQLite and PostgreSQL, adoption of databases made by
the earlier hand-written runner, concurrent starts, salt kept in the store, retention, jti records."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select, text

from cds_hooks.store import (AuditCard, AuditRecord, Store, StoreUnavailable, audit, feedback, head_revision,
                             jwt_replay, metadata)
from cds_hooks.store.schema import schema_version
from tests.support import legacy_store

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def test_a_new_store_is_created_at_the_newest_revision_matching_the_code(store_url):
    store = Store(store_url)
    assert store.schema_revision() == head_revision()
    with store.engine.connect() as conn:
        # the migrations build exactly the tables, columns and indexes the code reads and writes
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert conn.execute(select(schema_version.c.version)).scalars().all() == [1]
    store.close()


def test_the_salt_lives_in_the_store(store_url):
    first = Store(store_url)
    salt_hash = first.hash_patient("https://ehr/fhir/", "p1")
    second = Store(store_url)  # a second worker / a restart
    assert second.schema_revision() == head_revision()
    # every worker hashes the same way, and trailing slashes do not matter
    assert second.hash_patient("https://ehr/fhir", "p1") == salt_hash
    assert first.hash_patient("https://ehr/fhir", "p2") != salt_hash


def test_a_database_of_the_earlier_runner_is_upgraded_with_its_rows(store_url):
    legacy_store.create_v1(store_url, salt="ab" * 32)
    legacy_store.insert_sample_rows(store_url)
    store = Store(store_url)
    assert store.schema_revision() == head_revision()
    expected = legacy_store.expected_hash("https://ehr/fhir", "p1", salt="ab" * 32)
    assert store.hash_patient("https://ehr/fhir/", "p1") == expected
    [row] = store.feedback_rows()
    assert row["card_uuid"] == "legacy-card" and row["linked"] and row["hook_instance"] == "legacy-hook-instance"
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    # and the new code writes to it
    store.record_audit(AuditRecord(service_id="svc", received_at=NOW, http_status=200, cards=[AuditCard(uuid="c2")]))
    assert len(store.audit_rows()) == 2


def test_a_schema_newer_than_the_code_is_refused_with_a_clear_error(store_url):
    Store(store_url).ensure_ready()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreUnavailable, match="9999"):
        Store(store_url).ensure_ready()


def test_workers_starting_together_migrate_once(store_url):
    """Separate processes, as gunicorn workers or pods would be, all starting on an empty database."""
    script = ("import sys; from cds_hooks.store import Store; s = Store(sys.argv[1]); "
              "print(s.hash_patient(None, 'x'))")
    procs = [subprocess.Popen([sys.executable, "-c", script, store_url], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outputs]
    assert len({out.strip() for out, _ in outputs}) == 1
    engine = create_engine(store_url)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from alembic_version")).scalar() == 1
        assert conn.execute(text("select count(*) from store_meta")).scalar() == 1
    engine.dispose()


def test_threads_starting_together_migrate_once(store_url):
    stores = [Store(store_url) for _ in range(4)]
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
        t.join(timeout=120)
    assert not errors
    assert len({s.hash_patient(None, "x") for s in stores}) == 1


def test_retention_deletes_old_audit_and_feedback(store_url):
    store = Store(store_url)
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
    store = Store(store_url)
    future = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert store.remember_jti("iss", "j1", future)
    assert not Store(store_url).remember_jti("iss", "j1", future)  # another worker sees it
    assert store.remember_jti("other-iss", "j1", future)
    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    assert store.remember_jti("iss", "j2", past)
    store.purge(365)
    with store.engine.connect() as conn:
        assert {r.jti for r in conn.execute(select(jwt_replay.c.jti))} == {"j1"}


def test_the_wheel_ships_the_migrations(tmp_path):
    wheel = os.environ.get("KNEE_CDS_TEST_WHEEL")
    if not wheel:
        # built from a copy, so that no build/ or egg-info is left in the checkout
        source = tmp_path / "src"
        shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
            ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "instance"))
        out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."],
                             cwd=source, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        [wheel] = tmp_path.glob("knee_cds-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(REPO).as_posix() for p in (REPO / "cds_hooks" / "store" / "migrations").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert {"cds_hooks/store/migrations/env.py", "cds_hooks/store/migrations/script.py.mako",
            "cds_hooks/store/migrations/versions/0001_initial.py"} <= shipped
    assert shipped - names == set()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_plain_postgresql_url_uses_the_installed_driver(postgres_url, scheme):
    plain = postgres_url.replace("postgresql+psycopg://", f"{scheme}://")
    store = Store(plain)
    assert store.schema_revision() == head_revision()
    assert store.check_reachable() is None
    store.close(1)


def test_an_unreachable_store_is_reported_without_its_address(tmp_path):
    store = Store("postgresql://knee:secret@127.0.0.1:1/nowhere")
    problem = store.check_reachable()
    assert problem and "127.0.0.1" not in problem and "secret" not in problem and "knee" not in problem
