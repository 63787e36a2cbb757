"""The card preview page in process: inputs, hooks, what-if, escaping, and never a 500."""
from __future__ import annotations

import json
import re
from html import unescape

import pytest

from service.tools import examples
from service.tools.local_request import build_request
from service.tools.local_run import service_for_hook
from service.preview.card_view import card_view
from service.preview.markdown import render_markdown
from tests.support.protocol_requests import SERVICE_FOR_HOOK

INJECTION = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def preview(make_app):
    return make_app({"KNEE_CDS_PREVIEW": "on"}).test_client()


def _tier(html: str) -> str | None:
    match = re.search(r'id="overall-tier">([^<]+)<', html)
    return match.group(1) if match else None


def _summaries(html: str) -> list[str]:
    return [unescape(s) for s in re.findall(r'<h3 class="summary" id="card-\d+">([^<]*)</h3>', html)]


def _service_answer(client, example: examples.Example) -> dict:
    """What the hook endpoint answers for the same example (prefetch-filled, as an EHR sends it)."""
    rendered = examples.example_chart(example)
    domain = client.application.extensions["cds_hooks"].domain
    body = build_request(rendered.chart, service_for_hook(domain, example.hook), rendered.draft_orders,
                         context_overrides=rendered.context)
    response = client.post(f"/cds-services/{SERVICE_FOR_HOOK[example.hook]}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_preview_is_off_unless_asked_for(make_app):
    # gunicorn's app (no bind host known): off by default (deploy config), answered like any unknown path
    response = make_app().test_client().get("/preview")
    assert response.status_code == 404
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert make_app({"KNEE_CDS_PREVIEW": "on"}).test_client().get("/preview").status_code == 200


def test_preview_is_on_under_knee_cds_serve_and_can_be_turned_off(make_app):
    assert make_app(BIND_HOST="127.0.0.1").test_client().get("/preview").status_code == 200
    off = make_app({"KNEE_CDS_PREVIEW": "off"}, BIND_HOST="127.0.0.1").test_client()
    assert off.get("/preview").status_code == 404


def test_every_bundled_example_is_offered(preview):
    html = preview.get("/preview").get_data(as_text=True)
    offered = re.findall(r'<option value="([^"]+)" data-hook=', html)
    assert offered == [e.id for e in examples.examples()]
    assert len(offered) >= 1


@pytest.mark.parametrize("example", examples.examples(), ids=lambda e: e.id)
def test_each_example_shows_the_cards_the_service_answers(preview, example):
    page = preview.post("/preview", data={"action": "run", "example": example.id, "hook": "auto"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    answer = _service_answer(preview, example)
    tiers = [c["extension"]["example.knee-cds"]["tier"] for c in answer["cards"]]
    assert _tier(html) == (tiers[0] if tiers else None)
    assert _summaries(html) == [c["summary"] for c in answer["cards"]]
    for card in answer["cards"]:
        for suggestion in card.get("suggestions", []):
            assert unescape(suggestion["label"]) in unescape(html)


def test_a_pasted_bundle_and_a_pasted_request_give_the_same_cards(preview):
    example = examples.find("V01") or examples.examples()[0]
    rendered = examples.example_chart(example)
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in rendered.chart.resources]}
    from_bundle = preview.post("/preview", data={"action": "run", "document": json.dumps(bundle), "hook": "auto"})
    assert from_bundle.status_code == 200
    html = from_bundle.get_data(as_text=True)
    request_json = unescape(re.search(r'<pre id="raw-request">(.*?)</pre>', html, re.S).group(1))
    from_request = preview.post("/preview", data={"action": "run", "document": request_json, "hook": "auto"})
    assert _summaries(from_request.get_data(as_text=True)) == _summaries(html)
    assert _tier(html) is not None


def test_an_uploaded_file_is_read_like_a_pasted_one(preview):
    example = examples.examples()[0]
    rendered = examples.example_chart(example)
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
                        for r in rendered.chart.resources]}
    from io import BytesIO
    page = preview.post("/preview", data={"action": "run", "hook": "patient-view",
                                          "upload": (BytesIO(json.dumps(bundle).encode()), "chart.json")},
                        content_type="multipart/form-data")
    assert page.status_code == 200
    assert 'id="status"' in page.get_data(as_text=True)


def test_order_hooks_take_the_chosen_draft_orders(preview):
    example = next(e for e in examples.examples() if e.hook == "patient-view")
    page = preview.post("/preview", data={"action": "run", "example": example.id, "hook": "order-sign"})
    assert page.status_code == 400
    assert "needs at least one draft order" in page.get_data(as_text=True)
    page = preview.post("/preview", data={"action": "run", "example": example.id, "hook": "order-sign",
                                          "draft": ["d-dimer", "mri-knee"]})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    request = json.loads(unescape(re.search(r'<pre id="raw-request">(.*?)</pre>', html, re.S).group(1)))
    codes = [e["resource"]["code"]["coding"][0]["code"] for e in request["context"]["draftOrders"]["entry"]]
    assert codes == ["d-dimer", "mri-knee"]
    assert request["hook"] == "order-sign"


