"""Knee pain review and chronic knee pain imaging (topic ``chronic-knee-pain-imaging``),
clinical-rules §6.13: ACR AC Chronic Knee Pain; the source document's "see a doctor within days".

Evaluated only when none of these exist: pe-emergency, limb-ischaemia, an open DVT pathway, septic,
injury, mass, PAES or inflammatory cards. When DVT was excluded in this response the card is still
drafted under this topic; assembly carries it onto the dvt-pathway card (§7.2, "DVT excluded; the knee
pain still needs review").

A review reason (§6.13 r1–r7, :class:`ReviewReason`) -> KNEE-PAIN-REVIEW (urgent); else
CKP-ROUTINE-KNOWN-CAUSE (routine) for >= 12 weeks with a known non-urgent cause; else no card. Imaging
C1–C4 applies with duration >= 14 days, or with derangement or an effusion (C4, a fracture on the
radiograph, is acted on whenever the card exists [safer]).
"""
from __future__ import annotations

from enum import StrEnum

from service.cards.text import clip_summary
from service.cards.draft import CardDraft, Suggest
from service.cards.evidence import cite, fmt_date
from service.chart.dates import months_before
from service.chart.facts import Facts
from service.pathways import drafting as mc
from service.scores.injury import injury_episode
from service.scores.score_items import check_reading, fmt_quantity, quantity
from service.pathways.state import Triage
from service.vocabulary import DvtStatus, Tier, Topic

TOPIC = Topic.CHRONIC_KNEE_PAIN_IMAGING
# a more urgent pathway owns the complaint when one of these cards exists (§7.2)
BLOCKING_TOPICS = (Topic.PE_EMERGENCY, Topic.LIMB_ISCHAEMIA, Topic.SEPTIC_ARTHRITIS, Topic.KNEE_INJURY_IMAGING,
                   Topic.POPLITEAL_MASS, Topic.PAES, Topic.INFLAMMATORY_ARTHRITIS)
XR_WINDOW_MONTHS = 12               # §6.13 / §7.7: a radiograph within 12 months counts
URATE_GOUT = 360.0



class ReviewReason(StrEnum):
    """Why the knee pain needs review within days (§6.13 r1–r7, in that order); the value is the card's words."""

    PAIN_LIMITS_WALKING_OR_SLEEP = "pain limits walking or sleep"
    DERANGEMENT = "locking or giving way without a recent injury"
    EFFUSION = "knee effusion"
    RED_WARM_LEG = "red, warm calf or leg (cellulitis, superficial thrombophlebitis, ruptured cyst)"
    FEVER = "fever"
    TWO_TO_TWELVE_WEEKS = "pain for 2 to 12 weeks"
    CHRONIC_WITHOUT_KNOWN_CAUSE = "pain for 12 weeks or more without a known non-urgent cause"


def applies(t: Triage) -> bool:
    """§6.13 / §7.2: no more urgent pathway owns this complaint, and DVT is not open."""
    if t.dvt_status == DvtStatus.OPEN:
        return False
    return not any(topic in t.cards for topic in BLOCKING_TOPICS)


def known_cause(facts: Facts) -> list[str]:
    """Evidence lines of a known non-urgent cause: active confirmed OA or Baker's cyst, or an OA radiograph
    within 12 months. Unconfirmed Conditions never count (§1.2)."""
    lines = []
    for name, label in (("knee-osteoarthritis", "Knee osteoarthritis"), ("bakers-cyst", "Baker's cyst")):
        for c in facts.conditions_in(name):
            if c.active and c.verification == "confirmed":
                lines.append(mc.condition_line(f"{label} (known cause)", c))
    xr = mc.latest_radiograph(facts)
    if xr is not None and xr.value == "osteoarthritis":
        lines.append(mc.radiograph_line(xr) + " (known cause)")
    return lines


def review_reasons(facts: Facts, cause: bool) -> list[ReviewReason]:
    """The review reasons that hold, in order."""
    span = mc.duration(facts)
    holds = {
        ReviewReason.PAIN_LIMITS_WALKING_OR_SLEEP: facts.ka_true("pain-limits-walking-or-sleep"),
        ReviewReason.DERANGEMENT: ((facts.ka_true("knee-locking") or facts.ka_true("knee-giving-way"))
                                   and injury_episode(facts) is None),
        ReviewReason.EFFUSION: facts.ka_true("joint-effusion"),
        ReviewReason.RED_WARM_LEG: facts.ka_true("leg-redness-warmth"),
        ReviewReason.FEVER: _fever(facts),
        ReviewReason.TWO_TO_TWELVE_WEEKS: span is not None and mc.TWO_WEEKS <= span < mc.TWELVE_WEEKS,
        ReviewReason.CHRONIC_WITHOUT_KNOWN_CAUSE: span is not None and span >= mc.TWELVE_WEEKS and not cause,
    }
    return [reason for reason in ReviewReason if holds[reason]]


def _fever(facts: Facts) -> bool:
    return bool(facts.symptoms.get("fever")) or check_reading(facts.vitals.get("temperature"), ">=", 38.0) is True


