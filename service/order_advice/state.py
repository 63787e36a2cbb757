"""What order advice reads for one request (clinical-rules §6.16): the DVT/PE state, the pathway
cards' recommended and forbidden tests, and the drafts.

The DVT and PE state is the one the pathways recorded in :class:`~service.pathways.state.Triage`;
what the Triage does not hold (PAES suspected, the knee-injury rules' "no radiograph") is read from
the rule ids the pathway cards carry, which are those pathways' outcomes.

Vocabulary (all from §6.16):

- **recommended set** (item 3): every orderable a pathway card suggests, plus those §7.7 removed
  because they are already ordered or done (``card.meta["already_on_record"]``). The latter are
  recommended but never missing, so order advice never creates them.
- **forbidden set** (item 3): every orderable some card lists under "Not suggested", minus the
  recommended set; each keeps the listing card and its reason.
- **judged** drafts (item 2): the selections at order-select, every draft at order-sign. Only judged
  drafts can be deleted ("against"). **Covering** drafts: all of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from service.cards.draft import TOPIC_ORDER, CardDraft, NotSuggested, Suggest
from service.catalog import ORDER_SIGN
from service.chart.facts import Facts
from service.pathways.dvt_suspicion import population
from service.pathways.state import Triage
from service.scores.ultrasound import ultrasound_state
from service.vocabulary import AnticoagulationState, DvtStatus, Orderable, Population, Tier, Topic, UltrasoundState, WellsClass

EMERGENCY = frozenset({Tier.EMERGENCY_IMMEDIATE, Tier.EMERGENCY_SAME_DAY})
# §6.3 excluded outcomes of the adult pathway (L6, L7, U1, U4): another D-dimer adds nothing
ADULT_DVT_EXCLUDED = ("DVT-LIKELY-US-NEG-DDIMER-NEG", "DVT-REPEAT-US-NEG", "DVT-UNLIKELY-US-NEG",
                      "DVT-UNLIKELY-DDIMER-NEG")
# §6.4 G4, G5: the pregnancy pathway's excluded outcomes
PREGNANCY_DVT_EXCLUDED = ("PREG-US-NEG-LOW-SUSPICION", "PREG-DVT-EXCLUDED")
DVT_SUPERSEDED = "DVT-SUPERSEDED-BY-PE"
DVT_NOT_SUSPECTED = "DVT-NOT-SUSPECTED"
PE_PERC_NEGATIVE = "PE-PERC-NEG"
PE_UNSTABLE = "PE-UNSTABLE"
PAES_SUSPECTED = "PAES-SUSPECTED"
# §6.9: the knee-injury rules say no radiograph is needed (Ottawa and Pittsburgh negative)
NO_RADIOGRAPH_RULES = ("OTTAWA-NEG", "KNEE-INJURY-NO-XR")


def anticoagulated_before_episode(facts: Facts) -> bool:
    """§6.3 modifier: an anticoagulant in current use that was started before this episode (§1.10)."""
    anticoag = facts.anticoagulation
    return anticoag is not None and anticoag.state == AnticoagulationState.CURRENT and anticoag.pre_existing is True


def imaging_first(facts: Facts) -> bool:
    """§6.3 modifier, §1.11: an inpatient or recent surgery, where a D-dimer is unreliable."""
    return bool(facts.setting is not None and facts.setting.imaging_first)


@dataclass(frozen=True)
class ClinicalState:
    """The DVT and PE questions as the pathways left them, plus the pathway cards that hold them."""

    population: Population
    dvt_suspected: bool
    dvt_open: bool                        # suspected and not yet excluded
    dvt_excluded_rule: str | None         # the excluding row's rule id
    wells_class: WellsClass | None
    ultrasound: UltrasoundState
    scan_within_4h_refused: bool          # ka:ultrasound-within-4h = false
    anticoagulated: bool                  # on an anticoagulant started before this episode
    imaging_first: bool                   # inpatient or recent surgery
    perc_negative: bool                   # PE excluded by PERC
    pe_likely: bool
    paes_suspected: bool
    radiograph_not_needed: bool           # knee-injury rules negative
    pe_card: CardDraft | None
    dvt_card: CardDraft | None            # the card that holds the DVT result
    septic_card: CardDraft | None
    paes_card: CardDraft | None

    @property
    def pregnant(self) -> bool:
        """Pregnant or 6 weeks or less postpartum: the pregnancy variant (§3)."""
        return self.population == Population.PREGNANCY

    @property
    def child(self) -> bool:
        return self.population == Population.PAEDIATRIC

    @property
    def adult(self) -> bool:
        return self.population == Population.ADULT

    @property
    def pe_unstable(self) -> bool:
        """§6.1: suspected high-risk PE (systolic BP below 90 mmHg)."""
        return self.pe_card is not None and PE_UNSTABLE in self.pe_card.rules


def all_rules(cards: Iterable[CardDraft], t: Triage) -> list[str]:
    """Every rule id on the pathway cards, then the ones carried to the most urgent card (§7.2)."""
    rules = [r for c in cards for r in c.rules]
    rules.extend(r for r in t.carry_rules if r not in rules)
    return rules


def _dvt_card(cards: list[CardDraft]) -> CardDraft | None:
    """The DVT pathway card, or the card that took over its result (§7.2): the PE card that
    superseded it, or the self-care card an excluded DVT went to."""
    by_topic = {c.topic: c for c in cards}
    if Topic.DVT_PATHWAY in by_topic:
        return by_topic[Topic.DVT_PATHWAY]
    excluded = ADULT_DVT_EXCLUDED + PREGNANCY_DVT_EXCLUDED
    return next((c for c in cards if DVT_SUPERSEDED in c.rules or any(r in c.rules for r in excluded)), None)


def clinical_state(t: Triage, cards: list[CardDraft], rules: list[str] | None = None) -> ClinicalState:
    """The state order advice reads. The population is the one §3 derivation the DVT pathways use;
    the ultrasound state is the pathways' one when they recorded it, else the same derivation.
    ``rules``: :func:`all_rules` of the cards, when the caller has it already."""
    facts = t.facts
    if rules is None:
        rules = all_rules(cards, t)
    by_topic = {c.topic: c for c in cards}
    pe_card = by_topic.get(Topic.PE_EMERGENCY)
    return ClinicalState(
        population=Population(population(t)),
        dvt_suspected=t.dvt_suspected,
        dvt_open=t.dvt_status == DvtStatus.OPEN,
        dvt_excluded_rule=t.dvt_excluded_rule,
        wells_class=WellsClass(t.wells_class) if t.wells_class else None,
        ultrasound=UltrasoundState(t.us_state) if t.us_state else ultrasound_state(facts),
        scan_within_4h_refused=facts.ka_false("ultrasound-within-4h"),
        anticoagulated=t.already_anticoagulated or anticoagulated_before_episode(facts),
        imaging_first=t.imaging_first or imaging_first(facts),
        perc_negative=t.pe_excluded_rule == PE_PERC_NEGATIVE,
        pe_likely=pe_card is not None and t.pe_likely,
        paes_suspected=PAES_SUSPECTED in rules,
        radiograph_not_needed=any(r in rules for r in NO_RADIOGRAPH_RULES),
        pe_card=pe_card,
        dvt_card=_dvt_card(cards),
        septic_card=by_topic.get(Topic.SEPTIC_ARTHRITIS),
        paes_card=by_topic.get(Topic.PAES),
    )


# topic -> its place in the §7.4 order (built once at load)
_TOPIC_PLACE = {topic: place for place, topic in enumerate(TOPIC_ORDER)}


def card_order(card: CardDraft) -> tuple[int, int]:
    """Most urgent card first; at equal tier, the topic order of §7.4."""
    return (Tier.of(card.tier).rank, _TOPIC_PLACE.get(card.topic, len(TOPIC_ORDER)))


class Situation:
    """Everything order advice reads for one request: the state, the pathway cards' sets, the drafts."""

    def __init__(self, t: Triage, cards: list[CardDraft], hook: str):
        self.triage = t
        self.facts = t.facts
        self.hook = hook
        self.cards = list(cards)
        self.rules = all_rules(self.cards, t)
        # §6.16 item 2: drafts that match nothing are ignored
        self.drafts = sorted((d for d in t.drafts if d.orderables), key=lambda d: d.index)
        self.judged = [d for d in self.drafts if d.id and (hook == ORDER_SIGN or d.selected)]
        # §6.16 item 2: every draft counts as covering its tests (selected or not)
        self.covered_tests = frozenset(o for d in self.drafts for o in d.orderables)
        self.state = clinical_state(t, self.cards, self.rules)
        by_urgency = sorted(self.cards, key=card_order)
        self._recommended(by_urgency)
        self._forbidden(by_urgency)
        # each row's predicate is evaluated once per request, however many drafts it judges
        self._holds: dict[str, bool] = {}

    def _recommended(self, by_urgency: list[CardDraft]) -> None:
        """orderable -> the card that recommends it (the most urgent, §7.3 item 4), and its Suggests."""
        self.recommending_card: dict[str, CardDraft] = {}
        self.suggests: dict[str, list[Suggest]] = {}
        for card in by_urgency:
            for s in card.suggestions:
                self.recommending_card.setdefault(s.orderable, card)
                if self.recommending_card[s.orderable] is card:
                    self.suggests.setdefault(s.orderable, []).append(s)
            for item in card.meta.get("already_on_record", []) or []:
                orderable = getattr(item, "orderable", item)
                self.recommending_card.setdefault(orderable, card)
        self.recommended = set(self.recommending_card)

    def _forbidden(self, by_urgency: list[CardDraft]) -> None:
        self.forbidden: dict[str, tuple[CardDraft, NotSuggested]] = {}
        for card in by_urgency:
            for n in card.not_recommended:
                if n.orderable not in self.recommended and n.orderable not in self.forbidden:
                    self.forbidden[n.orderable] = (card, n)

    def covered(self, orderable: str) -> bool:
        """§6.16 item 2: every draft counts as covering its tests (selected or not)."""
        return orderable in self.covered_tests

    def holds(self, rule: str, predicate: Callable[["Situation"], bool]) -> bool:
        """``predicate(self)``, the named predicate of the table row ``rule``, evaluated once."""
        value = self._holds.get(rule)
        if value is None:
            value = self._holds[rule] = predicate(self)
        return value

    def creatable(self, orderable: str) -> bool:
        """A test order advice may create: suggested by a card (never a test no card suggests, and
        never one §7.7 found already ordered or done) and covered by no draft."""
        return orderable in self.suggests and not self.covered(orderable)

    def want(self, *orderables: str) -> list[str]:
        return [o for o in orderables if self.creatable(o)]

    def recommending_rules(self, orderables: Iterable[str]) -> list[str]:
        out: list[str] = []
        for o in orderables:
            for s in self.suggests.get(o, []):
                if s.rule and s.rule not in out:
                    out.append(s.rule)
        return out

    def recommending_cards(self, orderables: Iterable[str]) -> list[CardDraft]:
        return [self.recommending_card[o] for o in orderables if o in self.recommending_card]

    def emergency_tier(self, card: CardDraft | None) -> Tier | None:
        return Tier.of(card.tier) if card is not None and card.tier in EMERGENCY else None

    def dvt_rules(self) -> list[str]:
        """The DVT result's rule ids on the card that holds it."""
        card = self.state.dvt_card
        if card is None:
            return []
        return [r for r in card.rules if r.startswith(("DVT-", "PREG-")) and r != DVT_NOT_SUSPECTED]

    def dvt_tests(self) -> list[Orderable]:
        """The DVT card's test (leg-vein ultrasound or D-dimer), suggested or already on record."""
        card = self.state.dvt_card
        if card is None:
            return []
        on_record = card.meta.get("already_on_record") or []
        return [o for o in (Orderable.VENOUS_DUPLEX_US, Orderable.D_DIMER)
                if card.suggests(o) or o in on_record]
