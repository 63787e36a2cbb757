"""Suspected PE in pregnancy or up to 6 weeks postpartum (clinical-rules §6.1 row P7, RCOG GTG 37b).

Wells PE, PERC and D-dimer are not used. The plan is the first of :data:`PLANS` that holds: a current
positive leg scan is treated with no PE imaging; signs of DVT (S1–S4) with no current scan get the
leg-vein duplex first; otherwise chest imaging. When this card supersedes the DVT card it states one
text about the leg scan, chosen by what the card does (never "do not delay CTPA" beside "duplex first").
"""
from __future__ import annotations

from datetime import timedelta

from service.cards.draft import CardDraft, Suggest
from service.cards.evidence import cite
from service.pathways import drafting as mc
from service.scores.ultrasound import ultrasound_state
from service.pathways.dvt_suspicion import dvt_sign_lines
from service.pathways.state import Triage
from service.vocabulary import UltrasoundState

RULE = "PE-PREGNANCY"
NO_SCORES = ("Pregnant or postpartum: Wells PE, PERC and D-dimer are not used (RCOG GTG 37b). LMWH until VTE is "
             "excluded unless strongly contraindicated; DOACs are not used in pregnancy.")
NO_DDIMER = "D-dimer is not used to investigate VTE in pregnancy (RCOG GTG 37b)."

# the superseding texts (§6.1): exactly one, chosen by what the PE card does
SUPERSEDE_NOTE = "Leg vein ultrasound can support the diagnosis; do not delay CTPA for it."
SUPERSEDE_DUPLEX_FIRST = ("Leg-vein compression duplex first (RCOG GTG 37b): if it shows DVT, treat and no CTPA is "
                          "needed; if it is negative, CTPA or a V/Q scan without delay.")
SUPERSEDE_DVT_CONFIRMED = "DVT confirmed on ultrasound: treat; no further PE imaging is needed (RCOG GTG 37b)."

# a leg scan first only with signs or symptoms of DVT (S1–S4); pregnancy or the postpartum state alone
# (S5) never holds back chest imaging
CHEST_IMAGING_TEXT = ("ECG and chest X-ray now; then CTPA or a V/Q lung scan, without waiting for a leg scan "
                      "(CTPA in preference when the chest X-ray is abnormal; otherwise V/Q or CTPA per local "
                      "obstetric protocol); LMWH until PE is excluded unless contraindicated.")
# with DVT signs or a positive scan DVT is suspected, so the superseding text above states the plan;
# the row's own line adds only what it does not say
DUPLEX_FIRST_TEXT = "ECG and chest X-ray now, while the leg-vein duplex is done (signs of DVT: {signs})."
DVT_CONFIRMED_TEXT = "ECG and chest X-ray now; LMWH for the DVT seen on ultrasound ({scan})."


def dvt_confirmed(t: Triage, us: str, unstable: bool) -> bool:
    """A current positive scan: treat; no PE imaging (RCOG GTG 37b)."""
    return us == UltrasoundState.POSITIVE


def duplex_first(t: Triage, us: str, unstable: bool) -> bool:
    """DVT signs S1–S4, no current scan, and a stable patient (an unstable one goes to CTPA)."""
    return bool(t.derived(dvt_sign_lines)) and us == UltrasoundState.NONE and not unstable


PLANS = (
    ("dvt-confirmed", dvt_confirmed),
    ("duplex-first", duplex_first),
    ("chest-imaging", lambda t, us, unstable: True),   # no DVT signs, or the current scan negative
)


def apply(t: Triage, draft: CardDraft, unstable: bool) -> tuple[str, str]:
    """Row P7 on the PE card; returns the plan and the summary's test words."""
    draft.add_rule(RULE)
    draft.guidelines.append("rcog")
    us = ultrasound_state(t.facts)
    t.us_state = us
    draft.recommendation.append(NO_SCORES)
    plan = next(name for name, holds in PLANS if holds(t, us, unstable))
    test = _apply_plan(draft, t, plan)
    mc.not_suggest(draft, "d-dimer", NO_DDIMER)
    return plan, test


def _apply_plan(draft: CardDraft, t: Triage, plan: str) -> str:
    facts, now = t.facts, t.facts.now
    if plan == "dvt-confirmed":
        scan = max((u for u in facts.ultrasounds if u.value == "dvt-seen" and u.time), key=lambda u: u.time)
        draft.recommendation.append(DVT_CONFIRMED_TEXT.format(scan=cite(scan.source)))
        return "LMWH (DVT on ultrasound)"
    if plan == "duplex-first":
        # the signs are cited in Evidence; here their names only
        signs = ", ".join(line.split(": ", 1)[-1].split(":")[0].split(" (")[0] for line in t.derived(dvt_sign_lines))
        mc.suggest(draft, Suggest("venous-duplex-us", RULE, "leg-vein compression duplex first (signs of "
                                  "DVT): if it is positive, no further PE imaging is needed",
                                  period=(now, now + timedelta(hours=4))))
        draft.recommendation.append(DUPLEX_FIRST_TEXT.format(signs=signs))
        return "leg-vein duplex first"
    mc.suggest(draft, Suggest("ctpa", RULE, "ECG and chest X-ray now; CTPA or V/Q without waiting for a "
                              "leg scan; LMWH until PE is excluded unless contraindicated"))
    draft.recommendation.append(CHEST_IMAGING_TEXT)
    return "ECG, chest X-ray, then CTPA or V/Q"


def supersede_text(draft: CardDraft, plan: str | None) -> str | None:
    """The one leg-scan text of a PE card that supersedes the DVT card (§6.1)."""
    if draft.suggests("ctpa"):
        return SUPERSEDE_NOTE
    if plan == "duplex-first":
        return SUPERSEDE_DUPLEX_FIRST
    if plan == "dvt-confirmed":
        return SUPERSEDE_DVT_CONFIRMED
    if any(r in draft.rules for r in ("PE-UNLIKELY-DDIMER", "PE-DDIMER-POS-CTPA", "PE-LIKELY-CTPA")):
        return SUPERSEDE_NOTE           # P5/P6: CTPA is the next imaging step on this card
    return None
