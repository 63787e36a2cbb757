"""Vignette loader and expect checker (contract §9). Filled in below."""
from __future__ import annotations

from cds_hooks.domain import ServiceDefinition

# A copy of contract §2 for tests only; the service's own table (service/services.py) wins when present.
FALLBACK_TEMPLATES: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "encounter": "Encounter/{{context.encounterId}}",
    "encounters": "Encounter?patient={{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}&_sort=-date",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "serviceRequests": "ServiceRequest?patient={{context.patientId}}",
}
ENCOUNTER_ONLY_KEYS = frozenset({"encounter"})


def make_service(hook: str = "patient-view") -> ServiceDefinition:
    """A ServiceDefinition with the contract §2 templates (encounter read only for encounter-start)."""
    templates = {k: v for k, v in FALLBACK_TEMPLATES.items()
                 if hook == "encounter-start" or k not in ENCOUNTER_ONLY_KEYS}
    return ServiceDefinition(id=f"test-{hook}", hook=hook, title="test", description="test", prefetch=templates)
