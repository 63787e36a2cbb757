"""Configuration checked at start: each bad variable stops the service with a message naming it."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import (SERVER_VARIABLES, SERVICE_VARIABLES, ConfigError, LogFormat, check_startup,
                            load_settings, warn_unknown_variables)
from tests.support.service_server import REPO, free_port, server_env

GUNICORN = Path(sys.executable).parent / "gunicorn"
PASSWORD = "s3cret-pw"


@pytest.mark.parametrize("env,name", [
    ({"KNEE_CDS_AUTH": "maybe"}, "KNEE_CDS_AUTH"),
    ({"KNEE_CDS_PUBLIC_URL": "cds.example.org"}, "KNEE_CDS_PUBLIC_URL"),
    ({"KNEE_CDS_JWKS_REFRESH_S": "often"}, "KNEE_CDS_JWKS_REFRESH_S"),
    ({"KNEE_CDS_CORS_ORIGINS": "ehr.example.org"}, "KNEE_CDS_CORS_ORIGINS"),
    ({"KNEE_CDS_RETENTION_DAYS": "0"}, "KNEE_CDS_RETENTION_DAYS"),
    ({"KNEE_CDS_AGE_ADJUSTED_DDIMER": "perhaps"}, "KNEE_CDS_AGE_ADJUSTED_DDIMER"),
    ({"KNEE_CDS_FHIR_TIMEOUT": "nan"}, "KNEE_CDS_FHIR_TIMEOUT"),
    ({"KNEE_CDS_FHIR_MAX_PAGES": "0"}, "KNEE_CDS_FHIR_MAX_PAGES"),
    ({"KNEE_CDS_FHIR_MAX_RESPONSE_BYTES": "10"}, "KNEE_CDS_FHIR_MAX_RESPONSE_BYTES"),
    ({"KNEE_CDS_MAX_BODY_BYTES": "1.5"}, "KNEE_CDS_MAX_BODY_BYTES"),
    ({"KNEE_CDS_METRICS": "yes"}, "KNEE_CDS_METRICS"),
    ({"KNEE_CDS_METRICS_TOKEN": "short"}, "KNEE_CDS_METRICS_TOKEN"),
    ({"KNEE_CDS_METRICS_TOKEN": "has spaces in the token"}, "KNEE_CDS_METRICS_TOKEN"),
    ({"KNEE_CDS_LOG_FORMAT": "xml"}, "KNEE_CDS_LOG_FORMAT"),
    ({"KNEE_CDS_LOG_LEVEL": "loud"}, "KNEE_CDS_LOG_LEVEL"),
    ({"KNEE_CDS_DATABASE_URL": "not a url"}, "KNEE_CDS_DATABASE_URL"),
    ({"KNEE_CDS_DATABASE_URL": "mysql://u:p@h/db"}, "KNEE_CDS_DATABASE_URL"),
    ({"KNEE_CDS_DATABASE_URL": "postgresql+nosuchdriver://u:p@h/db"}, "KNEE_CDS_DATABASE_URL"),
    ({"KNEE_CDS_DATABASE_URL": "sqlite://", "KNEE_CDS_DATABASE_URL_FILE": "/x"}, "KNEE_CDS_DATABASE_URL_FILE"),
    ({"KNEE_CDS_DATABASE_URL_FILE": "/nonexistent/db-url"}, "KNEE_CDS_DATABASE_URL_FILE"),
    ({"KNEE_CDS_METRICS_TOKEN_FILE": "/nonexistent/token"}, "KNEE_CDS_METRICS_TOKEN_FILE"),
])
def test_each_bad_service_variable_is_named(env, name):
    with pytest.raises(ConfigError, match=name):
        load_settings(env, bind_host="127.0.0.1")


@pytest.mark.parametrize("env,name", [
    ({"KNEE_CDS_BIND": "0.0.0.0"}, "KNEE_CDS_BIND"),
    ({"KNEE_CDS_BIND": "0.0.0.0:8080,host:99999"}, "KNEE_CDS_BIND"),
    ({"KNEE_CDS_WORKERS": "many"}, "KNEE_CDS_WORKERS"),
    ({"KNEE_CDS_THREADS": "0"}, "KNEE_CDS_THREADS"),
    ({"KNEE_CDS_WORKER_TIMEOUT": "-5"}, "KNEE_CDS_WORKER_TIMEOUT"),
    ({"KNEE_CDS_WORKER_CONNECTIONS": "0"}, "KNEE_CDS_WORKER_CONNECTIONS"),
    ({"KNEE_CDS_BODY_TIMEOUT_S": "soon"}, "KNEE_CDS_BODY_TIMEOUT_S"),
    ({"KNEE_CDS_WSGI_APP": "import os; os.system('x')"}, "KNEE_CDS_WSGI_APP"),
    ({"KNEE_CDS_CLIENTS": "/nonexistent/clients.json"}, "KNEE_CDS_CLIENTS"),
    ({"KNEE_CDS_SITE_MAPS": "no-such-site.json"}, "no-such-site.json"),
])
def test_each_bad_server_setting_is_named_by_the_startup_check(env, name):
    with pytest.raises(ConfigError, match=name):
        check_startup({"KNEE_CDS_AUTH": "off", **env})


@pytest.mark.parametrize("url", [f"postgresql+psycopg://knee:{PASSWORD}@db/knee", f"mysql://knee:{PASSWORD}@db/x",
                                 f"postgresql+nodriver://knee:{PASSWORD}@db/x", f"::{PASSWORD}::"])
def test_database_errors_never_quote_the_password(url):
    try:
        load_settings({"KNEE_CDS_DATABASE_URL": url}, bind_host="127.0.0.1")
    except ConfigError as err:
        assert PASSWORD not in str(err)


def test_metrics_token_errors_never_quote_the_token():
    with pytest.raises(ConfigError) as err:
        load_settings({"KNEE_CDS_METRICS_TOKEN": "tok en!secret-value-1234"}, bind_host="127.0.0.1")
    assert "secret-value" not in str(err.value)


def test_secrets_can_come_from_files(tmp_path):
    url = tmp_path / "db-url"
    url.write_text(f"sqlite:///{tmp_path / 'store.sqlite3'}\n")
    token = tmp_path / "token"
    token.write_text("0123456789abcdef-token\n")
    settings = load_settings({"KNEE_CDS_DATABASE_URL_FILE": str(url), "KNEE_CDS_METRICS": "on",
                              "KNEE_CDS_METRICS_TOKEN_FILE": str(token)}, bind_host=None)
    assert settings.database_url == f"sqlite:///{tmp_path / 'store.sqlite3'}"
    assert settings.metrics_enabled and settings.metrics_token == "0123456789abcdef-token"


def test_an_empty_secret_file_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="KNEE_CDS_DATABASE_URL_FILE.*empty"):
        load_settings({"KNEE_CDS_DATABASE_URL_FILE": str(empty)}, bind_host="127.0.0.1")


def test_defaults_metrics_on_loopback_only_and_json_logs():
    local = load_settings({}, bind_host="127.0.0.1")
    public = load_settings({}, bind_host=None)
    assert local.metrics_enabled and not public.metrics_enabled
    assert local.log_format is LogFormat.JSON and local.log_level == "info"


def test_good_settings_pass_the_startup_check(tmp_path):
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps([{"iss": "https://ehr", "jwks_url": "https://ehr/jwks"}]))
    settings = check_startup({"KNEE_CDS_CLIENTS": str(clients), "KNEE_CDS_BIND": "0.0.0.0:8080,[::]:8080",
                              "KNEE_CDS_WORKERS": "3", "KNEE_CDS_SITE_MAPS": "st-example-hospital.json",
                              "KNEE_CDS_DATABASE_URL": "postgresql+psycopg://u:p@db/knee"})
    assert settings.auth_required and settings.site_maps == ("st-example-hospital.json",)


def test_unknown_variables_are_warned_about_by_name(caplog):
    env = {"KNEE_CDS_DATABASE_ULR": "x", "KNEE_CDS_AUTH": "off", "KNEE_CDS_TEST_FHIR_BASE": "x"}
    with caplog.at_level(logging.WARNING):
        assert warn_unknown_variables(env) == ["KNEE_CDS_DATABASE_ULR"]
    assert "KNEE_CDS_DATABASE_ULR" in caplog.text


def test_every_variable_the_deploy_files_set_is_known():
    """deploy/ must not set a variable the service ignores (a misspelling would go unnoticed)."""
    import re  # noqa: PLC0415
    names = set()
    for path in list((REPO / "deploy").rglob("*.yaml")) + [REPO / "deploy" / "Dockerfile"]:
        names |= set(re.findall(r"\bKNEE_CDS_[A-Z_]+\b", path.read_text()))
    assert names, "the deploy files set KNEE_CDS_* variables"
    assert names <= SERVICE_VARIABLES | SERVER_VARIABLES, names - (SERVICE_VARIABLES | SERVER_VARIABLES)


def _gunicorn(env, tmp_path):
    return subprocess.run([str(GUNICORN), "-c", str(REPO / "deploy" / "gunicorn.conf.py"),
                           "--bind", f"127.0.0.1:{free_port()}"],
                          cwd=tmp_path, env=server_env(env), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("env,name", [
    ({"KNEE_CDS_WORKERS": "lots"}, "KNEE_CDS_WORKERS"),
    ({"KNEE_CDS_AUTH": "sometimes"}, "KNEE_CDS_AUTH"),
    ({"KNEE_CDS_METRICS": "on"}, "KNEE_CDS_METRICS_TOKEN"),
    ({"KNEE_CDS_SITE_MAPS": "no-such-site.json"}, "no-such-site.json"),
    ({"KNEE_CDS_DATABASE_URL": f"mysql://knee:{PASSWORD}@db/x"}, "KNEE_CDS_DATABASE_URL"),
])
def test_gunicorn_stops_before_forking_with_one_message(env, name, tmp_path):
    proc = _gunicorn(env, tmp_path)
    assert proc.returncode == 2
    assert "knee-cds: configuration error: " in proc.stderr and name in proc.stderr
    assert "Traceback" not in proc.stderr and "Booting worker" not in proc.stderr
    assert PASSWORD not in proc.stderr
