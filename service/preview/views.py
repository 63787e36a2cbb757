"""Requests of the preview page: read the form, build or take the hook request, run it, show it."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, current_app, render_template, request

from service.tools import examples
from service.tools.local_request import (
    HOOKS,
    ORDER_HOOKS,
    ChartInput,
    InputError,
    build_request,
    draft_order,
    read_input,
)
from service.tools.local_run import LocalResult, run_request, service_for_hook

from service.preview import what_if
from service.preview.card_view import CardView, card_views, overall_tier

# a pasted or uploaded document larger than this is refused before it is parsed
MAX_DOCUMENT_BYTES = 2_000_000
AUTO_HOOK = "auto"


@dataclass
class Page:
    """Everything the template shows."""

    examples: tuple[examples.Example, ...]
    orderables: list[tuple[str, str]]
    hooks: tuple[str, ...] = HOOKS
    example_id: str = ""
    hook: str = AUTO_HOOK
    drafts: list[str] = field(default_factory=list)
    document: str = ""
    error: str | None = None
    request_body: dict[str, Any] | None = None
    result: LocalResult | None = None
    cards: list[CardView] = field(default_factory=list)
    answers: list[what_if.Answer] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    previous_tier: str | None = None

    @property
    def tier(self) -> str | None:
        return overall_tier(self.result.cards) if self.result and self.result.ok else None

    @property
    def request_json(self) -> str:
        return json.dumps(self.request_body, indent=2) if self.request_body is not None else ""

    @property
    def response_json(self) -> str:
        return json.dumps(self.result.body, indent=2) if self.result is not None else ""


def register_views(bp: Blueprint) -> None:
    bp.add_url_rule("/preview", "show", show, methods=["GET"])
    bp.add_url_rule("/preview", "run", run, methods=["POST"])


def _domain():
    return current_app.extensions["cds_hooks"].domain


def _new_page() -> Page:
    terminology = _domain().terminology
    orderables = [(o, terminology.orderable_display(o)) for o in terminology.orderable_ids]
    return Page(examples=examples.examples(), orderables=orderables)


def show():
    page = _new_page()
    example_id = request.args.get("example", "")
    if example_id:
        page.example_id = example_id
        page.hook = request.args.get("hook", AUTO_HOOK)
        _run_example(page)
    return render_template("preview.html", page=page)


def run():
    page = _new_page()
    if request.form.get("action") == "what-if":
        _what_if(page)
    else:
        page.example_id = request.form.get("example", "")
        page.hook = request.form.get("hook", AUTO_HOOK)
        page.drafts = [d for d in request.form.getlist("draft") if d in dict(page.orderables)]
        page.document = request.form.get("document", "")
        upload = request.files.get("upload")
        if upload is not None and upload.filename:
            data = upload.stream.read(MAX_DOCUMENT_BYTES + 1)
            page.document = data.decode("utf-8", errors="replace") if len(data) <= MAX_DOCUMENT_BYTES else ""
            if len(data) > MAX_DOCUMENT_BYTES:
                page.error = f"The uploaded file is larger than {MAX_DOCUMENT_BYTES:,} bytes."
        if page.error is None:
            if page.document.strip():
                _run_document(page)
            elif page.example_id:
                _run_example(page)
            else:
                page.error = "Choose an example patient, or paste or upload a FHIR Bundle or a CDS Hooks request."
    status = 200 if page.error is None else 400
    return render_template("preview.html", page=page), status


def _chosen_hook(page: Page, default: str) -> str:
    return page.hook if page.hook in HOOKS else default


def _extra_drafts(page: Page, chart: ChartInput) -> list[dict[str, Any]]:
    patient = chart.patient or {}
    patient_id = patient.get("id") if isinstance(patient.get("id"), str) else "example"
    names = dict(page.orderables)
    return [draft_order(o, names[o], patient_id) for o in page.drafts]


def _run_example(page: Page) -> None:
    example = examples.find(page.example_id)
    if example is None:
        page.error = f"No example patient {page.example_id!r}."
        return
    rendered = examples.example_chart(example, datetime.now(timezone.utc))
    hook = _chosen_hook(page, example.hook)
    own_hook = hook == example.hook
    _run_chart(page, rendered.chart, hook, rendered.context if own_hook else {}, list(rendered.draft_orders))


def _run_document(page: Page) -> None:
    if len(page.document.encode("utf-8")) > MAX_DOCUMENT_BYTES:
        page.error = f"The pasted document is larger than {MAX_DOCUMENT_BYTES:,} bytes."
        return
    try:
        chart = read_input(json.loads(page.document))
    except json.JSONDecodeError as err:
        page.error = f"The document is not JSON: {err.msg} (line {err.lineno}, column {err.colno})."
        return
    except InputError as err:
        page.error = f"The document cannot be used: {err}."
        return
    if chart.request is not None:
        _run(page, chart.request)
    else:
        _run_chart(page, chart, _chosen_hook(page, "patient-view"), {}, None)


def _run_chart(page: Page, chart: ChartInput, hook: str, context: dict[str, Any],
               drafts: list[dict[str, Any]] | None) -> None:
    """``drafts``: the example's draft orders; None for a pasted chart (its own draft ServiceRequests)."""
    service = service_for_hook(_domain(), hook)
    try:
        body = build_request(chart, service, drafts, _extra_drafts(page, chart), context)
    except InputError as err:
        page.error = f"The chart cannot be used: {err}."
        return
    if hook in ORDER_HOOKS and not body["context"]["draftOrders"]["entry"]:
        page.error = f"The {hook} hook needs at least one draft order: tick one under Draft orders."
        return
    _run(page, body)


def _run(page: Page, body: dict[str, Any]) -> None:
    page.request_body = body
    page.result = run_request(_domain(), body)
    page.cards = card_views(page.result.cards)
    page.answers = what_if.answers(body) if isinstance(body.get("prefetch"), dict) else []


def _what_if(page: Page) -> None:
    try:
        body = json.loads(request.form.get("request_json", ""))
    except json.JSONDecodeError:
        page.error = "The request to change could not be read; run an example or a document first."
        return
    if not isinstance(body, dict):
        page.error = "The request to change is not a JSON object."
        return
    page.previous_tier = request.form.get("previous_tier") or None
    for code in what_if.EDITABLE:
        new = request.form.get(f"ka.{code}")
        old = request.form.get(f"was.{code}")
        if new is None or new == old:
            continue
        try:
            body = what_if.apply_answer(body, code, new)
        except what_if.AnswerError as err:
            page.error = f"That answer cannot be used: {err}."
            return
        page.changes.append(f"{code}: {old or what_if.UNKNOWN} → {new or what_if.UNKNOWN}")
    _run(page, body)
