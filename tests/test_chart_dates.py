"""Every date the chart reads, in every precision; unreadable or future -> unknown with a line naming the
resource on every card (clinical-rules §1.1); birthDate of any JSON type through the HTTP service."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.support.chart_fixtures import ICD, KA, facts_of

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
PRECISIONS = {   # value -> the time the rules read (§1.1 item 3)
    "2026": None,                                   # 1 July 2026 is later than now: unknown
    "2025": datetime(2025, 7, 1, tzinfo=timezone.utc),
    "2026-02": datetime(2026, 2, 15, tzinfo=timezone.utc),
    "2026-03-01": datetime(2026, 3, 1, tzinfo=timezone.utc),
    "2026-03-01T08:00:00Z": datetime(2026, 3, 1, 8, tzinfo=timezone.utc),
    "2026-03-01T08:00Z": datetime(2026, 3, 1, 8, tzinfo=timezone.utc),
    "2026-03-01T08:00:00.5+02:00": datetime(2026, 3, 1, 6, 0, 0, 500000, tzinfo=timezone.utc),
    "2026-03-01T08:00:00": datetime(2026, 3, 1, 8, tzinfo=timezone.utc),
    "2026-04-01": None,                             # future
    "garbage": None, "": None, "2026-02-30": None,
}
BAD = ["garbage", 20260301, True, ["2026-03-01"], {"start": "2026-03-01"}, "2026-02-30", "2999-01-01"]


def condition(**dates):
    return {"resourceType": "Condition", "id": "c1", "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": ICD, "code": "I82.401"}]}, **dates}


def procedure(**dates):
    return {"resourceType": "Procedure", "id": "pr1", "status": "completed", "code": {"text": "x"}, **dates}


def observation(**dates):
    return {"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": KA, "code": "leg-swelling"}]}, "valueBoolean": True, **dates}


def medication_request(**dates):
    return {"resourceType": "MedicationRequest", "id": "m1", "status": "active",
            "medicationCodeableConcept": {"text": "x"}, **dates}


def medication_statement(**dates):
    return {"resourceType": "MedicationStatement", "id": "s1", "status": "active",
            "medicationCodeableConcept": {"text": "x"}, **dates}


def service_request(**dates):
    return {"resourceType": "ServiceRequest", "id": "sr1", "status": "active", "code": {"text": "x"}, **dates}


def encounter(**dates):
    return {"resourceType": "Encounter", "id": "e1", "status": "finished", **dates}


# (builder, element, where the read time lands)
FIELDS = [
    (condition, "onsetDateTime", lambda f: f.conditions[0].onset),
    (condition, "recordedDate", lambda f: f.conditions[0].recorded),
    (condition, "abatementDateTime", lambda f: f.conditions[0].abatement),
    (procedure, "performedDateTime", lambda f: f.procedures[0].time),
    (observation, "effectiveDateTime", lambda f: (f.ka["leg-swelling"].winner.time if "leg-swelling" in f.ka
                                                  and f.ka["leg-swelling"].winner else None)),
    (observation, "effectiveInstant", lambda f: (f.ka["leg-swelling"].winner.time if "leg-swelling" in f.ka
                                                 and f.ka["leg-swelling"].winner else None)),
    (observation, "issued", lambda f: (f.ka["leg-swelling"].winner.time if "leg-swelling" in f.ka
                                       and f.ka["leg-swelling"].winner else None)),
    (medication_request, "authoredOn", lambda f: f.medications[0].start),
    (medication_statement, "effectiveDateTime", lambda f: f.medications[0].start),
    (medication_statement, "dateAsserted", lambda f: f.medications[0].asserted),
    (service_request, "authoredOn", lambda f: f.orders[0].authored),
    (service_request, "occurrenceDateTime", lambda f: f.orders[0].occurrence),
]
PERIODS = [
    (condition, "onsetPeriod", "start", lambda f: f.conditions[0].onset),
    (condition, "abatementPeriod", "end", lambda f: f.conditions[0].abatement),
    (procedure, "performedPeriod", "end", lambda f: f.procedures[0].time),
    (observation, "effectivePeriod", "end", lambda f: (f.ka["leg-swelling"].winner.time if "leg-swelling" in f.ka
                                                       and f.ka["leg-swelling"].winner else None)),
    (medication_statement, "effectivePeriod", "start", lambda f: f.medications[0].start),
    (service_request, "occurrencePeriod", "start", lambda f: f.orders[0].occurrence),
    (encounter, "period", "start", lambda f: f.encounters[0].start),
]


def read(resource):
    return facts_of([resource], now=NOW)


def expected(build, value):
    """The time read; a ka: examination sign is read only within 72 h (§1.4), older ones are absent."""
    t = PRECISIONS[value]
    if build is observation and t is not None and (NOW - t).total_seconds() > 72 * 3600:
        return None
    return t


@pytest.mark.parametrize("build,element,got", FIELDS, ids=[f"{b.__name__}.{e}" for b, e, _ in FIELDS])
@pytest.mark.parametrize("value", list(PRECISIONS))
def test_every_date_element_in_every_precision(build, element, got, value):
    facts = read(build(**{element: value}))
    assert got(facts) == expected(build, value)


@pytest.mark.parametrize("build,element,part,got", PERIODS, ids=[f"{b.__name__}.{e}" for b, e, _, _ in PERIODS])
@pytest.mark.parametrize("value", list(PRECISIONS))
def test_every_period_in_every_precision(build, element, part, got, value):
    facts = read(build(**{element: {part: value}}))
    assert got(facts) == expected(build, value)


@pytest.mark.parametrize("build,element,got", FIELDS, ids=[f"{b.__name__}.{e}" for b, e, _ in FIELDS])
@pytest.mark.parametrize("value", BAD, ids=[repr(v)[:20] for v in BAD])
def test_unusable_date_is_unknown_and_named(build, element, got, value):
    resource = build(**{element: value})
    facts = read(resource)
    assert got(facts) is None
    ref = f"{resource['resourceType']}/{resource['id']}"
    lines = [line for _flag, line in facts.date_notes]
    word = {"onsetDateTime": "onset", "abatementDateTime": "abatement", "performedDateTime": "performed",
            "effectiveDateTime": "effective", "effectiveInstant": "effective", "occurrenceDateTime": "occurrence",
            }.get(element, element)
    assert any(line.startswith(f"{ref}: {word}") for line in lines), lines
    assert {flag for flag, _ in facts.date_notes} <= {"undated", "future-date"}


def test_undated_risk_raising_observation_is_still_used_but_the_bad_date_is_named():
    facts = read(observation(effectiveDateTime="not a date"))
    assert facts.ka["leg-swelling"].value is True and "undated" in facts.ka["leg-swelling"].flags
    assert any("Observation/o1" in line for _f, line in facts.date_notes)


def test_future_abatement_does_not_make_an_active_vte_history_recent_or_absent():
    facts = read(condition(onsetDateTime="2020-01-01", abatementDateTime="2999-01-01"))
    c = facts.conditions[0]
    assert c.abatement is None and c.active


@pytest.mark.parametrize("abatement", [{"abatementDateTime": "2999-01-01"}, {"abatementPeriod": {"end": "2027"}}])
def test_future_abatement_without_clinical_status_leaves_the_condition_active(abatement):
    resource = condition(onsetDateTime="2020-01-01", **abatement)
    del resource["clinicalStatus"]
    c = read(resource).conditions[0]
    assert c.active and not c.has_abatement and c.abatement is None


def test_partial_onset_is_flagged_partial_date():
    facts = read(condition(onsetDateTime="2025-11"))
    assert facts.conditions[0].onset == datetime(2025, 11, 15, tzinfo=timezone.utc)
    assert any(flag == "partial-date" and "Condition/c1" in text for flag, text in facts.quality)


# ---- through the HTTP service: birthDate of any JSON type, on all four hooks -------------------------

HOOK_SERVICES = {"patient-view": "knee-pain-triage", "encounter-start": "knee-pain-encounter-triage",
                 "order-select": "knee-order-advisor", "order-sign": "knee-order-check"}
BIRTH_DATES = [1974, 0, -1, 1.5, True, False, [], ["1974"], {}, {"value": "1974"}, "", "garbage", "1974",
               "1974-12", "1974-12-25", "1974-12-25T10:00:00Z", "2999-01-01", "0000", "1974-02-30", "\u0000",
               "9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00", "x" * 10000]


@pytest.mark.parametrize("hook", sorted(HOOK_SERVICES))
def test_http_birth_date_of_any_type_never_500(client, hook):
    from tests.support.protocol_requests import hook_body
    failures = []
    for birth in BIRTH_DATES:
        body = hook_body(hook)
        body["prefetch"]["patient"]["birthDate"] = birth
        body["prefetch"]["conditions"] = {"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                          "code": {"coding": [{"system": "http://snomed.info/sct", "code": "128053003"}]},
                          "onsetDateTime": birth}, "search": "match"}]}
        resp = client.post(f"/cds-services/{HOOK_SERVICES[hook]}", json=body)
        if resp.status_code != 200 or not isinstance(resp.json.get("cards"), list):
            failures.append((birth if not isinstance(birth, str) else birth[:20], resp.status_code, resp.text[:200]))
    assert not failures, failures


def test_http_card_names_the_patient_whose_birth_date_was_unusable(client):
    from tests.support.vignettes import build_request, load_vignette, make_now, prepare, VIGNETTE_DIR
    loaded = prepare(load_vignette(VIGNETTE_DIR / "V01.json"), make_now())
    for birth, flag, words in [("2999-01-01", "future-date", "later than now"),
                               (1974, "undated", "not a valid FHIR date"),
                               ("1900", "partial-date", "gives only the year")]:
        body = build_request(loaded)
        body["prefetch"]["patient"]["birthDate"] = birth
        pid = body["prefetch"]["patient"]["id"]
        resp = client.post("/cds-services/knee-pain-triage", json=body)
        assert resp.status_code == 200
        cards = resp.json["cards"]
        assert cards
        for card in cards:
            assert flag in card["extension"]["example.knee-cds"]["flags"]
            assert f"Patient/{pid}" in card["detail"] and words in card["detail"]


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_http_draft_order_dates_of_any_precision_or_type(client, hook):
    from tests.support.protocol_requests import hook_body
    from tests.support.vignettes import ORDERABLE_SYSTEM
    failures = []
    for value in ["2026", "2026-03", "2026-03-02", "2026-03-02T10:00Z", "2026-03-02T10:00:00+14:00", "garbage",
                  "", 20260302, True, ["2026-03-02"], {"start": "x"}, "9999-12-31T23:30:00-01:00"]:
        body = hook_body(hook)
        draft = body["context"]["draftOrders"]["entry"][0]["resource"]
        draft["code"] = {"coding": [{"system": ORDERABLE_SYSTEM, "code": "d-dimer"}]}
        draft["occurrenceDateTime"] = value
        draft["authoredOn"] = value
        body["context"]["draftOrders"]["entry"].append({"resource": {
            **draft, "id": "sr2", "occurrenceDateTime": None, "occurrencePeriod": {"start": value, "end": value}}})
        resp = client.post(f"/cds-services/{HOOK_SERVICES[hook]}", json=body)
        if resp.status_code != 200:
            failures.append((value, resp.status_code, resp.text[:200]))
    assert not failures, failures
