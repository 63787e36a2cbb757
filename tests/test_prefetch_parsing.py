"""gather_chart without network: prefetch values only (contract §2, issue 4 items 1-3)."""
from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from cds_hooks.domain import HookRequest
from cds_hooks.prefetch import FetchSettings, InvalidFhirServer, PatientUnavailable, gather_chart, render_query
from tests.support.vignettes import make_service

PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"}


def bundle(*resources, extra=()):
    return {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources] + list(extra)}


def obs(oid, **extra):
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": "x"}, **extra}


def full_prefetch(**overrides):
    service = make_service()
    values = {key: bundle() for key in service.prefetch}
    values["patient"] = PATIENT
    values.update(overrides)
    return values


def request(prefetch, fhir_server=None, hook="patient-view", context=None):
    return HookRequest(service=make_service(hook), hook=hook, hook_instance="hi-1",
                       context=context or {"patientId": "p1", "userId": "Practitioner/example"},
                       fhir_server=fhir_server, prefetch=prefetch)


SETTINGS = FetchSettings(timeout=0.3, backoff_s=0.01)


def test_all_prefetched_unwraps_bundles_and_needs_no_server():
    chart = gather_chart(request(full_prefetch(observations=bundle(obs("o1"), obs("o2")))), SETTINGS)
    assert chart.patient == PATIENT
    assert [o["id"] for o in chart.resources["observations"]] == ["o1", "o2"]
    assert chart.resources["conditions"] == []
    assert "patient" not in chart.resources
    assert chart.unreadable == [] and chart.skipped == []


def test_null_key_means_no_data():
    chart = gather_chart(request(full_prefetch(conditions=None)), SETTINGS)
    assert chart.resources["conditions"] == []
    assert chart.unreadable == []


def test_absent_key_without_fhir_server_is_unreadable():
    values = full_prefetch()
    del values["observations"]
    chart = gather_chart(request(values), SETTINGS)
    assert "observations" not in chart.resources
    [u] = chart.unreadable
    assert (u.key, u.resource_type, u.reason) == ("observations", "Observation", "not-prefetched-no-fhir-server")
    assert u.detail == "not prefetched and no fhirServer"


@pytest.mark.parametrize("value", [
    {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]},
    {"resourceType": "OperationOutcome", "issue": [{"severity": "information", "code": "informational"}]},
    bundle(extra=[{"resource": {"resourceType": "OperationOutcome",
                                "issue": [{"severity": "error", "code": "timeout"}]}}]),
])
def test_operation_outcome_value_counts_as_absent(value):
    chart = gather_chart(request(full_prefetch(conditions=value)), SETTINGS)
    assert "conditions" not in chart.resources
    assert [u.reason for u in chart.unreadable] == ["not-prefetched-no-fhir-server"]


def test_warning_outcome_entry_in_searchset_is_dropped_not_absent():
    warning = {"resource": {"resourceType": "OperationOutcome",
                            "issue": [{"severity": "warning", "code": "not-supported"}]},
               "search": {"mode": "outcome"}}
    chart = gather_chart(request(full_prefetch(observations=bundle(obs("o1"), extra=[warning]))), SETTINGS)
    assert [o["id"] for o in chart.resources["observations"]] == ["o1"]
    assert chart.unreadable == [] and chart.skipped == []


@pytest.mark.parametrize("patient", [None, {"resourceType": "OperationOutcome"},
                                     {"resourceType": "Observation", "id": "p1"}, "Patient/p1", []])
def test_patient_null_or_unreadable_raises(patient):
    with pytest.raises(PatientUnavailable, match="patient could not be read"):
        gather_chart(request(full_prefetch(patient=patient)), SETTINGS)


def test_patient_absent_without_server_raises():
    values = full_prefetch()
    del values["patient"]
    with pytest.raises(PatientUnavailable, match="no fhirServer"):
        gather_chart(request(values), SETTINGS)


def test_malformed_resources_are_skipped_and_reported():
    entries = bundle(obs("good"), "a string", {"id": "x"}, {"resourceType": "Condition", "id": "c"},
                     obs(42), {"resourceType": "Observation"}, obs("good2", unknownElement={"a": 1}))
    entries["entry"].append("not an entry")
    entries["entry"].append({"fullUrl": "no resource"})
    chart = gather_chart(request(full_prefetch(observations=entries)), SETTINGS)
    assert [o["id"] for o in chart.resources["observations"]] == ["good", "good2"]
    assert len(chart.skipped) == 7
    assert all(key == "observations" for key, _ in chart.skipped)
    assert any("Condition where Observation was expected" in text for _, text in chart.skipped)


def test_non_bundle_search_value_is_reported():
    chart = gather_chart(request(full_prefetch(conditions=[{"resourceType": "Condition", "id": "c"}])), SETTINGS)
    assert "conditions" not in chart.resources
    assert chart.skipped and chart.unreadable[0].key == "conditions"


def test_prefetched_bundle_with_next_link_and_no_server_keeps_what_was_read():
    paged = bundle(obs("o1"))
    paged["link"] = [{"relation": "next", "url": "http://ehr.example/fhir/Observation?page=2"}]
    chart = gather_chart(request(full_prefetch(observations=paged)), SETTINGS)
    assert [o["id"] for o in chart.resources["observations"]] == ["o1"]
    assert chart.unreadable[0].key == "observations"


