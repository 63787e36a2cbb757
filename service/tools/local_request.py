"""A CDS Hooks request built from a chart given as FHIR resources, as an EHR builds it.

Used by ``knee-cds example-request``, ``knee-cds triage``, the preview page and the acceptance
vignettes (contract §9). The input is a FHIR Bundle (transaction, batch, collection or searchset —
one patient's chart) or a whole CDS Hooks request. From a chart the request is built the way contract
§9 says a test runner builds it:

- context: ``userId`` Practitioner/example, ``patientId`` the Patient, ``encounterId`` the active
  Encounter (else the first one), ``draftOrders`` (and ``selections`` = the first draft for
  order-select) for the order hooks; given context keys add or replace keys (never ``draftOrders``);
- prefetch: every key of the service's templates (contract §2), evaluated against the resources: a
  search gives a searchset Bundle (possibly empty), a read that finds nothing ``null``.
"""
from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Sequence
from urllib.parse import parse_qsl

from cds_hooks.domain import ServiceDefinition

from service.catalog import ORDER_HOOKS
from service.terminology.code_sets import ORDERABLE_SYSTEM

HOOKS = ("patient-view", "encounter-start", "order-select", "order-sign")
# an Encounter in one of these states is the visit the hook is about (contract §9)
ACTIVE_ENCOUNTER = ("in-progress", "arrived", "triaged", "planned")
PRACTITIONER = "Practitioner/example"

_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z0-9_]+)\s*\}\}")
# what "_sort=-date" orders by: the resource's clinical date (first one present wins)
_DATE_PATHS = ("effectiveDateTime", "effectiveInstant", "effectivePeriod.start", "issued", "authoredOn",
               "performedDateTime", "performedPeriod.start", "period.start", "recordedDate", "onsetDateTime")
# token search parameters the templates may use -> the element they match
_TOKEN_PARAMS = {"code": "code", "status": "status", "category": "category", "clinical-status": "clinicalStatus"}


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
    """A draft ServiceRequest for one catalog orderable, as an EHR's order entry holds it."""
    return {
        "resourceType": "ServiceRequest", "id": f"draft-{orderable}-{uuid.uuid4().hex[:8]}",
        "status": "draft", "intent": "order",
        "code": {"coding": [{"system": ORDERABLE_SYSTEM, "code": orderable, "display": display}],
                 "text": display},
        "subject": {"reference": f"Patient/{patient_id}"},
    }


def is_draft(resource: dict[str, Any]) -> bool:
    return resource.get("resourceType") == "ServiceRequest" and resource.get("status") == "draft"


