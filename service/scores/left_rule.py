"""LEFt (Chan 2009; Righini 2013), pregnancy only, information only (clinical-rules §4.8)."""
from __future__ import annotations

from dataclasses import dataclass, field

from service.chart.facts import Facts, Source
from service.scores.score_items import cited_line, fmt_quantity, quantity
from service.scores.wells_pe import calf_at_least

FIRST_TRIMESTER_DAYS = 14 * 7       # < 14 weeks + 0 days


@dataclass(frozen=True)
class LeftItem:
    id: str
    label: str
    state: bool | None
    sources: tuple[Source, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class LeftRule:
    score: int
    max: int
    items: tuple[LeftItem, ...] = field(default_factory=tuple)

    def score_keys(self) -> dict:
        out = {"leftRule": self.score}
        if self.max != self.score:
            out["leftRuleMax"] = self.max
        return out

    def evidence_lines(self) -> list[str]:
        lines = []
        for i in self.items:
            if i.state is None:
                continue
            text = f"LEFt {'+1' if i.state else '0'}, {i.label}" + (f": {i.detail}" if i.detail else "")
            lines.append(cited_line(text, i.sources))
        shown = str(self.score) if self.max == self.score else f"{self.score} to {self.max}"
        lines.append(f"LEFt {shown} (information only). LEFt is not a stand-alone rule-out; a LEFt of 0 never "
                     "withholds ultrasound.")
        return lines

    def unknown_lines(self) -> list[str]:
        return [f"LEFt item not known: {i.label}{f' ({i.detail})' if i.detail else ''}." for i in self.items
                if i.state is None]


def _side(facts: Facts) -> LeftItem:
    label = "symptoms in the left leg"
    side = facts.ka_value("symptom-side")
    if side is None:
        return LeftItem("L", label, None, detail="ka:symptom-side not recorded")
    return LeftItem("L", label, side == "left", tuple(facts.ka["symptom-side"].sources), f"side {side}")


def _oedema(facts: Facts) -> LeftItem:
    label = "calf circumference difference 2 cm or more"
    hit = calf_at_least(facts, 2.0)
    reading = facts.ka.get("calf-circumference-difference")
    if hit is None:
        return LeftItem("E", label, None, tuple(reading.sources) if reading and reading.known else (),
                        "calf circumference difference not recorded" if quantity(reading) is None else
                        f"{fmt_quantity(quantity(reading))} cannot be compared")
    return LeftItem("E", label, hit, tuple(reading.sources), f"difference {fmt_quantity(quantity(reading))}")


def _trimester(facts: Facts) -> LeftItem:
    label = "first trimester (under 14 weeks)"
    preg = facts.pregnancy
    if preg.state == "postpartum":
        return LeftItem("Ft", label, False, tuple(preg.sources), "postpartum")
    days = preg.gestational_age_days
    if days is None:
        return LeftItem("Ft", label, None, detail="gestational age unknown")
    src = (preg.gestational_age_source,) if preg.gestational_age_source else ()
    weeks, rem = divmod(int(days), 7)
    return LeftItem("Ft", label, days < FIRST_TRIMESTER_DAYS, src, f"gestational age {weeks} weeks {rem} days")


def left_rule(facts: Facts) -> LeftRule:
    items = (_side(facts), _oedema(facts), _trimester(facts))
    score = sum(1 for i in items if i.state is True)
    return LeftRule(score, score + sum(1 for i in items if i.state is None), items)
