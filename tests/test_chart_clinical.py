"""clinical-rules §1.2 Conditions, §1.6, §1.8–§1.13, §7.7 orders/reports, site maps on a chart."""
import pytest

from cds_hooks.domain import Unreadable
from service.terminology.site_maps import load_terminology
from tests.support.chart_fixtures import (ICD, LOINC, RXNORM, SNOMED, condition, facts_of, ka_obs, med_request, obs,
                                  procedure, qty)

RX = lambda code: {"coding": [{"system": RXNORM, "code": code}]}
MG = lambda v: {"value": v, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
ENOX_40, ENOX_ING, RIVA_15, APIX_25, WARFARIN_5, HEPARIN_5000 = "854235", "67108", "1232082", "1364435", "855332", "1659263"


def ac(*resources, **kw):
    return facts_of(list(resources), **kw).anticoagulation


# ---- patient (§1.6) ------------------------------------------------------------------------------

def test_age_completed_years_and_deceased():
    f = facts_of([], patient={"resourceType": "Patient", "id": "p", "birthDate": "1971-03-03"})
    assert f.age == 54                                    # turns 55 tomorrow
    f = facts_of([], patient={"resourceType": "Patient", "id": "p", "birthDate": "1971-03-02"})
    assert f.age == 55
    assert facts_of([], patient={"resourceType": "Patient", "id": "p", "deceasedBoolean": True}).deceased
    assert facts_of([], patient={"resourceType": "Patient", "id": "p", "deceasedDateTime": "@now-1d"}).deceased
    f = facts_of([], patient={"resourceType": "Patient", "id": "p"})
    assert f.age is None and f.adult


# ---- Conditions (§1.2) ----------------------------------------------------------------------------

@pytest.mark.parametrize("verification, counted", [("refuted", False), ("entered-in-error", False),
                                                   ("unconfirmed", True), ("provisional", True), (None, True)])
def test_condition_verification(verification, counted):
    f = facts_of([condition(ICD, "C50.912", verification=verification)])
    assert bool(f.conditions_in("active-cancer")) is counted


@pytest.mark.parametrize("clinical, abatement, active", [
    ("active", None, True), ("recurrence", None, True), ("relapse", None, True), ("resolved", None, False),
    ("inactive", None, False), (None, None, True), (None, {"abatementDateTime": "@now-1d"}, False),
    (None, {"abatementBoolean": True}, False)])
def test_condition_active(clinical, abatement, active):
    f = facts_of([condition(ICD, "C50.912", clinical=clinical, **(abatement or {}))])
    assert f.conditions[0].active is active


def test_condition_onset_age_and_recorded_fallback():
    c = condition(ICD, "C50.912", onset=None, onsetAge={"value": 50, "code": "a"})
    f = facts_of([c], patient={"resourceType": "Patient", "id": "p", "birthDate": "1970-01-01"})
    assert f.conditions[0].onset.year == 2020
    f = facts_of([condition(ICD, "C50.912", onset=None, recordedDate="@now-3d")])
    assert f.conditions[0].onset == f.conditions[0].recorded


# ---- symptoms (§1.8) and knee complaints (§2) -------------------------------------------------------

def test_symptom_condition_within_7_days_any_status():
    assert "syncope" in facts_of([condition(ICD, "R55", onset="@now-7d", clinical="resolved")]).symptoms
    assert "syncope" not in facts_of([condition(ICD, "R55", onset="@now-8d", clinical="active")]).symptoms
    f = facts_of([condition(ICD, "R55", onset=None, clinical="active")])
    assert "syncope" in f.symptoms and any(q[0] == "undated" for q in f.quality)


def test_symptom_observation_values():
    assert "dyspnoea" in facts_of([obs(SNOMED, "267036007")]).symptoms               # no value = present
    assert "dyspnoea" not in facts_of([obs(SNOMED, "267036007", valueBoolean=False)]).symptoms
    no = {"coding": [{"system": LOINC, "code": "LA32-8"}]}
    assert "dyspnoea" not in facts_of([obs(SNOMED, "267036007", valueCodeableConcept=no)]).symptoms
    assert "dyspnoea" not in facts_of([obs(SNOMED, "267036007", "@now-8d")]).symptoms


def test_symptom_from_current_encounter_reason():
    enc = {"resourceType": "Encounter", "id": "e1", "status": "in-progress", "period": {"start": "@now-1h"},
           "reasonCode": [{"coding": [{"system": SNOMED, "code": "29857009"}]}]}
    assert facts_of([enc]).symptoms["chest-pain"][0].ref == "Encounter/e1"


def test_knee_complaints_t3_t4_windows():
    f = facts_of([condition(ICD, "M25.561", onset="@now-30d")])
    assert [(k, s) for k, s, _ in f.knee_complaints] == [("T4", "knee-pain")]
    assert not facts_of([condition(ICD, "M25.561", onset="@now-31d")]).knee_complaints
    assert facts_of([condition(ICD, "S83.241A", onset="@now-42d")]).knee_complaints
    assert not facts_of([condition(ICD, "S83.241A", onset="@now-43d")]).knee_complaints
    assert not facts_of([condition(ICD, "M25.561", onset="@now-2d", clinical="resolved")]).knee_complaints
    enc = {"resourceType": "Encounter", "id": "e1", "status": "finished", "period": {"start": "@now-29d", "end": "@now-29d"},
           "reasonReference": [{"reference": "Condition/c9"}]}
    old = condition(ICD, "M25.561", id="c9", onset="@now-200d")
    assert ("T3", "knee-pain") in [(k, s) for k, s, _ in facts_of([enc, old]).knee_complaints]


# ---- pregnancy (§1.9) ----------------------------------------------------------------------------

STATUS = lambda code, when="@now-1h", id="ps": obs(LOINC, "82810-3", when, id=id,
                                                   valueCodeableConcept={"coding": [{"system": LOINC, "code": code}]})
FEMALE = {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1996-01-01"}


def preg(*resources, patient=FEMALE):
    return facts_of(list(resources), patient=patient).pregnancy


def test_pregnancy_states():
    assert preg(STATUS("LA15173-0")).state == "pregnant"
    assert preg(STATUS("LA26683-5")).state == "not-pregnant"
    assert preg().state == "unknown"
    assert preg(STATUS("LA15173-0", "@now-295d")).state == "unknown"              # 294-day window
    assert preg(STATUS("LA15173-0", "@now-294d")).state == "pregnant"
    # later "not pregnant" evidence wins; later pregnancy evidence wins over not pregnant
    assert preg(STATUS("LA15173-0", "@now-10d", "a"), STATUS("LA26683-5", "@now-1d", "b")).state == "not-pregnant"
    assert preg(STATUS("LA26683-5", "@now-10d", "a"), STATUS("LA15173-0", "@now-1d", "b")).state == "pregnant"


def test_pregnancy_condition_stale_and_abated_postpartum():
    p = preg(condition(ICD, "Z34.00", onset="@now-300d"))
    assert p.state == "unknown" and "stale-condition" in p.flags
    p = preg(condition(ICD, "Z34.00", onset="@now-200d", clinical="resolved", abatementDateTime="@now-10d"))
    assert p.state == "postpartum"
    p = preg(condition(ICD, "Z34.00", onset="@now-200d", abatementDateTime="@now-43d", clinical="resolved"))
    assert p.state == "unknown"


def test_delivery_procedure_postpartum_42_days():
    p = preg(condition(ICD, "Z34.00", onset="@now-250d"), procedure(SNOMED, "11466000", "d1", "@now-42d"))
    assert p.state == "postpartum"
    p = preg(procedure(SNOMED, "11466000", "d1", "@now-43d"))
    assert p.state == "unknown"


def test_pregnancy_age_rule_and_male_conflict():
    assert preg(patient={"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1960-01-01"}).state == "not-pregnant"
    p = preg(STATUS("LA15173-0"), patient={"resourceType": "Patient", "id": "p", "gender": "male", "birthDate": "1990-01-01"})
    assert p.state == "pregnant" and "conflict" in p.flags


def test_gestational_age_sources():
    ga = obs(LOINC, "11884-4", "@now-7d", id="ga", **qty(12, "wk"))
    p = preg(STATUS("LA15173-0", "@now-8d"), ga)
    assert p.gestational_age_days == pytest.approx(91)
    edd = obs(LOINC, "11778-8", "@now-1h", id="edd", valueDateTime="@now+140d")
    p = preg(STATUS("LA15173-0"), edd)
    assert p.gestational_age_days == pytest.approx(140) and p.gestational_age_source.ref == "Observation/edd"


def test_positive_pregnancy_test():
    test = obs(LOINC, "2106-3", interpretation=[{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "POS"}]}])
    assert preg(test).state == "pregnant"


