"""What the chart holds: its resources by type, and the types that could not be read (§1.13)."""
from __future__ import annotations

from service.chart.facts import CHART_TYPES
from service.chart.fhir_json import as_list
from service.chart.read_state import ReadState

# §1.13: prefetch keys -> resource types (used when an Unreadable names a key, not a type)
KEY_TYPES = {"encounter": "Encounter", "encounters": "Encounter", "conditions": "Condition",
             "observations": "Observation", "medicationRequests": "MedicationRequest",
             "medicationStatements": "MedicationStatement", "procedures": "Procedure",
             "serviceRequests": "ServiceRequest"}


def read_unreadable(r: ReadState) -> None:
    """§1.13: types that could not be read, page caps (contract §2 wording), fetch problems."""
    for u in r.chart.unreadable or []:
        r.facts.fetch_problems.append(u)
        rtype = getattr(u, "resource_type", None)
        if rtype not in CHART_TYPES:
            rtype = KEY_TYPES.get(getattr(u, "key", ""), None)
        if rtype is None:
            continue    # a Medication read: the medication is unresolved (§1.12), not a whole type
        r.facts.unreadable_types.add(rtype)
        if getattr(u, "reason", "") == "page-cap":
            pages = getattr(u, "truncated_pages", None) or 0
            r.facts.truncated[rtype] = pages
            r.note("fetch-truncated", f"Only the first {pages} pages of {rtype} were read (page cap reached); "
                                      "older records were not read and may hold history that changes this "
                                      "assessment.")


def group_resources(r: ReadState) -> dict[str, list[dict]]:
    """Resources by type, deduplicated by (type, id): the encounter read and search may overlap."""
    out: dict[str, list[dict]] = {}
    seen: set[tuple[str, str]] = set()
    resources = r.chart.resources if isinstance(r.chart.resources, dict) else {}
    for key, items in resources.items():
        for res in as_list(items):
            rtype = res.get("resourceType") if isinstance(res, dict) else None
            if not isinstance(rtype, str):
                r.note("data-quality", f"a {key} entry is not a FHIR resource; skipped")
                continue
            rid = res.get("id")
            ident = (rtype, rid if type(rid) is str else str(rid))
            if rid is not None and ident in seen:
                continue
            seen.add(ident)
            group = out.get(rtype)
            if group is None:
                out[rtype] = [res]
            else:
                group.append(res)
    return out


def note_skipped(r: ReadState) -> None:
    """Entries the prefetch reader dropped as malformed: each a quality line."""
    for key, text in r.chart.skipped if isinstance(r.chart.skipped, list) else []:
        r.note("data-quality", f"a {key} entry was malformed and skipped: {text}")
