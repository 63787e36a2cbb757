"""Prefetch-filled CDS Hooks request bodies for protocol tests (no FHIR server needed)."""
from __future__ import annotations

import uuid
from typing import Any

# contract §1: the service of each hook, as the contract names them (not read from the service itself)
SERVICE_FOR_HOOK = {"patient-view": "knee-pain-triage", "encounter-start": "knee-pain-encounter-triage",
                    "order-select": "knee-order-advisor", "order-sign": "knee-order-check"}


def empty_bundle() -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": []}


def hook_body(hook: str, patient_id: str = "p1", **top: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/example", "patientId": patient_id}
    draft = {"resourceType": "ServiceRequest", "id": "sr1", "status": "draft", "intent": "order",
             "subject": {"reference": f"Patient/{patient_id}"}, "code": {"text": "D-dimer"}}
    if hook == "encounter-start":
        context["encounterId"] = "e1"
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]}
    if hook == "order-select":
        context["selections"] = ["ServiceRequest/sr1"]
    prefetch: dict[str, Any] = {"patient": {"resourceType": "Patient", "id": patient_id, "gender": "female"}}
    for key in ("encounters", "conditions", "observations", "medicationRequests", "medicationStatements",
                "procedures", "serviceRequests"):
        prefetch[key] = empty_bundle()
    if hook == "encounter-start":
        prefetch["encounter"] = {"resourceType": "Encounter", "id": "e1", "status": "in-progress"}
    body = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, "prefetch": prefetch}
    body.update(top)
    return body
