"""The minimum triage dataset (MTD) of clinical-rules §6.15 item 2 [design].

Self-care and the routine outcome need it known and reassuring; without it the answer is
ASSESS-TRIAGE-INCOMPLETE (urgent), never self-care (§9 item 17).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from service.cards.evidence import cite
from service.pathways.state import Triage
from service.vocabulary import DvtStatus

SHORT_DURATION = timedelta(days=14)

# Red flags that route to their own card; not documented ones are listed as "covered by the
# safety net" on the self-care card (§6.15 item 2).
SAFETY_NET_ITEMS = {
    "hot-swollen-joint": "hot swollen joint",
    "popliteal-mass": "lump behind the knee",
    "pain-limits-walking-or-sleep": "pain limiting walking or sleep",
    "knee-locking": "locking",
    "knee-giving-way": "giving way",
    "night-pain": "night pain",
    "exertional-calf-pain": "exertional calf pain",
    "joint-effusion": "effusion",
    "leg-redness-warmth": "redness or warmth",
}


@dataclass
class MinimumDataset:
    missing: list[str] = field(default_factory=list)      # "how to record" lines for unknown items
    duration_days: float | None = None
    onset_line: str | None = None
    short: bool = False                                    # duration known and < 14 days
    swelling_ok: bool = False                              # leg-swelling false, or DVT excluded
    red_flags_true: list[str] = field(default_factory=list)
    not_recorded: list[str] = field(default_factory=list)  # red flags not documented

    @property
    def complete(self) -> bool:
        return not self.missing


def minimum_dataset(t: Triage) -> MinimumDataset:
    facts = t.facts
    mtd = MinimumDataset()
    if facts.age is None:
        mtd.missing.append("Date of birth (Patient.birthDate): age decides the pathway and every age criterion.")
    onset_reading = facts.ka.get("symptom-onset")
    if not (onset_reading and onset_reading.known):
        onset_reading = facts.ka.get("injury-date")
    if onset_reading and onset_reading.known and onset_reading.winner:
        onset = onset_reading.value
        mtd.duration_days = (facts.now - onset).total_seconds() / 86400
        mtd.short = (facts.now - onset) < SHORT_DURATION
        mtd.onset_line = f"Onset {_days(mtd.duration_days)}: {cite(onset_reading.winner.source)}"
    else:
        mtd.missing.append("When the symptoms began (ka:symptom-onset, a dateTime), or the injury date (ka:injury-date).")
    dvt_excluded = t.dvt_status == DvtStatus.CLOSED
    if facts.ka_false("leg-swelling") or dvt_excluded:
        mtd.swelling_ok = True
    elif facts.ka_value("leg-swelling") is None:
        mtd.missing.append("Whether the calf or leg is swollen (ka:leg-swelling, true/false): swelling raises DVT.")
    for code, label in SAFETY_NET_ITEMS.items():
        value = facts.ka_value(code)
        if value is True:
            mtd.red_flags_true.append(label)
        elif value is None:
            mtd.not_recorded.append(label)
    if "fever" in facts.symptoms:
        mtd.red_flags_true.append("fever")
    return mtd


def _days(days: float) -> str:
    if days < 1:
        return "today"
    whole = int(days)
    return f"{whole} day{'s' if whole != 1 else ''} ago"
