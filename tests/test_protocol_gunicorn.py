"""The same app factory under gunicorn (deploy/gunicorn.conf.py) with several workers."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.jwt_tools import KeyPair
from tests.support.protocol_requests import hook_body

TRIAGE = "/cds-services/knee-pain-triage"


@pytest.fixture(scope="module")
def key():
    return KeyPair("ec", "gk-1")


@pytest.fixture(scope="module")
def server(service_server_factory, tmp_path_factory, key):
    path = tmp_path_factory.mktemp("gunicorn") / "clients.json"
    path.write_text(json.dumps([{"iss": "https://ehr", "jwks": {"keys": [key.jwk]},
                                 "fhir_servers": ["https://ehr/fhir"]}]))
    # KNEE_CDS_AUTH deliberately unset: under gunicorn that means "required"
    return service_server_factory({"KNEE_CDS_CLIENTS": str(path), "KNEE_CDS_WORKERS": "3",
                                   "KNEE_CDS_THREADS": "2"}, fake_domain=True, gunicorn=True)


def test_unset_auth_means_required_under_gunicorn(server):
    resp = requests.get(server.url("/cds-services"), timeout=10)
    assert resp.status_code == 401 and resp.content == b""


def test_replayed_jti_is_refused_across_workers(server, key):
    token = key.token("https://ehr", server.url(TRIAGE), jti="across-workers")
    body = hook_body("patient-view")

    def send(_):
        return requests.post(server.url(TRIAGE), json=body, timeout=20,
                             headers={"Authorization": f"Bearer {token}", "Connection": "close"}).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(send, range(24)))
    assert statuses.count(200) == 1 and statuses.count(401) == 23, statuses


def test_oversize_chunked_body_is_413_under_gunicorn(server, key):
    def chunks():
        for _ in range(90):
            yield b" " * 65536

    resp = requests.post(server.url(TRIAGE), data=chunks(), timeout=20,
                         headers={"Content-Type": "application/json",
                                  "Authorization": f"Bearer {key.token('https://ehr', server.url(TRIAGE))}"})
    assert resp.status_code == 413
    assert resp.json()["resourceType"] == "OperationOutcome"