def evaluate(t: Triage) -> None:
    if not applies(t):
        return
    facts = t.facts
    cause_lines = known_cause(facts)
    reasons = review_reasons(facts, bool(cause_lines))
    span = mc.duration(facts)
    if reasons:
        draft = CardDraft(topic=TOPIC, tier=Tier.URGENT)
        draft.add_rule("KNEE-PAIN-REVIEW")
    elif span is not None and span >= mc.TWELVE_WEEKS and cause_lines:
        draft = CardDraft(topic=TOPIC, tier=Tier.ROUTINE)
        draft.add_rule("CKP-ROUTINE-KNOWN-CAUSE")
    else:
        return            # under 14 days with no reason: a self-care candidate (§6.15)
    draft.guidelines.append("acr")
    closed = t.dvt_status == DvtStatus.CLOSED

    _evidence(facts, draft, reasons, cause_lines)
    imaging = (span is not None and span >= mc.TWO_WEEKS) or bool({ReviewReason.DERANGEMENT, ReviewReason.EFFUSION} & set(reasons))
    action = _imaging(t, draft, reasons, imaging)
    _recommend(facts, draft, reasons, closed)
    _not_suggested(t, draft)
    draft.summary, draft.headline = _summary(draft, reasons, span, action, closed)
    mc.finish(draft, t)


def _evidence(facts: Facts, draft: CardDraft, reasons: list[ReviewReason], cause_lines: list[str]) -> None:
    onset = mc.onset_line(facts, draft, dated=True)
    if onset is not None:
        draft.evidence.append(onset)
    else:
        draft.unknown.append("Symptom onset not recorded (ka:symptom-onset, a dateTime): duration decides review and "
                             "imaging (2 weeks, 12 weeks).")
    for code in ("pain-limits-walking-or-sleep", "knee-locking", "knee-giving-way", "joint-effusion",
                 "leg-redness-warmth"):
        line = mc.ka_line(facts, code, draft=draft)
        if line and facts.ka_true(code):
            draft.evidence.append(line)
    if ReviewReason.FEVER in reasons:
        sources = list(facts.symptoms.get("fever", []))
        temp = facts.vitals.get("temperature")
        if not sources and temp is not None and temp.winner is not None:
            mc.use_reading(draft, temp)
            draft.evidence.append(f"Fever: temperature {fmt_quantity(quantity(temp))}. {cite(temp.winner.source)}")
        elif sources:
            draft.evidence.append(mc.source_line("Fever", sources))
    if reasons:
        draft.evidence.append("Needs review for: " + "; ".join(reasons) + ".")
    draft.evidence.extend(cause_lines)
    xr = mc.latest_radiograph(facts)
    if xr is not None and not any(line.startswith("Knee radiograph") for line in cause_lines):
        draft.evidence.append(mc.radiograph_line(xr))
    if xr is not None:
        for flag in sorted(set(xr.flags) & mc.CARD_FLAGS):
            draft.add_flag(flag)
    _gout_lines(facts, draft)
    stiff = facts.ka.get("morning-stiffness")
    if quantity(stiff) is not None and stiff.winner is not None:
        draft.evidence.append(f"Morning stiffness {fmt_quantity(quantity(stiff))}: {cite(stiff.winner.source)}")


def _gout_lines(facts: Facts, draft: CardDraft) -> None:
    """§6.8 / §6.13: gout features without a hot swollen joint are listed here, no card of their own."""
    for c in facts.conditions_in("gout"):
        draft.evidence.append(mc.condition_line("Gout history", c))
    meds = facts.medication_use.get("gout-medication") or []
    if meds:
        draft.evidence.append(mc.source_line("Current gout medication", meds))
    urate = facts.labs.get("urate")
    if check_reading(urate, ">=", URATE_GOUT) and urate is not None and urate.winner is not None:
        draft.evidence.append(f"Urate {fmt_quantity(quantity(urate))} (supports gout): {cite(urate.winner.source)}")


