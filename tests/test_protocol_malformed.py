"""Malformed input battery: no input gives a 500; every rejection is a clear OperationOutcome (in
process, with the fake domain: the protocol layer alone decides these answers)."""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fake_domain import FakeDomain
from tests.support.protocol_requests import SERVICE_FOR_HOOK, hook_body

WRONG_VALUES = [None, 0, 1.5, True, "", "x" * 300, [], {}, ["a"], {"a": 1}]


@pytest.fixture(scope="module")
def client(make_app):
    return make_app(domain=FakeDomain()).test_client()


def send(client, raw: bytes, service="knee-pain-triage", content_type="application/json"):
    return client.post(f"/cds-services/{service}", data=raw, headers={"Content-Type": content_type})


def assert_clear_answer(resp):
    assert resp.status_code != 500, resp.text
    assert resp.status_code < 500
    assert "Traceback" not in resp.text
    if resp.status_code != 200:
        body = resp.json
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["diagnostics"]
    return resp


def mutations():
    """(hook, dotted path, value): each field of each hook set to each wrong type."""
    for hook in SERVICE_FOR_HOOK:
        base = hook_body(hook)
        paths = ["hook", "hookInstance", "fhirServer", "fhirAuthorization", "prefetch", "context",
                 "prefetch.patient", "prefetch.observations"]
        paths += [f"context.{k}" for k in base["context"]]
        for path in paths:
            for value in WRONG_VALUES:
                yield hook, path, value


def set_path(body, path, value):
    target = body
    *parents, last = path.split(".")
    for p in parents:
        target = target[p]
    target[last] = value


@pytest.mark.parametrize("hook", SERVICE_FOR_HOOK)
def test_every_field_with_every_wrong_type(client, hook):
    failures = []
    for h, path, value in mutations():
        if h != hook:
            continue
        body = copy.deepcopy(hook_body(hook))
        set_path(body, path, value)
        resp = send(client, json.dumps(body).encode(), SERVICE_FOR_HOOK[hook])
        assert_clear_answer(resp)
        if resp.status_code == 400:
            exprs = [e for i in resp.json["issue"] for e in i.get("expression", [])]
            top = path.split(".")[0]
            if not any(e.startswith(top) for e in exprs) and top != "hook":
                failures.append((path, value, exprs))
    assert not failures, failures[:5]


@pytest.mark.parametrize("raw", [
    b"", b"null", b"[]", b"123", b'"text"', b"true", b"{", b"{'a': 1}", b'{"a": NaN}',
    b"\xff\xfe\x00{", b'{"hook": "\xc3\x28"}', b'{"hook": "\\ud800"}', b"[" * 10000 + b"]" * 10000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000, b'{"n": ' + b"9" * 5000 + b"}", b"\x00\x00\x00",
    b'{"hook": "patient-view"}', json.dumps({"hook": "patient-view", "x": "y" * 3_000_000}).encode(),
])
def test_hostile_bodies(client, raw):
    resp = assert_clear_answer(send(client, raw))
    assert resp.status_code == 400


def test_deeply_nested_prefetch_is_refused(client):
    body = hook_body("patient-view")
    deep = {}
    node = deep
    for _ in range(200):
        node["a"] = {}
        node = node["a"]
    body["prefetch"]["observations"] = deep
    resp = assert_clear_answer(send(client, json.dumps(body).encode()))
    assert resp.status_code == 400


def test_huge_strings_in_context(client):
    body = hook_body("patient-view")
    body["context"]["patientId"] = "p" * 1_000_000
    assert assert_clear_answer(send(client, json.dumps(body).encode())).status_code == 400


def test_wrong_content_type_and_oversize(client):
    body = json.dumps(hook_body("patient-view")).encode()
    assert assert_clear_answer(send(client, body, content_type="text/html")).status_code == 415
    assert assert_clear_answer(send(client, b" " * (5 * 1024 * 1024 + 1))).status_code == 413


def test_malformed_feedback_battery(client):
    url = "/cds-services/knee-pain-triage/feedback"
    for raw in (b"", b"[]", b"{", b'{"feedback": {}}', b'{"feedback": [null]}', b'{"feedback": [1]}',
                b"[" * 10000, b'{"feedback": [{"card": "\\udfff"}]}', b"\xff"):
        resp = client.post(url, data=raw, headers={"Content-Type": "application/json"})
        assert_clear_answer(resp)
        assert resp.status_code == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(sorted({p for _, p, _ in mutations()})), value=json_values,
       hook=st.sampled_from(sorted(SERVICE_FOR_HOOK)))
def test_fuzzed_field_values_never_500(client, path, value, hook):
    body = hook_body(hook)
    try:
        set_path(body, path, value)
    except (KeyError, TypeError):
        return
    assert_clear_answer(send(client, json.dumps(body).encode(), SERVICE_FOR_HOOK[hook]))
