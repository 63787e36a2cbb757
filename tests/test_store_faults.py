"""Store faults heal by themselves: once a permission fault or an outage is repaired, feedback
works again without a restart, and the audit rows of calls answered meanwhile still land.
Permanent data errors are refused with a 400 naming the field, never a 503 "try again"."""
from __future__ import annotations

import os
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from cds_hooks.store import Store
from tests.support.fake_domain import FakeDomain
from tests.support.postgres import PostgresServer, unprivileged_prefix
from tests.support.protocol_requests import hook_body
from tests.support.store_faults import module_store_url, wait_until

TRIAGE = "/cds-services/knee-pain-triage"


def feedback_body(card_uuid: str, **item) -> dict:
    return {"feedback": [{"card": card_uuid, "outcome": "overridden",
                          "outcomeTimestamp": "2026-03-02T10:05:00Z", **item}]}


def post_feedback(server, card_uuid: str, **item) -> requests.Response:
    return requests.post(server.url(f"{TRIAGE}/feedback"), json=feedback_body(card_uuid, **item), timeout=60)


def hook_call(server) -> tuple[str, str]:
    body = hook_body("patient-view")
    resp = requests.post(server.url(TRIAGE), json=body, timeout=10)
    assert resp.status_code == 200
    return body["hookInstance"], resp.json()["cards"][0]["uuid"]


@pytest.fixture
def unprivileged_sqlite(tmp_path):
    """A directory the server can write as an unprivileged user (root ignores file modes)."""
    prefix, uid, gid = unprivileged_prefix()
    folder = Path(tempfile.mkdtemp(prefix="knee-cds-store-"))
    if uid is not None:
        os.chown(folder, uid, gid)
    yield prefix, folder
    for path in sorted(folder.rglob("*"), reverse=True):
        path.chmod(0o700)
    import shutil  # noqa: PLC0415
    shutil.rmtree(folder, ignore_errors=True)


def test_a_read_only_sqlite_file_heals_without_a_restart(service_server_factory, unprivileged_sqlite):
    prefix, folder = unprivileged_sqlite
    db = folder / "store.sqlite3"
    server = service_server_factory({"KNEE_CDS_DATABASE_URL": f"sqlite:///{db}"}, fake_domain=True,
                                    command_prefix=prefix)
    first_instance, first_card = hook_call(server)
    assert post_feedback(server, first_card).status_code == 200
    server.stop()

    db.chmod(0o444)           # the fault: the file is read-only when the service opens it
    server.start()
    instance, card = hook_call(server)            # advice is not held back
    resp = post_feedback(server, card)
    assert resp.status_code == 503 and resp.json()["resourceType"] == "OperationOutcome"

    db.chmod(0o644)           # repaired: no restart
    assert post_feedback(server, card).status_code == 200
    store = Store(f"sqlite:///{db}")
    assert [r["card_uuid"] for r in store.feedback_rows()] == [first_card, card]
    wait_until(lambda: {first_instance, instance} <= {r["hook_instance"] for r in store.audit_rows()}, timeout=30)
    server.stop()


def test_a_postgresql_outage_heals_without_a_restart(service_server_factory, postgres_server, postgres_url):
    if not isinstance(postgres_server, PostgresServer):
        pytest.skip("an external server is never stopped")
    server = service_server_factory({"KNEE_CDS_DATABASE_URL": postgres_url}, fake_domain=True)
    _, card = hook_call(server)
    assert post_feedback(server, card).status_code == 200

    postgres_server.stop()
    try:
        during, during_card = hook_call(server)          # advice is not held back
        resp = post_feedback(server, during_card)
        assert resp.status_code == 503 and resp.json()["resourceType"] == "OperationOutcome"
    finally:
        postgres_server.start()
    assert post_feedback(server, during_card).status_code == 200
    store = Store(postgres_url)
    assert [r["card_uuid"] for r in store.feedback_rows()] == [card, during_card]
    # the audit row of the call answered during the outage lands once the database is back
    wait_until(lambda: during in {r["hook_instance"] for r in store.audit_rows()}, timeout=30)
    store.close(1)
    server.stop()


# --------------------------------------------------------------------------- permanent errors

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_on(request, tmp_path_factory) -> str:
    """One database per store for the module; tests tell their rows apart by unique values."""
    return module_store_url(request, tmp_path_factory, "faults")


@pytest.fixture(scope="module")
def client(make_app, store_on):
    return make_app({"KNEE_CDS_DATABASE_URL": store_on}, domain=FakeDomain()).test_client()


@pytest.fixture(scope="module")
def server_on(service_server_factory, store_on):
    return service_server_factory({"KNEE_CDS_DATABASE_URL": store_on}, fake_domain=True)


def rows_for(database_url: str, card_uuid: str) -> list[dict]:
    return [r for r in Store(database_url).feedback_rows() if r["card_uuid"] == card_uuid]