def test_included_medication_kept_and_reference_resolved():
    med = {"resourceType": "Medication", "id": "m1", "code": {"text": "apixaban"}}
    rx = {"resourceType": "MedicationRequest", "id": "rx1", "status": "active",
          "medicationReference": {"reference": "Medication/m1"}}
    value = bundle(rx, extra=[{"resource": med, "search": {"mode": "include"}},
                              {"resource": PATIENT, "search": {"mode": "include"}}])
    chart = gather_chart(request(full_prefetch(medicationRequests=value)), SETTINGS)
    assert chart.resources["medicationRequests"] == [rx]
    assert chart.medications == {"Medication/m1": med}
    assert chart.unreadable == [] and chart.skipped == []


def test_contained_reference_left_to_domain_and_unresolvable_reported():
    contained = {"resourceType": "MedicationStatement", "id": "ms1", "status": "active",
                 "contained": [{"resourceType": "Medication", "id": "c1"}],
                 "medicationReference": {"reference": "#c1"}}
    missing = {"resourceType": "MedicationStatement", "id": "ms2", "status": "active",
               "medicationReference": {"reference": "Medication/gone"}}
    chart = gather_chart(request(full_prefetch(medicationStatements=bundle(contained, missing))), SETTINGS)
    assert chart.medications == {}
    [u] = chart.unreadable
    assert (u.key, u.resource_type, u.reference) == ("medication", "Medication", "MedicationStatement/ms2")
    assert u.reason == "not-prefetched-no-fhir-server"


def test_medication_found_in_another_prefetch_key():
    med = {"resourceType": "Medication", "id": "m9"}
    rx = {"resourceType": "MedicationRequest", "id": "rx9", "medicationReference": {"reference": "Medication/m9"}}
    values = full_prefetch(medicationRequests=bundle(rx), extraMeds=bundle(med))
    chart = gather_chart(request(values), SETTINGS)
    assert chart.medications == {"Medication/m9": med}


@pytest.mark.parametrize("server", ["file:///etc/passwd", "ftp://ehr.example/fhir", "javascript:alert(1)",
                                    "ehr.example/fhir", "http://user:pw@ehr.example/fhir", ""])
def test_fhir_server_must_be_http(server):
    with pytest.raises(InvalidFhirServer):
        gather_chart(request(full_prefetch(), fhir_server=server), SETTINGS)


def test_template_tokens_are_url_encoded_and_missing_ones_reported():
    q = render_query("observations", "Observation?patient={{context.patientId}}&_sort=-date",
                     request({}, context={"patientId": "p1&_count=1/.."}))
    assert q.relative_url == "Observation?patient=p1%26_count%3D1%2F..&_sort=-date"
    assert (q.resource_type, q.is_read) == ("Observation", False)
    read = render_query("encounter", "Encounter/{{context.encounterId}}", request({}))
    assert read.relative_url is None and "encounterId" in read.problem and read.is_read


def test_encounter_read_key_on_encounter_start():
    enc = {"resourceType": "Encounter", "id": "e1", "status": "in-progress"}
    values = full_prefetch(encounter=enc)
    chart = gather_chart(request(values, hook="encounter-start",
                                 context={"patientId": "p1", "encounterId": "e1"}), SETTINGS)
    assert chart.resources["encounter"] == [enc]


SPEC_EXAMPLE_PREFETCH = {
    # the CDS Hooks 2.0 spec's own example values (Patient "example" with its usual extras)
    "patient": {"resourceType": "Patient", "id": "1288992", "gender": "male", "birthDate": "1925-12-23",
                "name": [{"use": "official", "family": "Smith", "given": ["Peter", "James"]}],
                "text": {"status": "generated", "div": "<div>...</div>"}},
    "hemoglobin-a1c": {"resourceType": "Bundle", "type": "searchset", "entry": [{"fullUrl": "x"}]},
    "conditions": {"resourceType": "Bundle", "id": "example", "type": "searchset", "total": 1,
                   "link": [{"relation": "self", "url": "https://example.com/base/Condition"}],
                   "entry": [{"fullUrl": "https://example.com/base/Condition/x",
                              "resource": {"resourceType": "Condition", "id": "x",
                                           "code": {"coding": [{"system": "http://snomed.info/sct",
                                                                "code": "44054006"}]}}}]},
}


def test_spec_example_payload_does_not_crash():
    chart = gather_chart(request(SPEC_EXAMPLE_PREFETCH, context={"patientId": "1288992", "userId": "Practitioner/example"}),
                         SETTINGS)
    assert chart.patient["id"] == "1288992"
    assert [c["id"] for c in chart.resources["conditions"]] == ["x"]
    assert {u.key for u in chart.unreadable} == {"encounters", "observations", "medicationRequests",
                                                 "medicationStatements", "procedures", "serviceRequests"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["resourceType", "id", "entry", "resource", "link", "search", "mode", "relation", "url",
                         "medicationReference", "reference", "issue", "severity"]), children, max_size=4),
    max_leaves=12)
resource_types = st.sampled_from(["Bundle", "Observation", "OperationOutcome", "Medication", "MedicationRequest"])


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(list(make_service().prefetch)), json_values | st.builds(
    lambda t, rest: {**rest, "resourceType": t}, resource_types, st.dictionaries(st.text(max_size=3), json_values))))
def test_any_json_prefetch_never_crashes(values):
    values = copy.deepcopy(values)
    values.setdefault("patient", PATIENT)
    try:
        chart = gather_chart(request(values), SETTINGS)
    except PatientUnavailable:
        return
    assert set(chart.resources) | {u.key for u in chart.unreadable} >= set(make_service().prefetch) - {"patient"}
