"""The sentences of the order-advice card (clinical-rules §6.16, §7.5), as named templates.

Each finding of the table in :mod:`service.order_advice.rows` has a ``WHY`` template (the chart facts
behind it, for Evidence) and an ``ADVICE`` template (what to do, for Recommendation and the
suggestion), both keyed by its rule id. Their ``{fields}`` are the named phrases of :class:`Phrases`
(read from the chart and the pathway cards when a template asks for them) or values the finding
passes in (``test``, ``drafts`` ...).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from service.cards.evidence import cite
from service.cards.text import ORDERABLE_TITLES, lower_first, upper_first
from service.catalog import ORDER_SELECT
from service.chart.draft_orders import DraftOrder
from service.pathways.dvt_suspicion import dvt_sign_lines
from service.vocabulary import RequestPriority, UltrasoundState

if TYPE_CHECKING:
    from service.order_advice.findings import Finding
    from service.order_advice.state import Situation

# The rows that apply to any test (their templates are below like every row's)
DUPLICATE_DRAFT = "OA-DUPLICATE-DRAFT"
FORBIDDEN_TEST = "OA-FORBIDDEN-TEST"
MISSING_TEST = "OA-MISSING-TEST"

WHY: dict[str, str] = {
    "OA-DDIMER-PREGNANCY": "pregnant or postpartum: {pregnancy}",
    "OA-DDIMER-ALONE-LIKELY": "{wells}; {scan}; no leg-vein ultrasound draft; {scan_within_4h}",
    "OA-DDIMER-ANTICOAG": "anticoagulated (current, started before this episode): {anticoagulant}",
    "OA-DDIMER-IMAGING-FIRST": "imaging-first group: {imaging_first}",
    "OA-DDIMER-CHILD": "{age} ({patient})",
    "OA-DDIMER-NOT-INDICATED": "DVT not suspected (DVT-NOT-SUSPECTED{leg_swelling}){pe_not_asking}",
    "OA-DDIMER-DVT-EXCLUDED": "DVT excluded by the NICE NG158 pathway ({dvt_excluded_rule})",
    "OA-PE-DDIMER-LIKELY": "possible pulmonary embolism, PE likely ({wells_pe})",
    "OA-PE-TEST-PERC-NEG": ("PE excluded by PERC (PE-PERC-NEG: low clinical suspicion attested{pe_suspicion_low}, "
                            "all eight criteria negative); DVT not suspected"),
    "OA-CTPA-PREG-DUPLEX-FIRST": "pregnant or postpartum ({pregnancy}); signs of DVT ({dvt_signs}); {scan}",
    "OA-MRI-BEFORE-XR": "{no_radiograph}",
    "OA-KNEE-IMAGING-DVT-OPEN": ("DVT not yet excluded ({dvt_main_rule}); {test} is not recommended by the "
                                 "injury, septic or mass pathways"),
    "OA-XR-RULES-NEG": "acute knee injury with the Ottawa rule negative{ottawa}",
    "OA-URATE-WITHOUT-ASPIRATION": ("{drafts}: serum urate drafted for a hot swollen knee ({hot_swollen_joint}) "
                                    "with no knee aspiration draft"),
    "OA-VENOUS-US-FOR-PAES": ("{drafts}: leg-vein ultrasound drafted for suspected popliteal artery entrapment "
                              "({paes_signs}); DVT not suspected"),
    "OA-FORBIDDEN-TEST": 'the {topic} card lists {test} under "Not recommended" ({listing_rules})',
    "OA-DUPLICATE-DRAFT": "{count} drafts of {test}{when}: {drafts}",
    "OA-MISSING-TEST": "{test} recommended by the {topic} card ({rules}); no draft covers it",
}

# OA-MRI-BEFORE-XR: why no radiograph qualifies (see rows.RadiographCheck)
WHY_NO_RADIOGRAPH: dict[str, str] = {
    "none-after-injury": ("recent knee injury ({injury_time}) with no knee radiograph result "
                          "(ka:knee-radiograph-result) on or after it"),
    "injury-date-unknown": "recent knee injury of unknown date: no knee radiograph result can be shown to follow it",
    "none-since-recent-injury": "recent knee injury with no knee radiograph result (ka:knee-radiograph-result)",
    "none-within-12-months": "no knee radiograph result (ka:knee-radiograph-result) within 12 months",
}

ADVICE: dict[str, str] = {
    "OA-DDIMER-PREGNANCY": ("D-dimer is not used to investigate VTE in pregnancy or the 6 weeks after delivery "
                            "(RCOG GTG 37b){duplex_instead}"),
    "OA-DDIMER-ALONE-LIKELY": ("DVT likely (NICE NG158 1.1.3): proximal leg-vein ultrasound with the result within "
                               "4 hours; D-dimer only if the scan is negative (a negative D-dimer does not rule out "
                               "a likely DVT)"),
    "OA-DDIMER-ANTICOAG": ("D-dimer may be falsely low on an anticoagulant and is not used (NICE NG158); image the "
                           "leg veins instead; DVT despite an anticoagulant needs specialist review"),
    "OA-DDIMER-IMAGING-FIRST": "inpatient or recent surgery: D-dimer is unreliable here; image first",
    "OA-DDIMER-CHILD": ("Wells and D-dimer are not validated under 18 (NICE NG158 scope); same-day paediatric "
                        "assessment with leg-vein ultrasound if DVT is suspected"),
    "OA-DDIMER-NOT-INDICATED": ("D-dimer is not indicated: DVT is not suspected and no PE pathway needs it; if DVT "
                                "is suspected, record the Wells items first (NICE NG158 1.1.2)"),
    "OA-DDIMER-DVT-EXCLUDED": "DVT already excluded: another D-dimer adds nothing; consider an alternative diagnosis",
    "OA-PE-DDIMER-LIKELY": "PE likely (NICE NG158, ESC 2019): CTPA immediately; a D-dimer does not change the plan",
    "OA-PE-TEST-PERC-NEG": "PERC-negative with low suspicion: no further PE testing (Kline; NICE NG158)",
    "OA-CTPA-PREG-DUPLEX-FIRST": ("pregnant or postpartum with signs of DVT: leg-vein compression duplex first; if "
                                  "it is positive no further PE imaging is needed (RCOG GTG 37b)"),
    "OA-MRI-BEFORE-XR": ("radiographs first: MRI before knee radiographs is usually not appropriate (ACR "
                         "Appropriateness Criteria); MRI without IV contrast if the radiographs show no fracture, "
                         "only an effusion, or mechanical symptoms persist"),
    "OA-KNEE-IMAGING-DVT-OPEN": "knee imaging waits until DVT is excluded; the DVT work-up comes first (NICE NG158)",
    "OA-XR-RULES-NEG": ("Ottawa and Pittsburgh rules negative: fracture probability < 1.5%, no radiograph needed "
                        "(Stiell; Seaberg)"),
    "OA-URATE-WITHOUT-ASPIRATION": ("hot swollen knee: aspirate before antibiotics (Gram stain, culture, cell count, "
                                    "crystals); urate alone does not diagnose gout and crystals do not exclude "
                                    "infection (BSR 2006; NICE NG219)"),
    "OA-VENOUS-US-FOR-PAES": ("suspected popliteal artery entrapment: ankle-brachial index and arterial duplex with "
                              "provocation (ACR AC); a leg-vein scan does not assess it"),
    "OA-FORBIDDEN-TEST": "{test} not recommended: {reason}",
    "OA-DUPLICATE-DRAFT": "keep ServiceRequest/{kept} ({priority}); remove the duplicate{plural}",
    "OA-MISSING-TEST": "add {test}: {reasons}",
}

# Why, in a few words, for the summary (§7.5: the action first, then the key reason).
SHORT_REASON: dict[str, str] = {
    "OA-DDIMER-PREGNANCY": "D-dimer is not used in pregnancy",
    "OA-DDIMER-ALONE-LIKELY": "DVT likely ({wells_score})",
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

# The summary and the suggestion label, by what the finding does.
SUMMARY = {
    "duplicate": "Duplicate {test} drafts: keep one",
    "missing": "Add {creates}: {reason}",
    "replace": "Replace {test} with {creates}: {reason}",
    "remove": "Remove the {test} draft: {reason}",
    "add": "Add {creates} to the {test} order: {reason}",
}
LABEL = {
    "duplicate": "Remove {count} duplicate {test} draft{plural}",
    "replace": "Replace {test} with {creates}",
    "remove": "Remove {test}",
    "add": "Order {creates}",
}
# The section that names the drafts no finding objects to, and why each is fine.
FINE: dict[str, str] = {
    "recommended": "{draft}: recommended ({topics} card)",
    "not-judged": "{draft}: not selected, so not judged; it counts as ordered",
    "no-objection": "{draft}: no objection from the pathway",
    "kept": "{draft}: kept (OA-DUPLICATE-DRAFT)",
}
FINE_HEADING = "Draft orders that are fine"
HEADLINE = "**Order advice: {summary}.** {advice}."
NO_SCAN = "no leg-vein ultrasound result within 8 days"


def _sentence_name(title: str) -> str:
    """The card's title with its first letter lowered, unless that letter is a symbol or acronym."""
    if len(title) > 1 and title[0].isupper() and title[1].islower():
        return title[0].lower() + title[1:]
    return title


