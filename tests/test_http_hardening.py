"""HTTP hardening under gunicorn (deploy/gunicorn.conf.py): every odd request gets an
OperationOutcome, slow clients cannot starve the workers, and fetch failures reveal nothing about
the network (contract §7; auth off, so the fhirServer is the caller's choice)."""
from __future__ import annotations

import http.server
import json
import socket
import threading
import time

import pytest
import requests

from cds_hooks.schemas import MAX_JSON_DEPTH, MAX_STRING_CHARS
from tests.support.protocol_requests import hook_body
from tests.support.service_server import free_port

TRIAGE = "/cds-services/knee-pain-triage"
BODY_TIMEOUT_S = 4


@pytest.fixture(scope="module")
def server(service_server_factory):
    # one worker: whatever it survives, more workers survive too
    return service_server_factory({"KNEE_CDS_AUTH": "off", "KNEE_CDS_WORKERS": "1", "KNEE_CDS_FHIR_TIMEOUT": "1",
                                   "KNEE_CDS_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S)},
                                  fake_domain=True, gunicorn=True)


def outcome(resp, status):
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/fhir+json"), resp.headers
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["diagnostics"]
    return body


def expressions(body):
    return [e for issue in body["issue"] for e in issue.get("expression", [])]


@pytest.mark.parametrize("fhir_server", ["http://127.0.0.1:99999/fhir", "http://127.0.0.1:abc/fhir",
                                         "http://[::1/fhir", "http://127.0.0.1 /fhir", "http://ehr/fhir\r\nX: y"])
def test_fhir_server_with_a_bad_host_or_port_is_400_naming_it(server, fhir_server):
    body = hook_body("patient-view", fhirServer=fhir_server)
    del body["prefetch"]["conditions"]  # something to fetch, were the URL accepted
    assert "fhirServer" in expressions(outcome(requests.post(server.url(TRIAGE), json=body, timeout=20), 400))


@pytest.mark.parametrize("token", ["€uro", "token😀", "a b", "t\r\nX-Injected: 1", "\x00"])
def test_access_token_that_cannot_travel_in_a_header_is_400_naming_it(server, token):
    body = hook_body("patient-view", fhirServer="http://127.0.0.1:1/fhir",
                     fhirAuthorization={"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                        "scope": "patient/*.read", "subject": "ehr"})
    resp = requests.post(server.url(TRIAGE), json=body, timeout=20)
    assert "fhirAuthorization.access_token" in expressions(outcome(resp, 400))


def test_double_slash_is_an_outcome_404_not_a_redirect(server):
    resp = requests.post(server.url("/cds-services//knee-pain-triage"), json=hook_body("patient-view"),
                         timeout=20, allow_redirects=False)
    outcome(resp, 404)


def test_request_line_over_the_limit_is_an_outcome_414(server):
    resp = requests.get(server.url("/cds-services/" + "a" * 9000), timeout=20)
    outcome(resp, 414)


def test_too_many_header_fields_is_an_outcome_431(server):
    headers = {f"X-Filler-{i}": "x" for i in range(120)}
    outcome(requests.get(server.url("/cds-services"), headers=headers, timeout=20), 431)


def test_malformed_http_is_an_outcome_400(server):
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"GET /cds-services HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n")
        answer = _read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"application/fhir+json" in head, answer[:300]
    assert json.loads(body)["resourceType"] == "OperationOutcome"


def test_unsupported_transfer_coding_is_an_outcome_400_not_501(server):
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"POST " + TRIAGE.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
        answer = _read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert json.loads(body)["resourceType"] == "OperationOutcome"


def test_expect_100_continue_gets_continue_before_the_body(server):
    body = json.dumps(hook_body("patient-view")).encode()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"POST " + TRIAGE.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]


def test_json_nested_deeper_than_the_limit_is_400_naming_it(server):
    raw = b'{"hook": ' + b"[" * (MAX_JSON_DEPTH + 5) + b"]" * (MAX_JSON_DEPTH + 5) + b"}"
    resp = requests.post(server.url(TRIAGE), data=raw, headers={"Content-Type": "application/json"}, timeout=20)
    assert str(MAX_JSON_DEPTH) in outcome(resp, 400)["issue"][0]["diagnostics"]


def test_string_longer_than_the_limit_is_400_naming_it(server):
    body = hook_body("patient-view")
    body["prefetch"]["patient"]["text"] = {"div": "x" * (MAX_STRING_CHARS + 1)}
    issue = outcome(requests.post(server.url(TRIAGE), json=body, timeout=20), 400)["issue"][0]
    assert str(MAX_STRING_CHARS) in issue["diagnostics"] and issue["expression"] == ["prefetch.patient.text.div"]


def test_number_overflowing_a_double_is_400(server):
    raw = json.dumps(hook_body("patient-view")).replace('"gender": "female"', '"gender": 1e999').encode()
    outcome(requests.post(server.url(TRIAGE), data=raw, headers={"Content-Type": "application/json"},
                          timeout=20), 400)


# --------------------------------------------------------------------------- slow clients

def _read_all(sock: socket.socket, limit: int = 65536) -> bytes:
    chunks = []
    try:
        while sum(map(len, chunks)) < limit:
            chunk = sock.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    except (socket.timeout, ConnectionResetError):
        pass
    return b"".join(chunks)


def test_slow_body_clients_leave_discovery_answering_and_are_cut_off(server):
    """40 connections trickling a body at 1 byte every 2 s: discovery keeps answering within a
    few seconds, and each slow request is answered 408 (or closed) once the body deadline passes."""
    slow = []
    try:
        for _ in range(40):
            sock = socket.create_connection((server.host, server.port), timeout=10)
            sock.sendall(b"POST " + TRIAGE.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 5000\r\n\r\n{")
            slow.append(sock)
        started = time.monotonic()
        waits = []
        while time.monotonic() - started < BODY_TIMEOUT_S + 4:
            for sock in slow:
                try:
                    sock.sendall(b" ")
                except OSError:
                    pass  # already answered and closed
            t0 = time.monotonic()
            resp = requests.get(server.url("/cds-services"), timeout=10)
            waits.append(time.monotonic() - t0)
            assert resp.status_code == 200
            time.sleep(2)
        assert max(waits) < 3, waits
        answers = []
        for sock in slow:
            sock.settimeout(5)
            answers.append(_read_all(sock))
        assert all(a == b"" or a.startswith(b"HTTP/1.1 408 ") for a in answers), {a[:40] for a in answers}
        assert any(a.startswith(b"HTTP/1.1 408 ") for a in answers)
    finally:
        for sock in slow:
            sock.close()


# --------------------------------------------------------------------------- no port-state oracle

class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802  http.server API
        self.send_response(404)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"nothing here")

    def log_message(self, *args):
        pass


@pytest.fixture
def network():
    """A closed port, a port that speaks something other than HTTP, and an HTTP server (404)."""
    http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    garbage = socket.socket()
    garbage.bind(("127.0.0.1", 0))
    garbage.listen(16)
    stop = threading.Event()

    def speak_garbage():
        garbage.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = garbage.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threads = [threading.Thread(target=http_server.serve_forever, daemon=True),
               threading.Thread(target=speak_garbage, daemon=True)]
    for t in threads:
        t.start()
    yield {"closed": free_port(), "not-http": garbage.getsockname()[1], "http-404": http_server.server_address[1]}
    stop.set()
    http_server.shutdown()
    http_server.server_close()
    garbage.close()
    for t in threads:
        t.join(timeout=5)


def test_fetch_failures_look_the_same_whatever_listens_on_the_port(server, network):
    """With auth off the caller picks fhirServer; the 412 must not say whether the port is closed,
    open, or an HTTP server: the details go to the log (escaped) only."""
    answers = {}
    for name, port in network.items():
        body = hook_body("patient-view", fhirServer=f"http://127.0.0.1:{port}/fhir")
        del body["prefetch"]["patient"]
        resp = requests.post(server.url(TRIAGE), json=body, timeout=30)
        answers[name] = (resp.status_code, resp.content)
    assert len(set(answers.values())) == 1, answers
    status, content = answers["closed"]
    assert status == 412 and b"FHIR server could not be read" in content
    assert "patient not read from fhirServer http://127.0.0.1:" in server.log_text()


# --------------------------------------------------------------------------- a locked store

def test_a_locked_sqlite_store_slows_neither_hook_calls_nor_other_requests(server):
    """The app runs in real threads, not on the event loop: while another process holds the
    SQLite write lock, hook calls answer at once and a feedback call waiting for the lock holds
    only its own thread (it ends 503, nothing stored)."""
    import sqlite3

    locker = sqlite3.connect(server.db_path, isolation_level=None, timeout=10)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        waiting = {}

        def send_feedback():
            item = {"card": "locked", "outcome": "overridden", "outcomeTimestamp": "2026-03-02T10:05:00Z"}
            waiting["status"] = requests.post(server.url(TRIAGE + "/feedback"), json={"feedback": [item]},
                                              timeout=60).status_code

        feedback = threading.Thread(target=send_feedback)
        feedback.start()
        time.sleep(0.3)
        for _ in range(3):
            t0 = time.monotonic()
            assert requests.post(server.url(TRIAGE), json=hook_body("patient-view"), timeout=30).status_code == 200
            assert requests.get(server.url("/cds-services"), timeout=30).status_code == 200
            assert time.monotonic() - t0 < 2
        feedback.join(timeout=60)
        assert waiting["status"] == 503
    finally:
        locker.close()


# --------------------------------------------------------------------------- auth on

@pytest.fixture(scope="module")
def auth_server(service_server_factory, tmp_path_factory):
    from tests.support.jwt_tools import KeyPair

    key = KeyPair("ec", "hardening-1")
    path = tmp_path_factory.mktemp("hardening") / "clients.json"
    path.write_text(json.dumps([{"iss": "https://ehr", "jwks": {"keys": [key.jwk]},
                                 "fhir_servers": ["https://ehr/fhir"]}]))
    return service_server_factory({"KNEE_CDS_CLIENTS": str(path), "KNEE_CDS_WORKERS": "1"},
                                  fake_domain=True, gunicorn=True)


@pytest.mark.parametrize("token", ["€".encode(), "😀".encode(), b"\xff\xfe", b"a\x01b"])
def test_authorization_header_outside_latin1_is_401_without_details(auth_server, token):
    with socket.create_connection((auth_server.host, auth_server.port), timeout=10) as sock:
        sock.sendall(b"GET /cds-services HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer "
                     + token + b"\r\n\r\n")
        answer = _read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    # 401 without details; or gunicorn's own 400 (an OperationOutcome) for a control character
    assert status in (b"401", b"400"), answer[:300]
    assert body == b"" if status == b"401" else json.loads(body)["resourceType"] == "OperationOutcome"