def test_what_if_an_answer_becomes_unknown(preview):
    """Calf 3.5 cm larger -> unknown: Wells DVT widens from 4-4 to a range (absence never lowers risk)."""
    page = preview.post("/preview", data={"action": "run", "example": "V01", "hook": "auto"})
    html = page.get_data(as_text=True)
    assert 'name="ka.calf-circumference-difference"' in html
    request_json = unescape(re.search(r'<textarea name="request_json"[^>]*>(.*?)</textarea>', html, re.S).group(1))
    changed = preview.post("/preview", data={
        "action": "what-if", "request_json": request_json, "previous_tier": _tier(html),
        "was.calf-circumference-difference": "3.5", "ka.calf-circumference-difference": "unknown"})
    assert changed.status_code == 200
    after = changed.get_data(as_text=True)
    assert "calf-circumference-difference: 3.5 → unknown" in after
    wells = json.loads(unescape(re.search(r'<th scope="row">wellsDvt</th><td><code>(.*?)</code>', after).group(1)))
    assert (wells["min"], wells["max"]) == (3, 4)
    assert 'value="unknown"' in after


def test_what_if_refuses_a_wrong_value(preview):
    html = preview.post("/preview", data={"action": "run", "example": "V01"}).get_data(as_text=True)
    request_json = unescape(re.search(r'<textarea name="request_json"[^>]*>(.*?)</textarea>', html, re.S).group(1))
    page = preview.post("/preview", data={"action": "what-if", "request_json": request_json,
                                          "was.calf-circumference-difference": "3.5",
                                          "ka.calf-circumference-difference": "three"})
    assert page.status_code == 400
    assert "takes a number" in page.get_data(as_text=True)


@pytest.mark.parametrize("document, reason", [
    ("not json", "is not JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"resourceType": "Bundle", "type": "collection", "entry": []}', "holds no Patient"),
    ('{"resourceType": "Observation"}', "expected a FHIR Bundle or a CDS Hooks request"),
])
def test_unreadable_documents_get_a_one_line_reason(preview, document, reason):
    page = preview.post("/preview", data={"action": "run", "document": document})
    assert page.status_code == 400
    assert reason in unescape(page.get_data(as_text=True))


def test_a_request_the_service_refuses_shows_its_operation_outcome(preview):
    bad = {"hook": "patient-view", "hookInstance": "x", "context": {"userId": "Practitioner/1"}}
    page = preview.post("/preview", data={"action": "run", "document": json.dumps(bad)})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "HTTP 400" in html and 'id="outcome"' in html


def test_a_pasted_request_never_reaches_a_fhir_server(preview):
    # prefetch holds only the Patient: the rest is unreadable, and the card says so; the page
    # itself never calls the fhirServer the request names
    request = {"hook": "patient-view", "hookInstance": "a1", "fhirServer": "http://127.0.0.1:9/fhir",
               "fhirAuthorization": {"access_token": "t", "token_type": "Bearer", "expires_in": 60,
                                     "scope": "patient/*.read", "subject": "x"},
               "context": {"userId": "Practitioner/1", "patientId": "p1"},
               "prefetch": {"patient": {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"}}}
    page = preview.post("/preview", data={"action": "run", "document": json.dumps(request)})
    assert page.status_code == 200
    assert "DATA-FETCH-INCOMPLETE" in page.get_data(as_text=True)


def test_chart_text_is_shown_as_text(preview):
    example = examples.examples()[0]
    rendered = examples.example_chart(example)
    resources = [dict(r) for r in rendered.chart.resources]
    resources.append({"resourceType": "Condition", "id": "inj", "subject": {"reference": f"Patient/{resources[0]['id']}"},
                      "code": {"text": INJECTION}, "note": [{"text": INJECTION}]})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    html = preview.post("/preview", data={"action": "run", "document": json.dumps(bundle)}).get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert" in html
    assert html.count("<script") == 1  # the page's own script only


def test_detail_markdown_is_escaped_then_rendered():
    html = render_markdown(f"**Evidence** {INJECTION} [bad](javascript:alert(1)) [NICE](https://www.nice.org.uk)")
    assert "<strong>Evidence</strong>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert '<a href="https://www.nice.org.uk">NICE</a>' in html


def test_card_view_keeps_only_web_links_and_reads_delete_actions():
    card = {"summary": "s", "indicator": "warning", "detail": "d",
            "links": [{"label": "x", "url": "javascript:alert(1)", "type": "absolute"},
                      {"label": "NICE", "url": "https://www.nice.org.uk/guidance/ng158", "type": "absolute"}],
            "suggestions": [{"label": "Remove", "actions": [
                {"type": "delete", "description": "why", "resourceId": "ServiceRequest/a"}]}],
            "extension": {"example.knee-cds": {"tier": "urgent", "rules": ["R1"], "scores": {"perc": {"negative": True}}}}}
    view = card_view(card)
    assert view.links == [("NICE", "https://www.nice.org.uk/guidance/ng158")]
    assert view.suggestions[0].actions[0].order == "ServiceRequest/a"
    assert view.tier == "urgent" and view.rules == ["R1"] and view.scores[0][0] == "perc"


def test_page_carries_a_strict_content_security_policy(preview):
    response = preview.get("/preview")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
