"""Shared pytest setup. Fixture modules live in tests/support/ and are loaded as plugins."""
import importlib
import importlib.util
import os
import sysconfig
from pathlib import Path

import pytest

_PLUGINS = [
    "tests.support.service_server",   # real knee-cds HTTP server processes (127.0.0.1)
    "tests.support.fhir_server",      # real FHIR R4 server (sekmet-fhir) or KNEE_CDS_TEST_FHIR_BASE
    "tests.support.postgres",         # real PostgreSQL server (Debian package) or KNEE_CDS_TEST_POSTGRES_URL
    "tests.support.inprocess",        # in-process app and test client (no socket)
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
