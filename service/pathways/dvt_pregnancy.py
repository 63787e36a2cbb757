"""DVT in pregnancy and up to 6 weeks postpartum (topic ``dvt-pathway``), clinical-rules §6.4: RCOG GTG 37b.

Wells, PERC and D-dimer are not used. LEFt (§4.8) is computed in pregnancy only (not postpartum) and is
information only. Rows: G1 confirmed; G2 no scan -> duplex; G3 negative scan -> repeats on day 3 and 7;
G4 negative scan with low suspicion attested -> excluded; G5 negative repeat >= 7 days after the first
-> excluded. G4/G5 close the pathway; otherwise it is open.
"""
from __future__ import annotations

from datetime import timedelta

from service.cards.draft import CardDraft, Suggest
from service.cards.evidence import cite, fmt_date
from service.pathways import drafting as mc
from service.scores.left_rule import left_rule
from service.pathways.state import Triage

TOPIC = "dvt-pathway"
CURRENT_SCAN = timedelta(days=8)
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


def _carry_to_pe(t: Triage, draft: CardDraft) -> None:
    pe = t.cards.get("pe-emergency")
    if pe is None:
        return
    pe.add_rule("DVT-SUPERSEDED-BY-PE")
    for key in ("leftRule", "leftRuleMax", "dDimer"):
        if key in draft.scores:
            pe.scores.setdefault(key, draft.scores[key])
            t.scores[key] = draft.scores[key]
    pe.evidence.extend(line for line in draft.evidence if line not in pe.evidence)
    pe.unknown.extend(line for line in draft.unknown if line not in pe.unknown)
    for flag in draft.flags:
        pe.add_flag(flag)
    if "rcog" not in pe.guidelines:
        pe.guidelines.append("rcog")
    # the PE card states one leg-scan text, chosen by its own P7 plan (§6.1 superseding)
    lmwh_stated = any("LMWH until VTE is excluded" in line for line in pe.recommendation)   # P7 says it already
    for line in (t.pe_supersede_text, None if lmwh_stated else LMWH):
        if line and line not in pe.recommendation:
            pe.recommendation.append(line)


