"""clinical-rules §1.1-§1.5, §1.7 on Observations: windows, times, status, latest wins, units, answers."""
from datetime import datetime, timezone

import pytest

from service.chart.dates import months_before, parse_time
from tests.support.chart_fixtures import LOINC, facts_of, ka_obs, obs, qty

TEMP, HR, SPO2, CRP, URATE = "8310-5", "8867-4", "59408-5", "1988-5", "3084-1"


# ---- windows (§1.4), inclusive at now - N, up to now + 5 min (§1.1 item 2) ------------------------

@pytest.mark.parametrize("code, inside, outside", [
    ("leg-swelling", "@now-72h", "@now-4321m"),                       # exam signs: 72 h
    ("alternative-diagnosis-as-likely", "@now-24h", "@now-1441m"),    # attestations: 24 h
    ("posterior-knee-pain", "@now-30d", "@now-43201m"),               # history: 30 days
])
def test_ka_window_boundaries(code, inside, outside):
    assert facts_of([ka_obs(code, inside)]).ka_true(code)
    assert code not in facts_of([ka_obs(code, outside)]).ka


def test_injury_window_42_days():
    mech = {"valueCodeableConcept": {"coding": [{"system": "http://knee-cds.example/fhir/CodeSystem/injury-mechanism",
                                                 "code": "twist"}]}}
    assert facts_of([ka_obs("injury-mechanism", "@now-42d", **mech)]).ka_value("injury-mechanism") == "twist"
    assert "injury-mechanism" not in facts_of([ka_obs("injury-mechanism", "@now-60481m", **mech)]).ka


def test_vital_24h_and_lab_windows():
    assert "heart_rate" in facts_of([obs(LOINC, HR, "@now-24h", **qty(90, "/min"))]).vitals
    assert "heart_rate" not in facts_of([obs(LOINC, HR, "@now-1441m", **qty(90, "/min"))]).vitals
    assert "crp" in facts_of([obs(LOINC, CRP, "@now-72h", **qty(30, "mg/L"))]).labs
    assert "crp" not in facts_of([obs(LOINC, CRP, "@now-4321m", **qty(30, "mg/L"))]).labs
    assert "urate" in facts_of([obs(LOINC, URATE, "@now-30d", **qty(400, "umol/L"))]).labs
    assert "urate" not in facts_of([obs(LOINC, URATE, "@now-31d", **qty(400, "umol/L"))]).labs


def test_future_within_5_minutes_is_used_later_is_ignored_and_flagged():
    assert facts_of([ka_obs("leg-swelling", "@now+5m")]).ka_true("leg-swelling")
    f = facts_of([ka_obs("leg-swelling", "@now+6m")])
    assert "leg-swelling" not in f.ka and any(q[0] == "future-date" for q in f.quality)


def test_months_are_calendar_months():
    assert months_before(datetime(2026, 3, 31, tzinfo=timezone.utc), 1) == datetime(2026, 2, 28, tzinfo=timezone.utc)
    assert months_before(datetime(2026, 3, 2, tzinfo=timezone.utc), 12) == datetime(2025, 3, 2, tzinfo=timezone.utc)


# ---- times (§1.1 item 3) -------------------------------------------------------------------------

def test_parse_partial_and_date_only():
    assert parse_time("2025") == (datetime(2025, 7, 1, tzinfo=timezone.utc), True)
    assert parse_time("2025-03") == (datetime(2025, 3, 15, tzinfo=timezone.utc), True)
    assert parse_time("2025-03-04") == (datetime(2025, 3, 4, tzinfo=timezone.utc), False)
    assert parse_time("2025-03-04T10:00:00+02:00")[0] == datetime(2025, 3, 4, 8, tzinfo=timezone.utc)
    assert parse_time("garbage") == (None, False) and parse_time(12) == (None, False)


def test_partial_date_flagged_and_used():
    f = facts_of([ka_obs("posterior-knee-pain", "2026-02")])   # -> 2026-02-15, inside 30 days of 2026-03-02
    r = f.ka["posterior-knee-pain"]
    assert r.value is True and "partial-date" in r.flags and any(q[0] == "partial-date" for q in f.quality)


def test_effective_period_end_then_issued():
    o = ka_obs("leg-swelling", None)
    o["effectivePeriod"] = {"start": "@now-5d", "end": "@now-1h"}
    assert facts_of([o]).ka_true("leg-swelling")
    o = ka_obs("leg-swelling", None)
    o["issued"] = "@now-2h"
    assert facts_of([o]).ka["leg-swelling"].winner.time is not None


