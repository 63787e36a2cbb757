"""JWT verification (KNEE_CDS_AUTH=required): the app in process (Flask's test client, so the audience
is the URL the client called, http://localhost/...) and a local JWKS server on 127.0.0.1."""
from __future__ import annotations

import json
import time

import pytest

from cds_hooks.store import Store
from tests.support.fake_domain import FakeDomain
from tests.support.jwt_tools import JwksServer, KeyPair, hs256_token, unsigned_token
from tests.support.protocol_requests import hook_body
from tests.support.store_faults import wait_until

URL_ISS = "https://ehr-url.example.org"      # keys fetched from jwks_url
INLINE_ISS = "https://ehr-inline.example.org"  # inline jwks, tenants restricted
REFRESH_S = 2
TRIAGE = "/cds-services/knee-pain-triage"
BASE_URL = "http://localhost"   # the test client's


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
def client(make_app, tmp_path_factory, keys, jwks):
    clients = [
        {"iss": URL_ISS, "jwks_url": jwks.url, "fhir_servers": ["https://ehr.example.org/fhir"]},
        {"iss": INLINE_ISS, "jwks": {"keys": [keys["ec"].jwk]}, "tenants": ["tenant-a"],
         "fhir_servers": ["https://other.example.org/r4/"]},
    ]
    path = tmp_path_factory.mktemp("auth") / "clients.json"
    path.write_text(json.dumps(clients))
    return make_app({"KNEE_CDS_AUTH": "required", "KNEE_CDS_CLIENTS": str(path),
                     "KNEE_CDS_JWKS_REFRESH_S": str(REFRESH_S),
                     "KNEE_CDS_CORS_ORIGINS": "https://ehr.example.org"}, domain=FakeDomain()).test_client()


def aud(path):
    return BASE_URL + path


def stored(client) -> Store:
    """The app's database through a store of its own: what was written, not what is cached."""
    return Store(client.application.extensions["cds_hooks"].store.url)


def call(client, token, path=TRIAGE, body=None, method="POST"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, json=body or hook_body("patient-view"), headers=headers)


def assert_401(resp):
    assert resp.status_code == 401, resp.text
    assert resp.data == b""


def test_good_token_on_discovery_service_and_feedback(client, keys):
    assert call(client, keys["rsa"].token(URL_ISS, aud("/cds-services")), "/cds-services",
                method="GET").status_code == 200
    resp = call(client, keys["rsa"].token(URL_ISS, aud(TRIAGE)))
    assert resp.status_code == 200, resp.text
    card = resp.json["cards"][0]
    # the audit row is written off the response path: wait (bounded) for it to land
    store = stored(client)
    audited = wait_until(lambda: next((r for r in store.audit_rows()
                                       if r["cards"] and r["cards"][0]["card_uuid"] == card["uuid"]), None))
    assert audited["client_iss"] == URL_ISS
    fb = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-03-02T10:00:00Z"}]}
    resp = call(client, keys["rsa"].token(URL_ISS, aud(TRIAGE + "/feedback")), TRIAGE + "/feedback", fb)
    assert resp.status_code == 200
    row = next(r for r in store.feedback_rows() if r["card_uuid"] == card["uuid"])
    assert row["client_iss"] == URL_ISS and row["linked"]


def test_missing_or_malformed_authorization_is_401(client):
    assert_401(call(client, None))
    assert_401(call(client, None, "/cds-services", method="GET"))
    assert_401(client.post(TRIAGE, json={}, headers={"Authorization": "Basic abc"}))
    assert_401(call(client, "not.a.jwt"))


def test_alg_none_is_refused(client, keys):
    now = int(time.time())
    claims = {"iss": URL_ISS, "aud": aud(TRIAGE), "iat": now, "exp": now + 300, "jti": "none-1", "sub": "x"}
    assert_401(call(client, unsigned_token(claims, "rsa-1")))


def test_hs256_with_public_key_as_secret_is_refused(client, keys):
    now = int(time.time())
    claims = {"iss": URL_ISS, "aud": aud(TRIAGE), "iat": now, "exp": now + 300, "jti": "hs-1", "sub": "x"}
    assert_401(call(client, hs256_token(claims, keys["rsa"].public_pem, "rsa-1")))


def test_wrong_aud_is_refused_and_aud_forms_are_accepted(client, keys):
    key = keys["rsa"]
    assert_401(call(client, key.token(URL_ISS, aud("/cds-services"))))            # other endpoint
    assert_401(call(client, key.token(URL_ISS, "https://elsewhere.example" + TRIAGE)))
    assert_401(call(client, key.token(URL_ISS, aud(TRIAGE) + "/x")))
    assert call(client, key.token(URL_ISS, aud(TRIAGE) + "/")).status_code == 200   # trailing slash
    assert call(client, key.token(URL_ISS, ["other", aud(TRIAGE)])).status_code == 200


