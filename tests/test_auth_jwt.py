"""JWT verification (KNEE_CDS_AUTH=required) against a real server process and a local JWKS server."""
from __future__ import annotations

import json
import time

import pytest
import requests

from cds_hooks.store import Store
from tests.support.jwt_tools import JwksServer, KeyPair, hs256_token, unsigned_token
from tests.support.protocol_requests import hook_body
from tests.support.store_faults import wait_until

URL_ISS = "https://ehr-url.example.org"      # keys fetched from jwks_url
INLINE_ISS = "https://ehr-inline.example.org"  # inline jwks, tenants restricted
REFRESH_S = 2
TRIAGE = "/cds-services/knee-pain-triage"


@pytest.fixture(scope="module")
def keys():
    return {"rsa": KeyPair("rsa", "rsa-1"), "rsa2": KeyPair("rsa", "rsa-2"), "rsa3": KeyPair("rsa", "rsa-3"),
            "ec": KeyPair("ec", "ec-1")}


@pytest.fixture(scope="module")
def jwks(keys):
    server = JwksServer()
    server.keys = [keys["rsa"].jwk]
    yield server
    server.close()


@pytest.fixture(scope="module")
def server(service_server_factory, tmp_path_factory, keys, jwks):
    clients = [
        {"iss": URL_ISS, "jwks_url": jwks.url, "fhir_servers": ["https://ehr.example.org/fhir"]},
        {"iss": INLINE_ISS, "jwks": {"keys": [keys["ec"].jwk]}, "tenants": ["tenant-a"],
         "fhir_servers": ["https://other.example.org/r4/"]},
    ]
    path = tmp_path_factory.mktemp("auth") / "clients.json"
    path.write_text(json.dumps(clients))
    return service_server_factory({"KNEE_CDS_AUTH": "required", "KNEE_CDS_CLIENTS": str(path),
                                   "KNEE_CDS_JWKS_REFRESH_S": str(REFRESH_S),
                                   "KNEE_CDS_CORS_ORIGINS": "https://ehr.example.org"}, fake_domain=True)


def aud(server, path):
    return server.url(path)