def test_undated_risk_raising_used_reassuring_unknown():
    f = facts_of([ka_obs("deep-vein-tenderness", None, valueBoolean=True)])
    assert f.ka_true("deep-vein-tenderness") and "undated" in f.ka["deep-vein-tenderness"].flags
    f = facts_of([ka_obs("deep-vein-tenderness", None, valueBoolean=False)])
    assert f.ka_value("deep-vein-tenderness") is None and "undated" in f.ka["deep-vein-tenderness"].flags
    # for bear-weight-4-steps false is the risk value
    assert facts_of([ka_obs("bear-weight-4-steps", None, valueBoolean=False)]).ka_false("bear-weight-4-steps")


# ---- status filters (§1.2) -----------------------------------------------------------------------

@pytest.mark.parametrize("status, counted", [("final", True), ("amended", True), ("corrected", True),
                                             ("preliminary", True), ("registered", False), ("cancelled", False),
                                             ("entered-in-error", False), ("unknown", False)])
def test_observation_status(status, counted):
    f = facts_of([ka_obs("leg-swelling", status=status)])
    assert ("leg-swelling" in f.ka) is counted
    if status == "preliminary":
        assert "preliminary" in f.ka["leg-swelling"].flags and f.ka["leg-swelling"].winner.source.status == "preliminary"


# ---- latest wins, conflict, superseded (§1.3) ------------------------------------------------------

def test_latest_wins_and_superseded_within_24h():
    f = facts_of([ka_obs("leg-swelling", "@now-3h", id="a", valueBoolean=True),
                  ka_obs("leg-swelling", "@now-1h", id="b", valueBoolean=False)])
    r = f.ka["leg-swelling"]
    assert r.value is False and r.winner.source.ref == "Observation/b"
    assert [v.source.ref for v in r.superseded] == ["Observation/a"] and "superseded" in r.flags
    assert any(q[0] == "superseded" for q in f.quality)


def test_earlier_value_beyond_24h_not_superseded_and_same_value_not_superseded():
    r = facts_of([ka_obs("leg-swelling", "@now-26h", id="a", valueBoolean=True),
                  ka_obs("leg-swelling", "@now-1h", id="b", valueBoolean=False)]).ka["leg-swelling"]
    assert not r.superseded
    r = facts_of([ka_obs("leg-swelling", "@now-3h", id="a"), ka_obs("leg-swelling", "@now-1h", id="b")]).ka["leg-swelling"]
    assert not r.superseded


def test_issued_breaks_time_ties():
    a = ka_obs("leg-swelling", "@now-1h", id="a", valueBoolean=True, issued="@now-50m")
    b = ka_obs("leg-swelling", "@now-1h", id="b", valueBoolean=False, issued="@now-30m")
    assert facts_of([a, b]).ka["leg-swelling"].winner.source.ref == "Observation/b"


@pytest.mark.parametrize("code, values, winner", [
    ("leg-swelling", ({"valueBoolean": False}, {"valueBoolean": True}), True),
    ("bear-weight-4-steps", ({"valueBoolean": True}, {"valueBoolean": False}), False),
    ("calf-circumference-difference", (qty(2.0, "cm"), qty(3.1, "cm")), 3.1),
])
def test_same_time_conflict_takes_higher_risk(code, values, winner):
    f = facts_of([ka_obs(code, "@now-1h", id=f"x{i}", **v) for i, v in enumerate(values)])
    r = f.ka[code]
    got = r.value.value if hasattr(r.value, "value") else r.value
    assert got == winner and "conflict" in r.flags and len(r.conflicts) == 1 and len(r.sources) == 2
    assert any(q[0] == "conflict" for q in f.quality)


def test_vital_conflicts_hr_higher_spo2_lower():
    f = facts_of([obs(LOINC, HR, id="h1", **qty(80, "/min")), obs(LOINC, HR, id="h2", **qty(120, "/min")),
                  obs(LOINC, SPO2, id="s1", **qty(97, "%")), obs(LOINC, SPO2, id="s2", **qty(91, "%"))])
    assert f.vitals["heart_rate"].value.value == 120 and f.vitals["spo2"].value.value == 91


def test_symptom_onset_conflict_earlier_and_future_value_ignored():
    f = facts_of([ka_obs("symptom-onset", id="a", valueDateTime="@now-3d"),
                  ka_obs("symptom-onset", id="b", valueDateTime="@now-5d")])
    assert f.ka_value("symptom-onset") == datetime(2026, 2, 25, 10, tzinfo=timezone.utc)
    f = facts_of([ka_obs("symptom-onset", valueDateTime="@now+2d")])
    assert f.ka_value("symptom-onset") is None and any(q[0] == "future-date" for q in f.quality)


# ---- values (§1.7, §1.5, contract §3) --------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ({"valueBoolean": True}, True), ({"valueString": "YES"}, True), ({"valueString": " false "}, False),
    ({"valueString": "no"}, False), ({"valueString": "maybe"}, None), ({"valueInteger": 1}, None),
    ({"valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA33-6"}]}}, True),
    ({"valueCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0136", "code": "N"}]}}, False),
    ({"valueCodeableConcept": {"text": "yes"}}, None),
    ({"dataAbsentReason": {"coding": [{"code": "not-performed"}]}}, None),
])
def test_boolean_answers(value, expected):
    assert facts_of([ka_obs("leg-swelling", **value)]).ka_value("leg-swelling") is expected


