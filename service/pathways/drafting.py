"""The card-drafting toolkit the pathways share: evidence lines, data-quality flags, suggestions and "not
suggested" entries, and the chart readings several cards cite (symptom onset, knee radiographs). Pure.

Evidence lines follow the contract §4 examples: "<finding>: <value>. Observation/id (time, status)".
Flags come only from the readings a card actually used (the §7.5 list, :data:`CARD_FLAGS`).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from service.cards.draft import CardDraft, NotSuggested, Suggest
from service.cards.evidence import cite, fmt_date
from service.cards.text import CARD_FLAGS
from service.chart.dates import months_before
from service.chart.facts import ConditionFact, Facts, Reading, Source, Value
from service.scores.score_items import ScoreItem
from service.pathways.state import Triage
from service.vocabulary import Tier, more_urgent


TWO_WEEKS = timedelta(days=14)       # §6.13 review at 2 weeks, §6.15
TWELVE_WEEKS = timedelta(days=84)    # §1.1 item 2: 12 weeks = 84 days (§6.12, §6.13)

KA_LABELS = {
    "hot-swollen-joint": "Hot, swollen, tender knee with restricted movement",
    "joint-effusion": "Knee effusion",
    "knee-locking": "Locking",
    "knee-giving-way": "Giving way",
    "knee-deformity": "Gross deformity (suspected dislocation)",
    "bear-weight-4-steps": "Bears weight for 4 steps",
    "knee-flexion-90": "Flexes to 90°",
    "isolated-patellar-tenderness": "Isolated patellar tenderness",
    "fibular-head-tenderness": "Fibular-head tenderness",
    "popliteal-mass": "Lump behind the knee",
    "mass-enlarging": "Lump enlarging",
    "night-pain": "Night or rest pain",
    "exertional-calf-pain": "Exertional calf pain relieved by rest",
    "pulse-loss-on-provocation": "Pedal pulses diminish on provocation",
    "acute-limb-ischaemia": "Acute limb ischaemia",
    "synovitis-other-joints": "Synovitis of other joints",
    "pain-limits-walking-or-sleep": "Pain limits walking or sleep",
    "leg-redness-warmth": "Red, warm calf or leg",
    "leg-swelling": "Leg swelling",
    "sudden-onset": "Sudden onset",
}

# how to record a ka item (for "Unknown" lines)
def how_to_record(code: str, kind: str = "true/false") -> str:
    return f"record ka:{code} ({kind})"


def yes_no(value: object) -> str:
    return "yes" if value is True else "no" if value is False else "unknown"


# -- readings -------------------------------------------------------------------------------
def use_reading(draft: CardDraft, reading: Reading | None) -> None:
    """Carry the data-quality flags of a reading the card relies on, with a line each (§7.5)."""
    if reading is None:
        return
    flags = set(reading.flags)
    if reading.winner is not None:
        flags |= set(reading.winner.flags)
    for flag in sorted(flags & CARD_FLAGS):
        draft.add_flag(flag)
    ref = reading.winner.source.ref if reading.winner else "?"
    if reading.conflicts:
        others = ", ".join(v.source.ref for v in reading.conflicts)
        _quality(draft, f"conflict: {ref} and {others} were recorded at the same time and disagree; "
                        "the higher-risk value was used.")
    for old in reading.superseded:
        _quality(draft, f"superseded: {old.source.ref} ({cite(old.source)}) differs from the later {ref}, "
                        "which is used.")
    if "preliminary" in flags:
        _quality(draft, f"preliminary: {ref} is a preliminary result (used, labelled).")
    if "unit-assumed" in flags:
        _quality(draft, f"unit-assumed: {ref} had no recognised unit; the unit was assumed (terminology §13).")
    if "undated" in flags:
        _quality(draft, f"undated: {ref} has no usable time; used because it raises risk.")
    if "partial-date" in flags:
        _quality(draft, f"partial-date: {ref} has a partial date (read as the middle of the period).")


def use_item(draft: CardDraft, item: ScoreItem) -> None:
    for flag in sorted(set(item.flags) & CARD_FLAGS):
        draft.add_flag(flag)


def _quality(draft: CardDraft, line: str) -> None:
    if line not in draft.quality:
        draft.quality.append(line)


def ka_line(facts: Facts, code: str, label: str | None = None, draft: CardDraft | None = None) -> str | None:
    """"Locking: yes. Observation/x (2026-03-02 09:00 UTC, final)" for a known boolean item."""
    reading = facts.ka.get(code)
    if reading is None or reading.value is None or reading.winner is None:
        return None
    if draft is not None:
        use_reading(draft, reading)
    return f"{label or KA_LABELS.get(code, code)}: {yes_no(reading.value)}. {cite(reading.winner.source)}"


def item_line(item: ScoreItem, prefix: str) -> str:
    """One score criterion as an evidence line: "Ottawa +, age 55 or over: age 60"."""
    text = f"{prefix}, {item.label}: {item.detail}"
    if item.sources:
        # the Patient (age) has no effective time: cite it without one
        text += ". " + ", ".join(cite(s, with_time=s.time is not None) for s in item.sources)
    return text


def source_line(label: str, sources: Iterable[Source]) -> str:
    return f"{label}: " + ", ".join(cite(s) for s in sources)


def condition_line(label: str, c: ConditionFact) -> str:
    unconfirmed = "" if c.confirmed else " (unconfirmed)"
    display = f" ({c.source.display})" if c.source.display else ""
    return f"{label}{unconfirmed}{display}: {cite(c.source)}"


# -- time ---------------------------------------------------------------------------------
def onset(facts: Facts) -> tuple[datetime | None, Source | None]:
    reading = facts.ka.get("symptom-onset")
    if reading is not None and isinstance(reading.value, datetime):
        return reading.value, reading.winner.source if reading.winner else None
    return None, None


def duration(facts: Facts) -> timedelta | None:
    """§6.13: now − ka:symptom-onset; unknown when onset is absent."""
    start, _src = onset(facts)
    return None if start is None else facts.now - start


def fmt_span(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    if days < 1:
        return "today"
    if days < 14:
        return f"{int(days)} day{'s' if int(days) != 1 else ''}"
    if days < 365:
        return f"{int(days // 7)} weeks"
    return f"{days / 365.25:.1f} years"


def onset_line(facts: Facts, draft: CardDraft, dated: bool = False) -> str | None:
    """"Onset 3 weeks ago (2026-02-09): Observation/x (...)" when ka:symptom-onset is recorded."""
    start, src = onset(facts)
    if start is None or src is None:
        return None
    use_reading(draft, facts.ka.get("symptom-onset"))
    when = f" ({fmt_date(start)})" if dated else ""
    return f"Onset {fmt_span(facts.now - start)} ago{when}: {cite(src)}"


def onset_window_start(facts: Facts) -> datetime:
    """§6.10 / §7.7: on or after ka:symptom-onset; onset unknown: within 3 months."""
    start, _src = onset(facts)
    return start if start is not None else months_before(facts.now, 3)


# -- radiographs ----------------------------------------------------------------------------
def latest_radiograph(facts: Facts) -> Value | None:
    """The winning ka:knee-radiograph-result within 12 months (latest; §1.3)."""
    reading = facts.ka.get("knee-radiograph-result")
    if reading is not None and reading.value is not None and reading.winner is not None:
        return reading.winner
    return facts.radiographs[0] if facts.radiographs else None


def radiograph_since(facts: Facts, since: datetime | None) -> Value | None:
    """The latest radiograph result dated on or after ``since``. Undated results never count as
    reassuring here (§1.1 item 4); ``since`` None (unknown injury time) -> nothing counts."""
    if since is None:
        return None
    candidates = [v for v in facts.radiographs if v.time is not None and v.time >= since]
    latest = latest_radiograph(facts)
    if latest is not None and latest.time is not None and latest.time >= since and latest not in candidates:
        candidates.append(latest)
    if not candidates:
        return None
    candidates.sort(key=lambda v: v.time, reverse=True)
    return candidates[0]


RADIOGRAPH_TEXT = {
    "fracture": "fracture",
    "osteoarthritis": "osteoarthritis",
    "normal-or-effusion-only": "normal or effusion only",
    "suspicious-lesion": "suspicious lesion",
}


def radiograph_line(xr: Value) -> str:
    return f"Knee radiograph {fmt_date(xr.time)}: {RADIOGRAPH_TEXT.get(xr.value, xr.value)}. {cite(xr.source)}"


# -- cards ----------------------------------------------------------------------------------
def card_for_rows(topic: str, rows: list[str], row_tier: dict[str, str]) -> CardDraft:
    """One card for the rows that fired: their rules in firing order, the most urgent of their tiers."""
    tier = None
    for rule in rows:
        tier = more_urgent(tier, row_tier[rule])
    draft = CardDraft(topic=topic, tier=tier or Tier.URGENT)
    for rule in rows:
        draft.add_rule(rule)
    return draft


# -- suggestions ----------------------------------------------------------------------------
def suggest(draft: CardDraft, s: Suggest) -> None:
    """One suggestion per orderable per card (§6.9: "a single knee-xray suggestion")."""
    if not draft.suggests(s.orderable):
        draft.suggestions.append(s)


def not_suggest(draft: CardDraft, orderable: str, reason: str) -> None:
    if not draft.forbids(orderable):
        draft.not_recommended.append(NotSuggested(orderable, reason))


def suspicion_lines(t: Triage) -> list[str]:
    """The reasons DVT is suspected (§5), as evidence lines of a card other than the adult DVT card."""
    return [f"DVT suspected, {line}" for line in t.suspicion]


def dvt_tests_not_suggested(t: Triage, draft: CardDraft, *, d_dimer: bool = True, duplex: bool = True,
                            why: str = "no DVT suspicion recorded: low-prevalence testing gives false positives") -> None:
    """"Not suggested: d-dimer / venous-duplex-us (unless DVT is suspected)": when DVT is suspected
    the DVT card decides these tests, and an equal-tier "not suggested" here must not cancel them (§7.3)."""
    if t.dvt_suspected or any(c.suggests("d-dimer") for c in t.cards.values() if c is not draft):
        return
    if d_dimer:
        not_suggest(draft, "d-dimer", why)
    if duplex:
        not_suggest(draft, "venous-duplex-us", why)


def finish(draft: CardDraft, t: Triage) -> CardDraft:
    """Within one card a test it suggests is not also listed as not suggested; scores to t.scores."""
    draft.not_recommended = [n for n in draft.not_recommended if not draft.suggests(n.orderable)]
    for key, value in draft.scores.items():
        t.scores[key] = value
    return t.add_card(draft)

