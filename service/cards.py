"""CardDraft -> CDS Hooks 2.0 card JSON (contract §4, clinical-rules §7.5).

Suggested orders are FHIR R4 ServiceRequests validated with ``fhir.resources.R4B`` (the package's
default models are R5; R4B is wire-compatible with R4 for ServiceRequest and never emits R5-only
elements). Nothing here decides clinically: it only renders what the pathways and assembly decided.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

from service.drafts import TOPIC_DISPLAY, AdviceSuggestion, CardDraft, Suggest
from service.facts import Facts
from service.guidelines import GUIDELINES
from service.terminology import Terminology
from service.triage import KNOWLEDGE_VERSION

CS = "http://knee-cds.example/fhir/CodeSystem/"
SOURCE_LABEL = "knee-cds: pain behind the knee"
EXTENSION_KEY = "example.knee-cds"
SUMMARY_MAX = 139

INDICATOR = {
    "emergency-immediate": "critical",
    "emergency-same-day": "critical",
    "urgent": "warning",
    "routine": "info",
    "self-care": "info",
}
PRIORITY = {
    "emergency-immediate": "stat",
    "emergency-same-day": "stat",
    "urgent": "urgent",
    "routine": "routine",
    "self-care": "routine",
}
SIDE_TEXT = {"left": "left", "right": "right", "bilateral": "both legs (score the more symptomatic leg)"}


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _to_minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


def clip_summary(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SUMMARY_MAX:
        return text
    return text[: SUMMARY_MAX - 1].rstrip() + "…"


def render_detail(draft: CardDraft) -> str:
    """Markdown in the order of clinical-rules §6: evidence, unknown, recommendation, not
    recommended, data quality, guideline, safety net."""
    parts: list[str] = []
    if draft.headline:
        parts.append(draft.headline)
    if draft.evidence:
        parts.append("**Evidence**\n" + "\n".join(f"- {line}" for line in draft.evidence))
    if draft.unknown:
        parts.append("**Unknown / not documented**\n" + "\n".join(f"- {line}" for line in draft.unknown))
    if draft.recommendation:
        parts.append("**Recommendation**\n" + "\n".join(f"- {line}" for line in draft.recommendation))
    for title, lines in draft.extra:
        if lines:
            parts.append(f"**{title}**\n" + "\n".join(f"- {line}" for line in lines))
    if draft.not_recommended:
        lines = [f"- {_orderable_title(n.orderable)}: {n.reason}" for n in _unique_not(draft)]
        parts.append("**Not recommended**\n" + "\n".join(lines))
    if draft.quality:
        parts.append("**Data quality**\n" + "\n".join(f"- {line}" for line in draft.quality))
    citations = [GUIDELINES[k].citation for k in _unique(draft.guidelines) if k in GUIDELINES]
    if citations:
        parts.append("**Guideline**: " + "; ".join(citations) + ".")
    if draft.safety_net:
        parts.append("**Safety net**\n> " + SAFETY_NET)
    return "\n\n".join(parts)


# clinical-rules §7.6, verbatim.
SAFETY_NET = (
    "Get emergency help now (ambulance or emergency department) if you become suddenly breathless, "
    "have chest pain, cough up blood or faint, or if the leg becomes cold, pale, numb or much more "
    "swollen. See a clinician the same day for fever or a hot, swollen knee. See a doctor within a few "
    "days if the pain lasts more than 1–2 weeks, stops you walking or sleeping, a lump appears, or the "
    "knee locks or gives way."
)


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [i for i in items if not (i in seen or seen.add(i))]


def _unique_not(draft: CardDraft):
    seen: set[str] = set()
    out = []
    for n in draft.not_recommended:
        if n.orderable not in seen:
            seen.add(n.orderable)
            out.append(n)
    return out


def _orderable_title(orderable: str) -> str:
    display = _ORDERABLE_TITLES.get(orderable)
    return display or orderable


_ORDERABLE_TITLES = {
    "venous-duplex-us": "Leg-vein ultrasound",
    "popliteal-us": "Popliteal ultrasound",
    "knee-xray": "Knee radiograph",
    "mri-knee": "Knee MRI",
    "d-dimer": "D-dimer",
    "cbc": "Full blood count",
    "crp": "CRP",
    "esr": "ESR",
    "blood-culture": "Blood cultures",
    "arthrocentesis": "Knee aspiration",
    "uric-acid": "Serum urate",
    "rheumatoid-factor": "Rheumatoid factor",
    "anti-ccp": "Anti-CCP",
    "abi": "Ankle-brachial index",
    "arterial-duplex": "Arterial duplex",
    "ctpa": "CTPA",
}


class CardRenderer:
    """Renders drafts for one response; holds the terminology (catalog codes, override reasons)."""

    def __init__(self, terminology: Terminology):
        self.terminology = terminology
        self._override_reasons = _override_reasons(terminology)

    def render(self, draft: CardDraft, facts: Facts) -> dict[str, Any]:
        links = self._links(draft)
        card: dict[str, Any] = {
            "uuid": str(uuid.uuid4()),
            "summary": clip_summary(draft.summary or TOPIC_DISPLAY.get(draft.topic, draft.topic)),
            "indicator": INDICATOR[draft.tier],
            "detail": render_detail(draft),
            "source": {
                "label": SOURCE_LABEL,
                "url": links[0]["url"],
                "topic": {"system": CS + "card-topic", "code": draft.topic,
                          "display": TOPIC_DISPLAY.get(draft.topic, draft.topic)},
            },
        }
        suggestions = [self._suggestion(s, draft, facts) for s in draft.suggestions]
        suggestions += [self._advice(a, draft, facts) for a in draft.advice]
        if suggestions:
            card["selectionBehavior"] = "any"
            card["suggestions"] = suggestions
        if INDICATOR[draft.tier] in ("warning", "critical"):
            card["overrideReasons"] = [dict(r) for r in self._override_reasons]
        card["links"] = links
        ext: dict[str, Any] = {"tier": draft.tier, "rules": _unique(draft.rules)}
        if draft.scores:
            ext["scores"] = draft.scores
        ext["knowledgeVersion"] = KNOWLEDGE_VERSION
        if draft.flags:
            ext["flags"] = _unique(draft.flags)
        card["extension"] = {EXTENSION_KEY: ext}
        return card

    # -- pieces -----------------------------------------------------------------------------
    def _links(self, draft: CardDraft) -> list[dict[str, str]]:
        links: list[dict[str, str]] = []
        seen: set[str] = set()
        for key in _unique(draft.guidelines) or ["ng158"]:
            g = GUIDELINES.get(key)
            if g and g.url not in seen:
                seen.add(g.url)
                links.append({"label": g.label, "url": g.url, "type": "absolute"})
        if not links:
            g = GUIDELINES["ng158"]
            links.append({"label": g.label, "url": g.url, "type": "absolute"})
        return links

    def _suggestion(self, s: Suggest, draft: CardDraft, facts: Facts) -> dict[str, Any]:
        return {
            "uuid": str(uuid.uuid4()),
            "label": s.label or f"Order {self.terminology.orderable_display(s.orderable)}",
            "isRecommended": True,
            "actions": [self._create_action(s, draft, facts)],
        }

    def _advice(self, a: AdviceSuggestion, draft: CardDraft, facts: Facts) -> dict[str, Any]:
        actions: list[dict[str, Any]] = []
        for draft_id in a.deletes:
            actions.append({
                "type": "delete",
                "description": f"Remove draft ServiceRequest/{draft_id} ({a.rule}): {a.reason}".strip(),
                # CDS Hooks 2.0, Card Attributes > Action: "`resourceId` | CONDITIONAL | *string* |
                # A relative reference to the relevant resource. SHOULD be provided when the `type`
                # attribute is `delete`." (example: "resourceId": "ServiceRequest/procedure-request-1").
                # One string per action, never an array (contract §4).
                "resourceId": f"ServiceRequest/{draft_id}",
            })
        actions.extend(self._create_action(s, draft, facts) for s in a.creates)
        return {"uuid": str(uuid.uuid4()), "label": a.label, "isRecommended": True, "actions": actions}

    def _create_action(self, s: Suggest, draft: CardDraft, facts: Facts) -> dict[str, Any]:
        display = self.terminology.orderable_display(s.orderable)
        return {
            "type": "create",
            "description": f"{display[:1].upper()}{display[1:]} ({s.rule})",
            "resource": self.service_request(s, draft.tier, facts),
        }

    def service_request(self, s: Suggest, tier: str, facts: Facts) -> dict[str, Any]:
        """contract §4: draft proposal coded with every catalog code of the orderable."""
        note = s.note
        side = facts.ka_value("symptom-side")
        reading = facts.ka.get("symptom-side")
        if side in SIDE_TEXT and reading and reading.winner:
            side_note = f"symptomatic leg: {SIDE_TEXT[side]} ({reading.winner.source.ref})."
            note = f"{note} {side_note}".strip() if note else side_note
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "priority": s.priority or PRIORITY[tier],
            "code": {
                "coding": self.terminology.orderable_codings(s.orderable),
                "text": self.terminology.orderable_display(s.orderable)[:1].upper()
                + self.terminology.orderable_display(s.orderable)[1:],
            },
            "subject": {"reference": facts.patient_ref},
        }
        if s.period:
            # Scheduled to the minute, as orders are (both ends floored: a "within 1 h" window never
            # grows). The same chart then gives the same ServiceRequest within that minute, whether
            # it came by prefetch or by fetch.
            resource["occurrencePeriod"] = {"start": iso(_to_minute(s.period[0])), "end": iso(_to_minute(s.period[1]))}
        resource["reasonCode"] = [{"text": f"{s.rule}: {s.reason}"}]
        # contract §4: reasonCode and note both present, both carrying why. Without extra detail
        # (what follows the test, the leg) the note restates the reason rather than going missing.
        resource["note"] = [{"text": f"{s.rule}: {note or s.reason}"}]
        return validate_service_request(resource)


def validate_service_request(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate with fhir.resources R4B; return the dict as sent (validation raises on error)."""
    ServiceRequest.model_validate(resource)
    return resource


def _override_reasons(terminology: Terminology) -> list[dict[str, str]]:
    """contract §4: all five override-reason codes, in the contract's order, from mappings/."""
    return [{"system": c["system"], "code": c["code"], "display": c["display"]}
            for c in terminology.set_codes("override-reason")]