# ---- anticoagulant intensity (terminology §4.1) and state (§1.10) ------------------------------------

def test_enoxaparin_40_once_daily_prophylactic():
    a = ac(med_request(ENOX_40, dose=MG(40), per=(1, 1, "d")))
    assert a.state == "prophylactic" and "prophylactic-anticoagulation" in a.flags


def test_enoxaparin_by_volume_and_twice_daily():
    ml = {"value": 0.4, "unit": "mL"}
    assert ac(med_request(ENOX_40, dose=ml, per=(1, 1, "d"))).state == "prophylactic"
    assert ac(med_request(ENOX_40, dose=MG(40), per=(2, 1, "d"))).state == "current"
    assert ac(med_request(ENOX_40, dose=MG(30), per=(2, 1, "d"))).state == "prophylactic"
    assert ac(med_request(ENOX_ING, dose={"value": 1, "unit": "mg/kg"}, per=(2, 1, "d"))).state == "current"


def test_rivaroxaban_15_therapeutic_by_product_and_dose():
    assert ac(med_request(RIVA_15)).state == "current"
    assert ac(med_request(RIVA_15, dose=MG(15), per=(2, 1, "d"))).state == "current"


def test_warfarin_always_therapeutic():
    assert ac(med_request(WARFARIN_5, dose=MG(1), per=(1, 1, "d"))).state == "current"


