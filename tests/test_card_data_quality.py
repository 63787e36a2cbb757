"""A chart with data-quality problems behind its findings: the card that uses them carries each flag
and says in words what is wrong and with which record (clinical-rules §7.5, docs/card-style-guide.md)."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from cds_hooks.prefetch import FetchSettings, gather_chart
from service.config import load_settings
from service.engine import KneeDomain
from tests.support import card_standard as std
from tests.support import vignettes as vg

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
KA = "http://knee-cds.example/fhir/CodeSystem/knee-assessment"


def _base() -> dict:
    """A Wells-unlikely DVT chart (the shape of vignette V02) that the tests spoil on purpose."""
    path = next((p for p in vg.vignette_paths() if p.stem == "V02"), None)
    if path is None:
        pytest.skip("vignette V02 not in the shared folder")
    return copy.deepcopy(vg.load_vignette(path))


def _cards(vignette: dict) -> list[dict]:
    domain = KneeDomain(load_settings({"KNEE_CDS_AUTH": "off"}, bind_host="127.0.0.1"))
    loaded = vg.prepare(vignette, NOW)
    request = vg.hook_request(vg.build_request(loaded), vg.service_for(loaded.hook))
    request.received_at = NOW
    return domain.evaluate(request, gather_chart(request, FetchSettings())).cards


def _dvt(cards):
    return next(c for c in cards if c["source"]["topic"]["code"] == "dvt-pathway")


def _quality(card) -> list[str]:
    return std.sections(card["detail"]).get("Data quality", [])


def test_superseded_exam_finding_is_flagged_and_explained():
    v = _base()
    earlier = copy.deepcopy(next(r for r in v["resources"] if r["id"] == "v02-obs-deep-vein-tenderness"))
    earlier.update(id="v02-obs-dvt-earlier", effectiveDateTime="@now-3h", valueBoolean=False)
    v["resources"].append(earlier)
    card = _dvt(_cards(v))
    assert "superseded" in card["extension"]["example.knee-cds"]["flags"]
    line = next(q for q in _quality(card) if q.startswith("superseded:"))
    assert "Observation/v02-obs-dvt-earlier" in line and "Observation/v02-obs-deep-vein-tenderness" in line
    assert std.check_card(card) == []


def test_stale_anticoagulant_statement_is_flagged_and_explained():
    v = _base()
    v["resources"].append({
        "resourceType": "MedicationStatement", "id": "v02-ms-warfarin", "status": "active",
        "subject": {"reference": "Patient/v02"}, "dateAsserted": "@now-50w",
        "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                  "code": "11289", "display": "warfarin"}]}})
    card = _dvt(_cards(v))
    assert "anticoagulation-uncertain" in card["extension"]["example.knee-cds"]["flags"]
    line = next(q for q in _quality(card) if q.startswith("anticoagulation-uncertain:"))
    assert "MedicationStatement/v02-ms-warfarin" in line
    assert std.check_card(card) == []


def test_stale_active_dvt_condition_is_flagged_and_explained():
    v = _base()
    v["resources"].append({
        "resourceType": "Condition", "id": "v02-cond-old-dvt", "subject": {"reference": "Patient/v02"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                           "code": "confirmed"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "128053003",
                             "display": "Deep venous thrombosis (disorder)"}]},
        "onsetDateTime": "@now-2y"})
    card = _dvt(_cards(v))
    ext = card["extension"]["example.knee-cds"]
    assert "stale-condition" in ext["flags"]
    line = next(q for q in _quality(card) if q.startswith("stale-condition:"))
    assert "Condition/v02-cond-old-dvt" in line and "previous DVT" in line
    assert std.check_card(card) == []


# -- §6.3 R4 at its boundary -------------------------------------------------------------------------
def test_r4_stale_condition_boundaries():
    from datetime import timedelta

    from service.pathways.dvt import stale_active_vte
    from tests.support.msk_facts import NOW as MSK_NOW, condition, make_facts

    facts = make_facts(60)
    day = timedelta(days=1)
    old = condition("Condition/old", {"vte-history", "vte-history-dvt"}, onset=MSK_NOW - 91 * day)
    edge = condition("Condition/edge", {"vte-history", "vte-history-dvt"}, onset=MSK_NOW - 90 * day)
    resolved = condition("Condition/resolved", {"vte-history"}, onset=MSK_NOW - 400 * day, clinical_status="resolved")
    personal = condition("Condition/z86", {"vte-history"}, onset=MSK_NOW - 400 * day)
    personal.codes = [("http://hl7.org/fhir/sid/icd-10-cm", "Z86.718")]
    undated = condition("Condition/undated", {"vte-history"}, onset=None)
    facts.conditions = [old, edge, resolved, personal, undated]
    assert [c.source.ref for c in stale_active_vte(facts)] == ["Condition/old"]


@pytest.mark.parametrize("unreadable", [
    {"reason": "http-status", "detail": "HTTP 500"},
    {"reason": "page-cap", "detail": "Only the first 20 pages were read", "truncated_pages": 20},
], ids=["observations-500", "observations-page-cap"])
def test_partly_unreadable_chart_cards_meet_the_standard(unreadable):
    from cds_hooks.domain import Unreadable

    v = _base()
    domain = KneeDomain(load_settings({"KNEE_CDS_AUTH": "off"}, bind_host="127.0.0.1"))
    loaded = vg.prepare(v, NOW)
    request = vg.hook_request(vg.build_request(loaded), vg.service_for(loaded.hook))
    request.received_at = NOW
    chart = gather_chart(request, FetchSettings())
    if unreadable["reason"] == "http-status":
        chart.resources.pop("observations", None)
    chart.unreadable.append(Unreadable("observations", "Observation", **unreadable))
    cards = domain.evaluate(request, chart).cards
    assert cards, "a partly unreadable chart with a knee complaint is never answered with silence"
    assert std.check_response({"cards": cards}) == []
    flags = {f for c in cards for f in c["extension"]["example.knee-cds"].get("flags", [])}
    if unreadable["reason"] == "page-cap":
        assert "fetch-truncated" in flags


def test_pregnancy_not_excluded_reads_an_age_range_on_its_safer_side():
    from service.chart.facts import AgeRange
    from service.scores.d_dimer import pregnancy_not_excluded
    from tests.support.msk_facts import make_facts

    facts = make_facts(51)
    facts.gender, facts.pregnancy.state = "female", "unknown"
    facts.age_range = AgeRange(50, 51, "1975")      # birth year only: could still be 50
    assert pregnancy_not_excluded(facts)
    facts.age_range = AgeRange(51, 52, "1974")
    assert not pregnancy_not_excluded(facts)
    facts.age_range, facts.age = None, None         # age unknown: never read as outside the band
    assert pregnancy_not_excluded(facts)