def visit_encounter(resources: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    encounters = [r for r in resources if r.get("resourceType") == "Encounter" and isinstance(r.get("id"), str)]
    active = [e for e in encounters if e.get("status") in ACTIVE_ENCOUNTER]
    return (active or encounters or [None])[0]


def build_context(hook: str, patient_id: str, encounter: dict[str, Any] | None,
                  drafts: Sequence[dict[str, Any]], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": PRACTITIONER, "patientId": patient_id}
    if encounter is not None:
        context["encounterId"] = encounter["id"]
    if hook in ORDER_HOOKS:
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": d} for d in drafts]}
        if hook == "order-select" and drafts:
            context["selections"] = [f"{drafts[0]['resourceType']}/{drafts[0].get('id', '')}"]
    context.update({k: v for k, v in (overrides or {}).items() if k != "draftOrders"})
    return context


def build_request(chart: ChartInput, service: ServiceDefinition, drafts: Sequence[dict[str, Any]] | None = None,
                  extra_drafts: Iterable[dict[str, Any]] = (), context_overrides: dict[str, Any] | None = None,
                  prefetch: bool = True) -> dict[str, Any]:
    """The hook request for ``service`` with its prefetch filled from ``chart``.

    ``drafts``: the hook's draft orders; None means the chart's own draft ServiceRequests (a pasted
    Bundle holds its drafts beside the chart). ``extra_drafts`` are added. Draft orders are never
    part of the prefetch (they are the hook's context, not the chart)."""
    patient = chart.patient
    if patient is None:
        raise InputError("the chart holds no Patient resource")
    patient_id = patient.get("id") if isinstance(patient.get("id"), str) and patient.get("id") else "example"
    resources = [dict(patient, id=patient_id) if patient.get("id") != patient_id else patient]
    resources += [r for r in chart.resources if r is not patient]
    if service.hook in ORDER_HOOKS:
        chosen = [r for r in resources if is_draft(r)] if drafts is None else list(drafts)
        chosen += list(extra_drafts)
    else:
        chosen = []
    chosen_ids = {id(d) for d in chosen}
    charted = [r for r in resources if id(r) not in chosen_ids]
    context = build_context(service.hook, patient_id, visit_encounter(charted), chosen, context_overrides)
    body: dict[str, Any] = {"hook": service.hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if prefetch:
        body["prefetch"] = {key: evaluate_template(template, context, charted)
                            for key, template in service.prefetch.items()}
    return body


def clinical_date(resource: dict[str, Any]) -> str:
    """The date a ``_sort=date`` search orders ``resource`` by ("" when it has none)."""
    for dotted in _DATE_PATHS:
        value: Any = resource
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            return value
    return ""


def _subject(resource: dict[str, Any]) -> str | None:
    for element in ("subject", "patient"):
        ref = resource.get(element)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return ref["reference"]
    return None


def _token_matches(resource: dict[str, Any], element: str, value: str) -> bool:
    field = resource.get(element)
    if isinstance(field, str):
        return field == value
    concepts = field if isinstance(field, list) else [field]
    system, _, code = value.rpartition("|")
    return any(isinstance(c, dict) and any(
        isinstance(coding, dict) and coding.get("code") == code and (not system or coding.get("system") == system)
        for coding in c.get("coding") or []) for c in concepts)


def evaluate_template(template: str, context: dict[str, Any], resources: Sequence[dict[str, Any]]) -> Any:
    """What a FHIR server holding ``resources`` answers to a prefetch template (contract §9).

    A read gives the resource or None; a search gives a searchset Bundle (possibly empty). Only what
    prefetch templates use is implemented (read, ``patient``, token equality, ``_sort`` by date,
    ``_count``); anything else raises NotImplementedError, so a builder never silently disagrees with a server.
    """
    missing = [name for name in _TOKEN.findall(template) if not isinstance(context.get(name), str)]
    if missing:
        return None  # e.g. an Encounter read without an encounterId: nothing to read
    query = _TOKEN.sub(lambda m: context[m.group(1)], template)
    path, _, params = query.partition("?")
    resource_type, _, resource_id = path.strip("/").partition("/")
    if resource_id:
        found = next((r for r in resources if r.get("resourceType") == resource_type and r.get("id") == resource_id),
                     None)
        return copy.deepcopy(found)
    matches = [r for r in resources if r.get("resourceType") == resource_type]
    for name, value in parse_qsl(params, keep_blank_values=True):
        if name == "patient":
            wanted = "Patient/" + value.removeprefix("Patient/")
            matches = [r for r in matches if _subject(r) == wanted]
        elif name == "_sort" and value in ("date", "-date"):
            matches.sort(key=clinical_date, reverse=value.startswith("-"))
        elif name == "_count":
            continue
        elif name in _TOKEN_PARAMS:
            matches = [r for r in matches if _token_matches(r, _TOKEN_PARAMS[name], value)]
        else:
            raise NotImplementedError(f"prefetch template {template!r}: {name}={value} is not supported here")
    return {"resourceType": "Bundle", "type": "searchset", "total": len(matches),
            "entry": [{"fullUrl": f"{r['resourceType']}/{r.get('id', '')}", "resource": copy.deepcopy(r),
                       "search": {"mode": "match"}} for r in matches]}
