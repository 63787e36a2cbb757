"""HTTP contract (contract §1, §2, §7, §8 CORS) with the fake domain: in process through Flask's test
client, and on a real server process for what only a socket shows (body size limits, chunked bodies)."""
from __future__ import annotations

import json
import socket

import pytest

from tests.support.fake_domain import FakeDomain
from tests.support.protocol_requests import hook_body

SERVICES = {
    "knee-pain-triage": "patient-view",
    "knee-pain-encounter-triage": "encounter-start",
    "knee-order-advisor": "order-select",
    "knee-order-check": "order-sign",
}
COMMON_KEYS = {"patient", "encounters", "conditions", "observations", "medicationRequests",
               "medicationStatements", "procedures", "serviceRequests"}


@pytest.fixture(scope="module")
def client(make_app):
    return make_app(domain=FakeDomain()).test_client()


@pytest.fixture(scope="module")
def server(fake_service_server):
    return fake_service_server


def post(client, path, body, **kw):
    return client.post(path, json=body, **kw)


def assert_outcome(resp, status, expression=None):
    assert resp.status_code == status, resp.text
    body = resp.json
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"] and all(i["severity"] == "error" and i["code"] for i in body["issue"])
    assert "Traceback" not in resp.text
    if expression:
        assert any(expression in i.get("expression", []) for i in body["issue"]), body
    return body


