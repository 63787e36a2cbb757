"""Where one card takes over another (clinical-rules §6.1, §7.2): steps of assembly, pure.

Pathways only record their outcome in the Triage state; whether a card is superseded, and what the
card that supersedes it then states, is decided here, once, after every pathway has run.
"""
from __future__ import annotations

from service.cards.draft import CardDraft
from service.cards.text import lower_first
from service.pathways.knee_review import BLOCKING_TOPICS
from service.pathways.state import Triage
from service.vocabulary import DvtStatus, Topic

SUPERSEDED_BY_PE = "DVT-SUPERSEDED-BY-PE"
REVIEW_AFTER_EXCLUSION = "DVT excluded; the knee pain still needs review."


def _extend_new(lines: list[str], more: list[str]) -> None:
    for line in more:
        if line not in lines:
            lines.append(line)


def pe_supersedes_dvt(t: Triage) -> None:
    """An emergency-immediate PE card with DVT suspected replaces the DVT card (§6.1, §7.2): it lists
    DVT-SUPERSEDED-BY-PE, what the DVT pathway recorded for it (``t.dvt_carried_by_pe``) and the one
    leg-scan text the PE pathway chose (``t.pe_supersede_text``)."""
    pe = t.cards.get(Topic.PE_EMERGENCY)
    if pe is None or not t.pe_supersedes_dvt:
        return
    t.cards.pop(Topic.DVT_PATHWAY, None)
    pe.add_rule(SUPERSEDED_BY_PE)
    carried = t.dvt_carried_by_pe or CardDraft(topic=Topic.DVT_PATHWAY, tier=pe.tier)
    for key, value in carried.scores.items():
        pe.scores.setdefault(key, value)
        t.scores.setdefault(key, value)         # order advice reads the superseded card's scores here
    _extend_new(pe.evidence, carried.evidence)
    _extend_new(pe.unknown, carried.unknown)
    for flag in carried.flags:
        pe.add_flag(flag)
    _extend_new(pe.guidelines, carried.guidelines)
    _extend_new(pe.recommendation, ([t.pe_supersede_text] if t.pe_supersede_text else []) + carried.recommendation)


def review_into_dvt(t: Triage) -> None:
    """The knee-pain review card stands down while DVT is open or a more urgent pathway owns the
    complaint; when DVT was excluded it joins the DVT card: "DVT excluded; the knee pain still needs
    review" (§7.2, one card for one complaint)."""
    review = t.cards.get(Topic.CHRONIC_KNEE_PAIN_IMAGING)
    dvt = t.cards.get(Topic.DVT_PATHWAY)
    if review is None:
        return
    if t.dvt_status == DvtStatus.OPEN or any(topic in t.cards for topic in BLOCKING_TOPICS):
        del t.cards[Topic.CHRONIC_KNEE_PAIN_IMAGING]
        return
    if dvt is None or t.dvt_status != DvtStatus.CLOSED:
        return
    for rule in review.rules:
        dvt.add_rule(rule)
    dvt.raise_to(review.tier)
    dvt.suggestions.extend(review.suggestions)
    dvt.not_recommended = [n for n in dvt.not_recommended if not review.suggests(n.orderable)]
    dvt.not_recommended.extend(review.not_recommended)
    dvt.evidence.extend(review.evidence)
    dvt.unknown.extend(review.unknown)
    _extend_new(dvt.recommendation, [REVIEW_AFTER_EXCLUSION, *review.recommendation])
    for flag in review.flags:
        dvt.add_flag(flag)
    dvt.guidelines.extend(review.guidelines)
    dvt.safety_net = dvt.safety_net or review.safety_net
    if review.summary:
        dvt.summary = review.summary if review.summary.lower().startswith("dvt excluded") \
            else "DVT excluded; " + lower_first(review.summary)
    del t.cards[Topic.CHRONIC_KNEE_PAIN_IMAGING]


def limb_supersedes_paes(t: Triage) -> None:
    """Acute limb ischaemia supersedes the PAES card, whose rules it lists (§6.2, §7.2)."""
    limb, paes = t.cards.get(Topic.LIMB_ISCHAEMIA), t.cards.get(Topic.PAES)
    if limb and paes:
        for rule in paes.rules:
            limb.add_rule(rule)
        del t.cards[Topic.PAES]
