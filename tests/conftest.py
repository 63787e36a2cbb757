"""Shared pytest setup. Fixture modules live in tests/support/ and are loaded as plugins."""
import importlib.util

_PLUGINS = [
    "tests.support.service_server",   # real knee-cds HTTP server processes (127.0.0.1)
    "tests.support.fhir_server",      # real FHIR R4 server (sekmet-fhir) or KNEE_CDS_TEST_FHIR_BASE
    "tests.support.postgres",         # real PostgreSQL server (Debian package) or KNEE_CDS_TEST_POSTGRES_URL
]
pytest_plugins = [p for p in _PLUGINS if importlib.util.find_spec(p) is not None]