def test_expired_and_future_iat_are_refused(client, keys):
    now = int(time.time())
    key = keys["rsa"]
    assert_401(call(client, key.token(URL_ISS, aud(TRIAGE), iat=now - 1000, exp=now - 120)))
    assert_401(call(client, key.token(URL_ISS, aud(TRIAGE), iat=now + 600, exp=now + 900)))
    assert_401(call(client, key.token(URL_ISS, aud(TRIAGE), exp=None)))
    # inside the leeway is fine
    assert call(client, key.token(URL_ISS, aud(TRIAGE), iat=now + 20)).status_code == 200


def test_replayed_jti_is_refused(client, keys):
    token = keys["rsa"].token(URL_ISS, aud(TRIAGE), jti="replay-me")
    assert call(client, token).status_code == 200
    assert_401(call(client, token))
    assert_401(call(client, keys["rsa"].token(URL_ISS, aud(TRIAGE), jti=None)))


def test_unknown_iss_and_tenant(client, keys):
    assert_401(call(client, keys["rsa"].token("https://stranger.example", aud(TRIAGE))))
    ec = keys["ec"]
    body = hook_body("patient-view", fhirServer="https://other.example.org/r4")
    assert call(client, ec.token(INLINE_ISS, aud(TRIAGE), tenant="tenant-a"), body=body).status_code == 200
    assert_401(call(client, ec.token(INLINE_ISS, aud(TRIAGE), tenant="tenant-b"), body=body))
    assert_401(call(client, ec.token(INLINE_ISS, aud(TRIAGE)), body=body))
    # a key of another client does not sign for this one
    assert_401(call(client, keys["rsa"].token(INLINE_ISS, aud(TRIAGE), tenant="tenant-a"), body=body))


@pytest.mark.parametrize("fhir_server,status", [
    ("https://ehr.example.org/fhir", 200), ("https://ehr.example.org/fhir/", 200),
    ("https://other.example.org/r4", 403), ("https://ehr.example.org/fhir-evil", 403),
    ("https://ehr.example.org.evil.net/fhir", 403),
])
def test_fhir_server_must_belong_to_the_client(client, keys, fhir_server, status):
    body = hook_body("patient-view", fhirServer=fhir_server)
    resp = call(client, keys["rsa"].token(URL_ISS, aud(TRIAGE)), body=body)
    assert resp.status_code == status, resp.text
    if status == 403:
        assert resp.json["resourceType"] == "OperationOutcome"


def test_unknown_kid_refetches_at_most_once_per_refresh_period(client, keys, jwks):
    # first use fetched the set already (earlier tests); rotate in a new key
    jwks.keys = [keys["rsa"].jwk, keys["rsa2"].jwk]
    time.sleep(REFRESH_S + 0.2)
    before = jwks.fetches
    assert call(client, keys["rsa2"].token(URL_ISS, aud(TRIAGE))).status_code == 200
    assert jwks.fetches == before + 1
    # another unknown kid inside the refresh period: no new fetch, refused
    jwks.keys.append(keys["rsa3"].jwk)
    assert_401(call(client, keys["rsa3"].token(URL_ISS, aud(TRIAGE))))
    assert_401(call(client, keys["rsa3"].token(URL_ISS, aud(TRIAGE))))
    assert jwks.fetches == before + 1
    time.sleep(REFRESH_S + 0.2)
    assert call(client, keys["rsa3"].token(URL_ISS, aud(TRIAGE))).status_code == 200
    assert jwks.fetches == before + 2


def test_failed_fetch_keeps_cached_keys(client, keys, jwks):
    time.sleep(REFRESH_S + 0.2)
    jwks.fail = True
    try:
        before = jwks.fetches
        assert_401(call(client, keys["rsa"].token(URL_ISS, aud(TRIAGE), kid="never-seen")))
        assert jwks.fetches == before + 1
        assert call(client, keys["rsa"].token(URL_ISS, aud(TRIAGE))).status_code == 200
    finally:
        jwks.fail = False


def test_preflight_needs_no_jwt_and_cors_follows_the_origin_list(client):
    headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    ok = client.options(TRIAGE, headers={"Origin": "https://ehr.example.org", **headers})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
    assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
    other = client.options(TRIAGE, headers={"Origin": "https://evil.example", **headers})
    assert "Access-Control-Allow-Origin" not in other.headers
    denied = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    assert denied.status_code == 401
    assert denied.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
