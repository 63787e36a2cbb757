"""DVT in pregnancy and up to 6 weeks postpartum (topic ``dvt-pathway``), clinical-rules §6.4: RCOG GTG 37b.

Wells, PERC and D-dimer are not used. LEFt (§4.8) is computed in pregnancy only (not postpartum) and is
information only. Rows: G1 confirmed; G2 no scan -> duplex; G3 negative scan -> repeats on day 3 and 7;
G4 negative scan with low suspicion attested -> excluded; G5 negative repeat >= 7 days after the first
-> excluded. G4/G5 close the pathway; otherwise it is open.
"""
from __future__ import annotations

from datetime import timedelta

from service.cards.text import clip_summary
from service.cards.draft import CardDraft, Suggest
from service.cards.evidence import cite, fmt_date
from service.pathways import drafting as mc
from service.pathways.state import Triage
from service.scores.d_dimer import interpret_ddimer
from service.scores.left_rule import left_rule
from service.scores.ultrasound import CURRENT_SCAN, ultrasound_state
from service.vocabulary import DvtStatus, Population, Tier, Topic, UltrasoundState

TOPIC = Topic.DVT_PATHWAY
EPISODE_GAP = timedelta(days=10)      # negative scans this close belong to one episode
REPEAT_DAYS = (3, 7)
LMWH = ("LMWH until VTE is excluded unless strongly contraindicated (clinician decision); DOACs are not used "
        "in pregnancy.")
DDIMER_NOT_USED = "RCOG GTG 37b: D-dimer is not used to investigate VTE in pregnancy."


def negative_episode(facts) -> list:
    """The negative scans (no-dvt-seen) of the current episode, earliest first; empty when the latest
    negative scan is not within 8 days or a DVT was seen after it."""
    now = facts.now
    scans = sorted((u for u in facts.ultrasounds if u.time is not None), key=lambda u: u.time, reverse=True)
    if not scans or scans[0].value != "no-dvt-seen" or scans[0].time < now - CURRENT_SCAN:
        return []
    episode = [scans[0]]
    for u in scans[1:]:
        if u.value != "no-dvt-seen" or episode[-1].time - u.time > EPISODE_GAP:
            break
        episode.append(u)
    return list(reversed(episode))


def evaluate(t: Triage) -> None:
    if t.population != Population.PREGNANCY or not t.dvt_suspected:
        return
    facts = t.facts
    us = ultrasound_state(facts)
    t.us_state = us
    draft = CardDraft(topic=TOPIC, tier=Tier.EMERGENCY_SAME_DAY, guidelines=["rcog"])
    _status_lines(t, draft)
    episode = negative_episode(facts)
    if us == UltrasoundState.POSITIVE:
        label = _confirmed(facts, draft)
    elif not episode:
        label = _first_scan(t, draft)
    else:
        label, excluded_by = _negative_episode_rows(t, draft, episode)
        if excluded_by is not None:
            t.close_dvt(excluded_by)
            draft.tier = Tier.SELF_CARE
            draft.safety_net = True
            mc.not_suggest(draft, "venous-duplex-us", "DVT excluded in pregnancy (RCOG GTG 37b).")
            draft.recommendation.append("Stop anticoagulation if it was started for this episode; safety net.")
        mc.not_suggest(draft, "d-dimer", DDIMER_NOT_USED)
    if t.dvt_status != DvtStatus.CLOSED:
        t.dvt_status = DvtStatus.OPEN
    draft.recommendation.append(LMWH)
    left_txt = _left_rule(facts, draft)
    _ddimer_shown_not_used(t, draft)
    draft.summary = clip_summary(label + left_txt)
    draft.headline = f"**{label} (RCOG GTG 37b).** {LMWH}"
    # a superseding PE card takes the whole card but its recommendations; its pregnancy row (P7, any PE
    # symptom) already says LMWH until VTE is excluded
    t.dvt_carried_by_pe = CardDraft(
        topic=TOPIC, tier=draft.tier, scores=dict(draft.scores), evidence=mc.suspicion_lines(t) + draft.evidence,
        unknown=list(draft.unknown), flags=list(draft.flags), guidelines=["rcog"],
        recommendation=[] if t.pe_symptom else [LMWH])
    mc.finish(draft, t)


def _status_lines(t: Triage, draft: CardDraft) -> None:
    preg = t.facts.pregnancy
    draft.evidence.append(f"{'Pregnant' if preg.state == 'pregnant' else 'Postpartum (6 weeks or less)'}: "
                          + ", ".join(cite(s) for s in preg.sources) if preg.sources else
                          f"{preg.state.capitalize()}.")
    draft.evidence.extend(mc.suspicion_lines(t))
    for flag in sorted(preg.flags & mc.CARD_FLAGS):
        draft.add_flag(flag)