def test_heparin_5000_tds_prophylactic_iv_therapeutic():
    iu = {"value": 5000, "unit": "[iU]", "system": "http://unitsofmeasure.org", "code": "[iU]"}
    assert ac(med_request(HEPARIN_5000, dose=iu, per=(3, 1, "d"))).state == "prophylactic"
    m = med_request(HEPARIN_5000, dose=iu, per=(3, 1, "d"))
    m["dosageInstruction"][0]["route"] = {"text": "Intravenous"}
    assert ac(m).state == "current"


def test_apixaban_2_5_bd_rule():
    assert ac(med_request(APIX_25, dose=MG(2.5), per=(2, 1, "d"))).state == "current"
    tkr = procedure(SNOMED, "609588000", "tkr", "@now-20d")
    assert ac(med_request(APIX_25, dose=MG(2.5), per=(2, 1, "d")), tkr).state == "prophylactic"
    reason = {"reasonCode": [{"text": "VTE prophylaxis"}]}
    assert ac(med_request(APIX_25, dose=MG(2.5), per=(2, 1, "d"), **reason)).state == "prophylactic"


def test_dose_dependent_without_dose_is_unknown_intensity_current():
    a = ac(med_request(ENOX_ING))
    assert a.state == "current" and a.unknown_intensity and "anticoagulant-undetermined-intensity" in a.flags


def test_pre_existing_vs_interim():
    onset = ka_obs("symptom-onset", valueDateTime="@now-3d")
    assert ac(med_request(RIVA_15, authored="@now-10d"), onset).pre_existing is True
    assert ac(med_request(RIVA_15, authored="@now-1d"), onset).pre_existing is False
    assert ac(med_request(RIVA_15, authored="@now-15d")).pre_existing is True       # onset unknown: > 14 days
    assert ac(med_request(RIVA_15, authored="@now-13d")).pre_existing is False


def test_statement_asserted_more_than_6_months_is_uncertain():
    ms = {"resourceType": "MedicationStatement", "id": "s1", "status": "active", "medicationCodeableConcept": RX(RIVA_15),
          "dateAsserted": "@now-27w"}
    a = ac(ms)
    assert a.state == "uncertain" and "anticoagulation-uncertain" in a.flags
    ms["dateAsserted"] = "@now-20w"
    assert ac(ms).state == "current"


def test_uncertain_from_long_term_use_unresolved_and_unreadable():
    assert ac(condition(ICD, "Z79.01", onset="@now-2y")).state == "uncertain"
    unresolved = med_request(None, medicationReference={"reference": "Medication/missing"})
    f = facts_of([unresolved])
    assert f.anticoagulation.state == "uncertain" and f.unresolved_medications
    assert any(q[0] == "medication-unresolved" for q in f.quality)
    assert f.medication_use_unknown == {"antineoplastic-therapy", "oestrogen-therapy", "serm", "testosterone",
                                        "gout-medication"}
    gone = Unreadable("medicationRequests", "MedicationRequest", "timeout")
    f = facts_of([], unreadable=[gone])
    assert f.anticoagulation.state == "uncertain" and "MedicationRequest" in f.unreadable_types


