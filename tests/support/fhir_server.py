"""pytest plugin: a real FHIR R4 server for integration tests.

``fhir_base`` (session) is the base URL of a FHIR R4 server:

- ``KNEE_CDS_TEST_FHIR_BASE`` when set (any server: a local HAPI, a shared sandbox; see docs/fetching.md);
- otherwise the suite starts its own sekmet-fhir (==0.1.1) bound to 127.0.0.1 on a free port, with an
  in-memory database and the simulator off, and stops it by PID at the end of the session.

``fhir_id_prefix`` (session) is a per-run id prefix ("r<hex>-") so runs never collide on a shared server.
``put_resources`` / ``post_resource`` load resources into a server.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

ENV_BASE = "KNEE_CDS_TEST_FHIR_BASE"
FHIR_JSON = "application/fhir+json"
_START_TIMEOUT_S = 30.0

# sekmet quirks this file works around (details in docs/fetching.md):
# - search `next` links are built from settings.base_url, not from the request: base_url must be set to the
#   real 127.0.0.1:<port>, or every next link points at localhost:8090;
# - inbound validation is "strict" (fhir.resources R4B models) by default; kept strict so vignettes that a
#   real server would refuse are caught;
# - the simulator answers ServiceRequest/MedicationRequest writes with Tasks/results: disabled.
_SETTINGS_YAML = """\
db_path: ":memory:"
base_url: "http://127.0.0.1:{port}/fhir"
host: "127.0.0.1"
port: {port}
data_dir: "{data_dir}"
log_inbound: false
simulator:
  enabled: false
"""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _sekmet_executable() -> str:
    beside_python = Path(sys.executable).with_name("sekmet")
    found = str(beside_python) if beside_python.exists() else shutil.which("sekmet")
    if not found:
        raise RuntimeError("sekmet-fhir is not installed (pip install 'sekmet-fhir==0.1.1')")
    return found


class SekmetServer:
    """One sekmet-fhir process, started and stopped by PID."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/fhir"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "sekmet.log"

    def start(self) -> "SekmetServer":
        config = self.workdir / "settings.yaml"
        config.write_text(_SETTINGS_YAML.format(port=self.port, data_dir=self.workdir / "data"))
        env = {**os.environ, "SEKMET_CONFIG": str(config)}
        for var in ("SEKMET_BASE_URL", "SEKMET_DB", "SEKMET_PUBLIC_URL", "SEKMET_PORT"):
            env.pop(var, None)  # the settings file is the whole configuration
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [_sekmet_executable(), "serve", "--config", str(config), "--host", "127.0.0.1",
                 "--port", str(self.port)],
                cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"sekmet exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                if requests.get(f"{self.base}/metadata", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"sekmet did not answer within {_START_TIMEOUT_S} s:\n{self.log_text()}")

    def stop(self) -> None:
        """Stop our process only (by its PID), SIGTERM then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# ---- loading resources ----------------------------------------------------------------------------


def put_resources(base: str, resources: list[dict[str, Any]], session: requests.Session | None = None) -> None:
    """PUT each resource at its own id (update-as-create); raises with the server's answer on failure."""
    http = session or requests.Session()
    for resource in resources:
        url = f"{base.rstrip('/')}/{resource['resourceType']}/{resource['id']}"
        response = http.put(url, json=resource, headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
                            timeout=30)
        if response.status_code not in (200, 201):
            raise AssertionError(f"PUT {url} -> HTTP {response.status_code}: {response.text[:2000]}")


def post_resource(base: str, resource: dict[str, Any], session: requests.Session | None = None) -> str:
    """POST a resource (the server assigns the id); returns the new id."""
    http = session or requests.Session()
    url = f"{base.rstrip('/')}/{resource['resourceType']}"
    response = http.post(url, json=resource, headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}, timeout=30)
    if response.status_code not in (200, 201):
        raise AssertionError(f"POST {url} -> HTTP {response.status_code}: {response.text[:2000]}")
    location = response.headers.get("Location", "")
    if location:
        return location.split("/_history/")[0].rstrip("/").rsplit("/", 1)[-1]
    return response.json()["id"]


# ---- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fhir_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the FHIR R4 server for this session (KNEE_CDS_TEST_FHIR_BASE or our own sekmet)."""
    external = os.environ.get(ENV_BASE, "").strip()
    if external:
        yield external.rstrip("/")
        return
    server = SekmetServer(tmp_path_factory.mktemp("sekmet")).start()
    try:
        yield server.base
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fhir_id_prefix() -> str:
    """Per-run id prefix: the same suite can run against a shared server without collisions."""
    return f"r{secrets.token_hex(4)}-"
