"""CardDraft -> CDS Hooks 2.0 card JSON (contract §4, clinical-rules §7.5).

Suggested orders are FHIR R4 ServiceRequests. They are built from fixed templates, so they are
validated once in tests (``tests/test_emitted_resources.py``, with ``fhir.resources.R4B``: R4B is
wire-compatible with R4 for ServiceRequest) rather than on every call, where model validation cost
more than the triage itself. Nothing here decides clinically: it only renders what the pathways
and assembly decided.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cds_hooks.cards_protocol import strip_empty
from service.cards import text as ct
from service.cards.text import clip_summary
from service.cards.draft import TOPIC_DISPLAY, AdviceSuggestion, CardDraft, Suggest
from service.chart.dates import day_text
from service.chart.facts import Facts
from service.cards.guidelines import GUIDELINES
from service.terminology.code_sets import Terminology
from service.pathways.state import KNOWLEDGE_VERSION
from service.chart.units import humanise_units
from service.vocabulary import RequestPriority, Tier

CS = "http://knee-cds.example/fhir/CodeSystem/"
SOURCE_LABEL = "knee-cds: pain behind the knee"
EXTENSION_KEY = "example.knee-cds"
SUMMARY_MAX = ct.SUMMARY_MAX

SIDE_TEXT = {"left": "left", "right": "right", "bilateral": "both legs (score the more symptomatic leg)"}


def iso(dt: datetime) -> str:
    """'2026-03-02T09:00:00Z' (FHIR dateTime in UTC)."""
    dt = dt.astimezone(timezone.utc)
    return "%sT%02d:%02d:%02dZ" % (day_text(dt), dt.hour, dt.minute, dt.second)


def _to_minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


def render_detail(draft: CardDraft, suggested: list[tuple[str, str]] | None = None) -> str:
    """Markdown a clinician reads top-down (docs/card-style-guide.md): headline, Evidence, Unknown,
    Recommendation (main action first), the card's own sections, Data quality, Guideline, Safety net;
    then, under "More detail", the score items that added nothing and the Not recommended list.

    ``suggested`` are (orderable id, name) of the tests the card suggests (they lead the Recommendation
    when no line names them). Text passes through the card wording standard (service.card_text)."""
    main: list[str] = []
    more: list[str] = []
    if draft.headline:
        main.append(draft.headline)
    evidence = ct.layout_evidence(draft.evidence)
    if evidence.main:
        main.append(_section("Evidence", evidence.main))
    unknown = [ct.upper_first(line) for line in ct.unique(draft.unknown)]
    if unknown:
        main.append(_section("Unknown / not documented", unknown))
    recommendation = ct.order_recommendation(draft.recommendation, suggested or [])
    if recommendation:
        main.append(_section("Recommendation", recommendation))
    for title, lines in draft.extra:
        if lines:
            main.append(_section(title, [ct.upper_first(line) for line in ct.unique(lines)]))
    quality = ct.explain_flags(draft.flags, draft.quality, has_unknown_section=bool(unknown))
    if quality:
        main.append(_section("Data quality", quality))
    citations = [GUIDELINES[k].citation for k in ct.unique(draft.guidelines) if k in GUIDELINES]
    if citations:
        main.append("**Guideline**: " + "; ".join(citations) + ".")
    if draft.safety_net:
        main.append("**Safety net**\n> " + SAFETY_NET)
    if evidence.score_detail:
        more.append(_section("Score items that added no points", evidence.score_detail))
    if draft.not_recommended:
        lines = ct.group_not_recommended([(_orderable_title(n.orderable), n.reason) for n in _unique_not(draft)])
        more.append(_section("Not recommended", lines))
    if more:
        main.append(MORE_DETAIL + "\n\n" + "\n\n".join(more))
    return humanise_units("\n\n".join(main))


def _section(title: str, lines: list[str]) -> str:
    return f"**{title}**\n- " + "\n- ".join(lines) if lines else f"**{title}**\n"


MORE_DETAIL = "**More detail**"


# clinical-rules §7.6, verbatim.
SAFETY_NET = (
    "Get emergency help now (ambulance or emergency department) if you become suddenly breathless, "
    "have chest pain, cough up blood or faint, or if the leg becomes cold, pale, numb or much more "
    "swollen. See a clinician the same day for fever or a hot, swollen knee. See a doctor within a few "
    "days if the pain lasts more than 1–2 weeks, stops you walking or sleeping, a lump appears, or the "
    "knee locks or gives way."
)


def _unique_not(draft: CardDraft):
    seen: set[str] = set()
    out = []
    for n in draft.not_recommended:
        if n.orderable not in seen:
            seen.add(n.orderable)
            out.append(n)
    return out


def _orderable_title(orderable: str) -> str:
    return ct.ORDERABLE_TITLES.get(orderable, orderable)


class CardRenderer:
    """Renders drafts for one response; holds the terminology (catalog codes, override reasons)."""

    def __init__(self, terminology: Terminology):
        self.terminology = terminology
        self._override_reasons = _override_reasons(terminology)
        # the catalog is fixed once loaded: each orderable's names and codings are prepared here once
        self._orderables = {o: _OrderableText.of(terminology, o) for o in terminology.orderable_ids}

    def render(self, draft: CardDraft, facts: Facts) -> dict[str, Any]:
        """The card JSON. It never holds null, "", [] or {} (contract §7): a member that would be
        empty is left out here, where it is built, so the card needs no stripping afterwards."""
        links = self._links(draft)
        indicator = Tier(draft.tier).indicator
        card: dict[str, Any] = {"uuid": str(uuid.uuid4())}
        summary = clip_summary(draft.summary or TOPIC_DISPLAY.get(draft.topic, draft.topic))
        if summary:
            card["summary"] = summary
        card["indicator"] = indicator
        detail = render_detail(draft, [(s.orderable, self._suggested_name(s)) for s in draft.suggestions])
        if detail:
            card["detail"] = detail
        card["source"] = {
            "label": SOURCE_LABEL,
            "url": links[0]["url"],
            "topic": {"system": CS + "card-topic", "code": draft.topic,
                      "display": TOPIC_DISPLAY.get(draft.topic, draft.topic)},
        }
        suggestions = [self._suggestion(s, draft, facts) for s in draft.suggestions]
        suggestions += [self._advice(a, draft, facts) for a in draft.advice]
        if suggestions:
            card["selectionBehavior"] = "any"
            card["suggestions"] = suggestions
        if indicator in ("warning", "critical"):
            card["overrideReasons"] = [dict(r) for r in self._override_reasons]
        card["links"] = links
        ext: dict[str, Any] = {"tier": draft.tier}
        rules = [rule for rule in ct.unique(draft.rules) if rule]
        if rules:
            ext["rules"] = rules
        scores = strip_empty(draft.scores)      # the score modules own this structure: stripped here
        if scores:
            ext["scores"] = scores
        ext["knowledgeVersion"] = KNOWLEDGE_VERSION
        flags = [flag for flag in ct.unique(draft.flags) if flag]
        if flags:
            ext["flags"] = flags
        card["extension"] = {EXTENSION_KEY: ext}
        return card

    # -- pieces -----------------------------------------------------------------------------
    def _orderable(self, orderable: str) -> _OrderableText:
        known = self._orderables.get(orderable)
        return known if known is not None else _OrderableText.of(self.terminology, orderable)

    def _suggested_name(self, s: Suggest) -> str:
        """'proximal leg-vein ultrasound (result within 4 hours)' from the suggestion's label."""
        label = s.label or self._orderable(s.orderable).display
        return ct.lower_first(label.removeprefix("Order ").removeprefix("order "))

    def _links(self, draft: CardDraft) -> list[dict[str, str]]:
        links: list[dict[str, str]] = []
        seen: set[str] = set()
        for key in ct.unique(draft.guidelines) or ["ng158"]:
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
            "label": s.label or f"Order {self._orderable(s.orderable).display}",
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
        suggestion: dict[str, Any] = {"uuid": str(uuid.uuid4())}
        if a.label:
            suggestion["label"] = a.label
        suggestion["isRecommended"] = True
        if actions:
            suggestion["actions"] = actions
        return suggestion

    def _create_action(self, s: Suggest, draft: CardDraft, facts: Facts) -> dict[str, Any]:
        return {
            "type": "create",
            "description": f"{self._orderable(s.orderable).title} ({s.rule})",
            "resource": self.service_request(s, draft.tier, facts),
        }

    def service_request(self, s: Suggest, tier: str, facts: Facts) -> dict[str, Any]:
        """contract §4: draft proposal coded with every catalog code of the orderable."""
        note = s.note
        side = facts.ka_value("symptom-side")
        reading = facts.ka.get("symptom-side")
        if side in SIDE_TEXT and reading and reading.winner:
            side_note = f"symptomatic leg: {SIDE_TEXT[side]} ({reading.winner.source.ref})."
            # the leg first, then the rule's own note, each a sentence (contract §4 V01 example)
            note = f"{side_note} {ct.sentence(note)}" if note else side_note
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "priority": s.priority or str(RequestPriority.for_tier(tier)),
        }
        code = self._orderable(s.orderable).code()
        if code:
            resource["code"] = code
        if facts.patient_ref:
            resource["subject"] = {"reference": facts.patient_ref}
        if s.period:
            # Scheduled to the minute, as orders are (both ends floored: a "within 1 h" window never
            # grows). The same chart then gives the same ServiceRequest within that minute, whether
            # it came by prefetch or by fetch.
            resource["occurrencePeriod"] = {"start": iso(_to_minute(s.period[0])), "end": iso(_to_minute(s.period[1]))}
        resource["reasonCode"] = [{"text": f"{s.rule}: {s.reason}"}]
        # contract §4: reasonCode and note both present, both carrying why. Without extra detail
        # (what follows the test, the leg) the note restates the reason rather than going missing.
        resource["note"] = [{"text": f"{s.rule}: {note or s.reason}"}]
        return resource


@dataclass(frozen=True, slots=True)
class _OrderableText:
    """How a card names and codes one catalog orderable (contract §4, §5)."""

    display: str                                # as the catalog names it
    title: str                                  # the same, first letter capital
    codings: tuple[dict[str, str], ...]         # every catalog coding ({system, code, display}), none empty

    @classmethod
    def of(cls, terminology: Terminology, orderable: str) -> _OrderableText:
        display = terminology.orderable_display(orderable)
        codings = strip_empty(terminology.orderable_codings(orderable))
        return cls(display, display[:1].upper() + display[1:], tuple(codings))

    def code(self) -> dict[str, Any]:
        """A fresh ServiceRequest.code (each card owns its JSON); {} when the catalog has nothing."""
        code: dict[str, Any] = {}
        if self.codings:
            code["coding"] = [dict(c) for c in self.codings]
        if self.title:
            code["text"] = self.title
        return code


def _override_reasons(terminology: Terminology) -> list[dict[str, str]]:
    """contract §4: all five override-reason codes, in the contract's order, from mappings/."""
    return strip_empty([{"system": c["system"], "code": c["code"], "display": c["display"]}
                        for c in terminology.set_codes("override-reason")])
