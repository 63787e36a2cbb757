"""The draft orders of an order hook (``context.draftOrders``), matched against the catalog.

clinical-rules §6.16 item 2 and §1.2; contract §5 (catalog matching), §6. Pure: no I/O. Dates are
read by :func:`service.chart.dates.utc_day`, the one FHIR date reader.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from service.catalog import ORDER_SELECT
from service.chart.dates import utc_day
from service.vocabulary import Orderable, RequestPriority

# §1.2: a draft counts; at order-sign an order already signed and re-sent (active) counts too
DRAFT_STATUSES = ("draft",)
SIGN_STATUSES = ("draft", "active")
REASON_ELEMENT = "ServiceRequest.reasonCode"
# "http://ehr/fhir/ServiceRequest/x", "ServiceRequest/x/_history/2" -> x
_SERVICE_REQUEST_ID = re.compile(r"(?:^|/)ServiceRequest/([^/]+)")


class CatalogTerminology(Protocol):
    """What matching needs from the terminology (service.terminology.code_sets.Terminology)."""

    def orderables_for(self, codings: Iterable[dict[str, Any]]) -> frozenset[str]: ...

    def sets_for(self, element: str, codings: Iterable[dict[str, Any]]) -> frozenset[str]: ...


@dataclass
class DraftOrder:
    """A draft ServiceRequest of an order hook (§6.16 item 2)."""

    id: str
    resource: dict[str, Any]
    orderables: frozenset[Orderable]   # catalog entries it matches (empty: unknown test, ignored)
    reason_sets: frozenset[str]        # knee complaint sets matched on reasonCode (§2 T5)
    priority: RequestPriority          # none given counts as routine
    occurrence_day: str | None         # UTC date of occurrence[x], for duplicate detection
    selected: bool = False             # order-select: named in context.selections
    index: int = 0                     # position in draftOrders

    @property
    def reference(self) -> str:
        return f"ServiceRequest/{self.id}"


def match_drafts(draft_orders_bundle: Any, selections: Iterable[str] | None, terminology: CatalogTerminology,
                 hook: str | None = None) -> list[DraftOrder]:
    """Parse ``context.draftOrders`` into :class:`DraftOrder` objects.

    - Only ServiceRequests count; status ``draft``, and ``active`` too at order-sign (or when
      ``hook`` is not given).
    - ``orderables``: any coding matches a catalog entry, ``CS orderable`` included (contract §5);
      ``reason_sets``: the knee complaint sets found on the reasonCode codings (§2 T5).
    - A draft that matches no orderable and has no knee-complaint reason is dropped. One with only
      a knee-complaint reason is kept with empty ``orderables``: it can trigger the pathway (§2 T5)
      and order advice ignores it (§6.16 item 2).
    - ``occurrence_day``: UTC date of ``occurrenceDateTime`` or ``occurrencePeriod.start``.
    - ``selected`` when ``ServiceRequest/<id>``, the bare id or the entry's fullUrl is in
      ``selections``; ``index``: position of the entry in the Bundle.
    """
    selected_keys = selection_keys(selections or [])
    allowed = DRAFT_STATUSES if hook == ORDER_SELECT else SIGN_STATUSES
    out: list[DraftOrder] = []
    for index, (full_url, resource) in enumerate(bundle_entries(draft_orders_bundle)):
        if not isinstance(resource, dict) or resource.get("resourceType") != "ServiceRequest":
            continue
        if resource.get("status") not in allowed:
            continue
        draft = _draft(resource, terminology, index)
        if draft is None:
            continue
        keys = {draft.id, draft.reference} if draft.id else set()
        if full_url:
            keys.add(full_url)
        draft.selected = bool(keys & selected_keys)
        out.append(draft)
    return out


def _draft(resource: dict[str, Any], terminology: CatalogTerminology, index: int) -> DraftOrder | None:
    codings = _codings(resource.get("code"))
    orderables = frozenset(Orderable(o) for o in terminology.orderables_for(codings)) if codings else frozenset()
    reason_codings = [c for concept in _as_list(resource.get("reasonCode")) for c in _codings(concept)]
    reason_sets = frozenset(terminology.sets_for(REASON_ELEMENT, reason_codings)) if reason_codings else frozenset()
    if not orderables and not reason_sets:
        return None
    return DraftOrder(id=str(resource.get("id") or ""), resource=resource, orderables=orderables,
                      reason_sets=reason_sets, priority=RequestPriority.read(resource.get("priority")),
                      occurrence_day=occurrence_day(resource), index=index)


def bundle_entries(bundle: Any) -> list[tuple[str | None, Any]]:
    """(fullUrl, resource) pairs of a Bundle; a bare list of resources or one resource is accepted too."""
    if isinstance(bundle, list):
        return [(None, r) for r in bundle]
    if not isinstance(bundle, dict):
        return []
    if bundle.get("resourceType") == "ServiceRequest":
        return [(None, bundle)]
    return [(entry.get("fullUrl"), entry.get("resource")) for entry in _as_list(bundle.get("entry"))
            if isinstance(entry, dict)]


def selection_keys(selections: Iterable[str]) -> set[str]:
    """Every form a selection may name a draft by: as given, ``ServiceRequest/<id>`` and the bare id."""
    keys: set[str] = set()
    for selection in selections:
        if not isinstance(selection, str) or not selection.strip():
            continue
        selection = selection.strip()
        keys.add(selection)
        match = _SERVICE_REQUEST_ID.search(selection)
        if match:
            keys.add(f"ServiceRequest/{match.group(1)}")
            keys.add(match.group(1))
    return keys


def occurrence_day(resource: dict[str, Any]) -> str | None:
    """The UTC day a draft is scheduled for (``occurrenceDateTime``, else ``occurrencePeriod.start``)."""
    value = resource.get("occurrenceDateTime")
    if value is None:
        period = resource.get("occurrencePeriod")
        value = period.get("start") if isinstance(period, dict) else None
    return utc_day(value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in _as_list(concept.get("coding")) if isinstance(c, dict)]
