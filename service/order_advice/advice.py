"""Order advice for the order hooks (clinical-rules §6.16; contract §6).

Two pure functions, no I/O:

- :func:`match_drafts` turns ``context.draftOrders`` (a Bundle) into :class:`DraftOrder` objects
  (§6.16 item 2: catalog matching, priority, UTC occurrence day, selection, entry order).
- :func:`build_order_advice` compares those drafts with the pathway cards **after** assembly
  (§7.2 suppression, §7.3 one test/two cards, §7.7 already ordered) and returns the single
  ``order-advice`` card draft, or ``None`` when there is nothing to say (§6.16 item 7:
  ``{"cards": []}``; the lead's engine decides about ``DATA-FETCH-INCOMPLETE``, §6.14).

Vocabulary used below (all from §6.16):

- **recommended set** (item 3): every orderable a pathway card suggests, plus those §7.7 removed
  because they are already ordered or done (``card.meta["already_on_record"]``). The latter are
  recommended but never "missing", so order advice never creates them.
- **forbidden set** (item 3): every orderable some card lists under "Not suggested", minus the
  recommended set; each keeps the listing card and its reason.
- **judged** drafts (item 2): the selections at order-select, every draft at order-sign. Only judged
  drafts can be deleted ("against"). **Covering** drafts: all of them.

DVT/PE state. ``Triage`` carries the DVT and PE inputs as the pathways decided them. A field that
is still at its default is derived, in this order, from the pathway cards' rule ids (Appendix A),
the cards' scores, and finally the chart facts (see :func:`_derive_state`, which documents each).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from service.cards.text import lower_first, upper_first
from service.chart.dates import utc_day
from service.cards.draft import (
    TOPIC_ORDER,
    AdviceSuggestion,
    CardDraft,
    NotSuggested,
    Suggest,
    more_urgent,
    tier_rank,
)
from service.cards.evidence import cite, fmt_time
from service.chart.facts import Facts, Source
from service.pathways.state import DraftOrder, Triage
from service.pathways.dvt_suspicion import dvt_sign_lines

ORDER_HOOKS = ("order-select", "order-sign")
EMERGENCY = frozenset({"emergency-immediate", "emergency-same-day"})

# §6.16 item 5 "keep one": stat > asap > urgent > routine; none (or anything else) = routine.
PRIORITY_RANK = {"stat": 0, "asap": 1, "urgent": 2, "routine": 3}
# §7.5 / contract §4: a created ServiceRequest takes its tier's priority (item 8: the motivating
# pathway card's tier, not the order-advice card's).
TIER_PRIORITY = {
    "emergency-immediate": "stat", "emergency-same-day": "stat", "urgent": "urgent",
    "routine": "routine", "self-care": "routine",
}

# Short names for card text (the renderer uses the terminology's catalog display for the
# ServiceRequests themselves; these are only for sentences).
TITLES = {
    "venous-duplex-us": "leg-vein ultrasound", "popliteal-us": "popliteal ultrasound",
    "knee-xray": "knee radiograph", "mri-knee": "knee MRI", "d-dimer": "D-dimer",
    "cbc": "full blood count", "crp": "CRP", "esr": "ESR", "blood-culture": "blood cultures",
    "arthrocentesis": "knee aspiration", "uric-acid": "serum urate",
    "rheumatoid-factor": "rheumatoid factor", "anti-ccp": "anti-CCP", "abi": "ankle-brachial index",
    "arterial-duplex": "arterial duplex", "ctpa": "CTPA", "pregnancy-test": "pregnancy test",
}

# ---------------------------------------------------------------------------------------------
# Rule ids of the pathways (Appendix A) that order advice reads when Triage does not say.
# ---------------------------------------------------------------------------------------------
# §6.3 excluded outcomes (adults: L6, L7, U1, U4) and §6.4 G4, G5: the DVT pathway is closed.
ADULT_DVT_EXCLUDED = ("DVT-LIKELY-US-NEG-DDIMER-NEG", "DVT-REPEAT-US-NEG", "DVT-UNLIKELY-US-NEG",
                      "DVT-UNLIKELY-DDIMER-NEG")
PREG_DVT_EXCLUDED = ("PREG-US-NEG-LOW-SUSPICION", "PREG-DVT-EXCLUDED")
DVT_EXCLUDED = ADULT_DVT_EXCLUDED + PREG_DVT_EXCLUDED
# §6.3 likely table (L1–L7) and unlikely table (U1–U4): the Wells class the row implies.
WELLS_LIKELY_RULES = ("DVT-LIKELY-US4H", "DVT-LIKELY-SCAN-DELAYED", "DVT-LIKELY-US-NEG-DDIMER-NEEDED",
                      "DVT-LIKELY-US-NEG-DDIMER-POS-REPEAT", "DVT-LIKELY-US-NEG-DDIMER-NEG",
                      "DVT-REPEAT-US-NEG")
WELLS_UNLIKELY_RULES = ("DVT-UNLIKELY-US-NEG", "DVT-UNLIKELY-DDIMER", "DVT-UNLIKELY-DDIMER-POS-US",
                        "DVT-UNLIKELY-DDIMER-NEG")
# §6.3 / §6.4 rows and the US state each one implies.
US_STATE_BY_RULE = {
    "DVT-LIKELY-US4H": "none", "DVT-LIKELY-SCAN-DELAYED": "none", "DVT-UNLIKELY-DDIMER": "none",
    "DVT-UNLIKELY-DDIMER-POS-US": "none", "DVT-UNLIKELY-DDIMER-NEG": "none", "PREG-DVT-US": "none",
    "DVT-CONFIRMED": "positive", "PREG-DVT-CONFIRMED": "positive",
    "DVT-LIKELY-US-NEG-DDIMER-NEEDED": "negative", "DVT-LIKELY-US-NEG-DDIMER-POS-REPEAT": "negative",
    "DVT-LIKELY-US-NEG-DDIMER-NEG": "negative", "DVT-UNLIKELY-US-NEG": "negative",
    "PREG-US-NEG-REPEAT": "negative", "PREG-US-NEG-LOW-SUSPICION": "negative",
    "PREG-DVT-EXCLUDED": "negative", "DVT-REPEAT-US-NEG": "negative-repeat",
}
PREGNANCY_RULES = ("PREG-DVT-US", "PREG-DVT-CONFIRMED", "PREG-US-NEG-REPEAT",
                   "PREG-US-NEG-LOW-SUSPICION", "PREG-DVT-EXCLUDED", "LEFT-INFO", "PE-PREGNANCY")
PAEDIATRIC_RULES = ("DVT-PAEDIATRIC", "PE-PAEDIATRIC")
DVT_TESTS = ("venous-duplex-us", "d-dimer")          # §6.16 OA-KNEE-IMAGING-DVT-OPEN "the DVT test"
KNEE_IMAGING = ("knee-xray", "mri-knee", "popliteal-us")  # §6.16 OA-KNEE-IMAGING-DVT-OPEN drafts
US_CURRENT = timedelta(days=8)                       # §1.4: a venous US result is current for 8 days
RECENT_INJURY = timedelta(days=42)                   # §6.9 "recent injury" (§1.4, §9 item 24)

# §6.16 item 5 table order: ties between findings on the same draft go to the earlier row.
TABLE_ORDER = (
    "OA-DDIMER-PREGNANCY", "OA-DDIMER-ALONE-LIKELY", "OA-DDIMER-ANTICOAG", "OA-DDIMER-IMAGING-FIRST",
    "OA-DDIMER-CHILD", "OA-DDIMER-NOT-INDICATED", "OA-DDIMER-DVT-EXCLUDED", "OA-PE-DDIMER-LIKELY",
    "OA-PE-TEST-PERC-NEG", "OA-CTPA-PREG-DUPLEX-FIRST", "OA-MRI-BEFORE-XR", "OA-KNEE-IMAGING-DVT-OPEN",
    "OA-XR-RULES-NEG", "OA-URATE-WITHOUT-ASPIRATION", "OA-VENOUS-US-FOR-PAES", "OA-DUPLICATE-DRAFT",
    "OA-FORBIDDEN-TEST", "OA-MISSING-TEST",
)
_ROW = {rule: i for i, rule in enumerate(TABLE_ORDER)}
# The guideline behind a finding (service.guidelines keys), cited when none of its motivating
# cards brings one (e.g. OA-XR-RULES-NEG, whose R9 result has no card of its own).
RULE_GUIDELINES = {
    "OA-DDIMER-PREGNANCY": ("rcog",), "OA-DDIMER-ALONE-LIKELY": ("ng158",), "OA-DDIMER-ANTICOAG": ("ng158",),
    "OA-DDIMER-IMAGING-FIRST": ("ng158",), "OA-DDIMER-CHILD": ("ng158",), "OA-DDIMER-NOT-INDICATED": ("ng158",),
    "OA-DDIMER-DVT-EXCLUDED": ("ng158",), "OA-PE-DDIMER-LIKELY": ("ng158", "esc"),
    "OA-PE-TEST-PERC-NEG": ("perc",), "OA-CTPA-PREG-DUPLEX-FIRST": ("rcog",), "OA-MRI-BEFORE-XR": ("acr",),
    "OA-KNEE-IMAGING-DVT-OPEN": ("ng158",), "OA-XR-RULES-NEG": ("ottawa",),
    "OA-URATE-WITHOUT-ASPIRATION": ("bsr", "ng219"), "OA-VENOUS-US-FOR-PAES": ("acr",),
}


# =============================================================================================
# Drafts: context.draftOrders -> DraftOrder (§6.16 item 2, §1.2)
# =============================================================================================
def match_drafts(draft_orders_bundle: Any, selections: Iterable[str] | None, terminology: Any,
                 hook: str | None = None) -> list[DraftOrder]:
    """Parse ``context.draftOrders`` into :class:`DraftOrder` objects.

    - Only ServiceRequests count; status ``draft``, and ``active`` at order-sign (§1.2: a signed
      order re-sent at order-sign). ``hook`` None (not given) accepts both statuses.
    - ``orderables`` = ``terminology.orderables_for(code.coding)`` (contract §5, any coding
      matches, ``CS orderable`` included); ``reason_sets`` = the knee complaint sets found on the
      reasonCode codings (T5 of §2, ``terminology.sets_for("ServiceRequest.reasonCode", ...)``).
    - A draft that matches no orderable and has no knee-complaint reason is dropped. One that
      matches no orderable but has a knee-complaint reason is kept with empty ``orderables``:
      it can still trigger the pathway (§2 T5), and order advice ignores it (§6.16 item 2).
    - ``priority`` defaults to routine (§6.16 item 5: none = routine).
    - ``occurrence_day`` = UTC date of ``occurrenceDateTime`` or ``occurrencePeriod.start``.
    - ``selected`` when ``ServiceRequest/<id>`` (or the bare id, or the entry's fullUrl) is in
      ``selections``; ``index`` = position of the entry in the Bundle.
    """
    selected_keys = _selection_keys(selections or [])
    out: list[DraftOrder] = []
    for index, (full_url, resource) in enumerate(_bundle_entries(draft_orders_bundle)):
        if not isinstance(resource, dict) or resource.get("resourceType") != "ServiceRequest":
            continue
        status = resource.get("status")
        allowed = ("draft",) if hook == "order-select" else ("draft", "active")
        if status not in allowed:
            continue
        codings = _codings(resource.get("code"))
        orderables = frozenset(terminology.orderables_for(codings)) if codings else frozenset()
        reason_codings = [c for cc in _as_list(resource.get("reasonCode")) for c in _codings(cc)]
        reason_sets = (frozenset(terminology.sets_for("ServiceRequest.reasonCode", reason_codings))
                       if reason_codings else frozenset())
        if not orderables and not reason_sets:
            continue
        rid = str(resource.get("id") or "")
        keys = {rid, f"ServiceRequest/{rid}"} if rid else set()
        if full_url:
            keys.add(full_url)
        priority = resource.get("priority")
        out.append(DraftOrder(
            id=rid,
            resource=resource,
            orderables=orderables,
            reason_sets=reason_sets,
            priority=priority if priority in PRIORITY_RANK else "routine",
            occurrence_day=_occurrence_day(resource),
            selected=bool(keys & selected_keys),
            index=index,
        ))
    return out


def _bundle_entries(bundle: Any) -> list[tuple[str | None, Any]]:
    """(fullUrl, resource) pairs of a Bundle; a bare list of resources is accepted too."""
    if isinstance(bundle, list):
        return [(None, r) for r in bundle]
    if not isinstance(bundle, dict):
        return []
    if bundle.get("resourceType") == "ServiceRequest":   # a single resource, not a Bundle
        return [(None, bundle)]
    entries = []
    for entry in _as_list(bundle.get("entry")):
        if isinstance(entry, dict):
            entries.append((entry.get("fullUrl"), entry.get("resource")))
    return entries


def _selection_keys(selections: Iterable[str]) -> set[str]:
    keys: set[str] = set()
    for sel in selections:
        if not isinstance(sel, str) or not sel.strip():
            continue
        sel = sel.strip()
        keys.add(sel)
        # "http://ehr/fhir/ServiceRequest/x", "ServiceRequest/x/_history/2" -> "ServiceRequest/x"
        m = re.search(r"(?:^|/)ServiceRequest/([^/]+)", sel)
        if m:
            keys.add(f"ServiceRequest/{m.group(1)}")
            keys.add(m.group(1))
    return keys


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in _as_list(concept.get("coding")) if isinstance(c, dict)]


def _occurrence_day(resource: dict[str, Any]) -> str | None:
    value = resource.get("occurrenceDateTime")
    if value is None:
        period = resource.get("occurrencePeriod")
        value = period.get("start") if isinstance(period, dict) else None
    return utc_day(value)


# =============================================================================================
# State read from Triage, the pathway cards and the facts
# =============================================================================================
@dataclass
class _State:
    pregnant: bool                   # pregnant or postpartum (§1.9), the pregnancy variant (§3)
    child: bool                      # age < 18 (§3)
    adult: bool                      # neither (age unknown counts as adult, §1.6)
    dvt_suspected: bool              # §5
    dvt_open: bool                   # §6.3 "open": suspected and not excluded
    dvt_excluded_rule: str | None    # L6/L7/U1/U4/G4/G5 rule id
    wells_class: str | None          # likely | unlikely | indeterminate | None
    us_state: str                    # positive | negative | negative-repeat | none
    us4h_false: bool                 # ka:ultrasound-within-4h = false
    m_anti: bool
    m_img: bool
    pe_card: CardDraft | None
    pe_likely: bool
    perc_neg: bool                   # PE-PERC-NEG fired (§6.1 P1)
    paes: bool                       # PAES-SUSPECTED fired (§6.11)
    r9: bool                         # OTTAWA-NEG / KNEE-INJURY-NO-XR fired (§6.9 R9)
    dvt_card: CardDraft | None       # the card that holds the DVT result
    septic_card: CardDraft | None
    paes_card: CardDraft | None


def _all_rules(cards: list[CardDraft], t: Triage) -> set[str]:
    rules = {r for c in cards for r in c.rules}
    rules.update(t.carry_rules)
    return rules


def _derive_state(t: Triage, cards: list[CardDraft]) -> _State:
    """The DVT/PE inputs of §6.16. Triage wins when set; a default field is derived:

    - pregnant: ``t.population == "pregnancy"``, else §1.9 state pregnant/postpartum in the facts,
      else a pregnancy rule (``PREG-*``, ``LEFT-INFO``, ``PE-PREGNANCY``) on a card.
    - child: ``t.population == "paediatric"``, else facts age < 18, else ``DVT-PAEDIATRIC`` /
      ``PE-PAEDIATRIC`` on a card.
    - DVT suspected: ``t.dvt_suspected``, else a ``dvt-pathway`` card, or any ``DVT-*`` (except
      ``DVT-NOT-SUSPECTED``) or ``PREG-*`` rule on a card (it may have been carried onto the PE or
      self-care card, §7.2).
    - excluded: ``t.dvt_excluded_rule``, else an L6/L7/U1/U4/G4/G5 rule id on a card. Open =
      ``t.dvt_status`` when it says open/closed, else suspected and not excluded.
    - Wells class: ``t.wells_class``, else ``wellsDvt`` in t.scores or a card's scores ("class",
      else min >= 2 likely / max <= 1 unlikely / else indeterminate), else ``DVT-INDETERMINATE``
      or the §6.3 row rule (e.g. ``DVT-LIKELY-US4H`` => likely).
    - US state: ``t.us_state``, else the §6.3/§6.4 row rule (``DVT-LIKELY-US4H`` => none), else the
      latest ``ka:venous-ultrasound-result`` within 8 days in the facts, else none.
    - M-ANTI / M-IMG: the Triage flag, or ``DVT-ANTICOAGULATED`` / ``DVT-IMAGING-FIRST`` on a card,
      or the facts (§1.10 current and pre-existing; §1.11 imaging-first).
    - PE: the ``pe-emergency`` card; likely = ``t.pe_likely`` or ``PE-LIKELY-CTPA`` on it;
      PERC-negative = ``t.pe_excluded_rule`` or ``PE-PERC-NEG`` on any card or in t.carry_rules.
    """
    facts = t.facts
    rules = _all_rules(cards, t)
    by_topic = {c.topic: c for c in cards}

    preg_state = facts.pregnancy.state if facts.pregnancy else "unknown"
    pregnant = (t.population == "pregnancy" or preg_state in ("pregnant", "postpartum")
                or any(r in rules for r in PREGNANCY_RULES))
    child = (t.population == "paediatric" or (facts.age_range is not None and facts.age_under(18) is not False)
             or any(r in rules for r in PAEDIATRIC_RULES))

    dvt_card = by_topic.get("dvt-pathway")
    if dvt_card is None:
        # §7.2: superseded by PE (DVT-SUPERSEDED-BY-PE) or carried onto self-care when excluded
        for c in cards:
            if "DVT-SUPERSEDED-BY-PE" in c.rules or any(r in c.rules for r in DVT_EXCLUDED):
                dvt_card = c
                break
    dvt_rules = {r for r in rules if (r.startswith("DVT-") and r != "DVT-NOT-SUSPECTED")
                 or r.startswith("PREG-")}
    dvt_suspected = bool(t.dvt_suspected or by_topic.get("dvt-pathway") or dvt_rules)

    excluded = t.dvt_excluded_rule or next((r for r in DVT_EXCLUDED if r in rules), None)
    if t.dvt_status in ("open", "closed"):
        dvt_open = t.dvt_status == "open"
    else:
        dvt_open = dvt_suspected and excluded is None

    wells = t.wells_class or _wells_class_from_scores(t, cards)
    if wells is None:
        if "DVT-INDETERMINATE" in rules:
            wells = "indeterminate"
        elif any(r in rules for r in WELLS_LIKELY_RULES):
            wells = "likely"
        elif any(r in rules for r in WELLS_UNLIKELY_RULES):
            wells = "unlikely"

    us_state = t.us_state
    if us_state is None:
        us_state = next((US_STATE_BY_RULE[r] for c in cards for r in c.rules if r in US_STATE_BY_RULE),
                        None)
    if us_state is None:
        us_state = _us_state_from_facts(facts)

    anticoag = facts.anticoagulation
    m_anti = bool(t.already_anticoagulated or "DVT-ANTICOAGULATED" in rules
                  or (anticoag is not None and anticoag.state == "current" and anticoag.pre_existing is True))
    m_img = bool(t.imaging_first or "DVT-IMAGING-FIRST" in rules
                 or (facts.setting is not None and facts.setting.imaging_first))

    pe_card = by_topic.get("pe-emergency")
    pe_likely = bool(pe_card is not None and (t.pe_likely or "PE-LIKELY-CTPA" in pe_card.rules))
    perc_neg = t.pe_excluded_rule == "PE-PERC-NEG" or "PE-PERC-NEG" in rules

    return _State(
        pregnant=pregnant, child=child and not pregnant, adult=not pregnant and not child,
        dvt_suspected=dvt_suspected, dvt_open=dvt_open, dvt_excluded_rule=excluded,
        wells_class=wells, us_state=us_state,
        us4h_false=facts.ka_false("ultrasound-within-4h"),
        m_anti=m_anti, m_img=m_img, pe_card=pe_card, pe_likely=pe_likely, perc_neg=perc_neg,
        paes="PAES-SUSPECTED" in rules,
        r9="OTTAWA-NEG" in rules or "KNEE-INJURY-NO-XR" in rules,
        dvt_card=dvt_card, septic_card=by_topic.get("septic-arthritis"),
        paes_card=by_topic.get("paes"),
    )


def _wells_class_from_scores(t: Triage, cards: list[CardDraft]) -> str | None:
    score = t.scores.get("wellsDvt")
    if not isinstance(score, dict):
        score = next((c.scores["wellsDvt"] for c in cards if isinstance(c.scores.get("wellsDvt"), dict)),
                     None)
    if not isinstance(score, dict):
        return None
    if score.get("class") in ("likely", "unlikely", "indeterminate"):
        return score["class"]
    lo, hi = score.get("min"), score.get("max")
    if isinstance(lo, (int, float)) and lo >= 2:
        return "likely"
    if isinstance(hi, (int, float)) and hi <= 1:
        return "unlikely"
    if lo is not None or hi is not None:
        return "indeterminate"
    return None


def _us_state_from_facts(facts: Facts) -> str:
    """§6.3 US state from the facts: the latest result within 8 days (undated never counts)."""
    for value in facts.ultrasounds:
        if value.time is None or facts.now - value.time > US_CURRENT:
            continue
        if value.value == "dvt-seen":
            return "positive"
        if value.value == "no-dvt-seen":
            return "negative"
    return "none"


# =============================================================================================
# Findings
# =============================================================================================
@dataclass
class _Finding:
    rule: str
    tier: str
    orderable: str | None = None                        # the draft's orderable / the missing test
    deletes: list[DraftOrder] = field(default_factory=list)
    wants: list[str] = field(default_factory=list)      # tests it would create (recommended, uncovered)
    creates: list[Suggest] = field(default_factory=list)
    motivating: list[str] = field(default_factory=list)  # pathway rule ids behind it
    cards: list[CardDraft] = field(default_factory=list)  # motivating cards (guidelines)
    why: str = ""                                       # the chart facts behind it (evidence text)
    advice: str = ""                                    # what to do (recommendation text)
    kept: DraftOrder | None = None                      # OA-DUPLICATE-DRAFT: the draft kept
    triggers: list[DraftOrder] = field(default_factory=list)  # drafts a create-only row judges

    @property
    def sort_key(self) -> tuple[int, int, int]:
        first = min((d.index for d in self.deletes), default=10**6)
        return (tier_rank(self.tier), _ROW[self.rule], first)


class _Advisor:
    """One evaluation of §6.16 for one request."""

    def __init__(self, t: Triage, cards: list[CardDraft], hook: str):
        self.t = t
        self.facts = t.facts
        self.hook = hook
        self.cards = list(cards)
        # §6.16 item 2: drafts that match nothing are ignored
        self.drafts = sorted((d for d in t.drafts if d.orderables), key=lambda d: d.index)
        self.judged = [d for d in self.drafts
                       if d.id and (hook == "order-sign" or d.selected)]
        self.state = _derive_state(t, self.cards)
        self._recommended()
        self._forbidden()

    # -- sets (item 3) ---------------------------------------------------------------------
    def _recommended(self) -> None:
        """orderable -> the card that recommends it (the most urgent, §7.3 item 4); its Suggests."""
        self.rec_card: dict[str, CardDraft] = {}
        self.suggests: dict[str, list[Suggest]] = {}
        self.on_record: set[str] = set()
        for card in _by_urgency(self.cards):
            for s in card.suggestions:
                if s.orderable not in self.rec_card:
                    self.rec_card[s.orderable] = card
                if self.rec_card[s.orderable] is card:
                    self.suggests.setdefault(s.orderable, []).append(s)
            for item in card.meta.get("already_on_record", []) or []:
                orderable = getattr(item, "orderable", item)
                self.on_record.add(orderable)
                self.rec_card.setdefault(orderable, card)
        # §7.7: recommended but not missing. If the same test is both suggested somewhere and on
        # record elsewhere, assembly decided the suggestion stands, so it stays creatable.
        self.on_record -= set(self.suggests)
        self.recommended = set(self.rec_card)

    def _forbidden(self) -> None:
        self.forbidden: dict[str, tuple[CardDraft, NotSuggested]] = {}
        for card in _by_urgency(self.cards):
            for n in card.not_recommended:
                if n.orderable not in self.recommended and n.orderable not in self.forbidden:
                    self.forbidden[n.orderable] = (card, n)

    # -- helpers ---------------------------------------------------------------------------
    def covered(self, orderable: str) -> bool:
        """§6.16 item 2: every draft counts as covering its tests (selected or not)."""
        return any(orderable in d.orderables for d in self.drafts)

    def creatable(self, orderable: str) -> bool:
        """A test order advice may create: recommended by a card (never a test no card suggests,
        and never one §7.7 found already ordered or done) and covered by no draft."""
        return orderable in self.suggests and not self.covered(orderable)

    def card_tier_if_emergency(self, card: CardDraft | None) -> str | None:
        return card.tier if card is not None and card.tier in EMERGENCY else None

    def want(self, *orderables: str) -> list[str]:
        return [o for o in orderables if self.creatable(o)]

    def rec_rules(self, orderables: Iterable[str]) -> list[str]:
        out: list[str] = []
        for o in orderables:
            for s in self.suggests.get(o, []):
                if s.rule and s.rule not in out:
                    out.append(s.rule)
        return out

    def rec_cards(self, orderables: Iterable[str]) -> list[CardDraft]:
        return [self.rec_card[o] for o in orderables if o in self.rec_card]

    # -- evaluation ------------------------------------------------------------------------
    def run(self) -> list[_Finding]:
        findings: list[_Finding] = []
        judged_by_rule: set[str] = set()        # draft ids some row of the table judges

        # Rows with a delete ("against"): judged drafts only, and never a draft of a recommended
        # test (item 3: the recommended set is what the pathway wants; a draft covering it is fine).
        for draft in self.judged:
            if draft.orderables & self.recommended:
                continue
            candidates: list[_Finding] = []
            for orderable in sorted(draft.orderables):
                candidates.extend(self.against_rows(draft, orderable))
            if candidates:
                best = min(candidates, key=lambda f: (tier_rank(f.tier), 0 if f.wants else 1, _ROW[f.rule]))
                findings.append(best)
                judged_by_rule.add(draft.id)

        # Rows without a delete, triggered by any draft (they are not "against", item 2). The
        # drafts they judge are not judged again by OA-FORBIDDEN-TEST ("no other rule").
        for f in (self.urate(), self.paes_venous()):
            if f is not None:
                findings.append(f)
                judged_by_rule.update(d.id for d in f.triggers)

        # OA-FORBIDDEN-TEST: a judged draft no other row judges
        for draft in self.judged:
            if draft.id in judged_by_rule or draft.orderables & self.recommended:
                continue
            f = self.forbidden_test(draft)
            if f is not None:
                findings.append(f)

        findings = _merge(findings)
        deleted = {d.id for f in findings for d in f.deletes}
        findings.extend(self.duplicates(deleted))

        findings.sort(key=lambda f: f.sort_key)
        self.allocate_creates(findings)
        # a create-only finding whose tests another finding already creates says nothing new
        findings = [f for f in findings if f.deletes or f.creates]
        findings.extend(self.missing_tests(findings))
        findings.sort(key=lambda f: f.sort_key)
        return findings

    # -- d-dimer, CTPA and knee-imaging rows ------------------------------------------------
    def against_rows(self, draft: DraftOrder, orderable: str) -> list[_Finding]:
        s = self.state
        out: list[_Finding] = []
        dvt_tier = self.card_tier_if_emergency(s.dvt_card)
        duplex_uncovered = not self.covered("venous-duplex-us")

        if orderable == "d-dimer":
            if s.pregnant:
                # RCOG GTG 37b: D-dimer is not used in pregnancy. Critical while the DVT is open and
                # no draft covers the duplex (the table's tier column; "suspected" read as open,
                # since an excluded DVT needs no scan).
                wants = self.want("venous-duplex-us") if s.dvt_suspected else []
                tier = "urgent"
                if s.dvt_open and duplex_uncovered:
                    tier = more_urgent("emergency-same-day", dvt_tier)
                out.append(self.finding(
                    "OA-DDIMER-PREGNANCY", tier, draft, orderable, wants,
                    why=f"pregnant or postpartum: {self.pregnancy_text()}",
                    advice="D-dimer is not used to investigate VTE in pregnancy or the 6 weeks after "
                           "delivery (RCOG GTG 37b)" + ("; compression duplex ultrasound instead"
                                                         if s.dvt_suspected else ""),
                    motivating=self.dvt_rules(), cards=[s.dvt_card]))
            if (s.adult and s.wells_class in ("likely", "indeterminate") and s.us_state == "none"
                    and duplex_uncovered and not s.us4h_false):
                # NG158 1.1.3: DVT likely -> proximal leg-vein US first; a D-dimer alone must not
                # be used to rule out a likely DVT. Always emergency-same-day (table).
                out.append(self.finding(
                    "OA-DDIMER-ALONE-LIKELY", more_urgent("emergency-same-day", dvt_tier), draft,
                    orderable, self.want("venous-duplex-us"),
                    why=f"{self.wells_text()}; {self.us_text()}; no leg-vein ultrasound draft; "
                        f"{self.us4h_text()}",
                    advice="DVT likely (NICE NG158 1.1.3): proximal leg-vein ultrasound with the result "
                           "within 4 hours; D-dimer only if the scan is negative (a negative D-dimer "
                           "does not rule out a likely DVT)",
                    motivating=self.dvt_rules(), cards=[s.dvt_card]))
            if s.m_anti:
                out.append(self.dvt_modifier_row(
                    "OA-DDIMER-ANTICOAG", draft, orderable,
                    why=f"anticoagulated (current, started before this episode): {self.anticoag_text()}",
                    advice="D-dimer may be falsely low on an anticoagulant and is not used (NICE NG158); "
                           "image the leg veins instead; DVT despite an anticoagulant needs "
                           "specialist review",
                    extra_rule="DVT-ANTICOAGULATED"))
            if s.m_img and s.dvt_suspected:
                out.append(self.dvt_modifier_row(
                    "OA-DDIMER-IMAGING-FIRST", draft, orderable,
                    why=f"imaging-first group: {self.imaging_first_text()}",
                    advice="inpatient or recent surgery: D-dimer is unreliable here; image first",
                    extra_rule="DVT-IMAGING-FIRST"))
            if s.child:
                out.append(self.dvt_modifier_row(
                    "OA-DDIMER-CHILD", draft, orderable,
                    why=(f"age {self.facts.age_range.label} ({self.facts.patient_ref})" if self.facts.age_range
                         else f"paediatric pathway ({self.facts.patient_ref})"),
                    advice="Wells and D-dimer are not validated under 18 (NICE NG158 scope); "
                           "same-day paediatric assessment with leg-vein ultrasound if DVT is suspected",
                    extra_rule="DVT-PAEDIATRIC"))
            if not s.dvt_suspected:
                # NG158 1.1.2: assess (Wells) only when DVT is suspected; a D-dimer without
                # suspicion produces false positives. "No PE pathway needs it": d-dimer is not
                # recommended (checked by the caller for every row).
                out.append(self.finding(
                    "OA-DDIMER-NOT-INDICATED", "urgent", draft, orderable, [],
                    why="DVT not suspected (DVT-NOT-SUSPECTED"
                        + (f"; {self.ka_cite('leg-swelling')}" if "leg-swelling" in self.facts.ka else "")
                        + ")" + ("; the PE pathway does not ask for it" if s.pe_card else ""),
                    advice="D-dimer is not indicated: DVT is not suspected and no PE pathway needs it; "
                           "if DVT is suspected, record the Wells items first (NICE NG158 1.1.2)",
                    motivating=["DVT-NOT-SUSPECTED"] if "DVT-NOT-SUSPECTED" in _all_rules(self.cards, self.t)
                    else [], cards=[]))
            if s.dvt_excluded_rule in ADULT_DVT_EXCLUDED:
                out.append(self.finding(
                    "OA-DDIMER-DVT-EXCLUDED", "urgent", draft, orderable, [],
                    why=f"DVT excluded by the NICE NG158 pathway ({s.dvt_excluded_rule})",
                    advice="DVT already excluded: another D-dimer adds nothing; consider an "
                           "alternative diagnosis",
                    motivating=[s.dvt_excluded_rule], cards=[s.dvt_card]))
            if s.pe_likely:
                pe = s.pe_card
                out.append(self.finding(
                    "OA-PE-DDIMER-LIKELY", more_urgent("emergency-immediate", pe.tier), draft,
                    orderable, self.want("ctpa"),
                    why=f"possible pulmonary embolism, PE likely ({self.wells_pe_text()})",
                    advice="PE likely (NICE NG158, ESC 2019): CTPA immediately; a D-dimer does not "
                           "change the plan",
                    motivating=[r for r in pe.rules if r.startswith("PE-")] or ["PE-LIKELY-CTPA"],
                    cards=[pe]))
        if orderable in ("d-dimer", "ctpa") and s.perc_neg and not s.dvt_suspected:
            out.append(self.finding(
                "OA-PE-TEST-PERC-NEG", "urgent", draft, orderable, [],
                why="PE excluded by PERC (PE-PERC-NEG: low clinical suspicion attested"
                    + (f", {self.ka_cite('pe-suspicion-low')}" if "pe-suspicion-low" in self.facts.ka else "")
                    + ", all eight criteria negative); DVT not suspected",
                advice="PERC-negative with low suspicion: no further PE testing (Kline; NICE NG158)",
                motivating=["PE-PERC-NEG"], cards=[]))
        if orderable == "ctpa" and self.ctpa_waits_for_duplex():
            # RCOG GTG 37b: with signs of DVT (S1–S4), compression duplex first; a positive scan
            # treats and spares the fetus/breast the radiation. Critical while the duplex is uncovered.
            # Pregnancy alone (S5) never holds back chest imaging, and the CTPA of P3 is never deleted.
            tier = "urgent"
            if duplex_uncovered:
                tier = more_urgent(self.card_tier_if_emergency(s.pe_card) or "urgent", dvt_tier)
            out.append(self.finding(
                "OA-CTPA-PREG-DUPLEX-FIRST", tier, draft, orderable, self.want("venous-duplex-us"),
                why=f"pregnant or postpartum ({self.pregnancy_text()}); signs of DVT "
                    f"({'; '.join(dvt_sign_lines(self.facts))}); {self.us_text()}",
                advice="pregnant or postpartum with signs of DVT: leg-vein compression duplex first; "
                       "if it is positive no further PE imaging is needed (RCOG GTG 37b)",
                motivating=(([r for r in s.pe_card.rules if r.startswith("PE-")] if s.pe_card else [])
                            + self.dvt_rules()),
                cards=[s.pe_card, s.dvt_card]))
        if orderable == "mri-knee":
            f = self.mri_before_xr(draft)
            if f is not None:
                out.append(f)
        if orderable in KNEE_IMAGING and s.dvt_open:
            dvt_tests = [o for o in DVT_TESTS
                         if s.dvt_card is not None and (s.dvt_card.suggests(o)
                                                        or o in (s.dvt_card.meta.get("already_on_record") or []))]
            uncovered = [o for o in dvt_tests if not self.covered(o)]
            tier = "urgent"
            if uncovered and dvt_tier:
                tier = dvt_tier
            out.append(self.finding(
                "OA-KNEE-IMAGING-DVT-OPEN", tier, draft, orderable, self.want(*dvt_tests),
                why=f"DVT not yet excluded ({self.dvt_main_rule()}); {TITLES[orderable]} is not "
                    "recommended by the injury, septic or mass pathways",
                advice="knee imaging waits until DVT is excluded; the DVT work-up comes first "
                       "(NICE NG158)",
                motivating=self.dvt_rules(), cards=[s.dvt_card]))
        if orderable == "knee-xray" and s.r9:
            out.append(self.finding(
                "OA-XR-RULES-NEG", "urgent", draft, orderable, [],
                why=f"acute knee injury with the Ottawa rule negative{self.ottawa_text()}",
                advice="Ottawa and Pittsburgh rules negative: fracture probability < 1.5%, no "
                       "radiograph needed (Stiell; Seaberg)",
                motivating=[r for r in ("OTTAWA-NEG", "KNEE-INJURY-NO-XR")
                            if r in _all_rules(self.cards, self.t)],
                cards=[]))
        return out

    def ctpa_waits_for_duplex(self) -> bool:
        """§6.16 OA-CTPA-PREG-DUPLEX-FIRST: pregnant or postpartum, DVT signs S1–S4 (the §6.1 P7
        duplex-first step), US state none, and no §6.1 P3."""
        s = self.state
        p3 = s.pe_card is not None and "PE-UNSTABLE" in s.pe_card.rules
        return s.pregnant and bool(dvt_sign_lines(self.facts)) and s.us_state == "none" and not p3

    def dvt_modifier_row(self, rule: str, draft: DraftOrder, orderable: str, why: str, advice: str,
                         extra_rule: str) -> _Finding:
        """OA-DDIMER-ANTICOAG / -IMAGING-FIRST / -CHILD: delete; create the duplex if DVT is
        suspected and uncovered; the DVT card's tier when that is an emergency and the duplex is
        uncovered, else urgent (§6.16 item 5 "as above")."""
        s = self.state
        wants = self.want("venous-duplex-us") if s.dvt_suspected else []
        tier = "urgent"
        if s.dvt_open and not self.covered("venous-duplex-us"):
            tier = self.card_tier_if_emergency(s.dvt_card) or "urgent"
        rules = self.dvt_rules()
        if extra_rule in _all_rules(self.cards, self.t) and extra_rule not in rules:
            rules.append(extra_rule)
        return self.finding(rule, tier, draft, orderable, wants, why=why, advice=advice,
                            motivating=rules, cards=[s.dvt_card])

    def mri_before_xr(self, draft: DraftOrder) -> _Finding | None:
        """§6.9 R5 / §6.13 C1 (ACR AC): radiographs before MRI. A qualifying radiograph *result*
        is a ka:knee-radiograph-result after the injury (recent injury) or within 12 months."""
        qualifying, why = self.qualifying_radiograph()
        if qualifying:
            return None
        card = self.rec_card.get("knee-xray")
        tier = "urgent"
        if not self.covered("knee-xray") and card is not None and card.tier in EMERGENCY:
            tier = card.tier
        if card is not None:
            motivating = self.rec_rules(["knee-xray"]) or card.rules[:1]
        else:
            motivating = [r for r in ("KNEE-DERANGEMENT-XR-FIRST", "CKP-XR-FIRST")
                          if r in _all_rules(self.cards, self.t)]
        return self.finding(
            "OA-MRI-BEFORE-XR", tier, draft, "mri-knee", self.want("knee-xray"), why=why,
            advice="radiographs first: MRI before knee radiographs is usually not appropriate "
                   "(ACR Appropriateness Criteria); MRI without IV contrast if the radiographs show "
                   "no fracture, only an effusion, or mechanical symptoms persist",
            motivating=motivating, cards=[card] if card else [])

    def qualifying_radiograph(self) -> tuple[bool, str]:
        facts = self.facts
        dated = [v for v in facts.radiographs if v.time is not None]   # undated never reassures
        injury = self.injury_time()
        if injury is not None:
            after = [v for v in dated if v.time >= injury]
            if after:
                return True, ""
            return False, (f"recent knee injury ({fmt_time(injury)}) with no knee radiograph result "
                           "(ka:knee-radiograph-result) on or after it")
        if self.recent_injury() and dated:
            # injury time unknown: a radiograph cannot be shown to follow it (safer: not qualifying)
            return False, ("recent knee injury of unknown date: no knee radiograph result can be "
                           "shown to follow it")
        if dated:
            return True, ""
        if self.recent_injury():
            return False, "recent knee injury with no knee radiograph result (ka:knee-radiograph-result)"
        return False, "no knee radiograph result (ka:knee-radiograph-result) within 12 months"

    def recent_injury(self) -> bool:
        facts = self.facts
        if facts.ka_value("injury-mechanism") in ("twist", "fall", "blunt"):
            return True
        for c in facts.conditions_in("knee-injury"):
            if c.onset is not None and facts.now - c.onset <= RECENT_INJURY:
                return True
        return any(c.topic == "knee-injury-imaging" for c in self.cards)

    def injury_time(self) -> datetime | None:
        """When the recent injury happened: ka:injury-date, else the onset of a recent
        set:knee-injury Condition, else the time the mechanism was recorded (the injury was no
        later than that, so requiring a radiograph after it is the stricter reading)."""
        facts = self.facts
        value = facts.ka_value("injury-date")
        if isinstance(value, datetime):
            return value
        onsets = [c.onset for c in facts.conditions_in("knee-injury")
                  if c.onset is not None and facts.now - c.onset <= RECENT_INJURY]
        if onsets:
            return max(onsets)
        reading = facts.ka.get("injury-mechanism")
        if (reading is not None and reading.value in ("twist", "fall", "blunt") and reading.winner
                and reading.winner.time is not None):
            return reading.winner.time
        return None

    # -- rows without a delete ---------------------------------------------------------------
    def urate(self) -> _Finding | None:
        """OA-URATE-WITHOUT-ASPIRATION: crystals and infection come from the aspirate (BSR 2006,
        NG219); urate is still wanted, so nothing is deleted."""
        drafts = [d for d in self.drafts if "uric-acid" in d.orderables]
        if not drafts or not self.facts.ka_true("hot-swollen-joint") or self.covered("arthrocentesis"):
            return None
        wants = self.want("arthrocentesis")
        if not wants:
            return None
        card = self.state.septic_card or self.rec_card.get("arthrocentesis")
        tier = more_urgent("urgent", card.tier if card else None)
        f = _Finding(
            rule="OA-URATE-WITHOUT-ASPIRATION", tier=tier, orderable="uric-acid", wants=wants,
            motivating=self.rec_rules(wants) + [r for r in (card.rules if card else [])
                                                if r == "GOUT-VS-SEPTIC"],
            cards=[card] if card else [],
            why=f"{self.drafts_text(drafts)}: serum urate drafted for a hot swollen knee "
                f"({self.ka_cite('hot-swollen-joint')}) with no knee aspiration draft",
            advice="hot swollen knee: aspirate before antibiotics (Gram stain, culture, cell count, "
                   "crystals); urate alone does not diagnose gout and crystals do not exclude "
                   "infection (BSR 2006; NICE NG219)")
        f.triggers = drafts
        return f

    def paes_venous(self) -> _Finding | None:
        """OA-VENOUS-US-FOR-PAES: exertional calf pain without DVT suspicion is an arterial
        question (ACR AC nonatherosclerotic PAD); the venous scan is not deleted."""
        s = self.state
        drafts = [d for d in self.drafts if "venous-duplex-us" in d.orderables]
        if (not drafts or not s.paes or s.dvt_suspected
                or self.covered("abi") or self.covered("arterial-duplex")):
            return None
        wants = self.want("abi", "arterial-duplex")
        if not wants:
            return None
        card = s.paes_card or self.rec_card.get(wants[0])
        tier = more_urgent("urgent", card.tier if card else None)
        why_items = [self.ka_cite(c) for c in ("exertional-calf-pain", "pulse-loss-on-provocation")
                     if self.facts.ka_true(c)]
        f = _Finding(
            rule="OA-VENOUS-US-FOR-PAES", tier=tier, orderable="venous-duplex-us", wants=wants,
            motivating=["PAES-SUSPECTED"] + self.rec_rules(wants), cards=[card] if card else [],
            why=f"{self.drafts_text(drafts)}: leg-vein ultrasound drafted for suspected popliteal "
                f"artery entrapment ({'; '.join(why_items) or 'PAES-SUSPECTED'}); DVT not suspected",
            advice="suspected popliteal artery entrapment: ankle-brachial index and arterial duplex "
                   "with provocation (ACR AC); a leg-vein scan does not assess it")
        f.triggers = drafts
        return f

    # -- forbidden, duplicates, missing --------------------------------------------------------
    def forbidden_test(self, draft: DraftOrder) -> _Finding | None:
        hits = [(o, *self.forbidden[o]) for o in sorted(draft.orderables) if o in self.forbidden]
        if not hits:
            return None
        # the most urgent listing card speaks (its reason is quoted)
        orderable, card, item = min(hits, key=lambda h: _card_key(h[1]))
        wants = self.want(*[s.orderable for s in card.suggestions])
        tier = card.tier if (wants and card.tier in EMERGENCY) else "urgent"
        main = card.rules[:1]
        return self.finding(
            "OA-FORBIDDEN-TEST", tier, draft, orderable, wants,
            why=f"the {card.topic} card lists {TITLES.get(orderable, orderable)} under "
                f"\"Not recommended\" ({', '.join(main) or card.topic})",
            advice=f"{TITLES.get(orderable, orderable)} not recommended: {item.reason}",
            motivating=main + [r for r in self.rec_rules(wants) if r not in main], cards=[card])

    def duplicates(self, deleted: set[str]) -> list[_Finding]:
        """OA-DUPLICATE-DRAFT (§6.16 item 5). Drafts on different UTC days are scheduled repeats
        (G3's day-3 and day-7 scans). An undated draft is due now, so it is read as today's:
        it duplicates another draft for today but not a repeat booked for a later day."""
        today = self.facts.now.astimezone(timezone.utc).date().isoformat()
        out: list[_Finding] = []
        done_groups: set[tuple[str, ...]] = set()
        orderables = sorted({o for d in self.drafts for o in d.orderables})
        for orderable in orderables:
            groups: dict[str, list[DraftOrder]] = {}
            for d in self.drafts:
                if orderable in d.orderables and d.id not in deleted and d.id:
                    groups.setdefault(d.occurrence_day or today, []).append(d)
            for day, group in groups.items():
                if len(group) < 2:
                    continue
                if self.hook == "order-select" and not any(d.selected for d in group):
                    continue
                ids = tuple(sorted(d.id for d in group))
                if ids in done_groups:      # a draft matching two orderables: one finding
                    continue
                done_groups.add(ids)
                keep = min(group, key=lambda d: (PRIORITY_RANK.get(d.priority, 3),
                                                 0 if (self.hook == "order-select" and d.selected) else 1,
                                                 d.index))
                others = [d for d in group if d is not keep]
                when = "" if day == today and not any(d.occurrence_day for d in group) else f" for {day}"
                out.append(_Finding(
                    rule="OA-DUPLICATE-DRAFT", tier="routine", orderable=orderable, deletes=others,
                    kept=keep,
                    why=f"{len(group)} drafts of {TITLES.get(orderable, orderable)}{when}: "
                        + ", ".join(self.draft_ref(d) for d in group),
                    advice=f"keep ServiceRequest/{keep.id} ({keep.priority}); remove the duplicate"
                           f"{'s' if len(others) > 1 else ''}"))
        return out

    def missing_tests(self, findings: list[_Finding]) -> list[_Finding]:
        """OA-MISSING-TEST (§6.16 item 6): a recommended test no draft covers and no finding
        creates, when (a) the card has another finding, (b) order-select with a selected draft
        matching the catalog, or (c) order-sign and the test comes from an emergency card.
        A test added under (c) makes the card exist, which is (a) for the other missing tests."""
        created = {s.orderable for f in findings for s in f.creates}
        missing = [o for o in self.suggests if not self.covered(o) and o not in created]
        if not missing:
            return []
        any_selected = any(d.selected and d.orderables for d in self.drafts)
        if findings or (self.hook == "order-select" and any_selected):
            chosen = missing
        elif self.hook == "order-sign":
            chosen = [o for o in missing if self.rec_card[o].tier in EMERGENCY]
            if chosen:
                chosen = missing
        else:
            chosen = []
        out = []
        for orderable in sorted(chosen, key=lambda o: (_card_key(self.rec_card[o]), o)):
            card = self.rec_card[orderable]
            f = _Finding(
                rule="OA-MISSING-TEST", tier=card.tier, orderable=orderable, wants=[orderable],
                motivating=self.rec_rules([orderable]), cards=[card],
                why=f"{TITLES.get(orderable, orderable)} recommended by the {card.topic} card "
                    f"({', '.join(self.rec_rules([orderable]))}); no draft covers it",
                advice=f"add {TITLES.get(orderable, orderable)}: "
                       + "; ".join(s.reason for s in self.suggests[orderable] if s.reason))
            f.creates = [self.created(s, card) for s in self.suggests[orderable]]
            out.append(f)
        return out

    def allocate_creates(self, findings: list[_Finding]) -> None:
        """§6.16 item 7: a test is created at most once in the card, by the most urgent finding
        that wants it; item 8: with the motivating card's priority."""
        created: set[str] = set()
        for f in findings:
            for orderable in f.wants:
                if orderable in created or orderable not in self.suggests:
                    continue
                card = self.rec_card[orderable]
                f.creates.extend(self.created(s, card) for s in self.suggests[orderable])
                created.add(orderable)

    @staticmethod
    def created(s: Suggest, card: CardDraft) -> Suggest:
        return replace(s, priority=s.priority or TIER_PRIORITY[card.tier])

    # -- finding factory and texts -------------------------------------------------------------
    def finding(self, rule: str, tier: str, draft: DraftOrder, orderable: str, wants: list[str], *,
                why: str, advice: str, motivating: list[str], cards: list[CardDraft | None]) -> _Finding:
        mot = list(motivating)
        for r in self.rec_rules(wants):
            if r not in mot:
                mot.append(r)
        cs = [c for c in cards if c is not None]
        cs += [c for c in self.rec_cards(wants) if c not in cs]
        return _Finding(rule=rule, tier=tier, orderable=orderable, deletes=[draft], wants=list(wants),
                        motivating=mot, cards=cs, why=why, advice=advice)

    def dvt_rules(self) -> list[str]:
        card = self.state.dvt_card
        if card is None:
            return []
        return [r for r in card.rules if r.startswith(("DVT-", "PREG-")) and r != "DVT-NOT-SUSPECTED"]

    def dvt_main_rule(self) -> str:
        rules = self.dvt_rules()
        return rules[0] if rules else "DVT suspected"

    def draft_ref(self, d: DraftOrder) -> str:
        text = ""
        code = d.resource.get("code") if isinstance(d.resource, dict) else None
        if isinstance(code, dict) and code.get("text"):
            text = str(code["text"])
        else:
            text = ", ".join(TITLES.get(o, o) for o in sorted(d.orderables))
        bits = [text]
        if d.priority != "routine":
            bits.append(d.priority)
        if d.occurrence_day:
            bits.append(f"on {d.occurrence_day}")
        if d.selected and self.hook == "order-select":
            bits.append("selected")
        return f"ServiceRequest/{d.id} ({', '.join(bits)})"

    def drafts_text(self, drafts: list[DraftOrder]) -> str:
        return ", ".join(self.draft_ref(d) for d in drafts)

    def ka_cite(self, code: str) -> str:
        reading = self.facts.ka.get(code)
        if reading is None or reading.winner is None:
            return f"ka:{code}"
        return f"ka:{code} {_yes_no(reading.value)}, {cite(reading.winner.source)}"

    def pregnancy_text(self) -> str:
        p = self.facts.pregnancy
        if p is not None and p.state in ("pregnant", "postpartum"):
            src = "; ".join(cite(s) for s in p.sources[:3])
            return f"{p.state}" + (f" ({src})" if src else "")
        rule = next((r for r in PREGNANCY_RULES if r in _all_rules(self.cards, self.t)), None)
        return f"pregnancy variant ({rule})" if rule else "pregnancy variant"

    def wells_text(self) -> str:
        score = self.t.scores.get("wellsDvt") or next(
            (c.scores["wellsDvt"] for c in self.cards if isinstance(c.scores.get("wellsDvt"), dict)), None)
        cls = self.state.wells_class
        if isinstance(score, dict) and "min" in score:
            lo, hi = score.get("min"), score.get("max")
            rng = f"{_num(lo)}" if lo == hi else f"{_num(lo)}–{_num(hi)}"
            return f"Wells DVT {rng}: {cls}"
        return f"Wells DVT {cls} ({self.dvt_main_rule()})"

    def wells_pe_text(self) -> str:
        score = self.t.scores.get("wellsPe")
        if score is None and self.state.pe_card is not None:
            score = self.state.pe_card.scores.get("wellsPe")
        return f"Wells PE {_num(score)}" if isinstance(score, (int, float)) else "PE-LIKELY-CTPA"

    def us_text(self) -> str:
        s = self.state
        if s.us_state == "none":
            return "no leg-vein ultrasound result within 8 days"
        latest = next((v for v in self.facts.ultrasounds if v.time is not None), None)
        return f"leg-vein ultrasound {s.us_state}" + (f" ({cite(latest.source)})" if latest else "")

    def us4h_text(self) -> str:
        reading = self.facts.ka.get("ultrasound-within-4h")
        if reading is None or reading.value is None or reading.winner is None:
            return "scan within 4 h not recorded (assumed possible)"
        return f"scan within 4 h: {_yes_no(reading.value)} ({cite(reading.winner.source)})"

    def anticoag_text(self) -> str:
        a = self.facts.anticoagulation
        srcs = "; ".join(cite(s) for s in (a.sources if a else [])[:3])
        return srcs or "DVT-ANTICOAGULATED"

    def imaging_first_text(self) -> str:
        setting = self.facts.setting
        reason = setting.imaging_first_reason if setting is not None else ""
        srcs: list[Source] = []
        if setting is not None:
            for surgery in setting.qualifying_surgeries[:2]:
                srcs.extend(surgery.sources[:1])
            if setting.inpatient and setting.current_encounter is not None:
                srcs.append(setting.current_encounter.source)
        text = reason or "inpatient or surgery within 30 days (DVT-IMAGING-FIRST)"
        if srcs:
            text += " (" + "; ".join(cite(s) for s in srcs) + ")"
        return text

    def ottawa_text(self) -> str:
        score = self.t.scores.get("ottawa")
        if score is None:
            score = next((c.scores["ottawa"] for c in self.cards if "ottawa" in c.scores), None)
        return f" (ottawa {str(score).lower()})" if score is not None else " (OTTAWA-NEG)"


# =============================================================================================
# Public entry point
# =============================================================================================
def build_order_advice(t: Triage, pathway_cards: list[CardDraft], hook: str) -> CardDraft | None:
    """The ``order-advice`` card (§6.16), or None when there is no finding.

    ``pathway_cards`` are the triage cards after assembly (§7.2, §7.3, §7.7); a card's
    ``meta["already_on_record"]`` lists orderables §7.7 removed as already ordered or done.
    ``t.drafts`` are the matched drafts (:func:`match_drafts`). Only the order hooks get advice.
    """
    if hook not in ORDER_HOOKS:
        return None
    advisor = _Advisor(t, pathway_cards, hook)
    findings = advisor.run()
    if not findings:
        return None
    return _assemble(advisor, findings)


def _assemble(advisor: _Advisor, findings: list[_Finding]) -> CardDraft:
    tier = findings[0].tier
    for f in findings:
        tier = more_urgent(tier, f.tier)
    card = CardDraft(topic="order-advice", tier=tier)
    # item 7: the OA-* ids, then the pathway rule ids that motivated them
    for f in findings:
        card.add_rule(f.rule)
    for f in findings:
        for r in f.motivating:
            card.add_rule(r)

    for f in findings:
        card.advice.append(AdviceSuggestion(
            rule=f.rule, label=_label(f), deletes=[d.id for d in f.deletes], creates=list(f.creates),
            reason=f.advice))
        refs = advisor.drafts_text(f.deletes) if f.deletes else ""
        if f.rule == "OA-DUPLICATE-DRAFT" or not refs:
            card.evidence.append(f"{f.rule}: {f.why}")
        else:
            card.evidence.append(f"{f.rule}: {refs}: {f.why}")
        card.recommendation.append(_recommendation(f))
        keys = [k for c in f.cards for k in c.guidelines] or list(RULE_GUIDELINES.get(f.rule, ()))
        for key in keys:
            if key not in card.guidelines:
                card.guidelines.append(key)

    judged_ids = {d.id for d in advisor.judged}
    touched = {d.id for f in findings for d in f.deletes + f.triggers} | {
        f.kept.id for f in findings if f.kept is not None}
    fine: list[str] = []
    for d in advisor.drafts:
        if d.id in touched:
            continue
        ref = advisor.draft_ref(d)
        rec = sorted(d.orderables & advisor.recommended)
        if rec:
            topics = ", ".join(sorted({advisor.rec_card[o].topic for o in rec}))
            fine.append(f"{ref}: recommended ({topics} card)")
        elif d.id not in judged_ids:
            fine.append(f"{ref}: not selected, so not judged; it counts as ordered")
        else:
            fine.append(f"{ref}: no objection from the pathway")
    for f in findings:
        if f.kept is not None:
            fine.append(f"{advisor.draft_ref(f.kept)}: kept (OA-DUPLICATE-DRAFT)")
    if fine:
        card.extra.append(("Draft orders that are fine", fine))

    top = findings[0]
    short = _short(top, advisor)
    card.headline = f"**Order advice: {short}.** {top.advice[:1].upper()}{top.advice[1:]}."
    more = len(findings) - 1
    card.summary = short + (f" (+{more} more)" if more else "")
    card.meta["findings"] = [
        {"rule": f.rule, "tier": f.tier, "deletes": [d.id for d in f.deletes],
         "creates": [s.orderable for s in f.creates]} for f in findings]
    return card


# Why, in a few words, for the summary (§7.5: the action first, then the key reason).
SHORT_REASON = {
    "OA-DDIMER-PREGNANCY": "D-dimer is not used in pregnancy",
    "OA-DDIMER-ALONE-LIKELY": "DVT likely",
    "OA-DDIMER-ANTICOAG": "D-dimer unreliable on anticoagulation",
    "OA-DDIMER-IMAGING-FIRST": "inpatient or recent surgery, image first",
    "OA-DDIMER-CHILD": "D-dimer not validated under 18",
    "OA-DDIMER-NOT-INDICATED": "DVT not suspected",
    "OA-DDIMER-DVT-EXCLUDED": "DVT already excluded",
    "OA-PE-DDIMER-LIKELY": "PE likely, CTPA now",
    "OA-PE-TEST-PERC-NEG": "PE excluded by PERC",
    "OA-CTPA-PREG-DUPLEX-FIRST": "pregnant with leg symptoms, duplex first",
    "OA-MRI-BEFORE-XR": "radiographs first",
    "OA-KNEE-IMAGING-DVT-OPEN": "DVT not yet excluded",
    "OA-XR-RULES-NEG": "Ottawa rule negative",
    "OA-URATE-WITHOUT-ASPIRATION": "hot swollen knee, aspirate first",
    "OA-VENOUS-US-FOR-PAES": "suspected popliteal artery entrapment",
    "OA-FORBIDDEN-TEST": "not recommended for this patient",
    "OA-MISSING-TEST": "recommended, not yet ordered",
}


def _short(f: _Finding, advisor: "_Advisor") -> str:
    """Summary phrase: the action first, then the reason (§7.5)."""
    test = TITLES.get(f.orderable or "", f.orderable or "")
    creates = _unique_list(TITLES.get(s.orderable, s.orderable) for s in f.creates)
    reason = SHORT_REASON.get(f.rule, f.rule)
    if f.rule == "OA-DDIMER-ALONE-LIKELY":
        reason = f"DVT likely ({advisor.wells_text().split(':')[0]})"
    if f.rule == "OA-DUPLICATE-DRAFT":
        return f"Duplicate {test} drafts: keep one"
    if f.rule == "OA-MISSING-TEST":
        return f"Add {' and '.join(creates) or test}: {reason}"
    if f.deletes and creates:
        return f"Replace {test} with {' and '.join(creates)}: {reason}"
    if f.deletes:
        return f"Remove the {test} draft: {reason}"
    return f"Add {' and '.join(creates)} to the {test} order: {reason}"


def _label(f: _Finding) -> str:
    test = TITLES.get(f.orderable or "", f.orderable or "")
    creates = _unique_list(TITLES.get(s.orderable, s.orderable) for s in f.creates)
    if f.rule == "OA-DUPLICATE-DRAFT":
        n = len(f.deletes)
        return f"Remove {n} duplicate {test} draft{'s' if n > 1 else ''}"
    if f.deletes and creates:
        return f"Replace {test} with {' and '.join(creates)}"
    if f.deletes:
        return f"Remove {test}"
    return f"Order {' and '.join(creates)}"


def _recommendation(f: _Finding) -> str:
    """The action first (remove the draft, order the right test), then why, then the rule id."""
    actions = []
    if f.deletes and f.rule != "OA-DUPLICATE-DRAFT":
        actions.append("remove " + ", ".join(f"ServiceRequest/{d.id}" for d in f.deletes))
    if f.creates:
        actions.append("order " + ", ".join(_unique_list(TITLES.get(s.orderable, s.orderable)
                                                          for s in f.creates)) + " (suggested)")
    elif f.wants:
        actions.append("the " + ", ".join(TITLES.get(o, o) for o in f.wants) + " is suggested above")
    why = f.advice.rstrip(". ")
    if not actions:
        return f"{upper_first(why)} ({f.rule})."
    lead = " and ".join(actions)
    return f"{upper_first(lead)}: {lower_first(why)} ({f.rule})."


def _merge(findings: list[_Finding]) -> list[_Finding]:
    """One suggestion per rule and drafted test: two D-dimer drafts against the same rule are
    deleted together, and the replacement test is created once (item 7)."""
    out: list[_Finding] = []
    index: dict[tuple[str, str | None], _Finding] = {}
    for f in findings:
        key = (f.rule, f.orderable)
        if key in index and f.deletes:
            g = index[key]
            g.deletes.extend(d for d in f.deletes if d not in g.deletes)
            g.tier = more_urgent(g.tier, f.tier)
            g.wants.extend(o for o in f.wants if o not in g.wants)
            g.motivating.extend(r for r in f.motivating if r not in g.motivating)
            g.cards.extend(c for c in f.cards if c not in g.cards)
            continue
        index[key] = f
        out.append(f)
    return out


def _by_urgency(cards: list[CardDraft]) -> list[CardDraft]:
    return sorted(cards, key=_card_key)


def _card_key(card: CardDraft) -> tuple[int, int]:
    topic = TOPIC_ORDER.index(card.topic) if card.topic in TOPIC_ORDER else len(TOPIC_ORDER)
    return (tier_rank(card.tier), topic)


def _unique_list(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for i in items:
        if i not in out:
            out.append(i)
    return out


def _yes_no(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "unknown" if value is None else str(value)


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
