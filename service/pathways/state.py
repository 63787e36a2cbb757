"""The state of one triage while pathways run (clinical-rules §7.1).

Pathways run in the order of §7.1 step 3; each reads :class:`Triage`, adds its card and records its
outcome here (DVT open or closed, the PE card's tier ...) for later pathways, assembly and order advice.
No pathway reads an outcome back from a card or edits another pathway's card: merges of one card into
another are steps of :mod:`service.cards.assembly`. Pure data: no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from service.cards.draft import CardDraft, NotSuggested
from service.chart.draft_orders import DraftOrder
from service.chart.facts import Facts
from service.vocabulary import DvtStatus, Population, Tier, UltrasoundState, WellsClass, more_urgent

KNOWLEDGE_VERSION = "1.1.0"

T = TypeVar("T")
_NOT_YET = object()     # a derived value not computed yet (None is a value)


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

    # applicability (§2): the triggers that fired, "T1", "T3" ...
    triggers: list[str] = field(default_factory=list)
    # DVT suspicion (§5): the reasons ("S1: leg swelling (Observation/...)"), and the S1–S4 sign lines
    # alone (§6.1 P7, §6.16)
    dvt_suspected: bool = False
    suspicion: list[str] = field(default_factory=list)
    dvt_signs: list[str] = field(default_factory=list)
    population: Population = Population.ADULT
    # the DVT pathways' outcome (§6.3–§6.5); the rule that excluded DVT when it is closed
    dvt_status: DvtStatus = DvtStatus.NOT_SUSPECTED
    dvt_excluded_rule: str | None = None
    # what the DVT pathway decided on, for order advice (§6.16) and assembly
    wells_class: WellsClass | None = None
    us_state: UltrasoundState | None = None
    already_anticoagulated: bool = False       # current, pre-existing anticoagulation: no D-dimer (§6.3)
    imaging_first: bool = False                # inpatient or recent surgery: D-dimer unreliable (§6.3)
    # what an emergency-immediate PE card takes over from the DVT card it supersedes (§6.1, §7.2):
    # scores, evidence, unknowns, flags, guidelines and recommendation lines, in the card's order
    dvt_carried_by_pe: CardDraft | None = None
    # the PE pathway's outcome (§6.1)
    pe_symptom: bool = False
    pe_likely: bool = False                    # Wells PE likely, or handled as likely
    pe_excluded_rule: str | None = None        # PE-PERC-NEG | PE-EXCLUDED-DDIMER-NEG (no PE card)
    pe_tier: Tier | None = None
    # the one text a superseding PE card states about the leg scan (None: no such text)
    pe_supersede_text: str | None = None
    # scores computed along the way (score key -> value as in §4.11)
    scores: dict[str, Any] = field(default_factory=dict)
    # cards produced so far, by topic (one per topic)
    cards: dict[str, CardDraft] = field(default_factory=dict)
    # rules with no card of their own that go onto the most urgent card (§7.2: PE-PERC-NEG, OTTAWA-NEG,
    # DVT-NOT-SUSPECTED ...), with their evidence lines, scores (a PERC computed while PE was excluded
    # without a PE card, §4.11) and "not suggested" entries. The knee-pain review drops knee-xray from
    # them when it suggests its own chronic-pain radiograph (§7.3).
    carry_rules: list[str] = field(default_factory=list)
    carry_evidence: list[str] = field(default_factory=list)
    carry_scores: dict[str, Any] = field(default_factory=dict)
    carry_not_recommended: list[NotSuggested] = field(default_factory=list)
    # items for the assessment-needed card (§6.14): rule id -> lines, and the tier each asks for
    assessment: dict[str, list[str]] = field(default_factory=dict)
    assessment_tiers: dict[str, Tier] = field(default_factory=dict)
    # values derived from the facts that several pathways read (see :meth:`derived`)
    _derived: dict[Callable[[Facts], Any], Any] = field(default_factory=dict, repr=False, compare=False)

    def derived(self, compute: Callable[[Facts], T]) -> T:
        """``compute(self.facts)`` for a pure function of the facts, computed once per triage: the DVT
        signs, for one, are read by the suspicion trigger, the PE pathway in pregnancy and order advice.
        The value is shared: callers never modify it."""
        value = self._derived.get(compute, _NOT_YET)
        if value is _NOT_YET:
            value = self._derived[compute] = compute(self.facts)
        return value

    @property
    def pe_supersedes_dvt(self) -> bool:
        """An emergency-immediate PE card with DVT suspected replaces the DVT card (§6.1, §7.2)."""
        return self.pe_tier == Tier.EMERGENCY_IMMEDIATE and self.dvt_suspected

    def card(self, topic: str) -> CardDraft | None:
        return self.cards.get(topic)

    def add_card(self, draft: CardDraft) -> CardDraft:
        self.cards[draft.topic] = draft
        return draft

    def close_dvt(self, excluded_rule: str) -> None:
        """The DVT pathway excluded DVT by ``excluded_rule`` (L6/L7/U1/U4 of §6.3, G4/G5 of §6.4)."""
        self.dvt_status = DvtStatus.CLOSED
        self.dvt_excluded_rule = excluded_rule

    def need_assessment(self, rule: str, tier: str, lines: list[str]) -> None:
        self.assessment.setdefault(rule, [])
        for line in lines:
            if line not in self.assessment[rule]:
                self.assessment[rule].append(line)
        # a rule asked for by two pathways keeps the more urgent tier (the PE card's, §6.14)
        self.assessment_tiers[rule] = more_urgent(self.assessment_tiers.get(rule), tier)