def test_inactive_statuses_ignored():
    assert ac(med_request(RIVA_15, status="stopped")).state == "none"
    assert ac(med_request(RIVA_15, status="on-hold")).state == "current"


# ---- medication references (§1.12) ----------------------------------------------------------------

def test_contained_and_prefetched_medication():
    contained = med_request(None, medicationReference={"reference": "#m"},
                            contained=[{"resourceType": "Medication", "id": "m", "code": RX(RIVA_15)}])
    assert ac(contained).state == "current"
    med = {"resourceType": "Medication", "id": "apx", "code": {"text": "Eliquis"},
           "ingredient": [{"itemCodeableConcept": RX("1364430")}]}
    f = facts_of([med_request(None, medicationReference={"reference": "Medication/apx"}), med])
    assert f.anticoagulation.state == "current" and f.anticoagulation.unknown_intensity
    no_code = {"resourceType": "Medication", "id": "nc"}
    f = facts_of([med_request(None, medicationReference={"reference": "Medication/nc"}), no_code])
    assert not f.medications[0].resolved and f.medications[0].display.startswith("unknown medication")


def test_oestrogen_use_from_medication_and_long_term_condition():
    f = facts_of([med_request("4083")])
    assert "oestrogen-therapy" in f.medication_use
    f = facts_of([condition(ICD, "Z79.3", onset="@now-3y")])
    assert f.medication_use.get("oestrogen-therapy")


# ---- setting (§1.11) ------------------------------------------------------------------------------

ANAES = "112943005"   # a set:anaesthesia-general-or-regional SNOMED code