def _imaging(t: Triage, draft: CardDraft, reasons: list[ReviewReason], imaging: bool) -> str:
    """C1–C4; returns the action word for the summary."""
    facts = t.facts
    xr = mc.latest_radiograph(facts)
    span = mc.duration(facts)
    if xr is not None and xr.value == "fracture":
        draft.add_rule("KNEE-FRACTURE")                                          # C4
        draft.raise_to("urgent")
        draft.recommendation.append("Fracture on the radiograph: urgent orthopaedic review.")
        mc.not_suggest(draft, "mri-knee", "fracture on the radiograph: orthopaedic review decides further imaging")
        return "urgent orthopaedic review"
    if not imaging:
        return ""
    if xr is None:
        draft.add_rule("CKP-XR-FIRST")                                           # C1
        mc.suggest(draft, Suggest("knee-xray", "CKP-XR-FIRST", "weight-bearing views: the initial test for knee pain "
                                  "(ACR AC Chronic Knee Pain)", note="weight-bearing views",
                                  done_since=months_before(facts.now, XR_WINDOW_MONTHS)))
        mc.not_suggest(draft, "mri-knee", "MRI before radiographs is usually not appropriate")
        draft.recommendation.append("Weight-bearing knee radiographs first (suggested); MRI without IV contrast only if "
                                    "they are normal or show only an effusion and symptoms persist.")
        if "OTTAWA-NEG" in t.carry_rules:
            # §7.3: this radiograph is for the knee pain, not for fracture after the (rules-negative) injury
            t.carry_not_recommended[:] = [n for n in t.carry_not_recommended if n.orderable != "knee-xray"]
            draft.recommendation.append("Ottawa knee rule negative for the recent injury: the radiograph is for the "
                                        "knee pain (ACR), not to look for a fracture.")
        return "weight-bearing knee radiographs"
    if xr.value == "normal-or-effusion-only" and ((span is not None and span >= mc.TWELVE_WEEKS) or ReviewReason.DERANGEMENT in reasons):
        draft.add_rule("CKP-MRI-AFTER-XR")                                       # C2
        mc.suggest(draft, Suggest("mri-knee", "CKP-MRI-AFTER-XR", "MRI knee without IV contrast after radiographs "
                                  "normal or effusion only (ACR variant 2)", done_since=months_before(facts.now, XR_WINDOW_MONTHS)))
        mc.not_suggest(draft, "knee-xray", f"done: radiograph {fmt_date(xr.time)} ({xr.source.ref})")
        draft.recommendation.append("Radiograph normal or effusion only with persisting symptoms: MRI knee without IV "
                                    "contrast (suggested).")
        return "MRI knee without contrast"
    if xr.value == "osteoarthritis":
        draft.add_rule("CKP-OA-ON-XR")                                           # C3
        mc.not_suggest(draft, "mri-knee", "OA on the radiograph explains the pain; MRI not indicated unless "
                                          "mechanical symptoms persist")
        mc.not_suggest(draft, "knee-xray", f"done: radiograph {fmt_date(xr.time)} shows osteoarthritis ({xr.source.ref})")
        draft.recommendation.append("Osteoarthritis on the radiograph explains the pain; MRI is not indicated unless "
                                    "mechanical symptoms persist.")
        return ""
    if xr.value == "normal-or-effusion-only":
        mc.not_suggest(draft, "knee-xray", f"done: radiograph {fmt_date(xr.time)} ({xr.source.ref})")
    return ""


def _recommend(facts: Facts, draft: CardDraft, reasons: list[ReviewReason], closed: bool) -> None:
    rec = draft.recommendation
    if closed:
        rec.insert(0, "DVT excluded; the knee pain still needs review.")
    if reasons:
        rec.insert(1 if closed else 0, "See a doctor within days: the knee pain needs medical review.")
    else:
        rec.insert(1 if closed else 0, "Chronic knee pain with a known non-urgent cause: routine review.")
    if ReviewReason.DERANGEMENT in reasons:
        rec.append("A knee locked in flexion that cannot extend -> same-day orthopaedics.")
    if ReviewReason.RED_WARM_LEG in reasons:
        rec.append("Red, warm leg: consider cellulitis, superficial thrombophlebitis or a ruptured cyst.")
    if ReviewReason.FEVER in reasons:
        rec.append("Fever with knee pain: see a clinician the same day if the knee becomes hot or swollen.")


def _not_suggested(t: Triage, draft: CardDraft) -> None:
    why = "DVT excluded in this response" if t.dvt_status == DvtStatus.CLOSED else "DVT not suspected"
    mc.not_suggest(draft, "d-dimer", f"{why}: not indicated")
    mc.not_suggest(draft, "venous-duplex-us", f"{why}: not indicated")
    mc.not_suggest(draft, "rheumatoid-factor", "no inflammatory features recorded")
    mc.not_suggest(draft, "anti-ccp", "no inflammatory features recorded")


def _summary(draft: CardDraft, reasons: list[ReviewReason], span, action: str, closed: bool) -> tuple[str, str]:
    duration = f" ({mc.fmt_span(span)})" if span is not None and span.total_seconds() >= 86400 else ""
    prefix = "DVT excluded; " if closed else ""
    if reasons:
        what = f"see a doctor within days{', ' + action if action else ''}"
        why = ", ".join(reasons[:2])
        summary = f"{prefix}knee pain needs review: {what} ({why})" if closed else \
            f"Knee pain review within days{': ' + action if action else ''} ({why})"
        head = ("**DVT excluded; the knee pain still needs review.** " if closed else
                "**Knee pain needs medical review within days.** ") + (f"{action[:1].upper()}{action[1:]}." if action else
                                                                       "See a doctor within days.")
    else:
        summary = f"{prefix}routine review of chronic knee pain, known cause{duration}" + (f": {action}" if action else "")
        head = ("**DVT excluded; the knee pain still needs review.** " if closed else
                "**Chronic knee pain with a known non-urgent cause (ACR AC Chronic Knee Pain).** ") + \
            (f"{action[:1].upper()}{action[1:]}." if action else "Routine review.")
    summary = summary[:1].upper() + summary[1:]
    return clip_summary(summary), head
