"""Dates the rules could not use, shown on every card (clinical-rules §1.1).

An unreadable date, a date later than now (both read as unknown, never "recent" or "young") and a
birthDate known only to the year or month (an age range) change what every rule could conclude, so each
card carries the line that names the resource, with its data-quality flag (§7.5).
"""
from __future__ import annotations

from service.cards.draft import CardDraft
from service.chart.facts import Facts


def add_date_notes(drafts: list[CardDraft], facts: Facts) -> None:
    for draft in drafts:
        for flag, line in facts.date_notes:
            text = f"{flag}: {line}"
            if text not in draft.quality:
                draft.quality.append(text)
            draft.add_flag(flag)
