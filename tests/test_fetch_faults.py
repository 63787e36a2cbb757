"""gather_chart against a misbehaving FHIR server (tests/support/fhir_stub.py): timeouts, errors, paging, references."""
from __future__ import annotations

import time

import pytest

from cds_hooks.domain import HookRequest
from cds_hooks.prefetch import FetchSettings, PatientUnavailable, gather_chart
from tests.support.fhir_stub import FhirStub, searchset
from tests.support.vignettes import make_service

# A healthy local answer takes milliseconds, but a busy CI machine can stall a thread for a good
# part of a second: healthy queries get a generous timeout, and the queries meant to time out are
# delayed far beyond it (SLOW_S), so that no outcome depends on the machine's speed.
SETTINGS = FetchSettings(timeout=1.0, max_pages=20, backoff_s=0.01)
SLOW_S = 5.0
PATIENT = {"resourceType": "Patient", "id": "p1"}
SEARCH_TYPES = {"encounters": "Encounter", "conditions": "Condition", "observations": "Observation",
                "medicationRequests": "MedicationRequest", "medicationStatements": "MedicationStatement",
                "procedures": "Procedure", "serviceRequests": "ServiceRequest"}


def obs(oid):
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": "x"}}


@pytest.fixture
def stub():
    with FhirStub() as server:
        server.add_resource(PATIENT)
        for rtype in SEARCH_TYPES.values():
            server.add_search(rtype, [])
        yield server


def call(base, prefetch=None, token="tok-123", settings=SETTINGS):
    return gather_chart(HookRequest(service=make_service(), hook="patient-view", hook_instance="h",
                                    context={"patientId": "p1", "userId": "Practitioner/example"},
                                    fhir_server=base, fhir_authorization={"access_token": token},
                                    prefetch=prefetch), settings)


def reasons(chart):
    return {u.key: (u.reason, u.detail) for u in chart.unreadable}


def test_everything_fetched_with_bearer_token_and_same_query(stub):
    stub.add_search("Observation", [obs("o1"), obs("o2")])
    chart = call(stub.base)
    assert chart.patient == PATIENT
    assert [o["id"] for o in chart.resources["observations"]] == ["o1", "o2"]
    assert set(chart.resources) == set(SEARCH_TYPES) and chart.unreadable == []
    observation_query = next(r for r in stub.requests if r.path == "/Observation")
    assert observation_query.query == {"patient": ["p1"], "_sort": ["-date"]}
    assert all(r.headers.get("Authorization") == "Bearer tok-123" for r in stub.requests)


def test_prefetched_keys_are_not_fetched(stub):
    chart = call(stub.base, prefetch={"patient": PATIENT, "conditions": None,
                                      "observations": searchset([obs("pre")])})
    assert stub.count("/Patient/p1") == 0 and stub.count("/Condition") == 0 and stub.count("/Observation") == 0
    assert chart.resources["observations"][0]["id"] == "pre"
    assert stub.count("/Procedure") == 1


def test_connection_refused():
    with FhirStub() as dead:
        base = dead.base
    with pytest.raises(PatientUnavailable, match="connection"):
        call(base)
    chart = call(base, prefetch={"patient": PATIENT})
    assert {u.reason for u in chart.unreadable} == {"connection-error"}
    assert set(reasons(chart)) == set(SEARCH_TYPES)


def test_slow_beyond_timeout_is_unreadable_and_bounded(stub):
    stub.route("/Observation", delay=SLOW_S)
    start = time.monotonic()
    chart = call(stub.base)
    assert time.monotonic() - start < SLOW_S - 1  # the slow query is abandoned at the timeout, not awaited
    assert reasons(chart)["observations"] == ("timeout", "timed out after 1 s")
    assert "observations" not in chart.resources and "conditions" in chart.resources


def test_slow_patient_is_412(stub):
    stub.route("/Patient/p1", delay=SLOW_S)
    with pytest.raises(PatientUnavailable, match="timed out"):
        call(stub.base)


@pytest.mark.parametrize("status", [500, 401, 403, 404])
def test_http_error_on_a_search(stub, status):
    stub.route("/Condition", status=status)
    chart = call(stub.base)
    assert reasons(chart)["conditions"] == ("http-status", f"HTTP {status}")
    assert "conditions" not in chart.resources


