"""Safety properties of the triage over generated charts (hypothesis), in process.

- replacing a reassuring answer with unknown never lowers the tier nor the Wells maximum;
- adding a refuted or entered-in-error resource changes nothing;
- a chart with no trigger of clinical-rules §2 gives {"cards": []};
- shuffling resource order changes nothing.
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cds_hooks.prefetch import FetchSettings, gather_chart
from service.config import load_settings
from service.vocabulary import Tier
from service.engine import KneeDomain
from tests.support import vignettes as vg

KA = "http://knee-cds.example/fhir/CodeSystem/knee-assessment"
# ka: booleans where true is the higher-risk answer (clinical-rules §1.3 table)
FALSE_IS_REASSURING = {
    "leg-swelling", "deep-vein-tenderness", "entire-leg-swollen", "pitting-edema", "collateral-superficial-veins",
    "hot-swollen-joint", "joint-effusion", "knee-locking", "knee-giving-way", "leg-redness-warmth",
    "popliteal-mass", "night-pain", "exertional-calf-pain", "pulse-loss-on-provocation", "acute-limb-ischaemia",
    "pain-limits-walking-or-sleep", "bedridden-3-days", "lower-limb-immobilisation", "long-haul-travel",
    "isolated-patellar-tenderness", "fibular-head-tenderness", "knee-deformity",
}
NOW = datetime.now(timezone.utc).replace(microsecond=0)
VIGNETTES = [vg.load_vignette(p) for p in vg.vignette_paths()]
TRIAGE_VIGNETTES = [v for v in VIGNETTES if v["hook"] == "patient-view" and not v.get("config")]
SETTINGS = dict(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def domain():
    return KneeDomain(load_settings({"KNEE_CDS_AUTH": "off"}, bind_host="127.0.0.1"))


def run(domain, vignette, resources):
    loaded = vg.prepare(vignette, NOW)
    loaded.resources[:] = resources
    service = vg.service_for(loaded.hook)
    request = vg.hook_request(vg.build_request(loaded), service)
    request.received_at = NOW
    _, drafts = domain.triage(request, gather_chart(request, FetchSettings()), now=NOW)
    return drafts


def summary(drafts):
    return [(d.topic, d.tier, tuple(d.rules), sorted(s.orderable for s in d.suggestions), repr(d.scores))
            for d in drafts]


def tier_rank(drafts):
    return min((Tier(d.tier).rank for d in drafts), default=len(Tier))


def wells_max(drafts):
    for d in drafts:
        if "wellsDvt" in d.scores:
            return d.scores["wellsDvt"]["max"]
    return None


def ka_code(resource):
    for coding in (resource.get("code") or {}).get("coding") or []:
        if coding.get("system") == KA:
            return coding.get("code")
    return None


def base_resources(vignette):
    return vg.prepare(vignette, NOW).resources


@settings(**SETTINGS)
@given(st.data())
def test_unknown_never_lowers_tier_or_wells_max(domain, data):
    vignette = data.draw(st.sampled_from(TRIAGE_VIGNETTES))
    resources = base_resources(vignette)
    reassuring = [i for i, r in enumerate(resources)
                  if r.get("resourceType") == "Observation" and ka_code(r) in FALSE_IS_REASSURING
                  and r.get("valueBoolean") is False]
    if not reassuring:
        return
    drop = data.draw(st.sampled_from(reassuring))
    before = run(domain, vignette, resources)
    after = run(domain, vignette, [r for i, r in enumerate(resources) if i != drop])
    assert tier_rank(after) <= tier_rank(before)
    if wells_max(before) is not None and wells_max(after) is not None:
        assert wells_max(after) >= wells_max(before)


@settings(**SETTINGS)
@given(st.data())
def test_refuted_or_entered_in_error_changes_nothing(domain, data):
    vignette = data.draw(st.sampled_from(TRIAGE_VIGNETTES))
    resources = base_resources(vignette)
    candidates = [r for r in resources if r.get("resourceType") in ("Observation", "Condition")]
    if not candidates:
        return
    clone = copy.deepcopy(data.draw(st.sampled_from(candidates)))
    clone["id"] = clone["id"] + "-bad"
    if clone["resourceType"] == "Observation":
        clone["status"] = "entered-in-error"
        if "valueBoolean" in clone:
            clone["valueBoolean"] = not clone["valueBoolean"]
    else:
        clone["verificationStatus"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": data.draw(st.sampled_from(["refuted", "entered-in-error"]))}]}
    assert summary(run(domain, vignette, resources + [clone])) == summary(run(domain, vignette, resources))


@settings(**SETTINGS)
@given(st.data())
def test_shuffling_resources_changes_nothing(domain, data):
    vignette = data.draw(st.sampled_from(TRIAGE_VIGNETTES))
    resources = base_resources(vignette)
    shuffled = data.draw(st.permutations(resources))
    assert summary(run(domain, vignette, list(shuffled))) == summary(run(domain, vignette, resources))


@settings(**SETTINGS)
@given(age=st.integers(min_value=0, max_value=100), gender=st.sampled_from(["female", "male", "other", "unknown"]),
       hr=st.integers(min_value=40, max_value=180), temp=st.floats(min_value=35.0, max_value=41.0))
def test_no_trigger_gives_no_cards(domain, age, gender, hr, temp):
    vignette = next(v for v in VIGNETTES if v["expect"].get("tier") is None and v["hook"] == "patient-view")
    resources = [r for r in base_resources(vignette)]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    patient["birthDate"] = f"{NOW.year - age}-01-01"
    patient["gender"] = gender
    pid = patient["id"]
    for code, value, unit in (("8867-4", hr, "/min"), ("8310-5", temp, "Cel")):
        resources.append({"resourceType": "Observation", "id": f"gen-{code}", "status": "final",
                          "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                          "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}})
    assert run(domain, vignette, resources) == []
