"""The seam between the protocol layer and a clinical domain.

Flow: HTTP request -> :class:`HookRequest` (validated) -> :class:`Chart` (prefetch + FHIR fetch
fallback) -> ``Domain.evaluate`` -> :class:`DomainResult` (cards) -> HTTP response + audit row.

Nothing here knows about knees; the knee engine in ``service/`` implements :class:`Domain`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class ServiceDefinition:
    """One CDS service as advertised by discovery (CDS Hooks 2.0 §Discovery)."""

    id: str
    hook: str
    title: str
    description: str
    # prefetch key -> query template, e.g. {"patient": "Patient/{{context.patientId}}"}
    prefetch: dict[str, str]
    # keys without which the service cannot answer (412 when unreadable); contract §2: only "patient"
    required_prefetch: frozenset[str] = frozenset({"patient"})
    usage_requirements: str | None = None

    def discovery_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(self.prefetch),
        }
        if self.usage_requirements:
            out["usageRequirements"] = self.usage_requirements
        return out


@dataclass
class HookRequest:
    """A validated hook invocation (CDS Hooks 2.0 §HTTP Request)."""

    service: ServiceDefinition
    hook: str
    hook_instance: str
    context: dict[str, Any]
    fhir_server: str | None = None
    fhir_authorization: dict[str, Any] | None = None
    prefetch: dict[str, Any] | None = None
    # time the request was received, UTC (clinical-rules §1.1: "now")
    received_at: datetime | None = None
    # the authenticated client's issuer (auth on), else None
    client_iss: str | None = None

    @property
    def access_token(self) -> str | None:
        auth = self.fhir_authorization or {}
        token = auth.get("access_token")
        return token if isinstance(token, str) and token else None


@dataclass(frozen=True)
class Unreadable:
    """Part of the chart that could not be read (contract §2, clinical-rules §1.13)."""

    key: str               # prefetch key, e.g. "observations"; "medication" for a Medication read
    resource_type: str     # e.g. "Observation", "Medication"
    reason: str            # "not-prefetched-no-fhir-server" | "timeout" | "http-status" | "invalid-response" | "connection-error" | "page-cap" | "forbidden-redirect" | "too-large"
    detail: str = ""       # human text: "HTTP 500", "timed out after 3 s", "Only the first 20 pages ..."
    truncated_pages: int | None = None  # set when reason == "page-cap" (flag fetch-truncated)
    reference: str | None = None        # for reason on a medicationReference: the referencing resource


@dataclass
class Chart:
    """What could be read of the patient's chart, keyed like the prefetch templates.

    ``resources[key]`` is a flat list of resource dicts (Bundle entries unwrapped, every page read,
    OperationOutcomes removed). A key whose data is unreadable is absent from ``resources`` and
    listed in ``unreadable``; a key that was read and is empty maps to ``[]``.
    """

    patient: dict[str, Any]
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # "Medication/<id>" -> the Medication resource, for every non-contained medicationReference
    # that could be resolved (a Medication found in the prefetch, or read from fhirServer).
    # Contained references ("#id") are resolved by the domain from the resource itself. A reference
    # that could not be resolved is absent here and listed in ``unreadable`` (key "medication",
    # ``reference`` = the MedicationRequest/MedicationStatement that holds it).
    medications: dict[str, dict[str, Any]] = field(default_factory=dict)
    unreadable: list[Unreadable] = field(default_factory=list)
    # resources skipped because they were malformed: (key, short description)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def all_resources(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [self.patient]
        for items in self.resources.values():
            out.extend(items)
        return out


@dataclass
class DomainResult:
    cards: list[dict[str, Any]]
    # summary for the audit row (identifiers only, never free text)
    overall_tier: str | None = None
    knowledge_version: str | None = None
    site_map_versions: list[str] = field(default_factory=list)


class Domain(Protocol):
    """What a clinical domain provides to the protocol layer."""

    def services(self) -> list[ServiceDefinition]: ...

    def evaluate(self, request: HookRequest, chart: Chart) -> DomainResult: ...

    def card_audit(self, card: dict[str, Any]) -> dict[str, Any]:
        """Identifiers of one card for the audit row: {"topic", "tier", "rules", "flags"}."""
        ...