def test_calf_mm_converted_and_stiffness_hours():
    f = facts_of([ka_obs("calf-circumference-difference", **qty(32, "mm")),
                  ka_obs("morning-stiffness", **qty(1.5, "h"))])
    assert f.ka_value("calf-circumference-difference").value == pytest.approx(3.2)
    assert f.ka_value("morning-stiffness").value == pytest.approx(90)


def test_calf_unknown_unit_is_unknown_and_flagged():
    f = facts_of([ka_obs("calf-circumference-difference", **qty(3, unit="inches"))])
    r = f.ka["calf-circumference-difference"]
    assert r.value is None and "unit" in r.flags and any(q[0] == "unit" for q in f.quality)


def test_temperature_degf_and_assumed():
    f = facts_of([obs(LOINC, TEMP, **qty(101.3, "[degF]"))])
    assert f.vitals["temperature"].value.value == pytest.approx(38.5) and "fever" in f.symptoms
    f = facts_of([obs(LOINC, TEMP, **qty(37.2))])
    assert "unit-assumed" in f.vitals["temperature"].flags and "fever" not in f.symptoms


def test_fever_threshold_38():
    assert "fever" in facts_of([obs(LOINC, TEMP, **qty(38.0, "Cel"))]).symptoms
    assert "fever" not in facts_of([obs(LOINC, TEMP, **qty(37.9, "Cel"))]).symptoms
    assert "fever" not in facts_of([obs(LOINC, TEMP, **qty(38.0, "Cel", comparator="<"))]).symptoms


def test_spo2_fraction():
    f = facts_of([obs(LOINC, SPO2, **qty(0.93, "1"))])
    assert f.vitals["spo2"].value.value == pytest.approx(93) and not f.vitals["spo2"].flags
    f = facts_of([obs(LOINC, SPO2, **qty(0.93, "%"))])
    assert "unit-assumed" in f.vitals["spo2"].flags


def test_comparator_kept_on_lab():
    f = facts_of([obs(LOINC, CRP, **qty(5, "mg/L", comparator="<"))])
    assert f.labs["crp"].value.comparator == "<"


def test_systolic_from_bp_panel_component():
    panel = obs(LOINC, "85354-9", component=[
        {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, **qty(88, "mm[Hg]")},
        {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, **qty(50, "mm[Hg]")}])
    f = facts_of([panel])
    assert f.vitals["sbp"].value.value == 88 and f.vitals["sbp"].winner.source.ref == "Observation/o1"


def test_side_and_results():
    side = lambda code: {"valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": code}]}}
    assert facts_of([ka_obs("symptom-side", **side("24028007"))]).ka_value("symptom-side") == "right"
    assert facts_of([ka_obs("symptom-side", **side("51440002"))]).ka_value("symptom-side") == "bilateral"
    res = {"valueCodeableConcept": {"coding": [{"system": "http://knee-cds.example/fhir/CodeSystem/result",
                                                "code": "fracture"}]}}
    f = facts_of([ka_obs("knee-radiograph-result", "@now-11w", **res)])
    assert f.ka_value("knee-radiograph-result") == "fracture" and [v.value for v in f.radiographs] == ["fracture"]


def test_ultrasounds_kept_90_days_latest_first():
    us = lambda code: {"valueCodeableConcept": {"coding": [{"system": "http://knee-cds.example/fhir/CodeSystem/result",
                                                           "code": code}]}}
    f = facts_of([ka_obs("venous-ultrasound-result", "@now-89d", id="u1", **us("dvt-seen")),
                  ka_obs("venous-ultrasound-result", "@now-2d", id="u2", **us("no-dvt-seen")),
                  ka_obs("venous-ultrasound-result", "@now-91d", id="u3", **us("dvt-seen"))])
    assert [v.source.ref for v in f.ultrasounds] == ["Observation/u2", "Observation/u1"]


def test_ddimer_kept_90_days_and_word_conflict():
    f = facts_of([obs(LOINC, "48065-7", "@now-89d", id="d1", **qty(0.4, "mg/L")),
                  obs(LOINC, "48065-7", "@now-91d", id="d2", **qty(0.4, "mg/L")),
                  obs(LOINC, "48065-7", "@now-1h", id="d3", **qty(300, unit="ng/mL DDU"))])
    assert [d.source.ref for d in f.ddimers] == ["Observation/d3", "Observation/d1"]
    assert "conflict" in f.ddimers[0].flags


def test_ddimer_coded_value_is_other_assay():
    f = facts_of([obs(LOINC, "48065-7", valueCodeableConcept={"coding": [{"code": "POS"}]})])
    assert f.ddimers[0].assay == "qualitative" and f.ddimers[0].quantity is None
