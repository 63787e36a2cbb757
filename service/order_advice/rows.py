"""The findings of order advice as a table of named rows (clinical-rules §6.16 item 5).

Each row is its public rule id, the drafted tests it judges, a named predicate, its tier (§6.16
item 4 and the table's last column), the tests it creates instead, and the pathway rule ids that
motivate it. Its sentences are the templates of the same rule id in :mod:`service.order_advice.text`.

- :data:`AGAINST_ROWS`: a judged draft goes against the pathway; the finding deletes it.
- :data:`ADDITION_ROWS`: a draft is fine but lacks its companion test; the finding only creates.
- ``OA-DUPLICATE-DRAFT``, ``OA-FORBIDDEN-TEST`` and ``OA-MISSING-TEST`` apply to any test and are
  procedures over the drafts and the pathway cards (:mod:`service.order_advice.findings`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Callable

from service.cards.draft import CardDraft, Suggest
from service.cards.evidence import fmt_time
from service.chart.draft_orders import DraftOrder
from service.order_advice.state import (
    ADULT_DVT_EXCLUDED, DVT_NOT_SUSPECTED, EMERGENCY, NO_RADIOGRAPH_RULES, PAES_SUSPECTED, PE_PERC_NEGATIVE, Situation,
)
from service.order_advice.text import (
    ADVICE, DUPLICATE_DRAFT, FORBIDDEN_TEST, MISSING_TEST, WHY, WHY_NO_RADIOGRAPH, Phrases, drafts_text, test_name,
)
from service.pathways.dvt_suspicion import dvt_sign_lines
from service.scores.injury import MECHANISMS as INJURY_MECHANISMS, RECENT as RECENT_INJURY
from service.vocabulary import KNEE_IMAGING, Orderable, Tier, Topic, UltrasoundState, WellsClass, more_urgent

DUPLEX = Orderable.VENOUS_DUPLEX_US


@dataclass
class Finding:
    """One finding: the drafts it deletes, the tests it creates, and why."""

    rule: str
    tier: str
    orderable: str | None = None                          # the draft's test / the missing test
    deletes: list[DraftOrder] = field(default_factory=list)
    wants: list[str] = field(default_factory=list)        # tests it would create (recommended, uncovered)
    creates: list[Suggest] = field(default_factory=list)
    motivating: list[str] = field(default_factory=list)   # pathway rule ids behind it
    cards: list[CardDraft] = field(default_factory=list)  # motivating cards (guidelines)
    why: str = ""                                         # the chart facts behind it (Evidence)
    advice: str = ""                                      # what to do (Recommendation)
    kept: DraftOrder | None = None                        # OA-DUPLICATE-DRAFT: the draft kept
    triggers: list[DraftOrder] = field(default_factory=list)  # drafts a create-only row judges

    @property
    def sort_key(self) -> tuple[int, int, int]:
        first = min((d.index for d in self.deletes), default=10**6)
        return (Tier.of(self.tier).rank, row_index(self.rule), first)


# -- predicates and tiers the rows share -------------------------------------------------------------
def duplex_uncovered(s: Situation) -> bool:
    return not s.covered(DUPLEX)


def dvt_emergency_tier(s: Situation) -> Tier | None:
    return s.emergency_tier(s.state.dvt_card)


def duplex_if_dvt_suspected(s: Situation) -> list[Orderable]:
    return [DUPLEX] if s.state.dvt_suspected else []


def dvt_test_tier(s: Situation) -> Tier:
    """"As above" (§6.16 modifier rows): the DVT card's tier when it is an emergency, DVT is open
    and no draft covers the duplex; else urgent."""
    if s.state.dvt_open and duplex_uncovered(s):
        return dvt_emergency_tier(s) or Tier.URGENT
    return Tier.URGENT


def pe_rules(s: Situation) -> list[str]:
    card = s.state.pe_card
    return [r for r in card.rules if r.startswith("PE-")] if card is not None else []


def with_rule_on_cards(rule: str) -> Callable[[Situation], list[str]]:
    """The DVT result's rules, then ``rule`` when a pathway card carries it (the modifier's own id)."""
    def motivating(s: Situation) -> list[str]:
        rules = s.dvt_rules()
        return rules + [rule] if rule in s.rules and rule not in rules else rules
    return motivating


# -- D-dimer -----------------------------------------------------------------------------------------
def ddimer_pregnancy_tier(s: Situation) -> Tier:
    """RCOG GTG 37b: critical while the DVT is open and no draft covers the duplex ("suspected" read
    as open, since an excluded DVT needs no scan)."""
    if s.state.dvt_open and duplex_uncovered(s):
        return more_urgent(Tier.EMERGENCY_SAME_DAY, dvt_emergency_tier(s))
    return Tier.URGENT


def ddimer_alone_when_dvt_likely(s: Situation) -> bool:
    """NICE NG158 1.1.3: DVT likely (or indeterminate, handled as likely) needs the proximal
    ultrasound first; a D-dimer alone must not be used to rule it out."""
    st = s.state
    return (st.adult and st.wells_class in (WellsClass.LIKELY, WellsClass.INDETERMINATE)
            and st.ultrasound == UltrasoundState.NONE and duplex_uncovered(s) and not st.scan_within_4h_refused)


def ddimer_without_suspicion(s: Situation) -> bool:
    """NICE NG158 1.1.2: assess (Wells) only when DVT is suspected. "No PE pathway needs it" holds
    because a draft of a recommended test is never judged against."""
    return not s.state.dvt_suspected


def ddimer_after_exclusion(s: Situation) -> bool:
    return s.state.dvt_excluded_rule in ADULT_DVT_EXCLUDED


# -- CTPA ----------------------------------------------------------------------------------------------
def ctpa_waits_for_duplex(s: Situation) -> bool:
    """RCOG GTG 37b (§6.1 duplex-first step): pregnant or postpartum with DVT signs S1–S4 and no
    current scan; a positive duplex treats and spares the radiation. Pregnancy alone (S5) never
    holds back chest imaging, and the CTPA of suspected high-risk PE is never deleted."""
    st = s.state
    return (st.pregnant and bool(s.triage.derived(dvt_sign_lines)) and st.ultrasound == UltrasoundState.NONE
            and not st.pe_unstable)


def ctpa_waits_tier(s: Situation) -> Tier:
    if duplex_uncovered(s):
        return more_urgent(s.emergency_tier(s.state.pe_card) or Tier.URGENT, dvt_emergency_tier(s))
    return Tier.URGENT


# -- knee imaging --------------------------------------------------------------------------------------
class RadiographCheck(StrEnum):
    """Whether a knee radiograph result qualifies before MRI (§6.9 R5, §6.13 C1; ACR AC)."""

    QUALIFYING = "qualifying"                                # after the injury, or within 12 months
    NONE_AFTER_INJURY = "none-after-injury"                  # injury dated, no result on or after it
    INJURY_DATE_UNKNOWN = "injury-date-unknown"              # a result, but not shown to follow the injury
    NONE_SINCE_RECENT_INJURY = "none-since-recent-injury"    # recent injury, no dated result
    NONE_WITHIN_12_MONTHS = "none-within-12-months"          # no injury, no dated result


def recent_injury(s: Situation) -> bool:
    facts = s.facts
    if facts.ka_value("injury-mechanism") in INJURY_MECHANISMS:
        return True
    if any(c.onset is not None and facts.now - c.onset <= RECENT_INJURY for c in facts.conditions_in("knee-injury")):
        return True
    return any(c.topic == Topic.KNEE_INJURY_IMAGING for c in s.cards)


def injury_time(s: Situation) -> datetime | None:
    """When the recent injury happened: ka:injury-date, else the onset of a recent knee-injury
    Condition, else the time the mechanism was recorded (the injury was no later than that, so
    requiring a radiograph after it is the stricter reading)."""
    facts = s.facts
    value = facts.ka_value("injury-date")
    if isinstance(value, datetime):
        return value
    onsets = [c.onset for c in facts.conditions_in("knee-injury")
              if c.onset is not None and facts.now - c.onset <= RECENT_INJURY]
    if onsets:
        return max(onsets)
    reading = facts.ka.get("injury-mechanism")
    if (reading is not None and reading.value in INJURY_MECHANISMS and reading.winner
            and reading.winner.time is not None):
        return reading.winner.time
    return None


def radiograph_check(s: Situation) -> RadiographCheck:
    """A dated radiograph result after the injury (recent injury), else within 12 months; an
    undated result never reassures, nor one that cannot be shown to follow the injury."""
    dated = [v for v in s.facts.radiographs if v.time is not None]
    injury = injury_time(s)
    if injury is not None:
        after = any(v.time >= injury for v in dated)
        return RadiographCheck.QUALIFYING if after else RadiographCheck.NONE_AFTER_INJURY
    if recent_injury(s):
        return RadiographCheck.INJURY_DATE_UNKNOWN if dated else RadiographCheck.NONE_SINCE_RECENT_INJURY
    return RadiographCheck.QUALIFYING if dated else RadiographCheck.NONE_WITHIN_12_MONTHS


def mri_before_radiograph(s: Situation) -> bool:
    return radiograph_check(s) != RadiographCheck.QUALIFYING


def radiograph_card(s: Situation) -> CardDraft | None:
    return s.recommending_card.get(Orderable.KNEE_XRAY)


def mri_before_radiograph_tier(s: Situation) -> Tier:
    card = radiograph_card(s)
    if not s.covered(Orderable.KNEE_XRAY) and card is not None and card.tier in EMERGENCY:
        return Tier.of(card.tier)
    return Tier.URGENT


def mri_before_radiograph_rules(s: Situation) -> list[str]:
    card = radiograph_card(s)
    if card is not None:
        return s.recommending_rules([Orderable.KNEE_XRAY]) or card.rules[:1]
    return [r for r in ("KNEE-DERANGEMENT-XR-FIRST", "CKP-XR-FIRST") if r in s.rules]


def no_radiograph_why(s: Situation) -> dict[str, str]:
    check = radiograph_check(s)
    injury = injury_time(s)
    return {"no_radiograph": WHY_NO_RADIOGRAPH[check].format(injury_time=fmt_time(injury) if injury else "")}


def knee_imaging_dvt_tier(s: Situation) -> Tier:
    uncovered = [o for o in s.dvt_tests() if not s.covered(o)]
    tier = dvt_emergency_tier(s)
    return tier if uncovered and tier else Tier.URGENT


@dataclass(frozen=True)
class AgainstRow:
    """A row whose finding deletes the judged draft and creates the test the pathway wants instead."""

    rule: str
    drafted: frozenset[Orderable]
    holds: Callable[[Situation], bool]
    tier: Callable[[Situation], Tier]
    instead: Callable[[Situation], list[Orderable]]       # created when recommended and uncovered
    motivating: Callable[[Situation], list[str]]
    cards: Callable[[Situation], list[CardDraft | None]]
    why_values: Callable[[Situation], dict[str, str]] = lambda s: {}


def _urgent(s: Situation) -> Tier:
    return Tier.URGENT


def _nothing(s: Situation) -> list[Orderable]:
    return []


def _dvt_card(s: Situation) -> list[CardDraft | None]:
    return [s.state.dvt_card]


def _no_cards(s: Situation) -> list[CardDraft | None]:
    return []


D_DIMER = frozenset({Orderable.D_DIMER})

AGAINST_ROWS: tuple[AgainstRow, ...] = (
    AgainstRow("OA-DDIMER-PREGNANCY", D_DIMER, lambda s: s.state.pregnant, ddimer_pregnancy_tier,
               duplex_if_dvt_suspected, Situation.dvt_rules, _dvt_card),
    AgainstRow("OA-DDIMER-ALONE-LIKELY", D_DIMER, ddimer_alone_when_dvt_likely,
               lambda s: more_urgent(Tier.EMERGENCY_SAME_DAY, dvt_emergency_tier(s)),
               lambda s: [DUPLEX], Situation.dvt_rules, _dvt_card),
    AgainstRow("OA-DDIMER-ANTICOAG", D_DIMER, lambda s: s.state.anticoagulated, dvt_test_tier,
               duplex_if_dvt_suspected, with_rule_on_cards("DVT-ANTICOAGULATED"), _dvt_card),
    AgainstRow("OA-DDIMER-IMAGING-FIRST", D_DIMER, lambda s: s.state.imaging_first and s.state.dvt_suspected,
               dvt_test_tier, duplex_if_dvt_suspected, with_rule_on_cards("DVT-IMAGING-FIRST"), _dvt_card),
    AgainstRow("OA-DDIMER-CHILD", D_DIMER, lambda s: s.state.child, dvt_test_tier,
               duplex_if_dvt_suspected, with_rule_on_cards("DVT-PAEDIATRIC"), _dvt_card),
    AgainstRow("OA-DDIMER-NOT-INDICATED", D_DIMER, ddimer_without_suspicion, _urgent, _nothing,
               lambda s: [DVT_NOT_SUSPECTED] if DVT_NOT_SUSPECTED in s.rules else [], _no_cards),
    AgainstRow("OA-DDIMER-DVT-EXCLUDED", D_DIMER, ddimer_after_exclusion, _urgent, _nothing,
               lambda s: [s.state.dvt_excluded_rule], _dvt_card),
    AgainstRow("OA-PE-DDIMER-LIKELY", D_DIMER, lambda s: s.state.pe_likely,
               lambda s: more_urgent(Tier.EMERGENCY_IMMEDIATE, s.state.pe_card.tier),
               lambda s: [Orderable.CTPA], lambda s: pe_rules(s) or ["PE-LIKELY-CTPA"],
               lambda s: [s.state.pe_card]),
    AgainstRow("OA-PE-TEST-PERC-NEG", frozenset({Orderable.D_DIMER, Orderable.CTPA}),
               lambda s: s.state.perc_negative and not s.state.dvt_suspected, _urgent, _nothing,
               lambda s: [PE_PERC_NEGATIVE], _no_cards),
    AgainstRow("OA-CTPA-PREG-DUPLEX-FIRST", frozenset({Orderable.CTPA}), ctpa_waits_for_duplex, ctpa_waits_tier,
               lambda s: [DUPLEX], lambda s: pe_rules(s) + s.dvt_rules(),
               lambda s: [s.state.pe_card, s.state.dvt_card]),
    AgainstRow("OA-MRI-BEFORE-XR", frozenset({Orderable.MRI_KNEE}), mri_before_radiograph,
               mri_before_radiograph_tier, lambda s: [Orderable.KNEE_XRAY], mri_before_radiograph_rules,
               lambda s: [radiograph_card(s)], no_radiograph_why),
    AgainstRow("OA-KNEE-IMAGING-DVT-OPEN", frozenset(KNEE_IMAGING), lambda s: s.state.dvt_open,
               knee_imaging_dvt_tier, Situation.dvt_tests, Situation.dvt_rules, _dvt_card),
    AgainstRow("OA-XR-RULES-NEG", frozenset({Orderable.KNEE_XRAY}), lambda s: s.state.radiograph_not_needed,
               _urgent, _nothing, lambda s: [r for r in NO_RADIOGRAPH_RULES if r in s.rules], _no_cards),
)


@dataclass(frozen=True)
class AdditionRow:
    """A row whose finding keeps the draft and adds the tests that must go with it (no delete)."""

    rule: str
    drafted: Orderable
    holds: Callable[[Situation], bool]
    tests: tuple[Orderable, ...]          # none of them may be drafted already
    card: Callable[[Situation, list[str]], CardDraft | None]
    motivating: Callable[[Situation, list[str], CardDraft | None], list[str]]


def _urate_rules(s: Situation, wants: list[str], card: CardDraft | None) -> list[str]:
    return s.recommending_rules(wants) + [r for r in (card.rules if card else []) if r == "GOUT-VS-SEPTIC"]


ADDITION_ROWS: tuple[AdditionRow, ...] = (
    # BSR 2006, NG219: crystals and infection come from the aspirate; urate is still wanted
    AdditionRow("OA-URATE-WITHOUT-ASPIRATION", Orderable.URIC_ACID, lambda s: s.facts.ka_true("hot-swollen-joint"),
                (Orderable.ARTHROCENTESIS,),
                lambda s, wants: s.state.septic_card or s.recommending_card.get(Orderable.ARTHROCENTESIS),
                _urate_rules),
    # ACR AC nonatherosclerotic PAD: exertional calf pain without DVT suspicion is an arterial question
    AdditionRow("OA-VENOUS-US-FOR-PAES", Orderable.VENOUS_DUPLEX_US,
                lambda s: s.state.paes_suspected and not s.state.dvt_suspected,
                (Orderable.ABI, Orderable.ARTERIAL_DUPLEX),
                lambda s, wants: s.state.paes_card or s.recommending_card.get(wants[0]),
                lambda s, wants, card: [PAES_SUSPECTED] + s.recommending_rules(wants)),
)

TABLE_ORDER: tuple[str, ...] = (tuple(r.rule for r in AGAINST_ROWS) + tuple(r.rule for r in ADDITION_ROWS)
                                + (DUPLICATE_DRAFT, FORBIDDEN_TEST, MISSING_TEST))
_ROW_INDEX = {rule: i for i, rule in enumerate(TABLE_ORDER)}


def row_index(rule: str) -> int:
    """Ties between findings go to the earlier row of the §6.16 table."""
    return _ROW_INDEX[rule]


def new_finding(s: Situation, rule: str, tier: str, draft: DraftOrder, orderable: str, wants: list[str], *,
                why: str, advice: str, motivating: list[str], cards: list[CardDraft | None]) -> Finding:
    """A finding that deletes ``draft``; the pathway rules and cards behind its created tests join it."""
    rules = list(motivating)
    rules.extend(r for r in s.recommending_rules(wants) if r not in motivating)
    kept_cards = [c for c in cards if c is not None]
    kept_cards += [c for c in s.recommending_cards(wants) if c not in kept_cards]
    return Finding(rule=rule, tier=tier, orderable=orderable, deletes=[draft], wants=list(wants),
                   motivating=rules, cards=kept_cards, why=why, advice=advice)


# drafted test -> the rows that judge it, in table order (built once at load)
ROWS_JUDGING: dict[str, tuple[AgainstRow, ...]] = {
    orderable: tuple(row for row in AGAINST_ROWS if orderable in row.drafted)
    for orderable in {o for row in AGAINST_ROWS for o in row.drafted}}


def against_finding(s: Situation, phrases: Phrases, draft: DraftOrder) -> Finding | None:
    """The finding of the rows that judge this draft's tests against the pathway: the most urgent, then
    one that creates a test instead, then the earlier row of the table (then the draft's first test).
    Only that row's sentences are written."""
    best: tuple[tuple[int, int, int], AgainstRow, str, Tier, list[str]] | None = None
    for orderable in sorted(draft.orderables):
        for row in ROWS_JUDGING.get(orderable, ()):
            if not s.holds(row.rule, row.holds):
                continue
            tier, wants = row.tier(s), s.want(*row.instead(s))
            key = (Tier.of(tier).rank, 0 if wants else 1, row_index(row.rule))
            if best is None or key < best[0]:
                best = (key, row, orderable, tier, wants)
    if best is None:
        return None
    _key, row, orderable, tier, wants = best
    values = {"test": test_name(orderable), **row.why_values(s)}
    return new_finding(
        s, row.rule, tier, draft, orderable, wants,
        why=phrases.fill(WHY[row.rule], **values), advice=phrases.fill(ADVICE[row.rule]),
        motivating=row.motivating(s), cards=row.cards(s))


def addition_finding(s: Situation, phrases: Phrases, row: AdditionRow) -> Finding | None:
    drafts = [d for d in s.drafts if row.drafted in d.orderables]
    if not drafts or not row.holds(s) or any(s.covered(o) for o in row.tests):
        return None
    wants = s.want(*row.tests)
    if not wants:
        return None
    card = row.card(s, wants)
    return Finding(
        rule=row.rule, tier=more_urgent(Tier.URGENT, card.tier if card else None), orderable=row.drafted,
        wants=wants, motivating=row.motivating(s, wants, card), cards=[card] if card else [],
        why=phrases.fill(WHY[row.rule], drafts=drafts_text(drafts, s.hook)), advice=phrases.fill(ADVICE[row.rule]),
        triggers=drafts)