def assert_no_empty(value, path="$"):
    if isinstance(value, dict):
        for k, v in value.items():
            assert v not in (None, "", [], {}), f"{path}.{k} is empty"
            assert_no_empty(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            assert v not in (None, "", [], {}), f"{path}[{i}] is empty"
            assert_no_empty(v, f"{path}[{i}]")


def test_discovery_lists_the_four_services_with_contract_prefetch(client):
    resp = client.get("/cds-services")
    assert resp.status_code == 200
    services = {s["id"]: s for s in resp.json["services"]}
    assert {k: s["hook"] for k, s in services.items()} == SERVICES
    for sid, service in services.items():
        assert service["title"] and service["description"]
        expected = COMMON_KEYS | ({"encounter"} if service["hook"] == "encounter-start" else set())
        assert set(service["prefetch"]) == expected
        assert service["prefetch"]["observations"] == "Observation?patient={{context.patientId}}&_sort=-date"
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert services["knee-pain-encounter-triage"]["prefetch"]["encounter"] == "Encounter/{{context.encounterId}}"


@pytest.mark.parametrize("service_id,hook", SERVICES.items())
def test_each_service_answers_with_uuids_and_no_empty_fields(client, service_id, hook):
    resp = post(client, f"/cds-services/{service_id}", hook_body(hook))
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    cards = resp.json["cards"]
    assert len(cards) == 1
    assert cards[0]["uuid"] and cards[0]["suggestions"][0]["uuid"]
    assert "overrideReasons" not in cards[0] and "links" not in cards[0]
    assert_no_empty(cards)


def test_empty_cards_is_the_only_empty_field(client):
    resp = post(client, "/cds-services/knee-pain-triage", hook_body("patient-view", patient_id="no-cards"))
    assert resp.status_code == 200
    assert resp.json == {"cards": []}


def test_hook_mismatch_is_400_naming_hook(client):
    resp = post(client, "/cds-services/knee-pain-triage", hook_body("order-sign"))
    assert_outcome(resp, 400, "hook")


@pytest.mark.parametrize("field,hook", [("patientId", "patient-view"), ("userId", "order-sign"),
                                        ("encounterId", "encounter-start"), ("draftOrders", "order-sign"),
                                        ("selections", "order-select")])
def test_missing_context_field_is_400_naming_it(client, field, hook):
    body = hook_body(hook)
    del body["context"][field]
    sid = {v: k for k, v in SERVICES.items()}[hook]
    assert_outcome(post(client, f"/cds-services/{sid}", body), 400, f"context.{field}")


def test_fhir_authorization_without_fhir_server_is_400(client):
    body = hook_body("patient-view")
    body["fhirAuthorization"] = {"access_token": "t", "token_type": "Bearer", "expires_in": 300,
                                 "scope": "patient/*.read", "subject": "cds"}
    assert_outcome(post(client, "/cds-services/knee-pain-triage", body), 400, "fhirServer")


def test_unknown_service_and_path_are_404(client):
    assert_outcome(post(client, "/cds-services/nope", hook_body("patient-view")), 404)
    assert_outcome(client.get("/nothing-here"), 404)
    assert_outcome(post(client, "/cds-services/nope/feedback", {"feedback": []}), 404)


@pytest.mark.parametrize("method,path", [("PUT", "/cds-services"), ("POST", "/cds-services"),
                                         ("GET", "/cds-services/knee-pain-triage"),
                                         ("DELETE", "/cds-services/knee-pain-triage"),
                                         ("GET", "/cds-services/knee-pain-triage/feedback")])
def test_wrong_method_is_405(client, method, path):
    resp = client.open(path, method=method)
    assert_outcome(resp, 405)
    assert "Allow" in resp.headers


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "text/json"])
def test_non_json_content_type_is_415(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    resp = client.post("/cds-services/knee-pain-triage", data=json.dumps(hook_body("patient-view")), headers=headers)
    assert_outcome(resp, 415)


def test_fhir_json_content_type_is_accepted(client):
    resp = client.post("/cds-services/knee-pain-triage", data=json.dumps(hook_body("patient-view")),
                       headers={"Content-Type": "application/fhir+json; charset=utf-8"})
    assert resp.status_code == 200


def _raw_request(server, head: bytes, body_chunks) -> tuple[int, bytes]:
    """Send a request on a raw socket; the server may answer (and close) before the body is sent."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            # read until the whole response (Content-Length) is in, not until EOF: the server
            # may keep the socket open while it discards the unread rest of the body
            while not _complete(data) and (chunk := sock.recv(65536)):
                data += chunk
        except ConnectionResetError:
            pass
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def test_oversize_body_with_content_length_is_413_before_reading(server):
    size = 6 * 1024 * 1024
    head = (f"POST /cds-services/knee-pain-triage HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode()
    # only the headers and a first piece are sent: the answer must not wait for the rest
    status, body = _raw_request(server, head, [b"{" + b" " * 1000])
    assert status == 413
    assert json.loads(body)["resourceType"] == "OperationOutcome"


def test_oversize_chunked_body_is_413(server):
    head = (f"POST /cds-services/knee-pain-triage HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    piece = b" " * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(100)] + [b"0\r\n\r\n"]
    status, body = _raw_request(server, head, chunks)
    assert status == 413
    assert json.loads(body)["resourceType"] == "OperationOutcome"


def test_small_chunked_body_is_read(server):
    payload = json.dumps(hook_body("patient-view")).encode()
    head = (f"POST /cds-services/knee-pain-triage HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    status, _ = _raw_request(server, head, [b"%x\r\n%s\r\n" % (len(payload), payload), b"0\r\n\r\n"])
    assert status == 200


def test_patient_null_or_absent_without_fhir_server_is_412(client):
    body = hook_body("patient-view")
    body["prefetch"]["patient"] = None
    assert_outcome(post(client, "/cds-services/knee-pain-triage", body), 412)
    del body["prefetch"]["patient"]
    assert_outcome(post(client, "/cds-services/knee-pain-triage", body), 412)


def test_domain_failure_is_an_outcome_without_trace(client):
    resp = post(client, "/cds-services/knee-pain-triage", hook_body("patient-view", patient_id="boom"))
    body = assert_outcome(resp, 500)
    assert "must not leak" not in resp.text and "RuntimeError" not in resp.text
    assert body["issue"][0]["code"] == "exception"


def test_cors_preflight_and_response_headers(client):
    pre = client.options("/cds-services/knee-pain-triage", headers={
        "Origin": "https://ehr.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert pre.status_code in (200, 204)
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    resp = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    err = post(client, "/cds-services/knee-pain-triage", {"x": 1}, headers={"Origin": "https://a.example"})
    assert err.status_code == 400 and err.headers["Access-Control-Allow-Origin"] == "*"
