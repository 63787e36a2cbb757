"""Popliteal mass and tumour red flags (topic ``popliteal-mass``), clinical-rules §6.10: NICE NG12.

Rows M1–M5. **Young** = age < 25 [design, §9 item 15]; an unknown age is handled as young (the wider
work-up; absent data never lowers risk, and M4's routine outcome needs a known adult age).
**Radiograph after onset** = a ka:knee-radiograph-result dated on or after ka:symptom-onset (onset
unknown: within 3 months); when one exists the rows suggest no radiograph (§7.7 table).
"""
from __future__ import annotations

from datetime import timedelta

from service.cards.text import clip_summary
from service.cards.draft import CardDraft, Suggest
from service.cards.evidence import cite, fmt_date
from service.chart.facts import ConditionFact, Facts
from service.pathways import drafting as mc
from service.pathways.dvt_suspicion import swelling_lines
from service.pathways.state import Triage
from service.vocabulary import DvtStatus, Tier, Topic

TOPIC = Topic.POPLITEAL_MASS
YOUNG_BELOW = 25
VERY_URGENT = timedelta(hours=48)       # NG12 "very urgent": within 48 h
ROW_TIER = {
    "XR-SUSPICIOUS-LESION": Tier.URGENT, "MASS-YOUNG-NG12": Tier.URGENT, "MASS-ADULT": Tier.URGENT,
    "MASS-KNOWN-CYST": Tier.ROUTINE, "BONE-PAIN-NIGHT": Tier.URGENT,
}
TUMOUR_SETS = ("bone-tumour", "soft-tissue-malignancy-lower-limb")
# the first row that fired -> (summary, headline)
SUMMARY_TEXT = {
    "XR-SUSPICIOUS-LESION": ("Suspicious bone or soft-tissue lesion: very urgent sarcoma service referral (NG12)",
                             "**Suspicious lesion: very urgent sarcoma referral (NICE NG12).** Refer to the bone / "
                             "soft-tissue sarcoma service, within 48 h for a child or young person."),
    "MASS-YOUNG-NG12": ("Very urgent imaging within 48 h: tumour red flag in a young person (NG12)",
                        "**Tumour red flag in a child or young person (NICE NG12).** Very urgent imaging within 48 h."),
    "MASS-ADULT": ("Ultrasound the lump behind the knee: see a doctor within days (NG12)",
                   "**Lump behind the knee (NICE NG12).** Ultrasound of the popliteal fossa; see a doctor within days."),
    "MASS-KNOWN-CYST": ("Known Baker's cyst, unchanged: routine review; ultrasound if it changes",
                        "**Known Baker's cyst, not enlarging, no night pain.** Routine review; ultrasound if it "
                        "changes."),
    "BONE-PAIN-NIGHT": ("Knee radiograph for night or rest pain: tumour red flag (NG12)",
                        "**Night or rest pain: tumour red flag (NICE NG12).** Knee radiograph."),
}


def young(facts: Facts) -> bool:
    """Unknown age, or an age range reaching below 25, is handled as young (the wider NG12 work-up)."""
    return facts.age_under(YOUNG_BELOW) is not False


def _tumour_conditions(facts: Facts) -> list[ConditionFact]:
    """M1: active bone-tumour / soft-tissue malignancy Conditions (unconfirmed count: they raise risk)."""
    seen, out = set(), []
    for name in TUMOUR_SETS:
        for c in facts.conditions_in(name):
            if c.active and c.source.ref not in seen:
                seen.add(c.source.ref)
                out.append(c)
    return out


def _known_cysts(facts: Facts) -> list[ConditionFact]:
    """M4: an active, **confirmed** Baker's cyst (unconfirmed never lowers urgency, §1.2)."""
    return [c for c in facts.conditions_in("bakers-cyst") if c.active and c.verification == "confirmed"]


def known_cyst_unchanged(facts: Facts) -> bool:
    """The conditions M4 shares with a suspected rupture: a lump, an active confirmed Baker's cyst, not
    enlarging, no night pain."""
    return (facts.ka_true("popliteal-mass") and bool(_known_cysts(facts))
            and not facts.ka_true("mass-enlarging") and not facts.ka_true("night-pain"))


def rupture_signs(facts: Facts) -> list[str]:
    """A suspected rupture of a known cyst (§6.10; the source document's red flag "sudden sharp pain
    and a big increase in calf swelling"): ka:sudden-onset true, or calf or leg swelling (S1, S3, S4)."""
    lines = []
    if facts.ka_true("sudden-onset"):
        lines.append(mc.ka_line(facts, "sudden-onset") or "sudden onset")
    return lines + swelling_lines(facts)


