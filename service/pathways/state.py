"""The state of one triage while pathways run (clinical-rules §7.1).

Pathways run in the order of §7.1 step 3; each reads :class:`Triage` and may record what later
pathways need (DVT open/closed, PE card tier ...). Pure data: no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.cards.draft import CardDraft, NotSuggested, more_urgent
from service.chart.draft_orders import DraftOrder
from service.chart.facts import Facts

KNOWLEDGE_VERSION = "1.1.0"


@dataclass(frozen=True)
class RuleSettings:
    """The configuration the clinical rules read (contract §8)."""

    age_adjusted_ddimer: bool = False


@dataclass
class Triage:
    facts: Facts
    settings: RuleSettings = field(default_factory=RuleSettings)
    hook: str = "patient-view"
    drafts: list[DraftOrder] = field(default_factory=list)

    # §2 applicability
    triggers: list[str] = field(default_factory=list)          # "T1", "T3" ...
    # §5
    dvt_suspected: bool = False
    suspicion: list[str] = field(default_factory=list)         # "S1: leg swelling (Observation/...)"
    dvt_signs: list[str] = field(default_factory=list)         # the S1–S4 lines only (§6.1 P7, §6.16)
    population: str = "adult"                                  # adult | pregnancy | paediatric
    # §6.3–6.5: not-suspected | open | closed
    dvt_status: str = "not-suspected"
    dvt_excluded_rule: str | None = None                       # L6/L7/U1/U4/G4/G5 rule id
    # DVT pathway inputs as decided (§6.3), for order advice (§6.16) and assembly
    wells_class: str | None = None                             # likely | unlikely | indeterminate
    us_state: str | None = None                                # positive | negative | negative-repeat | none
    m_anti: bool = False                                       # §6.3 M-ANTI
    m_img: bool = False                                        # §6.3 M-IMG
    # §6.1
    pe_symptom: bool = False
    pe_likely: bool = False                                    # Wells PE likely or handled as likely
    pe_excluded_rule: str | None = None                        # PE-PERC-NEG | PE-EXCLUDED-DDIMER-NEG
    pe_tier: str | None = None
    # §6.1 superseding: the one text the PE card states about the leg scan (None: no such text)
    pe_supersede_text: str | None = None
    # scores computed along the way (score key -> value as in §4.11)
    scores: dict[str, Any] = field(default_factory=dict)
    # cards produced so far, by topic (one per topic)
    cards: dict[str, CardDraft] = field(default_factory=dict)
    # rules that go onto the most urgent card (§7.2: PE-PERC-NEG, OTTAWA-NEG, DVT-NOT-SUSPECTED ...)
    carry_rules: list[str] = field(default_factory=list)
    # §6.9 R9 (OTTAWA-NEG, KNEE-INJURY-NO-XR) has no card of its own: the evidence lines and the
    # "not suggested" entries (knee-xray, mri-knee) that go with those carried rules onto the card that
    # receives them (self-care or the review card, §7.2). Written by pathways/knee_injury.py; the review
    # pathway drops knee-xray from it when its own ACR chronic-pain radiograph is suggested (§7.3).
    carry_evidence: list[str] = field(default_factory=list)
    # scores with no owning card that go onto the most urgent card: a PERC computed while PE was
    # excluded without a PE card (§4.11, §6.1 P1/P2)
    carry_scores: dict[str, Any] = field(default_factory=dict)
    carry_not_recommended: list[NotSuggested] = field(default_factory=list)
    # items for the assessment-needed card (§6.14): rule id -> lines
    assessment: dict[str, list[str]] = field(default_factory=dict)
    assessment_tiers: dict[str, str] = field(default_factory=dict)

    def card(self, topic: str) -> CardDraft | None:
        return self.cards.get(topic)

    def add_card(self, draft: CardDraft) -> CardDraft:
        self.cards[draft.topic] = draft
        return draft

    def need_assessment(self, rule: str, tier: str, lines: list[str]) -> None:
        self.assessment.setdefault(rule, [])
        for line in lines:
            if line not in self.assessment[rule]:
                self.assessment[rule].append(line)
        # a rule asked for by two pathways keeps the more urgent tier (the PE card's, §6.14)
        self.assessment_tiers[rule] = more_urgent(self.assessment_tiers.get(rule), tier)