def test_500_is_retried_once_then_reported(stub):
    stub.route("/Condition", status=500)
    call(stub.base)
    assert stub.count("/Condition") == 2


def test_retry_on_5xx_then_success(stub):
    stub.add_search("Condition", [{"resourceType": "Condition", "id": "c1"}])
    stub.fail_first("/Condition", times=1, status=503)
    chart = call(stub.base)
    assert [c["id"] for c in chart.resources["conditions"]] == ["c1"]
    assert stub.count("/Condition") == 2 and chart.unreadable == []


def test_4xx_is_not_retried(stub):
    stub.route("/Condition", status=401)
    call(stub.base)
    assert stub.count("/Condition") == 1


def test_patient_404_and_401_are_412(stub):
    stub.route("/Patient/p1", status=404)
    with pytest.raises(PatientUnavailable):
        call(stub.base)
    stub.route("/Patient/p1", status=401)
    with pytest.raises(PatientUnavailable, match="HTTP 401"):
        call(stub.base)


def test_invalid_json(stub):
    stub.route("/Procedure", raw=b'{"resourceType": "Bundle", "entry": [')
    chart = call(stub.base)
    assert reasons(chart)["procedures"] == ("invalid-response", "invalid JSON")


@pytest.mark.parametrize("body", [{"resourceType": "Patient", "id": "p1"}, [], "text",
                                  {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}])
def test_response_not_a_bundle(stub, body):
    stub.route("/Procedure", body=body)
    chart = call(stub.base)
    assert reasons(chart)["procedures"][0] == "invalid-response"


def test_malformed_resource_among_good_ones(stub):
    stub.add_search("Observation", [obs("a"), {"resourceType": "Observation", "id": 7}, "junk", obs("b")])
    chart = call(stub.base)
    assert [o["id"] for o in chart.resources["observations"]] == ["a", "b"]
    assert len(chart.skipped) == 2 and chart.unreadable == []


def test_thirty_pages_read_in_full(stub):
    stub.add_search("Observation", [obs(f"o{i}") for i in range(30)], page_size=1)
    chart = call(stub.base, settings=FetchSettings(timeout=1.0, max_pages=30))
    assert [o["id"] for o in chart.resources["observations"]] == [f"o{i}" for i in range(30)]
    assert chart.unreadable == []


def test_page_cap_reported_not_silent(stub):
    stub.add_search("Observation", [obs(f"o{i}") for i in range(30)], page_size=1)
    chart = call(stub.base, settings=FetchSettings(timeout=1.0, max_pages=5))
    assert len(chart.resources["observations"]) == 5
    [u] = chart.unreadable
    assert (u.key, u.reason, u.truncated_pages) == ("observations", "page-cap", 5)
    assert "first 5 pages of Observation" in u.detail


def test_prefetched_bundle_next_link_followed_on_fhir_server(stub):
    stub.add_search("Observation", [obs("p2-a"), obs("p3-a")], page_size=1)
    first = searchset([obs("p1-a")], next_url=f"{stub.base}/Observation?_page=0")
    chart = call(stub.base, prefetch={"patient": PATIENT, "observations": first})
    assert [o["id"] for o in chart.resources["observations"]] == ["p1-a", "p2-a", "p3-a"]


def test_next_link_to_another_host_not_followed(stub):
    with FhirStub() as other:
        other.add_search("Observation", [obs("stolen")])
        first = searchset([obs("o1")], next_url=f"{other.base}/Observation")
        chart = call(stub.base, prefetch={"patient": PATIENT, "observations": first})
        assert other.requests == []
    assert reasons(chart)["observations"][0] == "forbidden-redirect"
    assert [o["id"] for o in chart.resources["observations"]] == ["o1"]


def test_cross_host_redirect_not_followed(stub):
    with FhirStub() as other:
        other.add_search("Condition", [{"resourceType": "Condition", "id": "elsewhere"}])
        stub.route("/Condition", status=302, headers={"Location": f"{other.base}/Condition"})
        chart = call(stub.base)
        assert other.requests == []  # the token never reaches the other host
    assert reasons(chart)["conditions"][0] == "forbidden-redirect"