def rupture_suspected(facts: Facts) -> bool:
    return known_cyst_unchanged(facts) and bool(rupture_signs(facts))


# §6.10 rows, in order; each (rule, predicate on (facts, DVT suspected)). M3 and M4 exclude the
# suspected rupture of a known cyst while DVT is suspected: the dvt-pathway card handles it then.
ROWS = (
    ("XR-SUSPICIOUS-LESION",                                                         # M1
     lambda f, dvt: (_xr_suspicious(f) or bool(_tumour_conditions(f)))),
    ("MASS-YOUNG-NG12",                                                              # M2
     lambda f, dvt: young(f) and (f.ka_true("night-pain") or f.ka_true("popliteal-mass"))),
    ("MASS-ADULT",                                                                   # M3
     lambda f, dvt: (not young(f) and f.ka_true("popliteal-mass")
                     and not (known_cyst_unchanged(f) and not rupture_signs(f))
                     and not (rupture_suspected(f) and dvt))),
    ("MASS-KNOWN-CYST",                                                              # M4
     lambda f, dvt: not young(f) and known_cyst_unchanged(f) and not rupture_signs(f)),
    ("BONE-PAIN-NIGHT",                                                              # M5
     lambda f, dvt: not young(f) and f.ka_true("night-pain") and not f.ka_true("popliteal-mass")),
)


def _xr_suspicious(facts: Facts) -> bool:
    xr = mc.latest_radiograph(facts)
    return xr is not None and xr.value == "suspicious-lesion"


def rows(facts: Facts, dvt_suspected: bool = False) -> list[str]:
    return [rule for rule, holds in ROWS if holds(facts, dvt_suspected)]


def evaluate(t: Triage) -> None:
    facts = t.facts
    fired = rows(facts, t.dvt_suspected)
    if not fired:
        return
    draft = mc.card_for_rows(TOPIC, fired, ROW_TIER)
    draft.guidelines += ["ng12", "acr"]
    since = mc.onset_window_start(facts)
    xr_after = mc.radiograph_since(facts, since)

    _evidence(facts, draft, xr_after)
    _unknowns(facts, draft, fired)
    _suggest(t, draft, fired, since, xr_after)
    _recommend(facts, draft, fired)
    draft.summary, draft.headline = _summary(fired)
    mc.finish(draft, t)


def _evidence(facts: Facts, draft: CardDraft, xr_after) -> None:
    if facts.age_range is not None:
        band = "young (< 25, NG12 children and young people)" if young(facts) else "adult"
        draft.evidence.append(f"Age {facts.age_range.label}: {band}. {facts.patient_ref}")
        if facts.age_under(YOUNG_BELOW) is None:
            draft.evidence.append(facts.age_range.straddle_note("under 25", "handled as young"))
    for code in ("popliteal-mass", "mass-enlarging", "night-pain"):
        line = mc.ka_line(facts, code, draft=draft)
        if line:
            draft.evidence.append(line)
    start, src = mc.onset(facts)
    if start is not None and src is not None:
        draft.evidence.append(f"Onset {fmt_date(start)}: {cite(src)}")
    for c in _tumour_conditions(facts):
        draft.evidence.append(mc.condition_line("Bone or soft-tissue tumour recorded", c))
    for c in facts.conditions_in("bakers-cyst"):
        status = "" if c in _known_cysts(facts) else " (not counted as a known cause: not active and confirmed)"
        draft.evidence.append(mc.condition_line("Baker's cyst recorded", c) + status)
    xr = mc.latest_radiograph(facts)
    if xr is not None:
        draft.evidence.append(mc.radiograph_line(xr))
        for flag in sorted(set(xr.flags) & mc.CARD_FLAGS):
            draft.add_flag(flag)


def _unknowns(facts: Facts, draft: CardDraft, fired: list[str]) -> None:
    if facts.age is None:
        draft.unknown.append("Age unknown (no date of birth): handled as young (< 25), the wider NG12 work-up.")
    if facts.ka_true("popliteal-mass") and facts.ka_value("mass-enlarging") is None:
        draft.unknown.append("Whether the lump is enlarging is not recorded (ka:mass-enlarging, true/false): an "
                             "enlarging lump is a sarcoma red flag (very urgent ultrasound).")
    if facts.ka_value("night-pain") is None:
        draft.unknown.append("Night or rest pain not recorded (ka:night-pain, true/false): it is a bone tumour red "
                             "flag (radiograph).")
    if mc.onset(facts)[0] is None:
        draft.unknown.append("Symptom onset not recorded (ka:symptom-onset): any radiograph within 3 months counts.")


