"""Assessment needed (clinical-rules §6.14): one card gathering every missing item.

Tier = the most urgent tier among the rules that fired. No suggestions. Absent data has not been
treated as normal: that sentence is on the card.
"""
from __future__ import annotations

from service.cards.draft import CardDraft
from service.vocabulary import Tier, Topic, more_urgent
from service.pathways.minimum_dataset import minimum_dataset
from service.pathways.state import Triage

TRIGGER_TYPES = ("Observation", "Condition", "Encounter")

# §1.13: what each unreadable type could have changed
TYPE_IMPACT = {
    "Observation": "every knee-assessment item, vital sign and laboratory result (Wells examination items, D-dimer, scan results, triggers) is unknown",
    "Condition": "cancer, paralysis and previous DVT/PE (Wells W1, W2, W9; Wells PE; PERC) are unknown, and so are known diagnoses",
    "Procedure": "recent surgery, leg cast and cancer treatment (Wells W1–W3, PERC) are unknown; the imaging-first group is assumed",
    "Encounter": "whether the patient is an inpatient or the visit reason is unknown; the imaging-first group is assumed",
    "MedicationRequest": "anticoagulation is uncertain; oestrogen, SERM, testosterone and cancer medication are unknown (PERC incomplete)",
    "MedicationStatement": "anticoagulation is uncertain; oestrogen, SERM, testosterone and cancer medication are unknown (PERC incomplete)",
    "ServiceRequest": "earlier orders are unknown: a suggested test may already be ordered",
    "Medication": "the medication is unknown: anticoagulation is uncertain and the PERC oestrogen criterion is unknown",
}

# Every failure to read the FHIR server has one text: the request names the fhirServer, so telling
# "refused" from "timed out" or "HTTP 404" apart would let a caller map which hosts and ports answer.
# The detail goes to the service log; for the clinician the action is the same (check the chart).
FHIR_NOT_READ = "the FHIR server could not be read"
NETWORK_REASONS = frozenset({"timeout", "http-status", "invalid-response", "connection-error"})
REASON_TEXT = {
    "not-prefetched-no-fhir-server": "not prefetched and no fhirServer to fetch it from",
    **{reason: FHIR_NOT_READ for reason in NETWORK_REASONS},
    "page-cap": "page cap reached",
    "too-large": "the response was larger than the size limit",
    "forbidden-redirect": "the FHIR server redirected to another host (not followed)",
    "prefetch-outcome": "the prefetch held an OperationOutcome instead of data",
    "prefetch-malformed": "the prefetched value had the wrong shape and there was no fhirServer to fetch it from",
}


def data_fetch_lines(t: Triage) -> tuple[list[str], list[str]]:
    """Lines for DATA-FETCH-INCOMPLETE and the flags they raise."""
    facts = t.facts
    lines: list[str] = []
    flags: list[str] = []
    for problem in facts.fetch_problems:
        rtype = getattr(problem, "resource_type", "?")
        reason = getattr(problem, "reason", "")
        detail = getattr(problem, "detail", "")
        if reason == "page-cap":
            pages = getattr(problem, "truncated_pages", None) or facts.truncated.get(rtype)
            lines.append(
                f"Only the first {pages} pages of {rtype} were read (page cap reached); older records were "
                "not read and may hold history that changes this assessment."
            )
            if "fetch-truncated" not in flags:
                flags.append("fetch-truncated")
            continue
        why = REASON_TEXT.get(reason, reason or "unreadable")
        if detail and detail not in why and reason not in NETWORK_REASONS:
            why = f"{why} ({detail})"
        ref = getattr(problem, "reference", None)
        what = f"{rtype} for {ref}" if ref else rtype
        lines.append(f"{what} could not be read: {why}. Impact: {TYPE_IMPACT.get(rtype, 'unknown')}.")
    for med in facts.unresolved_medications:
        line = f"Unknown medication ({med.source.ref}): its medicationReference could not be resolved; anticoagulation is treated as uncertain."
        if line not in lines:
            lines.append(line)
        if "medication-unresolved" not in flags:
            flags.append("medication-unresolved")
    return lines, flags


def data_fetch_incomplete(t: Triage) -> bool:
    return bool(t.facts.fetch_problems or t.facts.unresolved_medications)


