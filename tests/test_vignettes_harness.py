"""Unit tests of the vignette harness itself (tests/support/vignettes.py): it must be right before it judges."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from tests.support.vignettes import (FALLBACK_TEMPLATES, build_request, check_expect, evaluate_template,
                                     load_vignette, prepare, render_time, render_times, service_for,
                                     validate_cards, vignette_paths)

NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=timezone.utc)
ORDERABLE = "http://knee-cds.example/fhir/CodeSystem/orderable"


@pytest.mark.parametrize("token, rendered", [
    ("@now", "2026-03-02T10:00:00Z"),
    ("@now-1h", "2026-03-02T09:00:00Z"),
    ("@now-5m", "2026-03-02T09:55:00Z"),
    ("@now+2d", "2026-03-04T10:00:00Z"),
    ("@now-3w", "2026-02-09T10:00:00Z"),
    ("@now-55y:date", "1971-03-02"),
    ("@now-21h:date", "2026-03-01"),
    ("@now:date", "2026-03-02"),
])
def test_render_time(token, rendered):
    assert render_time(token, NOW) == rendered


def test_render_time_leap_day_and_non_tokens():
    assert render_time("@now-1y", datetime(2028, 2, 29, tzinfo=timezone.utc)) == "2027-02-28T00:00:00Z"
    for text in ["@now-1mo", "x @now", "@now-1h ", "@NOW", "@now-h", "@now-1x:date"]:
        assert render_time(text, NOW) is None
    assert render_times({"a": ["@now-1d", "@now-1d!"], "b": 3}, NOW) == {"a": ["2026-03-01T10:00:00Z", "@now-1d!"],
                                                                          "b": 3}


VIGNETTE = {
    "id": "VX", "hook": "order-select",
    "resources": [
        {"resourceType": "Patient", "id": "vx"},
        {"resourceType": "Encounter", "id": "vx-old", "status": "finished", "subject": {"reference": "Patient/vx"}},
        {"resourceType": "Encounter", "id": "vx-now", "status": "arrived", "subject": {"reference": "Patient/vx"}},
        {"resourceType": "Observation", "id": "vx-o1", "subject": {"reference": "Patient/vx"},
         "effectiveDateTime": "@now-2h", "encounter": {"reference": "Encounter/vx-now"},
         "contained": [{"resourceType": "Medication", "id": "m"}], "focus": [{"reference": "#m"}]},
        {"resourceType": "Observation", "id": "vx-o2", "subject": {"reference": "Patient/vx"},
         "effectiveDateTime": "@now-1h", "derivedFrom": [{"reference": "Observation/elsewhere"}]},
        {"resourceType": "Observation", "id": "other", "subject": {"reference": "Patient/someone-else"}},
    ],
    "draftOrders": [{"resourceType": "ServiceRequest", "id": "vx-sr1", "subject": {"reference": "Patient/vx"}},
                    {"resourceType": "ServiceRequest", "id": "vx-sr2", "subject": {"reference": "Patient/vx"}}],
    "expect": {},
}


def test_prefix_ids_and_references():
    loaded = prepare(VIGNETTE, NOW, prefix="r1-")
    ids = [r["id"] for r in loaded.resources]
    assert ids == ["r1-vx", "r1-vx-old", "r1-vx-now", "r1-vx-o1", "r1-vx-o2", "r1-other"]
    o1 = loaded.resources[3]
    assert o1["subject"]["reference"] == "Patient/r1-vx"
    assert o1["encounter"]["reference"] == "Encounter/r1-vx-now"
    assert o1["contained"][0]["id"] == "m" and o1["focus"][0]["reference"] == "#m"
    assert o1["effectiveDateTime"] == "2026-03-02T08:00:00Z"
    assert loaded.resources[4]["derivedFrom"][0]["reference"] == "Observation/elsewhere"  # not loaded: untouched
    assert loaded.resources[5]["subject"]["reference"] == "Patient/someone-else"
    assert [d["id"] for d in loaded.draft_orders] == ["r1-vx-sr1", "r1-vx-sr2"]
    assert VIGNETTE["resources"][0]["id"] == "vx"  # the vignette itself is not modified


def test_context_built_per_contract():
    body = build_request(prepare(VIGNETTE, NOW, prefix="r1-"))
    ctx = body["context"]
    assert ctx["userId"] == "Practitioner/example" and ctx["patientId"] == "r1-vx"
    assert ctx["encounterId"] == "r1-vx-now"  # the arrived one, not the first
    assert [e["resource"]["id"] for e in ctx["draftOrders"]["entry"]] == ["r1-vx-sr1", "r1-vx-sr2"]
    assert ctx["selections"] == ["ServiceRequest/r1-vx-sr1"]
    assert body["hook"] == "order-select" and len(body["hookInstance"]) == 36


def test_context_overrides_are_rewritten():
    vignette = copy.deepcopy(VIGNETTE)
    vignette["context"] = {"selections": ["ServiceRequest/vx-sr2"], "encounterId": "vx-old",
                           "draftOrders": "ignored"}
    ctx = build_request(prepare(vignette, NOW, prefix="r2-"))["context"]
    assert ctx["selections"] == ["ServiceRequest/r2-vx-sr2"]
    assert ctx["encounterId"] == "r2-vx-old"
    assert ctx["draftOrders"]["resourceType"] == "Bundle"


def test_no_encounter_no_encounter_id():
    vignette = {"hook": "patient-view", "resources": [{"resourceType": "Patient", "id": "p"}]}
    ctx = build_request(prepare(vignette, NOW))["context"]
    assert "encounterId" not in ctx and "draftOrders" not in ctx


def test_prefetch_every_key_filled():
    loaded = prepare(VIGNETTE, NOW, prefix="r1-")
    prefetch = build_request(loaded)["prefetch"]
    assert set(prefetch) == set(service_for("order-select").prefetch)
    assert prefetch["patient"]["id"] == "r1-vx"
    assert [e["resource"]["id"] for e in prefetch["observations"]["entry"]] == ["r1-vx-o2", "r1-vx-o1"]  # -date
    assert prefetch["conditions"] == {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}
    assert [e["resource"]["id"] for e in prefetch["encounters"]["entry"]] == ["r1-vx-old", "r1-vx-now"]
    assert prefetch["serviceRequests"]["total"] == 0  # draftOrders are not the chart


def test_evaluate_template_read_missing_is_null_and_unknown_params_refused():
    resources = [{"resourceType": "Patient", "id": "p"}]
    assert evaluate_template(FALLBACK_TEMPLATES["encounter"], {"encounterId": "nope"}, resources) is None
    assert evaluate_template(FALLBACK_TEMPLATES["encounter"], {}, resources) is None
    with pytest.raises(NotImplementedError):
        evaluate_template("Observation?patient={{context.patientId}}&date=ge2020", {"patientId": "p"}, resources)


def test_every_shared_vignette_prepares():
    paths = vignette_paths()
    assert paths, "no vignettes found"
    for path in paths:
        vignette = load_vignette(path)
        body = build_request(prepare(vignette, NOW, prefix="rz-"))
        assert body["prefetch"]["patient"]["id"].startswith("rz-"), path.name
        assert "@now" not in str(body), path.name


# ---- check_expect and validate_cards ----

def card(tier, topic, scores=None, orders=(), indicator=None, rules=("R",), **extra):
    ext = {"tier": tier, "rules": list(rules), "knowledgeVersion": "1.1.0"}
    if scores:
        ext["scores"] = scores
    out = {"uuid": f"u-{topic}", "summary": "s", "detail": "d",
           "indicator": indicator or {"emergency-same-day": "critical", "urgent": "warning"}.get(tier, "info"),
           "source": {"label": "knee-cds", "topic": {"system": "x", "code": topic}},
           "extension": {"example.knee-cds": ext}, **extra}
    if orders:
        out["selectionBehavior"] = "any"
        out["suggestions"] = [{"uuid": f"s-{o}", "label": o, "actions": [
            {"type": "create", "description": o, "resource": {
                "resourceType": "ServiceRequest", "code": {"coding": [{"system": ORDERABLE, "code": o}]},
                "reasonCode": [{"text": "R: why"}], "note": [{"text": "R: why"}]}}]}
            for o in orders]
    return out


RESPONSE = {"cards": [card("emergency-same-day", "dvt-pathway",
                           {"wellsDvt": {"min": 4, "max": 4, "class": "likely"}, "dDimer": {"state": "none"}},
                           orders=["venous-duplex-us"], rules=["DVT-LIKELY-US4H", "DVT-INDETERMINATE"]),
                      card("urgent", "assessment-needed", {"ottawa": True, "kocher": 4},
                           rules=["ASSESS-WELLS-INCOMPLETE"])]}


def test_check_expect_passes():
    expect = {"tier": "emergency-same-day", "topics": ["assessment-needed", "dvt-pathway"],
              "wellsDvt": {"min": 4.0, "max": 4}, "scores": {"dDimer": {"state": "none"}, "ottawa": True, "kocher": 4.0},
              "mustOrder": ["venous-duplex-us"], "mustNotOrder": ["d-dimer"]}
    assert check_expect(expect, RESPONSE) == []
    assert validate_cards(RESPONSE) == []


def test_check_expect_reports_each_problem():
    expect = {"tier": "urgent", "topics": ["dvt-pathway"], "wellsDvt": {"min": 3, "max": 4}, "wellsPe": 2,
              "mustOrder": ["d-dimer"], "mustNotOrder": ["venous-duplex-us"]}
    problems = check_expect(expect, RESPONSE)
    assert [p.split(":")[0] for p in problems] == ["tier", "topics", "scores.wellsDvt", "scores.wellsPe",
                                                   "mustOrder", "mustNotOrder"]


def test_empty_cards_means_tier_null():
    assert check_expect({"tier": None, "topics": [], "mustOrder": []}, {"cards": []}) == []
    assert check_expect({"tier": None}, RESPONSE) != []
    assert validate_cards({"cards": []}) == []


def test_validate_cards_catches_structure_problems():
    bad = card("urgent", "paes", indicator="info", orders=["abi"])
    bad["summary"] = "x" * 140
    bad["links"] = []
    bad["suggestions"][0]["actions"].append({"type": "delete", "description": "d"})
    bad["suggestions"][0]["actions"].append({"type": "delete", "description": "d",
                                             "resourceId": ["ServiceRequest/x"]})
    del bad["suggestions"][0]["actions"][0]["resource"]["note"]
    twin = card("emergency-same-day", "pe-emergency")
    twin["uuid"] = bad["uuid"]
    problems = validate_cards({"cards": [bad, twin]})
    text = "\n".join(problems)
    for needle in ["140 characters", "does not match tier", "links is null or empty", "resourceId missing",
                   "is not one relative reference", "resource.note missing",
                   "uuids not unique", "not most urgent first"]:
        assert needle in text, needle


# ---- contract §9 ``rules`` and the knowledge version (clinical-rules §7.5) ----

def test_expected_rules_may_be_on_any_card_in_any_position():
    assert check_expect({"rules": ["DVT-INDETERMINATE", "ASSESS-WELLS-INCOMPLETE"]}, RESPONSE) == []
    assert check_expect({"rules": []}, RESPONSE) == []


def test_expected_rule_missing_from_every_card_is_reported():
    problems = check_expect({"rules": ["DVT-LIKELY-US4H", "PE-PERC-NEG"]}, RESPONSE)
    assert len(problems) == 1 and problems[0].startswith("rules: PE-PERC-NEG is in no card's rules")
    assert check_expect({"rules": ["PE-PERC-NEG"]}, {"cards": []}) != []
    assert check_expect({"rules": "DVT-LIKELY-US4H"}, RESPONSE) != []      # not a list


def test_knowledge_version_must_match_the_rules():
    assert validate_cards(RESPONSE, knowledge_version="1.1.0") == []
    problems = validate_cards(RESPONSE, knowledge_version="1.2.0")
    assert len(problems) == 2 and all("knowledgeVersion is '1.1.0'" in p for p in problems)
    stale = card("urgent", "paes")
    del stale["extension"]["example.knee-cds"]["knowledgeVersion"]
    assert any("knowledgeVersion missing" in p for p in validate_cards({"cards": [stale]}))
    no_rules = card("urgent", "paes", rules=())
    assert any("rules is not a non-empty list" in p for p in validate_cards({"cards": [no_rules]}))


def test_spec_knowledge_version_is_read_from_the_rules(tmp_path):
    from tests.support.vignettes import spec_knowledge_version
    (tmp_path / "clinical-rules.md").write_text("# rules\n\nKnowledge version: **`9.8.7`**. This is the value.\n")
    assert spec_knowledge_version(tmp_path) == "9.8.7"
    (tmp_path / "clinical-rules.md").write_text("# rules without a version\n")
    with pytest.raises(ValueError):
        spec_knowledge_version(tmp_path)


def test_service_declares_the_spec_knowledge_version():
    from service.pathways.state import KNOWLEDGE_VERSION
    from tests.support.vignettes import spec_knowledge_version
    assert KNOWLEDGE_VERSION == spec_knowledge_version()
