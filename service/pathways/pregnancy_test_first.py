"""DDIMER-PREGNANCY-TEST-FIRST (clinical-rules §6.3, §1.9 item 4, §6.1 P6) [design, following RCOG GTG
37b: D-dimer is not used to investigate VTE in pregnancy].

When a card suggests a D-dimer (L2, L4, U2; on the PE card P6 PE-UNLIKELY-DDIMER) for a person who
could be pregnant and whose pregnancy status is unknown, a pregnancy test is suggested first and the
D-dimer is used only once pregnancy is excluded. The test takes the card's tier; a positive result
makes the patient pregnant (§1.9 item 1) and the pregnancy pathway then applies (no D-dimer).
"""
from __future__ import annotations

from service.cards.draft import CardDraft, Suggest
from service.scores.d_dimer import pregnancy_not_excluded
from service.pathways.state import Triage

RULE = "DDIMER-PREGNANCY-TEST-FIRST"
TEST_REASON = "before the D-dimer: pregnancy status is unknown (a urine test gives the answer in minutes)"
TEST_LABEL = "Order pregnancy test (urine or serum hCG) before the D-dimer"
DDIMER_NOTE = ("use the D-dimer only once pregnancy is excluded (a negative pregnancy test, recorded as pregnancy "
               "status 82810-3 'not pregnant'); if the test is positive, the pregnancy pathway applies (no D-dimer)")
RECOMMENDATION = "Pregnancy test first (urine or serum hCG; a urine test gives the answer in minutes): " + DDIMER_NOTE + "."


def applies(t: Triage, draft: CardDraft) -> bool:
    """The card suggests a D-dimer and pregnancy is not excluded where it matters (§1.9 item 4)."""
    return draft.suggests("d-dimer") and pregnancy_not_excluded(t.facts)


def apply(t: Triage, draft: CardDraft, position: int = 0) -> None:
    """``position``: where the Recommendation line goes (after the emergency lead line on the PE card)."""
    if not applies(t, draft):
        return
    draft.add_rule(RULE)
    ddimer = next(s for s in draft.suggestions if s.orderable == "d-dimer")
    ddimer.note = f"{ddimer.note}; {DDIMER_NOTE}" if ddimer.note else DDIMER_NOTE
    test = Suggest("pregnancy-test", RULE, TEST_REASON, label=TEST_LABEL, period=ddimer.period)
    draft.suggestions.insert(draft.suggestions.index(ddimer), test)
    draft.recommendation.insert(min(position, len(draft.recommendation)), RECOMMENDATION)
