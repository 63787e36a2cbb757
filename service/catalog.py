"""The four knee-cds services (contract §1) and their prefetch templates (contract §2)."""
from __future__ import annotations

from cds_hooks.domain import ServiceDefinition

# The hooks that carry draft orders and get order advice (clinical-rules §6.16): at order-select
# only the selected drafts are judged, at order-sign every draft is.
ORDER_SELECT = "order-select"
ORDER_SIGN = "order-sign"
ORDER_HOOKS: frozenset[str] = frozenset({ORDER_SELECT, ORDER_SIGN})

# contract §2: the same templates serve prefetch and the FHIR fetch fallback. Only the spec's
# recommended query subset (read, patient search, token equality, _sort); no dates, no _count.
_COMMON_PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "encounters": "Encounter?patient={{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}&_sort=-date",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "serviceRequests": "ServiceRequest?patient={{context.patientId}}",
}

_ENCOUNTER_PREFETCH: dict[str, str] = {
    "patient": _COMMON_PREFETCH["patient"],
    "encounter": "Encounter/{{context.encounterId}}",
    **{k: v for k, v in _COMMON_PREFETCH.items() if k != "patient"},
}


# (id, hook, title, description, prefetch), in discovery order
SERVICES = (
    ("knee-pain-triage", "patient-view", "Pain behind the knee: triage",
     "Triage of pain behind the knee when the chart is opened: red flags first (pulmonary embolism, acute limb "
     "ischaemia, septic arthritis), the DVT pathway (two-level Wells, D-dimer, leg-vein ultrasound per NICE NG158), "
     "then knee imaging and bloodwork. Cards cite the chart resources behind every finding and say what is not "
     "documented.",
     _COMMON_PREFETCH),
    ("knee-pain-encounter-triage", "encounter-start", "Pain behind the knee: triage at the start of a visit",
     "The same triage of pain behind the knee as knee-pain-triage, run when a visit starts; also reads the visit's "
     "Encounter (reason for the visit).",
     _ENCOUNTER_PREFETCH),
    ("knee-order-advisor", "order-select", "Pain behind the knee: order advice",
     "Advice on the imaging or laboratory order being selected for pain behind the knee: flags tests the pathway "
     "does not support for this patient (for example D-dimer alone when DVT is likely, or MRI before knee "
     "radiographs) and suggests the recommended test.",
     _COMMON_PREFETCH),
    ("knee-order-check", "order-sign", "Pain behind the knee: order check at signing",
     "Final check of all draft orders at signing for pain behind the knee: tests against the pathway, duplicate "
     "drafts, and urgent tests the pathway wants that no draft covers.",
     _COMMON_PREFETCH),
)


def knee_services() -> list[ServiceDefinition]:
    """The services KneeDomain advertises, in discovery order."""
    return [ServiceDefinition(id=service_id, hook=hook, title=title, description=description, prefetch=dict(prefetch))
            for service_id, hook, title, description, prefetch in SERVICES]
