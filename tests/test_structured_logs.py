"""Structured logs: one JSON object per line, identifiers only, control characters escaped."""
from __future__ import annotations

import json
import logging
import sys
import uuid
from datetime import datetime, timezone

import pytest
import requests

from cds_hooks import jsonlog
from tests.support.vignettes import build_request, load_vignette, prepare, vignette_paths

PATIENT_PREFIX = "LEAKPT7731-"
TOKEN = "tok-LEAKCHECK-5e3f9a"
FREE_TEXT = "FREETEXT-MARKER-9931 patient says calf hurts since Tuesday"
COMMENT = "USERCOMMENT-MARKER-4410"
FORGED = '\n{"level":"info","event":"forged"}\x1b[31m\u2028'


def _record(msg="x %s", args=("y",), **extra):
    record = logging.LogRecord("knee_cds.test", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_every_record_is_one_json_line_with_control_characters_escaped():
    line = jsonlog.JsonFormatter().format(_record("client said %s", (FORGED,)))
    assert "\n" not in line and "\x1b" not in line and "\u2028" not in line
    data = json.loads(line)
    assert data["message"] == "client said " + FORGED
    assert {"time", "level", "service", "logger", "event"} <= data.keys() and data["service"] == "knee-cds"


def test_events_carry_their_fields_and_long_values_are_cut():
    logger = logging.getLogger("knee_cds.test-events")
    handler = logging.Handler()
    lines = []
    handler.emit = lambda record: lines.append(jsonlog.JsonFormatter().format(record))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        jsonlog.event(logger, logging.INFO, "hook.call", serviceId="s", hookInstance="h" * 10_000, status=200,
                      ruleIds=["A", "B"], tier=None)
    finally:
        logger.removeHandler(handler)
    data = json.loads(lines[0])
    assert data["event"] == "hook.call" and data["ruleIds"] == ["A", "B"] and "tier" not in data
    assert len(data["hookInstance"]) <= jsonlog.MAX_FIELD_CHARS + 3


def test_exceptions_are_logged_as_type_and_frames_without_their_message():
    try:
        raise ValueError(f"chart text {FREE_TEXT}")
    except ValueError:
        record = _record("failed", (), exc_info=sys.exc_info())
    data = json.loads(jsonlog.JsonFormatter().format(record))
    assert data["error"]["type"] == "ValueError" and data["error"]["frames"]
    assert FREE_TEXT not in json.dumps(data)


def test_text_format_escapes_control_characters_too():
    line = jsonlog.TextFormatter().format(_record("client said %s", (FORGED,)))
    assert "\n" not in line and "\x1b" not in line and "\\x0a" in line


def test_gunicorn_access_records_become_fields_without_query_or_agent():
    atoms = {"h": "127.0.0.1", "m": "POST", "U": "/cds-services/knee-pain-triage", "q": "secret=1",
             "s": "200", "D": "2500", "B": 12, "a": "agent"}
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(h)s", (atoms,), None)
    data = json.loads(jsonlog.JsonFormatter().format(record))
    assert data["event"] == "http.access" and data["status"] == 200 and data["durationMs"] == 2.5
    assert "secret" not in json.dumps(data) and "agent" not in json.dumps(data)


# ------------------------------------------------------------------ a real server, a real chart

def _knee_request():
    for path in vignette_paths():
        vignette = load_vignette(path)
        if vignette["hook"] == "patient-view":
            return build_request(prepare(vignette, datetime.now(timezone.utc), prefix=PATIENT_PREFIX))
    pytest.skip("no patient-view vignette in ../shared/vignettes")


def _with_free_text(body):
    patient_id = body["context"]["patientId"]
    condition = {"resourceType": "Condition", "id": "leak-c1", "subject": {"reference": f"Patient/{patient_id}"},
                 "code": {"text": FREE_TEXT}, "note": [{"text": FREE_TEXT}],
                 "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                "code": "active"}]}}
    bundle = body["prefetch"].get("conditions") or {"resourceType": "Bundle", "type": "searchset", "entry": []}
    bundle.setdefault("entry", []).append({"resource": condition})
    body["prefetch"]["conditions"] = bundle
    body["fhirServer"] = "http://127.0.0.1:9/fhir"
    body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                 "scope": "patient/*.read", "subject": "knee-cds"}
    return body


@pytest.fixture(scope="module")
def logged_calls(service_server_factory):
    server = service_server_factory({}, fake_domain=False)
    body = _with_free_text(_knee_request())
    resp = requests.post(server.url("/cds-services/knee-pain-triage"), json=body, timeout=30)
    assert resp.status_code == 200
    # a client-chosen string with line breaks and escape codes (answered or refused, never echoed raw)
    forged = dict(body, hookInstance=f"{uuid.uuid4()}{FORGED}")
    forged_resp = requests.post(server.url("/cds-services/knee-pain-triage"), json=forged, timeout=30)
    assert forged_resp.status_code in (200, 400)
    card = resp.json()["cards"][0]["uuid"]
    feedback = {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z",
                              "overrideReason": {"userComment": COMMENT}}]}
    assert requests.post(server.url("/cds-services/knee-pain-triage/feedback"), json=feedback,
                         timeout=30).status_code == 200
    requests.get(server.url("/readyz"), timeout=10)
    server.stop()  # flushes the log
    return body, resp.json(), server.log_text()


def test_a_real_server_writes_only_json_lines(logged_calls):
    _body, _resp, text = logged_calls
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines
    for line in lines:
        data = json.loads(line)
        assert isinstance(data, dict) and data["service"] == "knee-cds" and data["level"] and data["event"]


def test_the_hook_call_event_names_service_instance_status_duration_tier_and_rules(logged_calls):
    body, resp, text = logged_calls
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    calls = [e for e in events if e["event"] == "hook.call" and e.get("hookInstance") == body["hookInstance"]]
    assert len(calls) == 1
    call = calls[0]
    assert call["serviceId"] == "knee-pain-triage" and call["hook"] == "patient-view"
    assert call["status"] == 200 and call["durationMs"] > 0
    expected_rules = {r for c in resp["cards"] for r in c["extension"]["example.knee-cds"].get("rules", [])}
    assert call["tier"] == resp["cards"][0]["extension"]["example.knee-cds"]["tier"]
    assert set(call["ruleIds"]) == expected_rules and call["cards"] == len(resp["cards"])
    feedback = [e for e in events if e["event"] == "feedback.stored"]
    assert feedback and feedback[0]["outcomes"] == {"overridden": 1}


def test_no_patient_id_token_free_text_or_forged_line_reaches_the_log(logged_calls):
    body, _resp, text = logged_calls
    assert body["context"]["patientId"].startswith(PATIENT_PREFIX)
    for secret in (PATIENT_PREFIX, TOKEN, "FREETEXT-MARKER", COMMENT):
        assert secret not in text, secret
    assert '"event":"forged"' not in text and "\x1b" not in text and "\u2028" not in text
    forged = [json.loads(line) for line in text.splitlines() if "forged" in line]
    assert forged and all(e["event"] != "forged" for e in forged)


def test_an_event_is_one_line_under_any_formatter():
    record_lines = []
    logger = logging.getLogger("knee_cds.test-plain")
    handler = logging.Handler()
    handler.emit = lambda record: record_lines.append(logging.Formatter("%(message)s").format(record))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        jsonlog.event(logger, logging.INFO, "hook.call", hookInstance=f"x{FORGED}")
    finally:
        logger.removeHandler(handler)
    assert len(record_lines) == 1 and "\n" not in record_lines[0] and "\x1b" not in record_lines[0]
