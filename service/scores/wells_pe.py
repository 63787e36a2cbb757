"""Wells PE, two-level (NICE NG158; clinical-rules §4.3).

wellsPe = sum of the scoring items; wellsPeMax adds the points of the unknown items. PE likely when
wellsPe > 4; unlikely when wellsPeMax <= 4 (4.0 is unlikely); wellsPe <= 4 < wellsPeMax is handled as likely.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.chart.facts import Facts, Source
from service.scores.score_items import cited_line, compare, fmt_quantity, num, quantity
from service.vocabulary import WellsClass

HR_THRESHOLD = 100          # > 100 scores: 101 scores, 100 does not
SWELLING_KA = ("leg-swelling", "entire-leg-swollen", "pitting-edema")


@dataclass(frozen=True)
class PeItem:
    id: str
    label: str
    points: float
    state: str                      # scores | zero | unknown
    sources: tuple[Source, ...] = ()
    detail: str = ""
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WellsPe:
    score: float
    max: float
    items: tuple[PeItem, ...] = field(default_factory=tuple)

    @property
    def likely(self) -> bool:
        """Likely, or handled as likely (wellsPe <= 4 < wellsPeMax)."""
        return self.max > 4

    @property
    def klass(self) -> WellsClass:
        if self.score > 4:
            return WellsClass.LIKELY
        if self.max <= 4:
            return WellsClass.UNLIKELY
        return WellsClass.INDETERMINATE

    def score_keys(self) -> dict:
        out: dict = {"wellsPe": self.score}
        if self.max != self.score:
            out["wellsPeMax"] = self.max
        return out

    def text(self) -> str:
        shown = num(self.score) if self.max == self.score else f"{num(self.score)} to {num(self.max)}"
        return f"Wells PE {shown}, {'likely' if self.klass == 'likely' else 'unlikely' if self.klass == 'unlikely' else 'handled as likely'}"

    def evidence_lines(self) -> list[str]:
        lines = []
        for item in self.items:
            if item.state == "scores":
                text = f"Wells PE +{num(item.points)}, {item.label}" + (f": {item.detail}" if item.detail else "")
                lines.append(cited_line(text, item.sources))
        lines.append(f"{self.text()} (PE likely above 4; NICE NG158 two-level score).")
        return lines

    def unknown_lines(self) -> list[str]:
        return [f"Wells PE item not known: {i.label} (+{num(i.points)} if present; Wells PE could reach "
                f"{num(self.max)})." for i in self.items if i.state == "unknown"]


def _ka(facts: Facts, code: str):
    return facts.ka_value(code)


def _ka_sources(facts: Facts, *codes: str) -> list[Source]:
    out: list[Source] = []
    for code in codes:
        reading = facts.ka.get(code)
        if reading is not None and reading.known:
            out.extend(reading.sources)
    return out


def calf_at_least(facts: Facts, threshold: float) -> bool | None:
    """ka:calf-circumference-difference >= threshold cm; None when unknown or unsettled."""
    reading = facts.ka.get("calf-circumference-difference")
    q = quantity(reading)
    if q is None:
        return None
    return compare(q, ">=", threshold)


def dvt_signs_item(facts: Facts) -> PeItem:
    label = "clinical signs of DVT (leg swelling and pain on palpation of the deep veins)"
    tender = _ka(facts, "deep-vein-tenderness")
    swell_states = [_ka(facts, c) for c in SWELLING_KA] + [calf_at_least(facts, 3.0)]
    swelling_present = any(s is True for s in swell_states)
    swelling_all_unknown = all(s is None for s in swell_states)
    sources = tuple(_ka_sources(facts, "deep-vein-tenderness", *SWELLING_KA, "calf-circumference-difference"))
    if tender is True and swelling_present:
        return PeItem("PE-DVT", label, 3, "scores", sources, "deep-vein tenderness with leg swelling")
    if tender is None and swelling_present:
        return PeItem("PE-DVT", label, 3, "unknown", sources, "swelling present, deep-vein tenderness not recorded")
    if tender is True and swelling_all_unknown:
        return PeItem("PE-DVT", label, 3, "unknown", sources, "deep-vein tenderness, swelling not recorded")
    return PeItem("PE-DVT", label, 3, "zero", sources)


def alternative_item(facts: Facts) -> PeItem:
    label = "an alternative diagnosis is less likely than PE"
    value = _ka(facts, "pe-most-likely")
    sources = tuple(_ka_sources(facts, "pe-most-likely"))
    if value is True:
        return PeItem("PE-ALT", label, 3, "scores", sources, "clinician attestation")
    if value is False:
        return PeItem("PE-ALT", label, 3, "zero", sources)
    return PeItem("PE-ALT", label + " (ka:pe-most-likely not recorded)", 3, "unknown")


def heart_rate_item(facts: Facts) -> PeItem:
    label = "heart rate above 100/min"
    reading = facts.vitals.get("heart_rate")
    q = quantity(reading)
    if q is None:
        return PeItem("PE-HR", label + " (no heart rate within 24 h)", 1.5, "unknown")
    hit = compare(q, ">", HR_THRESHOLD)
    sources = tuple(reading.sources)
    detail = f"heart rate {fmt_quantity(q)}"
    if hit is None:
        return PeItem("PE-HR", label, 1.5, "unknown", sources, detail)
    return PeItem("PE-HR", label, 1.5, "scores" if hit else "zero", sources, detail)


def immobilisation_item(facts: Facts) -> PeItem:
    label = "immobilisation over 3 days or surgery in the previous 4 weeks"
    for code in ("bedridden-3-days", "lower-limb-immobilisation"):
        if facts.ka_true(code):
            return PeItem("PE-IMMOB", label, 1.5, "scores", tuple(facts.ka[code].sources), code.replace("-", " "))
    surgeries = facts.surgeries_within(28)
    if surgeries:
        return PeItem("PE-IMMOB", label, 1.5, "scores",
                      tuple(s for surgery in surgeries for s in surgery.sources), "surgery within 4 weeks")
    if facts.unreadable("Procedure"):
        return PeItem("PE-IMMOB", label + " (procedures could not be read)", 1.5, "unknown")
    return PeItem("PE-IMMOB", label, 1.5, "zero")


def _from_wells(item, pid: str, label: str, points: float) -> PeItem:
    if item.state == "scores":
        return PeItem(pid, label, points, "scores", tuple(item.sources), item.label)
    if item.state == "unknown":
        flags = frozenset({item.flag}) if getattr(item, "flag", None) else frozenset()
        return PeItem(pid, label, points, "unknown", tuple(item.sources), item.label, flags)
    flags = frozenset({item.flag}) if getattr(item, "flag", None) else frozenset()
    return PeItem(pid, label, points, "zero", tuple(item.sources), flags=flags)


def haemoptysis_item(facts: Facts) -> PeItem:
    sources = facts.symptoms.get("haemoptysis") or []
    if sources:
        return PeItem("PE-HAEMOPTYSIS", "haemoptysis", 1, "scores", tuple(sources))
    return PeItem("PE-HAEMOPTYSIS", "haemoptysis", 1, "zero")


def wells_pe(facts: Facts, cancer: Any = None, previous_dvt: Any = None) -> WellsPe:
    """``cancer`` and ``previous_dvt``: Wells DVT's W1 and W9 items, which these two items read, when
    the caller has them already."""
    from service.scores.wells_dvt import cancer_item, previous_dvt_item
    items = (
        dvt_signs_item(facts),
        alternative_item(facts),
        heart_rate_item(facts),
        immobilisation_item(facts),
        _from_wells(previous_dvt if previous_dvt is not None else previous_dvt_item(facts), "PE-PREV",
                    "previous DVT or PE", 1.5),
        haemoptysis_item(facts),
        _from_wells(cancer if cancer is not None else cancer_item(facts), "PE-CANCER", "malignancy (on treatment, treated in the last 6 months, "
                                                    "or palliative)", 1),
    )
    score = sum(i.points for i in items if i.state == "scores")
    hi = score + sum(i.points for i in items if i.state == "unknown")
    return WellsPe(float(score), float(hi), items)
