"""Conditions, Procedures and Encounters: the problem list, the surgery and the visits (clinical-rules
§1.1 times, §1.2 which statuses count, §1.11 item 1 the current encounter)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from service.chart.dates import after_age, parse_time
from service.chart.facts import ConditionFact, EncounterFact, ProcedureFact, Source
from service.chart.fhir_json import as_dict, as_list, as_text, concept_label, first_code, resource_ref
from service.chart.read_state import ReadState

# §1.2 status filters
PROC_COUNTED = frozenset({"completed", "in-progress"})
ENC_EXCLUDED = frozenset({"cancelled", "entered-in-error"})
COND_EXCLUDED = frozenset({"refuted", "entered-in-error"})
COND_ACTIVE = frozenset({"active", "recurrence", "relapse"})
ENC_CURRENT_STATUSES = frozenset({"in-progress", "arrived", "triaged", "onleave"})   # §1.11 item 1


def canonical_codes(r: ReadState, concept: Any) -> list[tuple[str, str]]:
    """(system, code) of every coding, after site-map system aliasing."""
    out = []
    for c in as_list(as_dict(concept).get("coding")):
        key, _alias = r.terminology.canonical(as_dict(c))
        if key:
            out.append(key)
    return out


def read_condition(r: ReadState, res: dict) -> None:
    ref = resource_ref(res)
    verification = first_code(res.get("verificationStatus"))
    if verification in COND_EXCLUDED:
        return                                                    # §1.2
    clinical = first_code(res.get("clinicalStatus"))
    match = r.terminology.match("Condition.code", res.get("code"))
    r.note_via(match.maps)
    onset, flags = None, set()
    if "onsetDateTime" in res:
        onset, flags = r.read_time(ref, res.get("onsetDateTime"), "onset")
    if onset is None and "onsetPeriod" in res:
        onset, flags = r.read_time(ref, as_dict(res.get("onsetPeriod")).get("start"), "onset")
    if onset is None and "onsetAge" in res:
        onset = after_age(r.birth, res.get("onsetAge"))
    recorded, rflags = r.read_time(ref, res.get("recordedDate"), "recordedDate") if "recordedDate" in res \
        else (None, set())
    if onset is None:
        onset, flags = recorded, flags | rflags
    abatement, has_abatement = _abatement(r, ref, res)
    active = clinical in COND_ACTIVE or (clinical is None and not has_abatement)
    status = ", ".join(x for x in (clinical, verification) if x) or None
    source = Source(ref, onset, status, concept_label(res.get("code")), match.via)
    r.facts.conditions.append(ConditionFact(
        source=source, codes=canonical_codes(r, res.get("code")), sets=match.sets, clinical_status=clinical,
        verification=verification, active=active, onset=onset, recorded=recorded, abatement=abatement,
        has_abatement=has_abatement))


def _abatement(r: ReadState, ref: str, res: dict) -> tuple[datetime | None, bool]:
    # an abatement later than now has not happened yet: the Condition is not abated (§1.1 item 2); an
    # unreadable one still says the Condition abated, at an unknown time (like abatementBoolean)
    if "abatementDateTime" in res:
        t, flags = r.read_time(ref, res.get("abatementDateTime"), "abatement")
        return t, "future-date" not in flags
    if "abatementPeriod" in res:
        p = as_dict(res.get("abatementPeriod"))
        t, flags = r.read_time(ref, p.get("end") or p.get("start"), "abatement")
        return t, "future-date" not in flags
    if "abatementAge" in res:
        return after_age(r.birth, res.get("abatementAge")), True
    if res.get("abatementBoolean") is True or as_text(res.get("abatementString")):
        return None, True                                          # abated at an unknown time
    return None, False


def read_procedure(r: ReadState, res: dict) -> None:
    status = as_text(res.get("status"))
    if status not in PROC_COUNTED:
        return
    ref = resource_ref(res)
    if "performedDateTime" in res:
        t, _ = r.read_time(ref, res.get("performedDateTime"), "performed")
    else:
        p = as_dict(res.get("performedPeriod"))
        t, _ = r.read_time(ref, p.get("end") or p.get("start"), "performed")
    match = r.terminology.match("Procedure.code", res.get("code"))
    r.note_via(match.maps)
    r.facts.procedures.append(ProcedureFact(
        source=Source(ref, t, status, concept_label(res.get("code")), match.via),
        codes=canonical_codes(r, res.get("code")), sets=match.sets,
        orderables=r.terminology.orderables_for(res.get("code")), status=status, time=t))


def _context_encounter_id(context: dict) -> str | None:
    eid = as_text(context.get("encounterId"))
    return eid.split("/")[-1] if eid else None


def read_encounter(r: ReadState, res: dict) -> None:
    status = as_text(res.get("status"))
    if status in ENC_EXCLUDED:
        return
    ref = resource_ref(res)
    period = as_dict(res.get("period"))
    start, _ = r.read_time(ref, period.get("start"), "period start") if period.get("start") else (None, set())
    end, _ = parse_time(period.get("end"))        # an end in the future is normal for a stay
    cls = r.terminology.match("Encounter.class", res.get("class"))
    reasons = r.terminology.match("Encounter.reasonCode", as_list(res.get("reasonCode")))
    types = r.terminology.match("Encounter.type", as_list(res.get("type")))
    r.note_via(cls.maps | reasons.maps | types.maps)
    refs = [ref_ for ref_ in (as_text(as_dict(x).get("reference")) for x in as_list(res.get("reasonReference")))
            if ref_]
    eid = _context_encounter_id(r.context)
    if eid:
        current = str(res.get("id")) == eid
    else:
        current = status in ENC_CURRENT_STATUSES and (end is None or end >= r.now)   # §1.11 item 1
    label = concept_label(as_list(res.get("type"))[0]) if as_list(res.get("type")) else (status or "encounter")
    r.facts.encounters.append(EncounterFact(
        source=Source(ref, start, status, label, reasons.via or cls.via),
        status=status, class_sets=cls.sets, reason_sets=reasons.sets, type_sets=types.sets,
        reason_condition_refs=refs, start=start, end=end, is_current=current))
