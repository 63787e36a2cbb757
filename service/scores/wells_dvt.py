"""Wells DVT, two-level score (Wells 2003 as adopted by NICE NG158; clinical-rules §4.1, §4.2).

min = sum of known items; max = min + 1 for each unknown item. Absent data never moves a patient
into "unlikely": unknown exam items widen the range instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from service.cards.evidence import cite_all, fmt_time
from service.chart.facts import Facts, Quantity, Source
from service.chart.units import compare
from service.vocabulary import WellsClass

SIX_MONTHS = timedelta(days=183)
# the resource types that hold the history items (W1–W3, W9) and the medications W1 reads (§1.13)
HISTORY_TYPES = frozenset({"Condition", "Procedure"})
MEDICATION_TYPES = frozenset({"MedicationRequest", "MedicationStatement"})
# §4.1 "W10 on the card"
W10_ATTESTED_FALSE = "Wells 0, alternative diagnosis at least as likely: attested false ({ref}, {time})"
W10_NOT_ATTESTED = "No attestation that an alternative diagnosis is at least as likely"
EXAM_ITEMS = (
    ("W4", "deep-vein-tenderness", "tenderness along the deep veins"),
    ("W5", "entire-leg-swollen", "entire leg swollen"),
    ("W7", "pitting-edema", "pitting oedema of the symptomatic leg"),
    ("W8", "collateral-superficial-veins", "collateral superficial veins"),
)


@dataclass(frozen=True)
class WellsItem:
    id: str
    label: str
    points: int | None              # None = unknown
    sources: tuple[Source, ...] = ()
    state: str = "zero"             # scores | zero | unknown | not-documented
    flag: str | None = None


@dataclass(frozen=True)
class WellsDvt:
    min: int
    max: int
    klass: WellsClass
    three_tier: str
    items: tuple[WellsItem, ...] = field(default_factory=tuple)

    def score_key(self) -> dict:
        return {"min": self.min, "max": self.max, "class": self.klass, "threeTier": self.three_tier}

    @property
    def unknown(self) -> list[WellsItem]:
        return [i for i in self.items if i.state == "unknown"]

    def evidence_lines(self) -> list[str]:
        lines = []
        for item in self.items:
            if item.id == "W10" and item.points == 0 and item.sources:
                lines.append(W10_ATTESTED_FALSE.format(ref=item.sources[0].ref, time=fmt_time(item.sources[0].time)))
            elif item.state in ("scores", "zero") and item.sources:
                sign = f"+{item.points}" if item.points and item.points > 0 else str(item.points)
                lines.append(f"Wells {sign}, {item.label}: {cite_all(list(item.sources))}")
        lines.append(
            f"Wells DVT {self.min if self.min == self.max else f'{self.min} to {self.max}'} "
            f"(min {self.min}, max {self.max}): **{self.klass}**. 3-tier label: {self.three_tier} (Wells 1997 "
            "cut-offs on the 10-item 2003 score (1997 had no previous-DVT item); information only, decisions "
            "use the 2-level score).")
        return lines

    def unknown_lines(self) -> list[str]:
        lines = []
        unknown = [i.label for i in self.unknown]
        if unknown:
            lines.append(f"Not recorded: {', '.join(unknown)}. Each would add 1 point (Wells could reach {self.max}).")
        not_doc = [i.label for i in self.items if i.state == "not-documented"]
        if not_doc:
            tail = "; DVT is already likely." if self.klass == "likely" else "."
            lines.append(f"{'; '.join(not_doc)[:1].upper()}{'; '.join(not_doc)[1:]}: not documented. "
                         f"Each would add 1 point{tail}")
        w10 = next((i for i in self.items if i.id == "W10"), None)
        if w10 and w10.points == 0 and not w10.sources:     # attested false is evidence, not a gap (§4.1)
            after = classify(self.min - 2, self.max - 2)
            still = ", still likely" if self.klass == "likely" and after == "likely" else f", {after}"
            lines.append(W10_NOT_ATTESTED + " "
                         f"(it would subtract 2: Wells {self.min - 2}{still}).")
        return lines


def _band(score: int) -> str:
    return "low" if score <= 0 else "moderate" if score <= 2 else "high"


def three_tier(lo: int, hi: int) -> str:
    a, b = _band(lo), _band(hi)
    return a if a == b else f"{a}-{b}"


def classify(lo: int, hi: int) -> WellsClass:
    """Two-level Wells (§4.2): likely at 2 or more; indeterminate when the unknown items span the cut-off."""
    if lo >= 2:
        return WellsClass.LIKELY
    if hi <= 1:
        return WellsClass.UNLIKELY
    return WellsClass.INDETERMINATE


def _ka_item(facts: Facts, wid: str, code: str, label: str) -> WellsItem:
    reading = facts.ka.get(code)
    if reading is None or reading.value is None:
        return WellsItem(wid, label, None, state="unknown")
    src = tuple(reading.sources)
    return WellsItem(wid, label, 1 if reading.value is True else 0, src, "scores" if reading.value is True else "zero")


def calf_item(facts: Facts) -> WellsItem:
    label = "calf at least 3 cm larger than the other side"
    reading = facts.ka.get("calf-circumference-difference")
    value = reading.value if reading else None
    if not isinstance(value, Quantity):
        return WellsItem("W6", label, None, state="unknown")
    hit = compare(value, ">=", 3.0)                       # 3.0 scores; 2.9 does not
    if hit is None:
        return WellsItem("W6", label, None, tuple(reading.sources), "unknown")
    shown = f"calf {value.value:g} cm larger" + (" (at least 3 cm)" if hit else " (less than 3 cm)")
    return WellsItem("W6", shown, 1 if hit else 0, tuple(reading.sources), "scores" if hit else "zero")


@dataclass(frozen=True)
class CancerEvidence:
    """What W1 reads (§4.1 W1, §1.4 cancer-treatment window, §1.12 item 3)."""

    cancers: tuple[Source, ...]          # set:active-cancer Conditions, active or abated within 6 months
    treatment: tuple[Source, ...]        # Procedure, Z51.- Condition or Encounter reasonCode within 6 months
    medication: tuple[Source, ...]       # current set:antineoplastic-therapy medications
    palliative: tuple[Source, ...]
    recent_onset: tuple[Source, ...]     # a cancer with onset within 6 months [design]
    history_unreadable: bool             # Conditions or Procedures could not be read (§1.13)
    medications_unreadable: bool

    @property
    def qualifiers(self) -> tuple[Source, ...]:
        # (a): a medication qualifies only here, beside a cancer Condition; methotrexate and other
        # drugs of the set also have non-cancer uses (rheumatoid arthritis, psoriasis)
        return self.treatment + self.medication + self.palliative + self.recent_onset


def cancer_evidence(facts: Facts) -> CancerEvidence:
    now = facts.now
    cancers = [c for c in facts.conditions_in("active-cancer")
               if c.active or (c.abatement is not None and c.abatement >= now - SIX_MONTHS)]
    palliative = [c.source for c in facts.conditions_in("palliative-care") if c.active]
    palliative += [p.source for p in facts.procedures_in("palliative-care")]
    palliative += [e.source for e in facts.encounters
                   if "palliative-care" in e.type_sets or "palliative-care" in e.reason_sets]
    return CancerEvidence(
        cancers=tuple(c.source for c in cancers),
        treatment=tuple(dict.fromkeys(facts.cancer_treatment)),
        medication=tuple(dict.fromkeys(facts.medication_use.get("antineoplastic-therapy", []))),
        palliative=tuple(palliative),
        recent_onset=tuple(c.source for c in cancers if c.onset and c.onset >= now - SIX_MONTHS),
        history_unreadable=not HISTORY_TYPES.isdisjoint(facts.unreadable_types),
        medications_unreadable=not MEDICATION_TYPES.isdisjoint(facts.unreadable_types),
    )


W1_LABEL = "active cancer (treatment within 6 months or palliative)"
W1_UNCONFIRMED = W1_LABEL + " (activity unconfirmed)"
W1_DRUG_ALONE = ("active cancer: an anti-cancer drug without a cancer Condition does not count (it has non-cancer "
                 "uses, e.g. low-dose methotrexate for rheumatoid arthritis)")

# §4.1 W1, first row that holds: (name, predicate, points, state, label, sources, flag)
W1_ROWS: tuple[tuple[str, Any, int | None, str, str, Any, str | None], ...] = (
    ("cancer-with-qualifier", lambda e: bool(e.cancers and e.qualifiers), 1, "scores", W1_LABEL,
     lambda e: e.cancers + e.qualifiers, None),
    ("treatment-on-its-own", lambda e: bool(e.treatment), 1, "scores", W1_LABEL, lambda e: e.treatment, None),
    ("history-unreadable", lambda e: e.history_unreadable, None, "unknown", W1_LABEL, lambda e: (), None),
    ("cancer-medications-unreadable", lambda e: bool(e.cancers) and e.medications_unreadable, None, "unknown",
     W1_UNCONFIRMED, lambda e: e.cancers, "cancer-activity-unconfirmed"),
    ("cancer-activity-unconfirmed", lambda e: bool(e.cancers), None, "unknown", W1_UNCONFIRMED,
     lambda e: e.cancers, "cancer-activity-unconfirmed"),
    ("anti-cancer-drug-without-cancer", lambda e: bool(e.medication), 0, "zero", W1_DRUG_ALONE,
     lambda e: e.medication, None),
    ("not-documented", lambda e: True, 0, "not-documented", "active cancer", lambda e: (), "not-documented"),
)


def cancer_item(facts: Facts) -> WellsItem:
    evidence = cancer_evidence(facts)
    for name, holds, points, state, label, sources, flag in W1_ROWS:
        if holds(evidence):
            return WellsItem("W1", label, points, tuple(dict.fromkeys(sources(evidence))), state, flag)
    raise AssertionError("W1_ROWS ends with a row that always holds")


def cancer_risk_factor(facts: Facts, cancer: WellsItem | None = None) -> WellsItem | None:
    """§5 S5: W1 scores, or is unknown only because an active cancer lacks a qualifier. An anti-cancer
    drug without a cancer Condition is not a risk factor; an unreadable type supplies none.
    ``cancer``: W1 (:func:`cancer_item`) when the caller has it already."""
    item = cancer if cancer is not None else cancer_item(facts)
    if item.state == "scores" or item.flag == "cancer-activity-unconfirmed":
        return item
    return None


def paralysis_item(facts: Facts) -> WellsItem:
    label = "paralysis, paresis or recent plaster of the leg"
    if facts.ka_true("lower-limb-immobilisation"):
        return WellsItem("W2", label, 1, tuple(facts.ka["lower-limb-immobilisation"].sources), "scores")
    sources = [c.source for c in facts.conditions_in("paralysis-lower-limb") if c.active]
    sources += [p.source for p in facts.procedures_in("leg-cast")
                if p.time is None or p.time >= facts.now - timedelta(days=84)]
    if sources:
        return WellsItem("W2", label, 1, tuple(sources), "scores")
    if not HISTORY_TYPES.isdisjoint(facts.unreadable_types):
        return WellsItem("W2", label, None, state="unknown")
    if facts.ka_false("lower-limb-immobilisation"):
        return WellsItem("W2", label, 0, tuple(facts.ka["lower-limb-immobilisation"].sources), "zero")
    return WellsItem("W2", "paralysis, paresis or recent plaster", 0, state="not-documented", flag="not-documented")


def bedridden_item(facts: Facts) -> WellsItem:
    label = "bedridden 3 days or more, or major surgery within 12 weeks"
    if facts.ka_true("bedridden-3-days"):
        return WellsItem("W3", label, 1, tuple(facts.ka["bedridden-3-days"].sources), "scores")
    surgeries = facts.surgeries_within(84)               # day 84 scores, day 85 does not
    if surgeries:
        return WellsItem("W3", "major surgery within 12 weeks", 1,
                         tuple(s for surgery in surgeries for s in surgery.sources), "scores")
    if facts.unreadable("Procedure"):
        return WellsItem("W3", label, None, state="unknown")
    if facts.ka_false("bedridden-3-days"):
        return WellsItem("W3", label, 0, tuple(facts.ka["bedridden-3-days"].sources), "zero")
    return WellsItem("W3", "bedridden 3 days or more, or major surgery within 12 weeks", 0,
                     state="not-documented", flag="not-documented")


def previous_dvt_item(facts: Facts) -> WellsItem:
    label = "previously documented DVT (or PE)"
    sources = [c.source for c in facts.conditions_in("vte-history")]
    eight_days = facts.now - timedelta(days=8)
    sources += [u.source for u in facts.ultrasounds if u.value == "dvt-seen" and u.time and u.time < eight_days]
    if sources:
        return WellsItem("W9", label, 1, tuple(sources), "scores")
    if facts.unreadable("Condition"):
        return WellsItem("W9", label, None, state="unknown")
    return WellsItem("W9", "previous DVT", 0, state="not-documented", flag="not-documented")


def alternative_item(facts: Facts) -> WellsItem:
    # W10 only from the clinician's attestation; never inferred from the problem list (§4.1)
    reading = facts.ka.get("alternative-diagnosis-as-likely")
    if reading and reading.value is True:
        return WellsItem("W10", "alternative diagnosis at least as likely", -2, tuple(reading.sources), "scores")
    return WellsItem("W10", "alternative diagnosis at least as likely", 0,
                     tuple(reading.sources) if reading and reading.known else (), "zero")


def wells_dvt(facts: Facts, cancer: WellsItem | None = None, previous_dvt: WellsItem | None = None) -> WellsDvt:
    """The score, its items in W1–W10 order. ``cancer`` (W1) and ``previous_dvt`` (W9): those items when
    the caller has them already (Wells PE, PERC and the suspicion trigger read them too)."""
    items = [cancer if cancer is not None else cancer_item(facts), paralysis_item(facts), bedridden_item(facts)]
    items += [_ka_item(facts, wid, code, label) for wid, code, label in EXAM_ITEMS[:2]]
    items.append(calf_item(facts))
    items += [_ka_item(facts, wid, code, label) for wid, code, label in EXAM_ITEMS[2:]]
    items += [previous_dvt if previous_dvt is not None else previous_dvt_item(facts), alternative_item(facts)]
    lo = sum(i.points or 0 for i in items)
    hi = lo + sum(1 for i in items if i.state == "unknown")
    return WellsDvt(lo, hi, classify(lo, hi), three_tier(lo, hi), tuple(items))