def _suggest(t: Triage, draft: CardDraft, fired: list[str], since, xr_after) -> None:
    facts = t.facts
    now = facts.now
    night = facts.ka_true("night-pain")
    mass = facts.ka_true("popliteal-mass")
    enlarging = facts.ka_true("mass-enlarging")
    very_urgent = (now, now + VERY_URGENT)
    wants_xr = ("MASS-YOUNG-NG12" in fired or ("MASS-ADULT" in fired and night) or "BONE-PAIN-NIGHT" in fired)
    if wants_xr and xr_after is None:
        rule = next(r for r in fired if r in ("MASS-YOUNG-NG12", "MASS-ADULT", "BONE-PAIN-NIGHT"))
        if rule == "MASS-YOUNG-NG12":
            mc.suggest(draft, Suggest("knee-xray", rule, "very urgent radiograph (NG12: child or young person with "
                                      "unexplained bone pain or a lump), within 48 h", period=very_urgent,
                                      done_since=since))
        else:
            mc.suggest(draft, Suggest("knee-xray", rule, "night or rest pain: radiograph for a bone lesion",
                                      done_since=since))
    elif wants_xr and xr_after is not None:
        mc.not_suggest(draft, "knee-xray", f"done: radiograph {fmt_date(xr_after.time)} after onset "
                                           f"({xr_after.source.ref})")
    if "MASS-YOUNG-NG12" in fired and night:
        mc.suggest(draft, Suggest("cbc", "MASS-YOUNG-NG12", "very urgent full blood count (NG12: persistent "
                                  "unexplained bone pain)", period=very_urgent))
    wants_us = mass and any(r in fired for r in ("MASS-YOUNG-NG12", "MASS-ADULT"))
    if wants_us:
        rule = "MASS-YOUNG-NG12" if "MASS-YOUNG-NG12" in fired else "MASS-ADULT"
        if t.dvt_status == DvtStatus.OPEN:
            # §6.10 / §7.2: while DVT is open the venous duplex is the scan, and it also shows a cyst
            mc.not_suggest(draft, "popliteal-us", "DVT work-up open: the venous duplex also shows a cyst")
            draft.recommendation.append("Popliteal ultrasound not suggested while DVT is open: the venous duplex "
                                        "will show a cyst; ultrasound the lump if it is not explained.")
        else:
            period = very_urgent if (rule == "MASS-YOUNG-NG12" and enlarging) else None
            reason = ("ultrasound of the lump" + (", very urgent (enlarging), within 48 h" if period else "")
                      if rule == "MASS-YOUNG-NG12" else
                      "urgent ultrasound of the lump; enlarging -> local sarcoma pathway")
            mc.suggest(draft, Suggest("popliteal-us", rule, reason, period=period, done_since=since))
    mc.not_suggest(draft, "mri-knee", "MRI per specialist after the radiograph or ultrasound")
    mc.dvt_tests_not_suggested(t, draft, duplex=False, why="no DVT suspicion recorded: not a test for a lump "
                                                           "or bone pain")


def _recommend(facts: Facts, draft: CardDraft, fired: list[str]) -> None:
    rec = draft.recommendation
    if "XR-SUSPICIOUS-LESION" in fired:
        rec.append("Very urgent referral to the bone / soft-tissue sarcoma service (within 48 h for a child or young "
                   "person); MRI per specialist.")
    if "MASS-YOUNG-NG12" in fired:
        rec.append("Young person with night or rest pain or a lump: very urgent imaging (within 48 h) per NG12.")
    if "MASS-ADULT" in fired and rupture_suspected(facts):
        rec.append("Known Baker's cyst with a sudden onset: possible rupture; ultrasound the lump, and review the "
                   "same day if the calf swells (a ruptured cyst mimics DVT).")
    if "MASS-ADULT" in fired:
        rec.append("Lump behind the knee in an adult: ultrasound; an enlarging lump -> urgent ultrasound and the "
                   "local sarcoma pathway.")
    if "MASS-KNOWN-CYST" in fired:
        rec.append("Known Baker's cyst, not enlarging and no night pain: routine review; ultrasound if it changes.")
    if "BONE-PAIN-NIGHT" in fired:
        rec.append("Night or rest pain: knee radiograph to look for a bone lesion.")
    rec.append("Night or rest pain and an enlarging lump are tumour red flags: never 'growing pains' or self-care "
               "while they stand; a lump behind the knee -> see a doctor within days.")


def _summary(fired: list[str]) -> tuple[str, str]:
    summary, headline = SUMMARY_TEXT[fired[0]]
    return clip_summary(summary), headline