# built once at load: every finding names its tests several times
_TEST_NAMES = {orderable: _sentence_name(title) for orderable, title in ORDERABLE_TITLES.items()}


def test_name(orderable: str) -> str:
    """A catalog test as a sentence names it: "leg-vein ultrasound", "D-dimer", "anti-CCP"."""
    name = _TEST_NAMES.get(orderable)
    return name if name is not None else _sentence_name(orderable)


def test_names(orderables: Iterable[str]) -> list[str]:
    out: list[str] = []
    for name in (test_name(o) for o in orderables):
        if name not in out:
            out.append(name)
    return out


def yes_no(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "unknown" if value is None else str(value)


def number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def draft_ref(d: DraftOrder, hook: str) -> str:
    """``ServiceRequest/<id> (<what>, <priority>, on <day>, selected)``."""
    code = d.resource.get("code") if isinstance(d.resource, dict) else None
    if isinstance(code, dict) and code.get("text"):
        text = str(code["text"])
    else:
        text = ", ".join(test_name(o) for o in sorted(d.orderables))
    bits = [text]
    if d.priority != RequestPriority.ROUTINE:
        bits.append(d.priority)
    if d.occurrence_day:
        bits.append(f"on {d.occurrence_day}")
    if d.selected and hook == ORDER_SELECT:
        bits.append("selected")
    return f"{d.reference} ({', '.join(bits)})"


def drafts_text(drafts: Iterable[DraftOrder], hook: str) -> str:
    return ", ".join(draft_ref(d, hook) for d in drafts)


class Phrases:
    """The named phrases the templates use, each read from the chart or the pathway cards when asked.

    A template field names a method here; values passed to :meth:`fill` take precedence."""

    def __init__(self, situation: "Situation"):
        self.s = situation
        self.facts = situation.facts

    def fill(self, template: str, **values: Any) -> str:
        return template.format_map(_Fields(self, values))

    # -- the patient ---------------------------------------------------------------------------
    def pregnancy(self) -> str:
        p = self.facts.pregnancy
        sources = "; ".join(cite(s) for s in p.sources[:3])
        return f"{p.state}" + (f" ({sources})" if sources else "")

    def age(self) -> str:
        age_range = self.facts.age_range
        return f"age {age_range.label}" if age_range else "paediatric pathway"

    def patient(self) -> str:
        return self.facts.patient_ref

    def anticoagulant(self) -> str:
        a = self.facts.anticoagulation
        return "; ".join(cite(s) for s in (a.sources if a else [])[:3]) or "DVT-ANTICOAGULATED"

    def imaging_first(self) -> str:
        setting = self.facts.setting
        reason = setting.imaging_first_reason if setting is not None else ""
        sources = []
        if setting is not None:
            for surgery in setting.qualifying_surgeries[:2]:
                sources.extend(surgery.sources[:1])
            if setting.inpatient and setting.current_encounter is not None:
                sources.append(setting.current_encounter.source)
        text = reason or "inpatient or surgery within 30 days (DVT-IMAGING-FIRST)"
        return text + (" (" + "; ".join(cite(s) for s in sources) + ")" if sources else "")

    def ka_cite(self, code: str) -> str:
        reading = self.facts.ka.get(code)
        if reading is None or reading.winner is None:
            return f"ka:{code}"
        return f"ka:{code} {yes_no(reading.value)}, {cite(reading.winner.source)}"

    def hot_swollen_joint(self) -> str:
        return self.ka_cite("hot-swollen-joint")

    def leg_swelling(self) -> str:
        return f"; {self.ka_cite('leg-swelling')}" if "leg-swelling" in self.facts.ka else ""

    def pe_suspicion_low(self) -> str:
        return f", {self.ka_cite('pe-suspicion-low')}" if "pe-suspicion-low" in self.facts.ka else ""

    def paes_signs(self) -> str:
        signs = [self.ka_cite(c) for c in ("exertional-calf-pain", "pulse-loss-on-provocation")
                 if self.facts.ka_true(c)]
        return "; ".join(signs) or "PAES-SUSPECTED"

    def dvt_signs(self) -> str:
        return "; ".join(self.s.triage.derived(dvt_sign_lines))

    # -- the DVT and PE results ------------------------------------------------------------------
    def dvt_main_rule(self) -> str:
        rules = self.s.dvt_rules()
        return rules[0] if rules else "DVT suspected"

    def dvt_excluded_rule(self) -> str:
        return str(self.s.state.dvt_excluded_rule)

    def duplex_instead(self) -> str:
        return "; compression duplex ultrasound instead" if self.s.state.dvt_suspected else ""

    def pe_not_asking(self) -> str:
        return "; the PE pathway does not ask for it" if self.s.state.pe_card else ""

    def _score(self, key: str) -> Any:
        score = self.s.triage.scores.get(key)
        return score if score is not None else next(
            (c.scores[key] for c in self.s.cards if key in c.scores), None)

    def wells(self) -> str:
        score = self.s.triage.scores.get("wellsDvt") or next(
            (c.scores["wellsDvt"] for c in self.s.cards if isinstance(c.scores.get("wellsDvt"), dict)), None)
        wells_class = self.s.state.wells_class
        if isinstance(score, dict) and "min" in score:
            low, high = score.get("min"), score.get("max")
            points = number(low) if low == high else f"{number(low)}–{number(high)}"
            return f"Wells DVT {points}: {wells_class}"
        return f"Wells DVT {wells_class} ({self.dvt_main_rule()})"

    def wells_score(self) -> str:
        return self.wells().split(":")[0]

    def wells_pe(self) -> str:
        score = self.s.triage.scores.get("wellsPe")
        if score is None and self.s.state.pe_card is not None:
            score = self.s.state.pe_card.scores.get("wellsPe")
        return f"Wells PE {number(score)}" if isinstance(score, (int, float)) else "PE-LIKELY-CTPA"

    def scan(self) -> str:
        state = self.s.state.ultrasound
        if state == UltrasoundState.NONE:
            return NO_SCAN
        latest = next((v for v in self.facts.ultrasounds if v.time is not None), None)
        return f"leg-vein ultrasound {state}" + (f" ({cite(latest.source)})" if latest else "")

    def scan_within_4h(self) -> str:
        reading = self.facts.ka.get("ultrasound-within-4h")
        if reading is None or reading.value is None or reading.winner is None:
            return "scan within 4 h not recorded (assumed possible)"
        return f"scan within 4 h: {yes_no(reading.value)} ({cite(reading.winner.source)})"

    def ottawa(self) -> str:
        score = self._score("ottawa")
        return f" (ottawa {str(score).lower()})" if score is not None else " (OTTAWA-NEG)"


class _Fields(dict):
    """format_map fields: the values given, else the phrase of that name."""

    def __init__(self, phrases: Phrases, values: dict[str, Any]):
        super().__init__(values)
        self.phrases = phrases

    def __missing__(self, key: str) -> Any:
        phrase: Callable[[], str] = getattr(self.phrases, key)
        return phrase()


# -- the card's own sentences ------------------------------------------------------------------------
def _kind(f: "Finding") -> str:
    if f.rule == DUPLICATE_DRAFT:
        return "duplicate"
    if f.deletes and f.creates:
        return "replace"
    return "remove" if f.deletes else "add"


def summary_phrase(f: "Finding", phrases: Phrases) -> str:
    """The summary: the action first, then the reason (§7.5)."""
    test = test_name(f.orderable or "")
    creates = " and ".join(test_names(s.orderable for s in f.creates))
    reason = phrases.fill(SHORT_REASON.get(f.rule, f.rule))
    kind = "missing" if f.rule == MISSING_TEST else _kind(f)
    if kind == "missing":
        creates = creates or test
    return SUMMARY[kind].format(test=test, creates=creates, reason=reason)


def label(f: "Finding") -> str:
    count = len(f.deletes)
    return LABEL[_kind(f)].format(test=test_name(f.orderable or ""), count=count, plural="s" if count > 1 else "",
                                  creates=" and ".join(test_names(s.orderable for s in f.creates)))


def recommendation(f: "Finding") -> str:
    """The action first (remove the draft, order the right test), then why, then the rule id."""
    actions = []
    if f.deletes and f.rule != DUPLICATE_DRAFT:
        actions.append("remove " + ", ".join(f"ServiceRequest/{d.id}" for d in f.deletes))
    if f.creates:
        actions.append("order " + ", ".join(test_names(s.orderable for s in f.creates)) + " (suggested)")
    elif f.wants:
        actions.append("the " + ", ".join(test_name(o) for o in f.wants) + " is suggested above")
    why = f.advice.rstrip(". ")
    if not actions:
        return f"{upper_first(why)} ({f.rule})."
    return f"{upper_first(' and '.join(actions))}: {lower_first(why)} ({f.rule})."


def headline(summary: str, advice: str) -> str:
    return HEADLINE.format(summary=summary, advice=upper_first(advice))