def evaluate(t: Triage) -> None:
    if t.population != "pregnancy" or not t.dvt_suspected:
        return
    from service.scores.ultrasound import ultrasound_state
    facts = t.facts
    now = facts.now
    preg = facts.pregnancy
    us = ultrasound_state(facts)
    t.us_state = us
    draft = CardDraft(topic=TOPIC, tier="emergency-same-day", guidelines=["rcog"])
    rec = draft.recommendation
    draft.evidence.append(f"{'Pregnant' if preg.state == 'pregnant' else 'Postpartum (6 weeks or less)'}: "
                          + ", ".join(cite(s) for s in preg.sources) if preg.sources else
                          f"{preg.state.capitalize()}.")
    draft.evidence.extend(f"DVT suspected, {line}" for line in t.suspicion)
    for flag in sorted(preg.flags & mc.CARD_FLAGS):
        draft.add_flag(flag)

    alt_low = facts.ka_true("alternative-diagnosis-as-likely")
    episode = negative_episode(facts)
    first = episode[0] if episode else None
    late_repeat = [u for u in episode[1:] if u.time - first.time >= timedelta(days=7)] if first else []
    label = ""
    if us == "positive":                                                          # G1
        draft.add_rule("PREG-DVT-CONFIRMED")
        scan = max((u for u in facts.ultrasounds if u.value == "dvt-seen" and u.time), key=lambda u: u.time)
        draft.evidence.append(f"Leg-vein ultrasound: DVT seen. {cite(scan.source)}")
        rec.append("DVT confirmed: treat with LMWH; involve the obstetric and haematology team.")
        mc.not_suggest(draft, "d-dimer", DDIMER_NOT_USED)
        mc.not_suggest(draft, "venous-duplex-us", "DVT is already confirmed on ultrasound.")
        label = "DVT confirmed in pregnancy: LMWH and obstetric/haematology team today"
    elif not episode:                                                             # G2
        draft.add_rule("PREG-DVT-US")
        mc.suggest(draft, Suggest("venous-duplex-us", "PREG-DVT-US", "compression duplex ultrasound, expeditiously "
                                  "(RCOG GTG 37b)"))
        rec.append("Compression duplex ultrasound of the leg veins, expeditiously.")
        mc.not_suggest(draft, "d-dimer", DDIMER_NOT_USED)
        if not t.pe_symptom:
            mc.not_suggest(draft, "ctpa", "no PE symptom: investigate the leg first.")
        mc.not_suggest(draft, "knee-xray", "knee imaging waits until DVT is excluded.")
        mc.not_suggest(draft, "mri-knee", "knee imaging waits until DVT is excluded.")
        label = "DVT suspected in pregnancy: compression duplex ultrasound today"
    else:
        for u in episode:
            draft.evidence.append(f"Leg-vein ultrasound {fmt_date(u.time)}: no DVT seen. {cite(u.source)}")
        if late_repeat:                                                           # G5
            draft.add_rule("PREG-DVT-EXCLUDED")
            rec.append("DVT excluded: negative repeat scan 7 days or more after the first negative scan.")
            label = "DVT excluded in pregnancy (repeat scan negative): stop anticoagulation, safety net"
        elif alt_low:                                                             # G4
            draft.add_rule("PREG-US-NEG-LOW-SUSPICION")
            rec.append("Negative scan with low clinical suspicion attested: DVT excluded.")
            label = "DVT excluded in pregnancy (negative scan, low suspicion): stop anticoagulation, safety net"
        else:                                                                     # G3
            draft.add_rule("PREG-US-NEG-REPEAT")
            draft.tier = "urgent"
            for day in REPEAT_DAYS:
                due = first.time + timedelta(days=day)
                done = any(u.time >= due - timedelta(hours=12) for u in episode[1:])
                if done:
                    continue
                start = max(due, now)
                draft.suggestions.append(Suggest(
                    "venous-duplex-us", "PREG-US-NEG-REPEAT",
                    f"repeat compression duplex on day {day} after the first negative scan "
                    f"({fmt_date(first.time)})", period=(start, start + timedelta(days=1)), repeat=True))
            rec.append("Negative scan but clinical suspicion remains: repeat the compression duplex on day 3 and "
                       "day 7 after the first negative scan; continue LMWH meanwhile.")
            label = "DVT not excluded in pregnancy: repeat leg-vein duplex on day 3 and day 7"
        if draft.tier != "urgent":
            draft.tier = "self-care"
            draft.safety_net = True
            t.dvt_status = "closed"
            t.dvt_excluded_rule = draft.rules[-1]
            mc.not_suggest(draft, "venous-duplex-us", "DVT excluded in pregnancy (RCOG GTG 37b).")
            rec.append("Stop anticoagulation if it was started for this episode; safety net.")
        mc.not_suggest(draft, "d-dimer", DDIMER_NOT_USED)
    if t.dvt_excluded_rule is None or t.dvt_status != "closed":
        t.dvt_status = "open"
    rec.append(LMWH)

    # LEFt: pregnancy only, information only
    left_txt = ""
    if preg.state == "pregnant":
        left = left_rule(facts)
        draft.add_rule("LEFT-INFO")
        draft.scores.update(left.score_keys())
        draft.evidence.extend(left.evidence_lines())
        draft.unknown.extend(left.unknown_lines())
        for code in ("symptom-side", "calf-circumference-difference"):
            mc.use_reading(draft, facts.ka.get(code))
        shown = str(left.score) if left.score == left.max else f"{left.score}–{left.max}"
        left_txt = f" (LEFt {shown}, information only)"

    # a recorded D-dimer is shown but not used
    from service.scores.d_dimer import interpret_ddimer
    dd = interpret_ddimer(facts, t.settings, wells_unlikely=False, population="pregnancy", imaging_first=False)
    if dd.state != "none":
        draft.add_flag("ddimer-in-pregnancy")
        draft.evidence.append(f"{dd.line()} Shown but not used: {DDIMER_NOT_USED}")
        draft.scores["dDimer"] = dd.score_key()

    draft.summary = mc.clip(label + left_txt)
    draft.headline = f"**{label} (RCOG GTG 37b).** {LMWH}"
    if t.pe_tier == "emergency-immediate":                                        # §6.1, §7.2
        _carry_to_pe(t, draft)
        return
    mc.finish(draft, t)
