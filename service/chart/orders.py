"""The chart's own ServiceRequests: earlier orders, active or completed (clinical-rules §7.7 "already
ordered / done"), never a draft order of the current hook (§1.2, §6.16)."""
from __future__ import annotations

from service.chart.facts import OrderFact, Source
from service.chart.fhir_json import as_dict, as_list, as_text, concept_label, resource_ref
from service.chart.read_state import ReadState
from service.vocabulary import Orderable

SR_CHART_COUNTED = frozenset({"active", "completed"})
# contract §5 orderables that are imaging (clinical-rules §7.7 "(imaging only) a report Observation")
IMAGING_ORDERABLES = frozenset({Orderable.VENOUS_DUPLEX_US, Orderable.POPLITEAL_US, Orderable.KNEE_XRAY,
                                Orderable.MRI_KNEE, Orderable.ABI, Orderable.ARTERIAL_DUPLEX, Orderable.CTPA})


def draft_ids(context: dict) -> set[str]:
    """ids of the hook's draftOrders (a Bundle, or a list): never chart orders (§1.2, §6.16)."""
    drafts = context.get("draftOrders")
    items: list = []
    if isinstance(drafts, dict):
        items = [as_dict(e).get("resource") for e in as_list(drafts.get("entry"))]
    elif isinstance(drafts, list):
        items = drafts
    return {str(as_dict(x).get("id")) for x in items if as_dict(x).get("id") is not None}


def read_order(r: ReadState, res: dict, drafts: set[str]) -> None:
    status = as_text(res.get("status"))
    if status not in SR_CHART_COUNTED or str(res.get("id")) in drafts:
        return
    ref = resource_ref(res)
    authored = r.read_time_of(ref, res, "authoredOn", "authoredOn")
    if "occurrenceDateTime" in res:
        occurrence = r.read_time_of(ref, res, "occurrenceDateTime", "occurrence")
    elif "occurrencePeriod" in res:
        occurrence, _ = r.read_time(ref, as_dict(res.get("occurrencePeriod")).get("start"), "occurrence")
    else:
        occurrence = None
    r.facts.orders.append(OrderFact(
        source=Source(ref, occurrence or authored, status, concept_label(res.get("code"))),
        status=status, orderables=r.terminology.orderables_for(res.get("code")), authored=authored,
        occurrence=occurrence))