@pytest.mark.parametrize("item, expression", [
    ({"overrideReason": {"userComment": "before\x00after"}}, "feedback[0].overrideReason.userComment"),
    ({"overrideReason": {"reason": {"code": "x\x00", "system": "urn:s"}}}, "feedback[0].overrideReason.reason.code"),
    ({"overrideReason": {"reason": {"code": "c", "display": "\x00"}}}, "feedback[0].overrideReason.reason.display"),
    ({"card": "card\x00uuid"}, "feedback[0].card"),
])
def test_nul_in_feedback_is_a_400_naming_the_field(client, store_on, item, expression):
    item = dict(item)
    card = item.pop("card", f"c-nul-{uuid.uuid4()}")
    resp = client.post(f"{TRIAGE}/feedback", json=feedback_body(card, **item))
    assert resp.status_code == 400, resp.text
    [issue] = resp.json["issue"]
    assert issue["expression"] == [expression] and "U+0000" in issue["diagnostics"]
    assert rows_for(store_on, card) == []


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00"])
def test_an_outcome_timestamp_beyond_the_calendar_in_utc_is_a_400(client, store_on, timestamp):
    card = f"c-{uuid.uuid4()}"
    resp = client.post(f"{TRIAGE}/feedback",
                       json={"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": timestamp}]})
    assert resp.status_code == 400, resp.text
    assert resp.json["issue"][0]["expression"] == ["feedback[0].outcomeTimestamp"]
    assert rows_for(store_on, card) == []


@pytest.mark.parametrize("timestamp, stored", [
    ("9999-12-31T22:30:00-01:00", datetime(9999, 12, 31, 23, 30)),
    ("0001-01-01T01:30:00+01:00", datetime(1, 1, 1, 0, 30)),
])
def test_an_outcome_timestamp_at_the_calendar_edge_is_stored(client, store_on, timestamp, stored):
    card = f"c-{uuid.uuid4()}"
    resp = client.post(f"{TRIAGE}/feedback",
                       json={"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": timestamp}]})
    assert resp.status_code == 200, resp.text
    assert [r["outcome_timestamp"] for r in rows_for(store_on, card)] == [stored]


def test_nul_and_control_characters_in_a_hook_call_keep_the_audit_row_and_the_log_clean(server_on):
    """A real server process: what it writes to its log is the point."""
    body = hook_body("patient-view")
    tag = uuid.uuid4().hex
    forged = f"{tag}\x00\ndef 2026-03-02 ERROR forged line\r\x1b[31m"
    body["hookInstance"] = forged
    resp = requests.post(server_on.url(TRIAGE), json=body, timeout=10)
    assert resp.status_code in (200, 400)
    store = Store(server_on.database_url)
    row = wait_until(lambda: next((r for r in store.audit_rows() if (r["hook_instance"] or "").startswith(tag)), None))
    assert row["hook_instance"] == forged.replace("\x00", "\\u0000")
    assert row["http_status"] == resp.status_code
    log = server_on.log_text()
    # no client text reaches the log raw: no line starts with what the client put after its newline
    assert not [line for line in log.splitlines() if line.startswith("def 2026-03-02")]
    assert "\x00" not in log and "forged line\r" not in log


def test_the_store_refuses_nul_the_same_way_in_process(store_url):
    from cds_hooks.store import InvalidValue  # noqa: PLC0415

    store = Store(store_url)
    now = datetime.now(timezone.utc)
    with pytest.raises(InvalidValue) as refused:
        store.record_feedback("svc", [{"card": "c", "outcome": "accepted", "outcomeTimestamp": now,
                                       "acceptedSuggestions": [{"id": "ok"}, {"id": "s\x00"}]}], None, now)
    assert refused.value.expression == "feedback[0].acceptedSuggestions[1].id"
    assert store.feedback_rows() == []


def test_the_replay_record_on_the_request_path_waits_for_a_locked_store_only_briefly(store_url):
    """With auth on, a hook call writes its token's jti: a locked store refuses it quickly (503 by
    the caller) instead of holding the call for the whole busy timeout."""
    import time  # noqa: PLC0415
    from datetime import timedelta  # noqa: PLC0415

    from cds_hooks.store import StoreUnavailable  # noqa: PLC0415
    from tests.support.store_faults import locked_store  # noqa: PLC0415

    store = Store(store_url)
    store.ensure_ready()
    expires = datetime.now(timezone.utc) + timedelta(minutes=5)
    with locked_store(store_url):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.remember_jti("iss", "locked-jti", expires)
        assert time.monotonic() - started < 10      # the busy timeout is 30 s
    assert store.remember_jti("iss", "locked-jti", expires)   # and it heals at once
    store.close(1)


def test_feedback_waits_for_a_locked_store_only_a_bounded_time(store_url):
    """A worker thread held by feedback cannot serve advice: a lock held longer than the bound is
    answered 'unavailable, nothing stored' (503 by the caller), and the next attempt succeeds."""
    import time  # noqa: PLC0415

    from cds_hooks.store import StoreUnavailable  # noqa: PLC0415
    from tests.support.store_faults import locked_store  # noqa: PLC0415

    store = Store(store_url)
    store.ensure_ready()
    now = datetime.now(timezone.utc)
    item = [{"card": "c-locked", "outcome": "overridden", "outcomeTimestamp": now}]
    with locked_store(store_url):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.record_feedback("svc", item, None, now)
        assert time.monotonic() - started < 20      # the busy timeout of the background writer is 30 s
    assert store.feedback_rows() == []
    assert store.record_feedback("svc", item, None, now) == [False]
    store.close(1)
