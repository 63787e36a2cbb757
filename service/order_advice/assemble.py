"""The order-advice card (clinical-rules §6.16 items 1 and 7; contract §6).

:func:`build_order_advice` compares the drafts with the pathway cards **after** assembly (§7.2
suppression, §7.3 one test/two cards, §7.7 already ordered) and returns the single
``order-advice`` card draft, or ``None`` when there is nothing to say (``{"cards": []}``).
"""
from __future__ import annotations

from service.cards.draft import AdviceSuggestion, CardDraft
from service.catalog import ORDER_HOOKS
from service.order_advice.findings import evaluate
from service.order_advice.rows import DUPLICATE_DRAFT, Finding
from service.order_advice.state import Situation
from service.order_advice.text import (
    FINE,
    FINE_HEADING,
    Phrases,
    draft_ref,
    drafts_text,
    headline,
    label,
    recommendation,
    summary_phrase,
)
from service.pathways.state import Triage
from service.vocabulary import Tier, Topic, more_urgent

# The guideline behind a finding (service.cards.guidelines keys), cited when none of its
# motivating cards brings one (e.g. OA-XR-RULES-NEG, whose injury-rule result has no card of its own).
RULE_GUIDELINES: dict[str, tuple[str, ...]] = {
    "OA-DDIMER-PREGNANCY": ("rcog",), "OA-DDIMER-ALONE-LIKELY": ("ng158",), "OA-DDIMER-ANTICOAG": ("ng158",),
    "OA-DDIMER-IMAGING-FIRST": ("ng158",), "OA-DDIMER-CHILD": ("ng158",), "OA-DDIMER-NOT-INDICATED": ("ng158",),
    "OA-DDIMER-DVT-EXCLUDED": ("ng158",), "OA-PE-DDIMER-LIKELY": ("ng158", "esc"),
    "OA-PE-TEST-PERC-NEG": ("perc",), "OA-CTPA-PREG-DUPLEX-FIRST": ("rcog",), "OA-MRI-BEFORE-XR": ("acr",),
    "OA-KNEE-IMAGING-DVT-OPEN": ("ng158",), "OA-XR-RULES-NEG": ("ottawa",),
    "OA-URATE-WITHOUT-ASPIRATION": ("bsr", "ng219"), "OA-VENOUS-US-FOR-PAES": ("acr",),
}


def build_order_advice(t: Triage, pathway_cards: list[CardDraft], hook: str) -> CardDraft | None:
    """The ``order-advice`` card (§6.16), or None when there is no finding.

    ``pathway_cards`` are the triage cards after assembly; a card's ``meta["already_on_record"]``
    lists orderables §7.7 removed as already ordered or done. ``t.drafts`` are the matched drafts
    (:func:`service.chart.draft_orders.match_drafts`). Only the order hooks get advice.
    """
    if hook not in ORDER_HOOKS:
        return None
    situation = Situation(t, pathway_cards, hook)
    findings = evaluate(situation)
    if not findings:
        return None
    return assemble(situation, findings)


def assemble(s: Situation, findings: list[Finding]) -> CardDraft:
    """Item 7: one card; each finding one suggestion; the card takes the most urgent finding's tier.
    Rules: the ``OA-*`` ids, then the pathway rule ids that motivated them."""
    tier = findings[0].tier
    for f in findings:
        tier = more_urgent(tier, f.tier)
    card = CardDraft(topic=Topic.ORDER_ADVICE, tier=Tier.of(tier))
    for f in findings:
        card.add_rule(f.rule)
    for f in findings:
        for rule in f.motivating:
            card.add_rule(rule)
    for f in findings:
        _add_finding(s, card, f)
    fine = fine_drafts(s, findings)
    if fine:
        card.extra.append((FINE_HEADING, fine))
    top = findings[0]
    short = summary_phrase(top, Phrases(s))
    card.headline = headline(short, top.advice)
    more = len(findings) - 1
    card.summary = short + (f" (+{more} more)" if more else "")
    card.meta["findings"] = [
        {"rule": f.rule, "tier": f.tier, "deletes": [d.id for d in f.deletes],
         "creates": [c.orderable for c in f.creates]} for f in findings]
    return card


def _add_finding(s: Situation, card: CardDraft, f: Finding) -> None:
    card.advice.append(AdviceSuggestion(rule=f.rule, label=label(f), deletes=[d.id for d in f.deletes],
                                        creates=list(f.creates), reason=f.advice))
    refs = drafts_text(f.deletes, s.hook) if f.deletes else ""
    if f.rule == DUPLICATE_DRAFT or not refs:
        card.evidence.append(f"{f.rule}: {f.why}")
    else:
        card.evidence.append(f"{f.rule}: {refs}: {f.why}")
    card.recommendation.append(recommendation(f))
    keys = [k for c in f.cards for k in c.guidelines] or list(RULE_GUIDELINES.get(f.rule, ()))
    for key in keys:
        if key not in card.guidelines:
            card.guidelines.append(key)


def fine_drafts(s: Situation, findings: list[Finding]) -> list[str]:
    """The drafts no finding touches, and why each is fine; then the drafts a duplicate finding keeps."""
    judged_ids = {d.id for d in s.judged}
    touched = {d.id for f in findings for d in f.deletes + f.triggers} | {
        f.kept.id for f in findings if f.kept is not None}
    fine: list[str] = []
    for d in s.drafts:
        if d.id in touched:
            continue
        ref = draft_ref(d, s.hook)
        recommended = sorted(d.orderables & s.recommended)
        if recommended:
            topics = ", ".join(sorted({s.recommending_card[o].topic for o in recommended}))
            fine.append(FINE["recommended"].format(draft=ref, topics=topics))
        elif d.id not in judged_ids:
            fine.append(FINE["not-judged"].format(draft=ref))
        else:
            fine.append(FINE["no-objection"].format(draft=ref))
    fine.extend(FINE["kept"].format(draft=draft_ref(f.kept, s.hook)) for f in findings if f.kept is not None)
    return fine
