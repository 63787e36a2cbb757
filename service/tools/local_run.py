"""One hook call in process, for the preview page and the command line.

The same steps as ``POST /cds-services/{id}`` (body validation, chart from prefetch, the knee
domain, response cards) without HTTP, client authentication or the audit row. A local run never
reads a FHIR server: ``fhirServer`` and ``fhirAuthorization`` are dropped, so whatever the prefetch
does not hold is unreadable and the cards say so (``DATA-FETCH-INCOMPLETE``) — a pasted request can
never make the service call out to the network.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cds_hooks.cards_protocol import response_cards
from cds_hooks.domain import Domain, HookRequest, ServiceDefinition
from cds_hooks.errors import Issue, ProtocolError
from cds_hooks.prefetch import FetchSettings, InvalidFhirServer, PatientUnavailable, gather_chart
from cds_hooks.schemas import validate_hook_request

# dropped before a local run: a local run reads nothing but the request itself
NETWORK_FIELDS = ("fhirServer", "fhirAuthorization")


@dataclass(frozen=True)
class LocalResult:
    """What the service would answer: HTTP status and JSON body (cards or an OperationOutcome)."""

    status: int
    body: dict[str, Any]
    service_id: str | None

    @property
    def cards(self) -> list[dict[str, Any]]:
        cards = self.body.get("cards")
        return cards if isinstance(cards, list) else []

    @property
    def ok(self) -> bool:
        return self.status == 200


def service_for_hook(domain: Domain, hook: str) -> ServiceDefinition | None:
    return next((s for s in domain.services() if s.hook == hook), None)


def outcome(status: int, issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.json() for i in issues]}


def run_request(domain: Domain, body: Any, now: datetime | None = None,
                settings: FetchSettings | None = None) -> LocalResult:
    """Answer ``body`` (a CDS Hooks request) as the service would, without network or store."""
    if not isinstance(body, dict):
        return _error(ProtocolError.single(400, "The request must be a JSON object."), None)
    hook = body.get("hook")
    service = service_for_hook(domain, hook) if isinstance(hook, str) else None
    if service is None:
        known = ", ".join(s.hook for s in domain.services())
        return _error(ProtocolError.single(400, f"hook must be one of: {known}.", "invalid", "hook"), None)
    local_body = {k: v for k, v in body.items() if k not in NETWORK_FIELDS}
    try:
        data = validate_hook_request(local_body, service.hook)
        request = HookRequest(
            service=service, hook=data["hook"], hook_instance=data["hookInstance"], context=data["context"],
            prefetch=data.get("prefetch"), received_at=(now or datetime.now(timezone.utc)).astimezone(timezone.utc))
        chart = gather_chart(request, settings or FetchSettings())
        result = domain.evaluate(request, chart)
    except ProtocolError as err:
        return _error(err, service.id)
    except PatientUnavailable as err:
        return _error(ProtocolError.single(412, str(err), "not-found", "prefetch.patient"), service.id)
    except InvalidFhirServer as err:  # not reachable once fhirServer is dropped; kept for safety
        return _error(ProtocolError.single(400, str(err), "invalid", "fhirServer"), service.id)
    return LocalResult(200, {"cards": response_cards(result.cards)}, service.id)


def _error(err: ProtocolError, service_id: str | None) -> LocalResult:
    return LocalResult(err.status, outcome(err.status, err.issues), service_id)
