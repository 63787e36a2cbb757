"""A CDS Hooks request for a local run, built from a chart given as FHIR resources.

Used by the preview page and ``knee-cds triage``: the input is a FHIR Bundle (transaction, batch,
collection or searchset — one patient's chart) or a whole CDS Hooks request. From a Bundle the
request is built as an EHR builds it: the context names the Patient (and the visit's Encounter), the
prefetch holds what each of the service's templates would return from a FHIR server holding the
Bundle, and for the order hooks the draft orders are the Bundle's draft ServiceRequests plus any
orderables chosen by the user.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

from cds_hooks.domain import ServiceDefinition

ORDER_HOOKS = frozenset({"order-select", "order-sign"})
HOOKS = ("patient-view", "encounter-start", "order-select", "order-sign")
# an Encounter in one of these states is the visit of encounter-start / the order hooks
ACTIVE_ENCOUNTER = ("in-progress", "arrived", "triaged", "planned", "onleave")
PRACTITIONER = "Practitioner/example"
ORDERABLE_SYSTEM = "http://knee-cds.example/fhir/CodeSystem/orderable"

_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z0-9_]+)\s*\}\}")
# the dates a "_sort=-date" search orders by, per resource type (FHIR R4 search parameter "date")
_DATE_PATHS = ("effectiveDateTime", "effectiveInstant", "effectivePeriod.start", "issued", "authoredOn",
               "performedDateTime", "performedPeriod.start", "period.start", "recordedDate", "onsetDateTime")


class InputError(ValueError):
    """The input cannot be read as a chart or a request; the message is one line for the user."""


@dataclass(frozen=True)
class ChartInput:
    """What the user gave: a chart (resources) or a complete request."""

    resources: tuple[dict[str, Any], ...] = ()
    request: dict[str, Any] | None = None

    @property
    def patient(self) -> dict[str, Any] | None:
        return next((r for r in self.resources if r.get("resourceType") == "Patient"), None)


def read_input(doc: Any) -> ChartInput:
    """Classify a parsed JSON document. Raises :class:`InputError` with a one-line reason."""
    if not isinstance(doc, dict):
        raise InputError("expected a JSON object: a FHIR Bundle or a CDS Hooks request")
    if "hook" in doc and "context" in doc:
        return ChartInput(request=doc)
    if doc.get("resourceType") == "Bundle":
        entries = doc.get("entry") if isinstance(doc.get("entry"), list) else []
        resources = tuple(e["resource"] for e in entries
                          if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                          and isinstance(e["resource"].get("resourceType"), str))
        chart = ChartInput(resources=resources)
        if chart.patient is None:
            raise InputError("the Bundle holds no Patient resource")
        return chart
    if doc.get("resourceType") == "Patient":
        return ChartInput(resources=(doc,))
    kind = doc.get("resourceType")
    raise InputError(f"expected a FHIR Bundle or a CDS Hooks request, got {kind!r}" if kind else
                     "expected a FHIR Bundle (resourceType Bundle) or a CDS Hooks request (hook, context)")


def draft_order(orderable: str, display: str, patient_id: str) -> dict[str, Any]:
    """A draft ServiceRequest for one catalog orderable, as an EHR's order entry would hold it."""
    return {
        "resourceType": "ServiceRequest", "id": f"draft-{orderable}-{uuid.uuid4().hex[:8]}",
        "status": "draft", "intent": "order",
        "code": {"coding": [{"system": ORDERABLE_SYSTEM, "code": orderable, "display": display}],
                 "text": display},
        "subject": {"reference": f"Patient/{patient_id}"},
    }


def build_request(chart: ChartInput, service: ServiceDefinition, extra_drafts: Iterable[dict[str, Any]] = (),
                  context_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The hook request for ``service`` with its prefetch filled from ``chart``; ``context_overrides``
    add to or replace context keys (never ``draftOrders``), as a vignette's ``context`` does."""
    patient = chart.patient
    if patient is None:
        raise InputError("the chart holds no Patient resource")
    patient_id = patient.get("id") if isinstance(patient.get("id"), str) and patient.get("id") else "example"
    patient = dict(patient, id=patient_id)
    resources = [patient] + [r for r in chart.resources if r is not chart.patient]
    drafts = [r for r in resources if _is_draft(r)] if service.hook in ORDER_HOOKS else []
    drafts += list(extra_drafts) if service.hook in ORDER_HOOKS else []
    draft_ids = {id(r) for r in drafts}
    charted = [r for r in resources if id(r) not in draft_ids]

    context: dict[str, Any] = {"userId": PRACTITIONER, "patientId": patient_id}
    encounter = _visit(charted)
    if encounter is not None:
        context["encounterId"] = encounter["id"]
    if service.hook in ORDER_HOOKS:
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": r} for r in drafts]}
        if service.hook == "order-select":
            context["selections"] = [f"ServiceRequest/{r['id']}" for r in drafts[:1] if r.get("id")]
    context.update({k: v for k, v in (context_overrides or {}).items() if k != "draftOrders"})
    prefetch = {key: _evaluate(template, context, charted) for key, template in service.prefetch.items()}
    return {"hook": service.hook, "hookInstance": str(uuid.uuid4()), "context": context,
            "prefetch": {k: v for k, v in prefetch.items() if v is not None or k != "encounter"}}


def _is_draft(resource: dict[str, Any]) -> bool:
    return resource.get("resourceType") == "ServiceRequest" and resource.get("status") == "draft"


def _visit(resources: list[dict[str, Any]]) -> dict[str, Any] | None:
    encounters = [r for r in resources if r.get("resourceType") == "Encounter" and isinstance(r.get("id"), str)]
    active = [e for e in encounters if e.get("status") in ACTIVE_ENCOUNTER]
    return (active or encounters or [None])[0]


def _evaluate(template: str, context: dict[str, Any], resources: list[dict[str, Any]]) -> Any:
    """What a FHIR server holding ``resources`` answers to ``template``: a resource (read), a
    searchset Bundle (patient search), or None when a read finds nothing or needs a missing id."""
    missing = [name for name in _TOKEN.findall(template) if not isinstance(context.get(name), str)]
    if missing:
        return None
    query = _TOKEN.sub(lambda m: context[m.group(1)], template)
    path, _, params = query.partition("?")
    if not params:
        rtype, _, rid = path.partition("/")
        return next((r for r in resources if r.get("resourceType") == rtype and r.get("id") == rid), None)
    patient_ref = f"Patient/{context['patientId']}"
    found = [r for r in resources if r.get("resourceType") == path and _subject(r) == patient_ref]
    if "_sort=-date" in params:
        found.sort(key=_date_key, reverse=True)
    return {"resourceType": "Bundle", "type": "searchset", "total": len(found),
            "entry": [{"fullUrl": f"{r['resourceType']}/{r.get('id', '')}", "resource": r,
                       "search": {"mode": "match"}} for r in found]}


def _subject(resource: dict[str, Any]) -> str | None:
    for element in ("subject", "patient"):
        ref = resource.get(element)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return ref["reference"]
    return None


def _date_key(resource: dict[str, Any]) -> str:
    for dotted in _DATE_PATHS:
        value: Any = resource
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            return value
    return ""