def evaluate(t: Triage) -> None:
    """Add AGE-UNKNOWN, DATA-FETCH-INCOMPLETE and TRIAGE-INCOMPLETE items (WELLS-INCOMPLETE and
    PREGNANCY-STATUS are added by the DVT/PE pathways through Triage.need_assessment)."""
    facts = t.facts
    if facts.age is None:
        t.need_assessment("ASSESS-AGE-UNKNOWN", "urgent", [
            "Date of birth (Patient.birthDate): every age criterion (Ottawa, Pittsburgh, PERC, Kocher, NG12, "
            "age-adjusted D-dimer) is unknown; the adult pathway was used."])
    if data_fetch_incomplete(t):
        lines, _flags = data_fetch_lines(t)
        t.need_assessment("DATA-FETCH-INCOMPLETE", "urgent", lines)
        if not t.dvt_suspected and facts.unreadable_types:
            t.need_assessment("DATA-FETCH-INCOMPLETE", "urgent", [
                "DVT suspicion could not be fully assessed: risk factors held in the unread data are not known."])
    pathway_tier = None
    for draft in t.cards.values():
        pathway_tier = more_urgent(pathway_tier, draft.tier)
    above_routine = pathway_tier is not None and Tier.of(pathway_tier).rank < Tier.ROUTINE.rank
    if not above_routine:
        mtd = minimum_dataset(t)
        if not mtd.complete:
            t.need_assessment("ASSESS-TRIAGE-INCOMPLETE", "urgent", mtd.missing)


def build_card(t: Triage) -> CardDraft | None:
    if not t.assessment:
        return None
    tier = None
    for rule in t.assessment:
        tier = more_urgent(tier, t.assessment_tiers.get(rule, "urgent"))
    draft = CardDraft(topic=Topic.ASSESSMENT_NEEDED, tier=tier or "urgent")
    names = {
        "ASSESS-WELLS-INCOMPLETE": "Complete the Wells DVT assessment",
        "ASSESS-PREGNANCY-STATUS": "Record pregnancy status",
        "ASSESS-TRIAGE-INCOMPLETE": "Complete the minimum triage dataset",
        "ASSESS-AGE-UNKNOWN": "Record the date of birth",
        "DATA-FETCH-INCOMPLETE": "Part of the chart could not be read",
    }
    for rule, lines in t.assessment.items():
        draft.add_rule(rule)
        draft.extra.append((names.get(rule, rule), list(lines)))
    if "DATA-FETCH-INCOMPLETE" in t.assessment:
        _lines, flags = data_fetch_lines(t)
        for flag in flags:
            draft.add_flag(flag)
    first = names.get(next(iter(t.assessment)), "Assessment needed")
    draft.summary = _summary(t, first)
    draft.headline = (
        "**Assessment needed at this contact.** Absent data has not been treated as normal: "
        "the items below are unknown, and each could change the triage."
    )
    draft.recommendation.append("Record the items listed, then reopen the chart: the triage is recomputed from them.")
    draft.guidelines.append("ng158")
    return draft


def _summary(t: Triage, first: str) -> str:
    if "DATA-FETCH-INCOMPLETE" in t.assessment and len(t.assessment) == 1:
        return "Check the full chart: part of it could not be read, so triage may be incomplete; absent data not treated as normal"
    if "ASSESS-WELLS-INCOMPLETE" in t.assessment:
        return "Examine today: Wells DVT items unknown, cannot classify as unlikely; treat as DVT likely until done"
    return f"Assessment needed: {first.lower()}; absent data not treated as normal"


def evaluate_fetch_only(t: Triage) -> None:
    """No trigger visible, but the unread data could hold one (§2): DATA-FETCH-INCOMPLETE alone."""
    lines, _flags = data_fetch_lines(t)
    t.need_assessment("DATA-FETCH-INCOMPLETE", "urgent", lines + [
        "No knee complaint is visible in what was read; the unread data may hold one."])


def triage_incomplete(t: Triage) -> None:
    """§7.1 step 6: the pathway applies but nothing fired."""
    mtd = minimum_dataset(t)
    t.need_assessment("ASSESS-TRIAGE-INCOMPLETE", "urgent", mtd.missing or [
        "The knee complaint is recorded but no pathway could be completed: examine and record the knee-assessment items."])