def _confirmed(facts, draft: CardDraft) -> str:
    """G1: DVT seen on the current scan."""
    draft.add_rule("PREG-DVT-CONFIRMED")
    scan = max((u for u in facts.ultrasounds if u.value == "dvt-seen" and u.time), key=lambda u: u.time)
    draft.evidence.append(f"Leg-vein ultrasound: DVT seen. {cite(scan.source)}")
    draft.recommendation.append("DVT confirmed: treat with LMWH; involve the obstetric and haematology team.")
    mc.not_suggest(draft, "d-dimer", DDIMER_NOT_USED)
    mc.not_suggest(draft, "venous-duplex-us", "DVT is already confirmed on ultrasound.")
    return "DVT confirmed in pregnancy: LMWH and obstetric/haematology team today"


def _first_scan(t: Triage, draft: CardDraft) -> str:
    """G2: no current scan: compression duplex."""
    draft.add_rule("PREG-DVT-US")
    mc.suggest(draft, Suggest("venous-duplex-us", "PREG-DVT-US", "compression duplex ultrasound, expeditiously "
                              "(RCOG GTG 37b)"))
    draft.recommendation.append("Compression duplex ultrasound of the leg veins, expeditiously.")
    mc.not_suggest(draft, "d-dimer", DDIMER_NOT_USED)
    if not t.pe_symptom:
        mc.not_suggest(draft, "ctpa", "no PE symptom: investigate the leg first.")
    mc.not_suggest(draft, "knee-xray", "knee imaging waits until DVT is excluded.")
    mc.not_suggest(draft, "mri-knee", "knee imaging waits until DVT is excluded.")
    return "DVT suspected in pregnancy: compression duplex ultrasound today"


def _negative_episode_rows(t: Triage, draft: CardDraft, episode: list) -> tuple[str, str | None]:
    """G3–G5 after a negative scan; returns the summary label and the rule that excluded DVT, if any."""
    first = episode[0]
    for u in episode:
        draft.evidence.append(f"Leg-vein ultrasound {fmt_date(u.time)}: no DVT seen. {cite(u.source)}")
    if any(u.time - first.time >= timedelta(days=7) for u in episode[1:]):             # G5
        draft.add_rule("PREG-DVT-EXCLUDED")
        draft.recommendation.append("DVT excluded: negative repeat scan 7 days or more after the first negative scan.")
        return "DVT excluded in pregnancy (repeat scan negative): stop anticoagulation, safety net", "PREG-DVT-EXCLUDED"
    if t.facts.ka_true("alternative-diagnosis-as-likely"):                              # G4
        draft.add_rule("PREG-US-NEG-LOW-SUSPICION")
        draft.recommendation.append("Negative scan with low clinical suspicion attested: DVT excluded.")
        return ("DVT excluded in pregnancy (negative scan, low suspicion): stop anticoagulation, safety net",
                "PREG-US-NEG-LOW-SUSPICION")
    draft.add_rule("PREG-US-NEG-REPEAT")                                               # G3
    draft.tier = Tier.URGENT
    now = t.facts.now
    for day in REPEAT_DAYS:
        due = first.time + timedelta(days=day)
        if any(u.time >= due - timedelta(hours=12) for u in episode[1:]):
            continue
        start = max(due, now)
        draft.suggestions.append(Suggest(
            "venous-duplex-us", "PREG-US-NEG-REPEAT",
            f"repeat compression duplex on day {day} after the first negative scan "
            f"({fmt_date(first.time)})", period=(start, start + timedelta(days=1)), repeat=True))
    draft.recommendation.append("Negative scan but clinical suspicion remains: repeat the compression duplex on day 3 "
                                "and day 7 after the first negative scan; continue LMWH meanwhile.")
    return "DVT not excluded in pregnancy: repeat leg-vein duplex on day 3 and day 7", None


def _left_rule(facts, draft: CardDraft) -> str:
    """LEFt: in pregnancy only (not postpartum), information only. Returns the summary's words."""
    if facts.pregnancy.state != "pregnant":
        return ""
    left = left_rule(facts)
    draft.add_rule("LEFT-INFO")
    draft.scores.update(left.score_keys())
    draft.evidence.extend(left.evidence_lines())
    draft.unknown.extend(left.unknown_lines())
    for code in ("symptom-side", "calf-circumference-difference"):
        mc.use_reading(draft, facts.ka.get(code))
    shown = str(left.score) if left.score == left.max else f"{left.score}–{left.max}"
    return f" (LEFt {shown}, information only)"


def _ddimer_shown_not_used(t: Triage, draft: CardDraft) -> None:
    """A recorded D-dimer is shown but not used."""
    dd = interpret_ddimer(t.facts, t.settings, wells_unlikely=False, population="pregnancy", imaging_first=False)
    if dd.state != "none":
        draft.add_flag("ddimer-in-pregnancy")
        draft.evidence.append(f"{dd.line()} Shown but not used: {DDIMER_NOT_USED}")
        draft.scores["dDimer"] = dd.score_key()
