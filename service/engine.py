"""KneeDomain: request → chart → facts → pathways → cards (clinical-rules §7.1).

The protocol layer (cds_hooks) calls :meth:`KneeDomain.evaluate`; everything below it is pure.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Sequence

from cds_hooks.domain import Chart, DomainResult, HookRequest, ServiceDefinition
from service.cards.assembly import assemble
from service.cards.render import EXTENSION_KEY, CardRenderer
from service.chart.reader import build_facts
from service.cards.date_notes import add_date_notes
from service.cards.draft import CardDraft
from service.chart.draft_orders import match_drafts
from service.order_advice.assemble import build_order_advice
from service.pathways import (
    applicability,
    assessment,
    dvt,
    dvt_paediatric,
    dvt_pregnancy,
    dvt_suspicion,
    inflammatory,
    knee_injury,
    knee_review,
    limb_ischaemia,
    paes,
    pe,
    popliteal_mass,
    self_care,
    septic,
)
from service.catalog import ORDER_HOOKS, knee_services
from service.config import ConfigError
from service.terminology.code_sets import Terminology
from service.terminology.site_maps import SiteMapError, load_terminology
from service.pathways.state import KNOWLEDGE_VERSION, RuleSettings, Triage
from service.vocabulary import Tier, Topic

log = logging.getLogger("knee_cds")

# §7.1 step 3, in order: dvt_suspicion decides population and suspicion before PE and DVT run; PE runs
# before the DVT pathways (its tier decides whether its card supersedes theirs); the knee pathways read
# whether DVT is open.
PATHWAYS = (
    dvt_suspicion, pe, limb_ischaemia, dvt, dvt_pregnancy, dvt_paediatric,
    septic, knee_injury, popliteal_mass, paes, inflammatory, knee_review,
)


def run_triage(triage: Triage, pathways: Sequence[Any] = PATHWAYS) -> list[CardDraft]:
    """Pure: the whole clinical pathway for one chart (§2–§7). No cards for a deceased patient (§1.6);
    when no trigger is visible but the unread part of the chart could hold one, only the fetch card (§2
    "Unreadable chart"); never an empty answer once the pathway applies (§7.1 step 6)."""
    facts = triage.facts
    if facts.deceased:
        return []
    if not applicability.evaluate(triage):
        if applicability.trigger_may_be_hidden(triage):
            assessment.evaluate_fetch_only(triage)
            card = assessment.build_card(triage)
            return [card] if card else []
        return []
    for module in pathways:
        module.evaluate(triage)
    assessment.evaluate(triage)
    self_care.evaluate(triage)
    card = assessment.build_card(triage)
    if card is not None:
        triage.add_card(card)
    if not triage.cards:
        assessment.triage_incomplete(triage)
        triage.add_card(assessment.build_card(triage))
    return assemble(triage)


def run_order_hook(triage: Triage, pathways: Sequence[Any] = PATHWAYS) -> list[CardDraft]:
    """§6.16 item 1: the whole pathway, then only the order-advice card (or the fetch card)."""
    cards = run_triage(triage, pathways)
    pathway_cards = [c for c in cards if c.topic != Topic.ASSESSMENT_NEEDED]
    advice = build_order_advice(triage, pathway_cards, triage.hook)
    fetch = assessment.data_fetch_incomplete(triage)
    if advice is not None:
        if fetch:
            lines, flags = assessment.data_fetch_lines(triage)
            advice.add_rule("DATA-FETCH-INCOMPLETE")
            advice.raise_to(Tier.URGENT)
            advice.extra.append(("Part of the chart could not be read", lines))
            for flag in flags:
                advice.add_flag(flag)
        return [advice]
    if fetch:
        triage.assessment = {"DATA-FETCH-INCOMPLETE": triage.assessment.get("DATA-FETCH-INCOMPLETE")
                             or assessment.data_fetch_lines(triage)[0]}
        triage.assessment_tiers = {"DATA-FETCH-INCOMPLETE": Tier.URGENT}
        card = assessment.build_card(triage)
        return [card] if card else []
    return []


class KneeDomain:
    """The knee-cds clinical domain, configured once at app start (contract §8)."""

    def __init__(self, settings: Any, terminology: Terminology | None = None):
        self.settings = settings
        if terminology is None:
            try:
                terminology = load_terminology(getattr(settings, "site_maps", ()) or ())
            except SiteMapError as err:
                # contract §10: a bad site map stops the service, naming the file and entry
                raise ConfigError(str(err)) from err
        self.terminology = terminology
        for info in terminology.site_maps:
            log.info("site map loaded: %s version %s from %s (%d entries)", info.site, info.version, info.file,
                     info.entries)
        self.rules = RuleSettings(age_adjusted_ddimer=bool(getattr(settings, "age_adjusted_ddimer", False)))
        self.renderer = CardRenderer(self.terminology)
        self.pathways = PATHWAYS
        self._services = knee_services()

    def services(self) -> list[ServiceDefinition]:
        return list(self._services)

    def triage(self, request: HookRequest, chart: Chart, now: datetime | None = None) -> tuple[Triage, list[CardDraft]]:
        now = now or request.received_at or datetime.now(timezone.utc)
        facts = build_facts(chart, now, self.terminology, request.context, request.hook)
        triage = Triage(facts=facts, settings=self.rules, hook=request.hook)
        if request.hook in ORDER_HOOKS:
            triage.drafts = match_drafts(request.context.get("draftOrders"), request.context.get("selections") or [],
                                         self.terminology, hook=request.hook)
            drafts = run_order_hook(triage, self.pathways)
        else:
            drafts = run_triage(triage, self.pathways)
        add_date_notes(drafts, facts)
        return triage, drafts

    def evaluate(self, request: HookRequest, chart: Chart) -> DomainResult:
        triage, drafts = self.triage(request, chart)
        cards = [self.renderer.render(d, triage.facts) for d in drafts]
        return DomainResult(
            cards=cards,
            overall_tier=drafts[0].tier if drafts else None,
            knowledge_version=KNOWLEDGE_VERSION,
            site_map_versions=sorted(self.terminology_versions()),
        )

    def terminology_versions(self) -> list[str]:
        """Loaded site maps, recorded in every audit row (contract §10, §11)."""
        return [f"{m.site} {m.version}" for m in self.terminology.site_maps]

    def card_audit(self, card: dict[str, Any]) -> dict[str, Any]:
        ext = (card.get("extension") or {}).get(EXTENSION_KEY) or {}
        topic = ((card.get("source") or {}).get("topic") or {}).get("code")
        return {"topic": topic, "tier": ext.get("tier"), "rules": list(ext.get("rules") or []),
                "flags": list(ext.get("flags") or [])}