def call(server, token, path=TRIAGE, body=None, method="POST"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "GET":
        return requests.get(server.url(path), headers=headers, timeout=10)
    return requests.post(server.url(path), json=body or hook_body("patient-view"), headers=headers, timeout=10)


def assert_401(resp):
    assert resp.status_code == 401, resp.text
    assert resp.content == b""


def test_good_token_on_discovery_service_and_feedback(server, keys):
    assert call(server, keys["rsa"].token(URL_ISS, aud(server, "/cds-services")), "/cds-services",
                method="GET").status_code == 200
    resp = call(server, keys["rsa"].token(URL_ISS, aud(server, TRIAGE)))
    assert resp.status_code == 200, resp.text
    card = resp.json()["cards"][0]
    # the audit row is written off the response path: wait (bounded) for it to land
    store = Store(server.database_url)
    audited = wait_until(lambda: next((r for r in store.audit_rows()
                                       if r["cards"] and r["cards"][0]["card_uuid"] == card["uuid"]), None))
    assert audited["client_iss"] == URL_ISS
    fb = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-03-02T10:00:00Z"}]}
    resp = call(server, keys["rsa"].token(URL_ISS, aud(server, TRIAGE + "/feedback")), TRIAGE + "/feedback", fb)
    assert resp.status_code == 200
    row = next(r for r in Store(server.database_url).feedback_rows() if r["card_uuid"] == card["uuid"])
    assert row["client_iss"] == URL_ISS and row["linked"]


def test_missing_or_malformed_authorization_is_401(server):
    assert_401(call(server, None))
    assert_401(call(server, None, "/cds-services", method="GET"))
    assert_401(requests.post(server.url(TRIAGE), json={}, headers={"Authorization": "Basic abc"}, timeout=10))
    assert_401(call(server, "not.a.jwt"))


def test_alg_none_is_refused(server, keys):
    now = int(time.time())
    claims = {"iss": URL_ISS, "aud": aud(server, TRIAGE), "iat": now, "exp": now + 300, "jti": "none-1", "sub": "x"}
    assert_401(call(server, unsigned_token(claims, "rsa-1")))


def test_hs256_with_public_key_as_secret_is_refused(server, keys):
    now = int(time.time())
    claims = {"iss": URL_ISS, "aud": aud(server, TRIAGE), "iat": now, "exp": now + 300, "jti": "hs-1", "sub": "x"}
    assert_401(call(server, hs256_token(claims, keys["rsa"].public_pem, "rsa-1")))


def test_wrong_aud_is_refused_and_aud_forms_are_accepted(server, keys):
    key = keys["rsa"]
    assert_401(call(server, key.token(URL_ISS, aud(server, "/cds-services"))))            # other endpoint
    assert_401(call(server, key.token(URL_ISS, "https://elsewhere.example" + TRIAGE)))
    assert_401(call(server, key.token(URL_ISS, aud(server, TRIAGE) + "/x")))
    assert call(server, key.token(URL_ISS, aud(server, TRIAGE) + "/")).status_code == 200   # trailing slash
    assert call(server, key.token(URL_ISS, ["other", aud(server, TRIAGE)])).status_code == 200


def test_expired_and_future_iat_are_refused(server, keys):
    now = int(time.time())
    key = keys["rsa"]
    assert_401(call(server, key.token(URL_ISS, aud(server, TRIAGE), iat=now - 1000, exp=now - 120)))
    assert_401(call(server, key.token(URL_ISS, aud(server, TRIAGE), iat=now + 600, exp=now + 900)))
    assert_401(call(server, key.token(URL_ISS, aud(server, TRIAGE), exp=None)))
    # inside the leeway is fine
    assert call(server, key.token(URL_ISS, aud(server, TRIAGE), iat=now + 20)).status_code == 200


def test_replayed_jti_is_refused(server, keys):
    token = keys["rsa"].token(URL_ISS, aud(server, TRIAGE), jti="replay-me")
    assert call(server, token).status_code == 200
    assert_401(call(server, token))
    assert_401(call(server, keys["rsa"].token(URL_ISS, aud(server, TRIAGE), jti=None)))


def test_unknown_iss_and_tenant(server, keys):
    assert_401(call(server, keys["rsa"].token("https://stranger.example", aud(server, TRIAGE))))
    ec = keys["ec"]
    body = hook_body("patient-view", fhirServer="https://other.example.org/r4")
    assert call(server, ec.token(INLINE_ISS, aud(server, TRIAGE), tenant="tenant-a"), body=body).status_code == 200
    assert_401(call(server, ec.token(INLINE_ISS, aud(server, TRIAGE), tenant="tenant-b"), body=body))
    assert_401(call(server, ec.token(INLINE_ISS, aud(server, TRIAGE)), body=body))
    # a key of another client does not sign for this one
    assert_401(call(server, keys["rsa"].token(INLINE_ISS, aud(server, TRIAGE), tenant="tenant-a"), body=body))


@pytest.mark.parametrize("fhir_server,status", [
    ("https://ehr.example.org/fhir", 200), ("https://ehr.example.org/fhir/", 200),
    ("https://other.example.org/r4", 403), ("https://ehr.example.org/fhir-evil", 403),
    ("https://ehr.example.org.evil.net/fhir", 403),
])
def test_fhir_server_must_belong_to_the_client(server, keys, fhir_server, status):
    body = hook_body("patient-view", fhirServer=fhir_server)
    resp = call(server, keys["rsa"].token(URL_ISS, aud(server, TRIAGE)), body=body)
    assert resp.status_code == status, resp.text
    if status == 403:
        assert resp.json()["resourceType"] == "OperationOutcome"


def test_unknown_kid_refetches_at_most_once_per_refresh_period(server, keys, jwks):
    # first use fetched the set already (earlier tests); rotate in a new key
    jwks.keys = [keys["rsa"].jwk, keys["rsa2"].jwk]
    time.sleep(REFRESH_S + 0.2)
    before = jwks.fetches
    assert call(server, keys["rsa2"].token(URL_ISS, aud(server, TRIAGE))).status_code == 200
    assert jwks.fetches == before + 1
    # another unknown kid inside the refresh period: no new fetch, refused
    jwks.keys.append(keys["rsa3"].jwk)
    assert_401(call(server, keys["rsa3"].token(URL_ISS, aud(server, TRIAGE))))
    assert_401(call(server, keys["rsa3"].token(URL_ISS, aud(server, TRIAGE))))
    assert jwks.fetches == before + 1
    time.sleep(REFRESH_S + 0.2)
    assert call(server, keys["rsa3"].token(URL_ISS, aud(server, TRIAGE))).status_code == 200
    assert jwks.fetches == before + 2


def test_failed_fetch_keeps_cached_keys(server, keys, jwks):
    time.sleep(REFRESH_S + 0.2)
    jwks.fail = True
    try:
        before = jwks.fetches
        assert_401(call(server, keys["rsa"].token(URL_ISS, aud(server, TRIAGE), kid="never-seen")))
        assert jwks.fetches == before + 1
        assert call(server, keys["rsa"].token(URL_ISS, aud(server, TRIAGE))).status_code == 200
    finally:
        jwks.fail = False


def test_preflight_needs_no_jwt_and_cors_follows_the_origin_list(server):
    headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    ok = requests.options(server.url(TRIAGE), headers={"Origin": "https://ehr.example.org", **headers}, timeout=10)
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
    assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
    other = requests.options(server.url(TRIAGE), headers={"Origin": "https://evil.example", **headers}, timeout=10)
    assert "Access-Control-Allow-Origin" not in other.headers
    denied = requests.get(server.url("/cds-services"), headers={"Origin": "https://ehr.example.org"}, timeout=10)
    assert denied.status_code == 401
    assert denied.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
