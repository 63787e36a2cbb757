"""Auth and CORS defaults of contract §8, and refusing to start on bad configuration."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from service.app import create_app
from service.config import ConfigError, load_settings
from tests.support.fake_domain import FakeDomain
from tests.support.jwt_tools import KeyPair
from tests.support.service_server import RUN_DIR, free_port, server_env


def app_for(tmp_path, env=None, bind_host=None):
    environ = {"KNEE_CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite3'}", **(env or {})}
    config = {"ENVIRON": environ, "RETENTION_THREAD": False}
    if bind_host is not None:
        config["BIND_HOST"] = bind_host
    return create_app(config, domain=FakeDomain())


@pytest.mark.parametrize("bind_host,status", [
    ("127.0.0.1", 200), ("127.5.0.1", 200), ("::1", 200), ("localhost", 200),
    ("0.0.0.0", 401), ("192.168.1.10", 401), ("::", 401), (None, 401),  # None: gunicorn
])
def test_unset_auth_is_off_only_on_loopback(tmp_path, bind_host, status):
    client = app_for(tmp_path, bind_host=bind_host).test_client()
    assert client.get("/cds-services").status_code == status


def test_explicit_auth_off_on_a_public_address(tmp_path):
    client = app_for(tmp_path, {"KNEE_CDS_AUTH": "off"}, bind_host="0.0.0.0").test_client()
    assert client.get("/cds-services").status_code == 200


def test_cors_defaults(tmp_path):
    off = app_for(tmp_path, {"KNEE_CDS_AUTH": "off"}).test_client()
    assert off.get("/cds-services", headers={"Origin": "https://x.example"}).headers["Access-Control-Allow-Origin"] == "*"
    on = app_for(tmp_path, {"KNEE_CDS_AUTH": "required"}).test_client()
    pre = on.options("/cds-services", headers={"Origin": "https://x.example", "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 204 and "Access-Control-Allow-Origin" not in pre.headers


def test_public_url_sets_the_audience(tmp_path):
    key = KeyPair("ec", "k1")
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps([{"iss": "https://ehr", "jwks": {"keys": [key.jwk]}, "fhir_servers": []}]))
    client = app_for(tmp_path, {"KNEE_CDS_AUTH": "required", "KNEE_CDS_CLIENTS": str(clients),
                                "KNEE_CDS_PUBLIC_URL": "https://cds.example.org/knee/"}).test_client()
    good = key.token("https://ehr", "https://cds.example.org/knee/cds-services")
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    local = key.token("https://ehr", "http://localhost/cds-services")
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {local}"}).status_code == 401


@pytest.mark.parametrize("env,message", [
    ({"KNEE_CDS_AUTH": "maybe"}, "KNEE_CDS_AUTH"),
    ({"KNEE_CDS_RETENTION_DAYS": "soon"}, "KNEE_CDS_RETENTION_DAYS"),
    ({"KNEE_CDS_CORS_ORIGINS": "ehr.example.org"}, "KNEE_CDS_CORS_ORIGINS"),
    ({"KNEE_CDS_FHIR_TIMEOUT": "-1"}, "KNEE_CDS_FHIR_TIMEOUT"),
])
def test_invalid_settings_are_refused(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env, bind_host="127.0.0.1")


@pytest.mark.parametrize("entry,fragment", [
    ({"iss": "a", "jwks_url": "http://ehr.example.org/jwks"}, "entry 1 (iss 'a')"),
    ({"iss": "a", "jwks_url": "https://x/jwks", "jwks": {"keys": []}}, "entry 1 (iss 'a')"),
    ({"iss": "a"}, "entry 1 (iss 'a')"),
    ({"iss": "a", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "entry 1 (iss 'a')"),
    ({"jwks_url": "https://x/jwks"}, "entry 1"),
])
def test_bad_clients_entry_stops_the_service_naming_it(tmp_path, entry, fragment):
    good = {"iss": "ok", "jwks_url": "http://127.0.0.1:1/jwks", "fhir_servers": ["https://ehr/fhir"]}
    path = tmp_path / "clients.json"
    path.write_text(json.dumps([good, entry]))
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        app_for(tmp_path, {"KNEE_CDS_AUTH": "required", "KNEE_CDS_CLIENTS": str(path)})


def test_knee_cds_serve_refuses_to_start_with_invalid_auth(tmp_path):
    env = server_env({"KNEE_CDS_AUTH": "sometimes", "KNEE_CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    proc = subprocess.run([sys.executable, "-m", "service.cli", "serve", "--port", str(free_port())],
                          cwd=RUN_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "KNEE_CDS_AUTH" in proc.stderr and "Traceback" not in proc.stderr
