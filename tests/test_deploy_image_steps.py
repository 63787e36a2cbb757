"""deploy/image-steps.sh: the container image's build, install and start steps, run for real.

No registry is reachable here, so the image itself is not built: the script runs the same
deploy/image/*.sh scripts the Dockerfile runs (same wheel, a fresh venv, started outside the
checkout, the image's defaults) and these tests talk to what it started.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support.jwt_tools import KeyPair
from tests.support.protocol_requests import hook_body
from tests.support.service_server import free_port

REPO = Path(__file__).resolve().parents[1]
METRICS_TOKEN = "image-steps-metrics-token"
# a wheel build and a venv install from the package index: minutes on a busy machine
INSTALL_TIMEOUT_S = 900


# ---------------------------------------------------------------------------------------- run

@pytest.fixture(scope="module")
def image_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("image-steps")
    key = KeyPair("ec", "image-1")
    clients = work / "clients.json"
    clients.write_text(json.dumps([{"iss": "https://ehr", "jwks": {"keys": [key.jwk]},
                                    "fhir_servers": ["https://ehr/fhir"]}]))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KNEE_CDS_", "PROMETHEUS_"))}
    env.update({"KNEE_CDS_CLIENTS": str(clients), "KNEE_CDS_DATABASE_URL": f"sqlite:///{work / 'store.sqlite3'}",
                "KNEE_CDS_WORKERS": "2", "KNEE_CDS_METRICS": "on", "KNEE_CDS_METRICS_TOKEN": METRICS_TOKEN})
    log = open(work / "image-steps.log", "wb")
    process = subprocess.Popen(["bash", str(REPO / "deploy" / "image-steps.sh"), str(work), str(port)],
                               cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + INSTALL_TIMEOUT_S
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"image steps stopped ({process.returncode}):\n"
                            + (work / "image-steps.log").read_text(errors="replace")[-4000:])
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail("image steps did not answer in time:\n"
                            + (work / "image-steps.log").read_text(errors="replace")[-4000:])
            time.sleep(0.5)
        yield {"base": base, "key": key, "work": work, "process": process}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()


def test_the_installed_wheel_serves_from_outside_the_checkout(image_server):
    work, base, key = image_server["work"], image_server["base"], image_server["key"]
    installed = subprocess.run([str(work / "opt" / "bin" / "python"), "-c",
                                "import service, cds_hooks; print(service.__file__); print(cds_hooks.__file__)"],
                               cwd=work / "run", capture_output=True, text=True, timeout=60)
    assert installed.returncode == 0 and str(REPO) not in installed.stdout
    assert str(work / "opt") in installed.stdout
    # the image's default: KNEE_CDS_AUTH=required
    assert requests.get(base + "/cds-services", timeout=10).status_code == 401
    url = base + "/cds-services/knee-pain-triage"
    resp = requests.post(url, json=hook_body("patient-view"), timeout=30,
                         headers={"Authorization": f"Bearer {key.token('https://ehr', url)}"})
    assert resp.status_code == 200 and "cards" in resp.json()


def test_health_readiness_and_metrics_answer(image_server):
    base = image_server["base"]
    assert requests.get(base + "/healthz", timeout=10).json() == {"status": "pass"}
    ready = requests.get(base + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert requests.get(base + "/metrics", timeout=10).status_code == 401
    scrape = requests.get(base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert scrape.status_code == 200 and "knee_cds_hook_calls_total" in scrape.text
