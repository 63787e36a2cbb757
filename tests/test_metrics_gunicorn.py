"""Metrics under gunicorn (deploy/gunicorn.conf.py): every worker's values in one scrape."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.protocol_requests import hook_body

TOKEN = "gunicorn-metrics-token-42"
TRIAGE = "/cds-services/knee-pain-triage"
CALLS = 24
MAX_CALLS = 400


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # the command may hold spaces and parentheses: fields after the last ')'
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def scrape(server) -> dict[tuple[str, tuple], float]:
    resp = requests.get(server.url("/metrics"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert resp.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def calls_200(values) -> float:
    return values.get(("knee_cds_hook_calls_total", (("service", "knee-pain-triage"), ("status", "200"))), 0.0)


@pytest.fixture(scope="module")
def metrics_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("prometheus")
    # a file of an earlier run: it must not be added to this run's values
    (path / "counter_1.db").write_bytes(b"not a value file")
    return path


@pytest.fixture(scope="module")
def server(service_server_factory, metrics_dir):
    return service_server_factory({"KNEE_CDS_AUTH": "off", "KNEE_CDS_WORKERS": "3", "KNEE_CDS_THREADS": "2",
                                   "KNEE_CDS_METRICS": "on", "KNEE_CDS_METRICS_TOKEN": TOKEN,
                                   "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
                                  fake_domain=True, gunicorn=True)


def test_the_metrics_directory_is_cleaned_at_start(server, metrics_dir):
    assert not (metrics_dir / "counter_1.db").exists()


def test_metrics_need_the_token_under_gunicorn(server):
    assert requests.get(server.url("/metrics"), timeout=10).status_code == 401
    assert requests.get(server.url("/healthz"), timeout=10).status_code == 200


def test_one_scrape_adds_up_every_worker(server):
    before = calls_200(scrape(server))
    metrics_dir = Path(server.env["PROMETHEUS_MULTIPROC_DIR"])
    calls = 0
    # a new connection each time, so that the calls spread over the workers; on a busy machine one
    # worker may win many accepts in a row, so go on (bounded) until two workers have answered
    while calls < CALLS or (len({p.name.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}) < 2
                            and calls < MAX_CALLS):
        resp = requests.post(server.url(TRIAGE), json=hook_body("patient-view"), timeout=20,
                             headers={"Connection": "close"})
        assert resp.status_code == 200
        calls += 1
    pids = {p.name.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}
    assert len(pids) >= 2, "the calls reached more than one worker"
    for _ in range(3):  # every scrape, whichever worker answers it, sees the same total
        assert calls_200(scrape(server)) - before == calls


def test_a_killed_worker_keeps_its_counts_and_drops_its_live_gauges(server):
    total = calls_200(scrape(server))
    workers = children(server.process.pid)
    assert len(workers) == 3
    victim = workers[0]
    metrics_dir = Path(server.env["PROMETHEUS_MULTIPROC_DIR"])
    assert (metrics_dir / f"gauge_livesum_{victim}.db").exists()
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (victim in children(server.process.pid)
                                           or len(children(server.process.pid)) < 3):
        time.sleep(0.1)
    assert victim not in children(server.process.pid)
    time.sleep(0.5)
    assert not (metrics_dir / f"gauge_livesum_{victim}.db").exists()   # child_exit: mark_process_dead
    assert calls_200(scrape(server)) == total


def test_gunicorn_logs_are_json_lines_with_access_events(server):
    requests.get(server.url("/healthz"), timeout=10)
    time.sleep(0.3)
    events = [json.loads(line) for line in server.log_text().splitlines() if line.strip()]
    access = [e for e in events if e["event"] == "http.access" and e["path"] == "/healthz"]
    assert access and access[-1]["status"] == 200 and access[-1]["method"] == "GET"
    assert any(e["event"] == "hook.call" and e["status"] == 200 for e in events)


def test_stopping_gunicorn_writes_the_audit_rows_its_workers_queued(service_server_factory, tmp_path):
    """A clean stop of gunicorn (SIGTERM) loses no audit row its workers queued (worker_exit, atexit)."""
    from cds_hooks.store import Store  # noqa: PLC0415
    from tests.support.store_faults import locked_store  # noqa: PLC0415

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    server = service_server_factory({"KNEE_CDS_AUTH": "off", "KNEE_CDS_WORKERS": "2", "KNEE_CDS_DATABASE_URL": url},
                                    fake_domain=True, gunicorn=True)
    instances = []
    with locked_store(url):
        for _ in range(6):
            body = hook_body("patient-view")
            resp = requests.post(server.url(TRIAGE), json=body, timeout=20, headers={"Connection": "close"})
            assert resp.status_code == 200
            instances.append(body["hookInstance"])
        server.process.terminate()   # SIGTERM while the rows wait for the locked store
        time.sleep(0.5)
    server.process.wait(timeout=60)
    stored = {r["hook_instance"] for r in Store(url).audit_rows()}
    assert set(instances) <= stored
