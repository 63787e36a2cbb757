"""Fixtures that run real knee-cds server processes on 127.0.0.1 (loaded by tests/conftest.py).

- ``service_server_factory(env=None, *, fake_domain=None, db_path=None, host="127.0.0.1",
  gunicorn=False, command_prefix=None)`` -> :class:`ServiceServer` (``command_prefix``: e.g. setpriv,
  to run the server as an unprivileged user). ``gunicorn=True`` runs deploy/gunicorn.conf.py
  (there an unset KNEE_CDS_AUTH means "required") instead of `knee-cds serve`. Session-scoped factory; every server it starts is stopped at the end of
  the session (or earlier with ``server.stop()``). ``env`` is added to a clean environment (no
  KNEE_CDS_* variable is inherited except KNEE_CDS_TEST_FAKE_DOMAIN). ``fake_domain=None`` means:
  the fake domain when KNEE_CDS_TEST_FAKE_DOMAIN=1 or ``service.engine`` is not importable, else
  the real engine via `knee-cds serve`. Each server gets its own SQLite file unless ``db_path``
  (or KNEE_CDS_DATABASE_URL in ``env``) is given.
- ``service_server``: the default server (session scope; auth off on loopback).
- ``fake_service_server``: a default server with the fake domain (session scope).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
# generous: on a shared CI machine gunicorn's start-up check and migrations can take tens of seconds
STARTUP_TIMEOUT_S = 90
# scripts/test.sh runs the suite against the wheel installed in a fresh virtual environment
# (KNEE_CDS_TEST_INSTALLED=1). Server processes then start outside the checkout and without it on
# PYTHONPATH: `python -m` and gunicorn put their working directory first on sys.path, which would
# shadow the installed package with the source tree. The test helpers (tests.support) stay importable
# through a .pth file that test.sh appends after site-packages. KNEE_CDS_TEST_RUN_DIR (test.sh: an
# empty folder of its own) is where they start.
INSTALLED = os.environ.get("KNEE_CDS_TEST_INSTALLED") == "1"
RUN_DIR = Path(os.environ.get("KNEE_CDS_TEST_RUN_DIR") or tempfile.gettempdir()) if INSTALLED else REPO


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def engine_available() -> bool:
    try:
        return importlib.util.find_spec("service.engine") is not None
    except (ImportError, ValueError):
        return False


def _command(fake_domain: bool, host: str, port: int, gunicorn: bool = False) -> list[str]:
    if gunicorn:
        app = "tests.support.fake_domain:wsgi_app()" if fake_domain else "service.app:create_app()"
        return [str(Path(sys.executable).parent / "gunicorn"), "-c", str(REPO / "deploy" / "gunicorn.conf.py"),
                "--bind", f"{host}:{port}", app]
    if fake_domain:
        return [sys.executable, "-m", "tests.support.fake_domain", "--host", host, "--port", str(port)]
    script = Path(sys.executable).parent / "knee-cds"
    base = [str(script)] if script.exists() else (
        [shutil.which("knee-cds")] if shutil.which("knee-cds") else [sys.executable, "-m", "service.cli"])
    return base + ["serve", "--host", host, "--port", str(port)]


@dataclass
class ServiceServer:
    host: str
    port: int
    env: dict[str, str]
    db_path: Path | None
    log_path: Path
    fake_domain: bool
    gunicorn: bool = False
    command_prefix: list[str] = field(default_factory=list)   # e.g. setpriv to run unprivileged
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "") -> str:
        return self.base_url + path

    @property
    def database_url(self) -> str:
        return self.env["KNEE_CDS_DATABASE_URL"]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> "ServiceServer":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command_prefix + _command(self.fake_domain, self.host, self.port, self.gunicorn),
                                        cwd=RUN_DIR, env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"knee-cds exited with {self.process.returncode}:\n{self.log_text()[-4000:]}")
            try:
                requests.get(self.url("/cds-services"), timeout=5)
                return self
            except requests.RequestException:
                # not listening yet, or a worker still booting on a busy machine: keep waiting
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"knee-cds did not answer within {STARTUP_TIMEOUT_S} s:\n{self.log_text()[-4000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def restart(self) -> "ServiceServer":
        """Stop and start again on the same port, environment and database."""
        self.stop()
        return self.start()


def server_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment a knee-cds process starts with: this one without its KNEE_CDS_* variables (but
    KNEE_CDS_TEST_FAKE_DOMAIN), the checkout on PYTHONPATH unless the suite runs the installed wheel,
    unbuffered output, then ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KNEE_CDS_") or k == "KNEE_CDS_TEST_FAKE_DOMAIN"}
    if not INSTALLED:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def service_server_factory(tmp_path_factory) -> Callable[..., ServiceServer]:
    started: list[ServiceServer] = []
    workdir = tmp_path_factory.mktemp("knee-cds-servers")

    def start(env: dict[str, str] | None = None, *, fake_domain: bool | None = None,
              db_path: Path | str | None = None, host: str = "127.0.0.1",
              gunicorn: bool = False, command_prefix: list[str] | None = None) -> ServiceServer:
        if fake_domain is None:
            fake_domain = os.environ.get("KNEE_CDS_TEST_FAKE_DOMAIN") == "1" or not engine_available()
        index = len(started)
        env = dict(env or {})
        if "KNEE_CDS_DATABASE_URL" not in env:
            db_path = Path(db_path) if db_path else workdir / f"store-{index}.sqlite3"
            env["KNEE_CDS_DATABASE_URL"] = f"sqlite:///{db_path}"
        server = ServiceServer(host=host, port=free_port(host), env=server_env(env),
                               db_path=Path(db_path) if db_path else None,
                               log_path=workdir / f"server-{index}.log", fake_domain=fake_domain,
                               gunicorn=gunicorn, command_prefix=list(command_prefix or []))
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def service_server(service_server_factory) -> ServiceServer:
    return service_server_factory()


@pytest.fixture(scope="session")
def fake_service_server(service_server_factory) -> ServiceServer:
    return service_server_factory(fake_domain=True)