def test_same_host_redirect_followed_once(stub):
    stub.add_search("Encounter", [{"resourceType": "Encounter", "id": "e1"}])
    stub.route("/Condition", status=307, headers={"Location": "/fhir/Encounter"})
    chart = call(stub.base)
    assert chart.resources["conditions"] == []  # the Encounter entries are not Conditions...
    assert len(chart.skipped) == 1                # ...and are reported, but the redirect was followed
    stub.route("/Encounter", status=307, headers={"Location": "/fhir/Condition"})
    chart = call(stub.base)
    assert reasons(chart)["conditions"] == ("forbidden-redirect", "more than one redirect")


@pytest.mark.parametrize("omit_length", [False, True])
def test_oversize_response(stub, omit_length):
    big = searchset([obs(f"o{i}" + "x" * 500) for i in range(400)])
    stub.add_search("Observation", big["entry"] and [e["resource"] for e in big["entry"]])
    stub.route("/Observation", omit_length=omit_length)
    chart = call(stub.base, settings=FetchSettings(timeout=2, max_response_bytes=50_000))
    assert reasons(chart)["observations"][0] == "too-large"


def test_page_failure_keeps_earlier_pages(stub):
    stub.add_search("Observation", [obs("a"), obs("b")], page_size=1)
    first = searchset([obs("a")], next_url=f"{stub.base}/Gone?_page=1")
    chart = call(stub.base, prefetch={"patient": PATIENT, "observations": first})
    assert [o["id"] for o in chart.resources["observations"]] == ["a"]
    assert reasons(chart)["observations"] == ("http-status", "page 2: HTTP 404")


# ---- medication references: contained / prefetched / fetched / unresolvable ----

def med_request(rid, ref):
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active",
            "medicationReference": {"reference": ref}}


def test_medication_references(stub):
    stub.add_search("MedicationRequest", [
        {**med_request("contained", "#m0"), "contained": [{"resourceType": "Medication", "id": "m0"}]},
        med_request("prefetched", "Medication/m1"),
        med_request("fetched", "Medication/m2"),
        med_request("fetched-too", f"{stub.base}/Medication/m2"),
        med_request("unresolvable", "Medication/m404"),
    ])
    stub.add_resource({"resourceType": "Medication", "id": "m2", "code": {"text": "warfarin"}})
    m1 = {"resourceType": "Medication", "id": "m1", "code": {"text": "apixaban"}}
    chart = call(stub.base, prefetch={"patient": PATIENT, "someMeds": searchset([m1])})
    assert set(chart.medications) == {"Medication/m1", "Medication/m2"}
    assert stub.count("/Medication/m1") == 0 and stub.count("/Medication/m2") == 1
    [u] = chart.unreadable
    assert (u.key, u.resource_type, u.reason, u.reference) == (
        "medication", "Medication", "http-status", "MedicationRequest/unresolvable")
    assert stub.requests[-1].headers.get("Authorization") == "Bearer tok-123"


def test_medication_read_timeout(stub):
    stub.add_search("MedicationStatement", [dict(med_request("ms1", "Medication/slow"),
                                                 resourceType="MedicationStatement")])
    stub.add_resource({"resourceType": "Medication", "id": "slow"}, delay=SLOW_S)
    chart = call(stub.base)
    [u] = chart.unreadable
    assert (u.reason, u.reference) == ("timeout", "MedicationStatement/ms1")


def test_calls_run_concurrently(stub):
    for path in ["/Patient/p1", *(f"/{t}" for t in SEARCH_TYPES.values())]:
        stub.route(path, delay=0.2)
    start = time.monotonic()
    chart = call(stub.base, settings=FetchSettings(timeout=1.0))
    elapsed = time.monotonic() - start
    assert chart.unreadable == []
    # in sequence they take at least 8 x 0.2 s; the 1.5 x slowest-query goal is bench/fetch_latency.py's
    assert elapsed < 8 * 0.2 / 2, f"8 queries of 0.2 s took {elapsed:.2f} s"


def test_relative_next_link_resolved_against_fhir_server(stub):
    stub.add_search("Observation", [obs("x0"), obs("x1")], page_size=1)
    first = searchset([obs("pre")], next_url="Observation?_page=1")
    chart = call(stub.base, prefetch={"patient": PATIENT, "observations": first})
    assert [o["id"] for o in chart.resources["observations"]] == ["pre", "x1"]