def test_current_encounter_and_inpatient():
    enc = {"resourceType": "Encounter", "id": "e1", "status": "in-progress", "period": {"start": "@now-2d"},
           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"}}
    f = facts_of([enc])
    assert f.setting.current_encounter.source.ref == "Encounter/e1" and f.setting.inpatient
    assert f.setting.imaging_first and "inpatient" in f.setting.imaging_first_reason
    enc2 = dict(enc, status="finished", period={"start": "@now-5d", "end": "@now-3d"})
    assert facts_of([enc2]).setting.current_encounter is None
    # context encounterId wins over status
    f = facts_of([enc2], context={"encounterId": "e1"})
    assert f.setting.current_encounter is not None


def test_anaesthesia_same_utc_day_and_84_day_boundary():
    arthroscopy = procedure(SNOMED, "999999999", "scope", "2026-02-20T09:00:00Z")
    block = procedure(SNOMED, ANAES, "block", "2026-02-20T08:00:00Z")
    other_day = procedure(SNOMED, "888888888", "later", "2026-02-21T09:00:00Z")
    (s,) = facts_of([arthroscopy, block, other_day]).setting.qualifying_surgeries
    assert {x.ref for x in s.sources} == {"Procedure/scope", "Procedure/block"}
    f = facts_of([procedure(SNOMED, "609588000", "tkr", "@now-84d")])
    assert f.surgeries_within(84) and not f.surgeries_within(83) and not f.setting.imaging_first
    f = facts_of([procedure(SNOMED, "609588000", "tkr", "@now-30d")])
    assert f.setting.imaging_first
    assert not facts_of([procedure(SNOMED, "609588000", "tkr", "@now-5d", status="not-done")]).setting.qualifying_surgeries


def test_imaging_first_assumed_when_procedures_unreadable():
    f = facts_of([], unreadable=[Unreadable("procedures", "Procedure", "http-status", "HTTP 500")])
    assert f.setting.imaging_first and "assumed" in f.setting.imaging_first_reason


# ---- unreadable (§1.13), orders and reports (§7.7) ---------------------------------------------------

def test_page_cap_truncated():
    u = Unreadable("observations", "Observation", "page-cap", "", truncated_pages=20)
    f = facts_of([], unreadable=[u])
    assert f.truncated == {"Observation": 20} and "Observation" in f.unreadable_types
    assert any(q[0] == "fetch-truncated" and "first 20 pages of Observation" in q[1] for q in f.quality)


def test_orders_exclude_drafts_and_statuses():
    sr = lambda id, status: {"resourceType": "ServiceRequest", "id": id, "status": status, "authoredOn": "@now-2h",
                             "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "73560"}]}}
    context = {"draftOrders": {"resourceType": "Bundle", "entry": [{"resource": sr("draft1", "draft")},
                                                                     {"resource": sr("resign", "active")}]}}
    f = facts_of([sr("a", "active"), sr("b", "completed"), sr("c", "revoked"), sr("resign", "active")], context=context)
    assert [(o.source.ref, o.orderables) for o in f.orders] == [
        ("ServiceRequest/a", frozenset({"knee-xray"})), ("ServiceRequest/b", frozenset({"knee-xray"}))]


def test_reports_are_imaging_observations_that_are_not_ka_results():
    report = obs(LOINC, "24806-2", id="xr")
    result = ka_obs("knee-radiograph-result", id="res", valueCodeableConcept={"coding": [
        {"system": "http://knee-cds.example/fhir/CodeSystem/result", "code": "normal-or-effusion-only"}]})
    result["code"]["coding"].append({"system": LOINC, "code": "24806-2"})
    f = facts_of([report, result])
    assert [(r.source.ref, r.orderables) for r in f.reports] == [("Observation/xr", frozenset({"knee-xray"}))]


# ---- leniency -------------------------------------------------------------------------------------

def test_garbage_never_raises():
    junk = [
        {"resourceType": "Observation", "id": "j1", "status": "final", "code": "not-a-concept", "valueBoolean": "yes"},
        {"resourceType": "Observation", "id": "j2", "status": "final", "code": {"coding": "x"}, "component": [1, None]},
        {"resourceType": "Condition", "id": "j3", "code": {"coding": [{"system": 1, "code": None}]},
         "onsetDateTime": 12, "clinicalStatus": []},
        {"resourceType": "MedicationRequest", "id": "j4", "status": "active", "medicationCodeableConcept": [],
         "dosageInstruction": ["x"]},
        {"resourceType": "Encounter", "id": "j5", "period": "today", "class": [1], "reasonCode": {"x": 1}},
        {"resourceType": "Procedure", "id": "j6", "status": "completed", "performedPeriod": []},
        {"resourceType": "ServiceRequest", "id": "j7", "status": "active", "code": None, "occurrencePeriod": 3},
        ka_obs("calf-circumference-difference", valueQuantity={"value": "3", "unit": "cm"}),
        ka_obs("leg-swelling", "not-a-date"),
    ]
    f = facts_of(junk)
    assert f.ka_value("calf-circumference-difference") is None
    assert any(q[0] == "data-quality" for q in f.quality)


# ---- a chart read through the example site map (contract §10) -----------------------------------------

def test_chart_through_example_site_map():
    t = load_terminology(["st-example-hospital"])
    fs = "http://st-example.org/fhir/flowsheet"
    rows = [
        obs(fs, "FS-2232", id="dvt", valueCodeableConcept={"coding": [{"system": fs, "code": "Y"}]}),
        obs(fs, "FS-2231", id="calf", valueQuantity={"value": 31, "unit": "millimetres"}),
        obs(fs, "FS-2240", id="side", valueString="L"),
        obs(fs, "FS-0815", id="faint", valueString="yes"),
        obs("http://st-example.org/lab", "DDIM-F", id="dd", valueQuantity={"value": 640, "unit": "nanogram/mL"}),
        condition("urn:oid:2.16.840.1.113883.6.90", "Z86718", id="vte", onset="@now-5y"),
    ]
    f = facts_of(rows, terminology=t)
    assert f.ka_true("deep-vein-tenderness")
    src = f.ka["deep-vein-tenderness"].winner.source
    assert src.via_site_map == "local code FS-2232, site map st-example-hospital 2026-03-01.1"
    assert f.ka_value("calf-circumference-difference").value == pytest.approx(3.1)
    assert f.ka_value("symptom-side") == "left"
    assert "syncope" in f.symptoms
    assert f.ddimers[0].quantity.value == pytest.approx(640) and f.ddimers[0].assay == "feu"
    assert f.conditions_in("vte-history") and f.conditions[0].source.via_site_map.startswith("local code Z86718")
    assert f.site_maps_used == {"st-example-hospital 2026-03-01.1"}
    # "NE" = not examined -> unknown
    ne = obs(fs, "FS-2232", id="ne", valueString="ne")
    assert facts_of([ne], terminology=t).ka_value("deep-vein-tenderness") is None
