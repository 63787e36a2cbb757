"""/healthz, /readyz and /metrics in process, through the real app factory and the real engine."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from cds_hooks.ops import ReadinessCheck
from service.config import ConfigError, load_settings
from service.readiness import domain_checks
from tests.support.fhir_stub import FhirStub
from tests.support.jwt_tools import KeyPair
from tests.support.protocol_requests import hook_body
from tests.support.vignettes import build_request, load_vignette, prepare, vignette_paths

TRIAGE = "/cds-services/knee-pain-triage"
TOKEN = "metrics-token-0123456789"


@pytest.fixture
def ops_app(make_app):
    """The app as `knee-cds serve` builds it when bound to ``bind``; its store at ``db`` when given."""
    def build(env=None, bind="127.0.0.1", db=None):
        return make_app({**({"KNEE_CDS_DATABASE_URL": db} if db else {}), **(env or {})}, BIND_HOST=bind)
    return build


def knee_chart_request():
    """A patient-view request from the first public vignette of that hook (a chart with knee pain)."""
    for path in vignette_paths():
        vignette = load_vignette(path)
        if vignette["hook"] == "patient-view":
            return build_request(prepare(vignette, datetime.now(timezone.utc), prefix="ops-"))
    pytest.skip("no patient-view vignette in ../shared/vignettes")


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


# ---------------------------------------------------------------------------------------- /healthz

def test_healthz_answers_without_a_jwt_when_auth_is_required(tmp_path, ops_app):
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps([{"iss": "https://ehr", "jwks": {"keys": [KeyPair("ec", "k").jwk]}}]))
    client = ops_app({"KNEE_CDS_AUTH": "required", "KNEE_CDS_CLIENTS": str(clients)}).test_client()
    assert client.get("/cds-services").status_code == 401
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "pass"}
    assert resp.headers["Cache-Control"] == "no-store"
    assert client.get("/readyz").status_code == 200


def test_healthz_does_not_depend_on_the_store(tmp_path, ops_app):
    client = ops_app(db=f"sqlite:///{tmp_path / 'missing-dir' / 'store.sqlite3'}").test_client()
    assert client.get("/healthz").status_code == 200


# ---------------------------------------------------------------------------------------- /readyz

def test_readyz_lists_its_checks_when_ready(ops_app):
    resp = ops_app().test_client().get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ready", "checks": ["store", "code-sets", "site-maps"]}


def test_readyz_names_the_unreachable_store_and_recovers_when_it_is_back(tmp_path, ops_app):
    folder = tmp_path / "not-yet"
    client = ops_app(db=f"sqlite:///{folder / 'store.sqlite3'}").test_client()
    resp = client.get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert [i["expression"] for i in body["issue"]] == [["store"]]
    diagnostics = body["issue"][0]["diagnostics"]
    assert diagnostics.startswith("store: ") and "not reachable" in diagnostics
    assert str(folder) not in resp.get_data(as_text=True)   # no configuration in the answer
    # advice does not wait for the store: the traffic gate can leave it out
    assert client.get("/readyz?exclude=store").status_code == 200
    folder.mkdir()
    assert client.get("/readyz").status_code == 200


def test_readyz_refuses_an_unknown_exclusion(ops_app):
    resp = ops_app().test_client().get("/readyz?exclude=everything")
    assert resp.status_code == 400
    assert resp.get_json()["issue"][0]["expression"] == ["exclude"]


def test_readyz_answers_in_bounded_time_when_a_check_hangs(ops_app):
    app = ops_app()
    ops = app.extensions["cds_hooks_ops"]
    ops.check_timeout_s = 0.2
    ops.checks.append(ReadinessCheck("slow", lambda: time.sleep(3)))
    started = time.monotonic()
    resp = app.test_client().get("/readyz")
    assert time.monotonic() - started < 2.0
    assert resp.status_code == 503
    assert resp.get_json()["issue"][0]["diagnostics"] == "slow: no answer within 0.2 s"


def test_a_check_that_raises_is_not_ready_and_not_a_500(ops_app):
    app = ops_app()
    app.extensions["cds_hooks_ops"].checks.append(ReadinessCheck("broken", lambda: 1 / 0))
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["issue"][0]["diagnostics"] == "broken: check failed"


def _settings(site_maps=""):
    return load_settings({"KNEE_CDS_AUTH": "off", "KNEE_CDS_SITE_MAPS": site_maps}, bind_host="127.0.0.1")


def test_domain_checks_report_code_sets_and_site_maps_not_loaded():
    empty = SimpleNamespace(set_names=frozenset(), orderable_ids=(), site_maps=())
    results = {c.name: c.probe() for c in domain_checks(empty, _settings("a.json,b.json"))}
    assert results == {"code-sets": "not loaded", "site-maps": "0 of 2 loaded"}


def test_domain_checks_pass_for_the_real_engine_with_a_site_map(ops_app):
    app = ops_app({"KNEE_CDS_SITE_MAPS": "st-example-hospital.json"})
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 200
    assert "st-example" not in resp.get_data(as_text=True)


# ---------------------------------------------------------------------------------------- /metrics

def test_metrics_on_by_default_on_loopback_in_prometheus_text_format(ops_app):
    resp = ops_app().test_client().get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    names = {f.name for f in text_string_to_metric_families(resp.get_data(as_text=True))}
    assert {"knee_cds_hook_calls", "knee_cds_hook_call_duration_seconds", "knee_cds_fhir_fetch_duration_seconds",
            "knee_cds_fhir_fetch_failures", "knee_cds_cards", "knee_cds_feedback_items", "knee_cds_store_errors",
            "knee_cds_audit_queue_depth"} <= names


def test_metrics_can_be_switched_off(ops_app):
    resp = ops_app({"KNEE_CDS_METRICS": "off"}).test_client().get("/metrics")
    assert resp.status_code == 404 and resp.get_json()["resourceType"] == "OperationOutcome"


def test_metrics_off_by_default_on_a_public_bind(ops_app):
    resp = ops_app({"KNEE_CDS_AUTH": "off"}, bind="0.0.0.0").test_client().get("/metrics")
    assert resp.status_code == 404


def test_metrics_on_a_public_bind_needs_a_token(ops_app):
    with pytest.raises(ConfigError, match="KNEE_CDS_METRICS_TOKEN"):
        ops_app({"KNEE_CDS_AUTH": "off", "KNEE_CDS_METRICS": "on"}, bind="0.0.0.0")


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_metrics_with_a_token_refuse_anything_else(header, ops_app):
    client = ops_app({"KNEE_CDS_AUTH": "off", "KNEE_CDS_METRICS": "on",
                                 "KNEE_CDS_METRICS_TOKEN": TOKEN}, bind="0.0.0.0").test_client()
    resp = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert resp.status_code == 401 and resp.data == b""


def test_metrics_token_from_a_file(tmp_path, ops_app):
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    client = ops_app({"KNEE_CDS_AUTH": "off", "KNEE_CDS_METRICS": "on",
                                 "KNEE_CDS_METRICS_TOKEN_FILE": str(secret)}, bind="0.0.0.0").test_client()
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_hook_calls_cards_and_latency_are_counted_by_service_status_and_tier(ops_app):
    client = ops_app().test_client()
    before = (sample("knee_cds_hook_calls_total", service="knee-pain-triage", status="200"),
              sample("knee_cds_hook_call_duration_seconds_count", service="knee-pain-triage"),
              sample("knee_cds_hook_calls_total", service="knee-pain-triage", status="400"))
    resp = client.post(TRIAGE, json=knee_chart_request())
    assert resp.status_code == 200
    tiers = [c["extension"]["example.knee-cds"]["tier"] for c in resp.get_json()["cards"]
             if "example.knee-cds" in c.get("extension", {})]
    assert tiers, "the real engine answers a knee chart with at least one tiered card"
    cards_before = {t: sample("knee_cds_cards_total", service="knee-pain-triage", tier=t) for t in set(tiers)}
    client.post(TRIAGE, json=knee_chart_request())
    client.post(TRIAGE, data="{", content_type="application/json")
    after = (sample("knee_cds_hook_calls_total", service="knee-pain-triage", status="200"),
             sample("knee_cds_hook_call_duration_seconds_count", service="knee-pain-triage"),
             sample("knee_cds_hook_calls_total", service="knee-pain-triage", status="400"))
    assert after[0] - before[0] == 2 and after[1] - before[1] == 3 and after[2] - before[2] == 1
    for tier in set(tiers):
        assert sample("knee_cds_cards_total", service="knee-pain-triage", tier=tier) - cards_before[tier] \
            == tiers.count(tier)


def test_unknown_service_ids_do_not_become_labels(ops_app):
    client = ops_app().test_client()
    name = f"made-up-{uuid.uuid4()}"
    before = sample("knee_cds_hook_calls_total", service="other", status="404")
    assert client.post(f"/cds-services/{name}", json=hook_body("patient-view")).status_code == 404
    assert sample("knee_cds_hook_calls_total", service="other", status="404") - before == 1
    assert name not in client.get("/metrics").get_data(as_text=True)


def test_feedback_outcomes_and_store_errors_are_counted(tmp_path, ops_app):
    client = ops_app().test_client()
    item = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z",
            "overrideReason": {"reason": {"code": "x", "system": "urn:x"}}}
    before = sample("knee_cds_feedback_items_total", service="knee-pain-triage", outcome="overridden")
    assert client.post(TRIAGE + "/feedback", json={"feedback": [item, item]}).status_code == 200
    assert sample("knee_cds_feedback_items_total", service="knee-pain-triage", outcome="overridden") - before == 2

    down = ops_app(db=f"sqlite:///{tmp_path / 'gone' / 'store.sqlite3'}").test_client()
    errors = sample("knee_cds_store_errors_total", operation="feedback")
    assert down.post(TRIAGE + "/feedback", json={"feedback": [item]}).status_code == 503
    assert sample("knee_cds_store_errors_total", operation="feedback") - errors >= 1


def test_fhir_fetch_latency_and_failures_by_resource_type(ops_app):
    client = ops_app().test_client()
    with FhirStub() as stub:
        stub.add_resource({"resourceType": "Patient", "id": "p1", "gender": "female"})
        for rtype in ("Encounter", "MedicationRequest", "MedicationStatement", "Procedure", "ServiceRequest"):
            stub.add_search(rtype, [])
        stub.route("/Observation", status=500)
        stub.route("/Condition", status=404)
        auth = {"access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read",
                "subject": "knee-cds"}
        body = hook_body("patient-view", fhirServer=stub.base, fhirAuthorization=auth)
        body["prefetch"] = {}
        reads = sample("knee_cds_fhir_fetch_duration_seconds_count", resource_type="Patient")
        failed = sample("knee_cds_fhir_fetch_failures_total", resource_type="Observation", reason="http-status")
        assert client.post(TRIAGE, json=body).status_code == 200
    assert sample("knee_cds_fhir_fetch_duration_seconds_count", resource_type="Patient") - reads == 1
    assert sample("knee_cds_fhir_fetch_failures_total", resource_type="Observation", reason="http-status") \
        - failed == 1


def test_the_stores_audit_counters_become_metrics(ops_app):
    app = ops_app()
    before = sample("knee_cds_audit_rows_total", result="written")
    assert app.test_client().post(TRIAGE, json=hook_body("patient-view")).status_code == 200
    assert app.extensions["cds_hooks"].store.flush(10)
    assert sample("knee_cds_audit_rows_total", result="written") - before == 1
    assert REGISTRY.get_sample_value("knee_cds_audit_queue_depth") == 0
