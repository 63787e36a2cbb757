"""Shared pytest setup: the in-process app and its test client (the Flask tutorial's
``tests/conftest.py``), and the fixture modules of tests/support/ loaded as plugins.

In-process fixtures, for every check that needs no real socket:

- ``make_app(env=None, *, domain=None, **config)``: a knee-cds app built by ``create_app`` with
  injected configuration: ``KNEE_CDS_*`` variables from ``env`` only (never the caller's
  environment), auth off unless ``env`` says otherwise, a SQLite store in a folder of its own, no
  background retention thread; ``domain`` replaces the knee engine (e.g. the fake domain);
  ``config`` adds ``create_app`` keys (``BIND_HOST``, ``TESTING``...). Session-scoped, so that a
  module can share one app; every app's store is closed at the end of the session.
- ``app`` / ``client``: a fresh default app for one test, and its test client.

Real servers (knee-cds, gunicorn, sekmet-fhir, PostgreSQL) stay for what only they can show: sockets,
timeouts, slow bodies, worker processes, logs of a process, an EHR's view of a running service.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sysconfig
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import Flask

_PLUGINS = [
    "tests.support.service_server",   # real knee-cds HTTP server processes (127.0.0.1)
    "tests.support.fhir_server",      # real FHIR R4 server (sekmet-fhir) or KNEE_CDS_TEST_FHIR_BASE
    "tests.support.postgres",         # real PostgreSQL server (Debian package) or KNEE_CDS_TEST_POSTGRES_URL
    "tests.support.battery",          # the reliability battery's summary line
]
pytest_plugins = [p for p in _PLUGINS if importlib.util.find_spec(p) is not None]

# What scripts/test.sh installs from the wheel: every one must be imported from site-packages.
INSTALLED_PACKAGES = ("service", "service.mappings", "cds_hooks")


def installed_package_problems() -> list[str]:
    """Packages of the service not imported from this interpreter's site-packages."""
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    problems = []
    for name in INSTALLED_PACKAGES:
        where = Path(importlib.import_module(name).__file__).resolve()
        if site not in where.parents:
            problems.append(f"{name} imported from {where}, not from {site}")
    return problems


def pytest_configure(config):
    # KNEE_CDS_TEST_INSTALLED=1 (scripts/test.sh): the suite must exercise the installed wheel; a
    # checkout found first on sys.path would hide whatever the wheel lacks.
    if os.environ.get("KNEE_CDS_TEST_INSTALLED") == "1":
        problems = installed_package_problems()
        if problems:
            raise pytest.UsageError("KNEE_CDS_TEST_INSTALLED=1 but " + "; ".join(problems))


@pytest.fixture(scope="session")
def make_app(tmp_path_factory) -> Callable[..., Flask]:
    from service.app import create_app  # noqa: PLC0415  after pytest_configure's installed-package check

    apps: list[Flask] = []

    def build(env: dict[str, str] | None = None, *, domain: Any = None, **config: Any) -> Flask:
        folder = tmp_path_factory.mktemp("app")
        environ = {"KNEE_CDS_AUTH": "off", **(env or {})}
        settings = {"ENVIRON": environ, "INSTANCE_PATH": str(folder / "instance"), "RETENTION_THREAD": False,
                    "TESTING": True, **config}
        app = create_app(settings, domain=domain)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["cds_hooks"].store.close(timeout=5)


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()
