"""Suspected DVT in adults (clinical-rules §6.3, NICE NG158).

Rows L1–L7 (Wells likely or indeterminate) and U1–U5 (unlikely), pre-checks R1–R4 and the modifier
rules. Indeterminate Wells is handled as likely: absent data never makes DVT "unlikely".
"""
from __future__ import annotations

from datetime import timedelta

from service.cards.draft import CardDraft, Suggest
from service.cards.evidence import cite, cite_all, fmt_date, fmt_time
from service.pathways import drafting as mc, pregnancy_test_first
from service.pathways.dvt_suspicion import redness_differential
from service.pathways.dvt_text import (
    CONFIRM_STILL_TAKING, CONSIDER_ALTERNATIVE, DDIMER_AFTER_NEGATIVE_SCAN, DDIMER_REPLACED_BY_SCAN,
    DDIMER_THEN_SCAN, INTERIM_DRAW_FIRST, INTERIM_WITHOUT_DRAW, KNEE_IMAGING_REASON, MAIN_CONFIRMED,
    MAIN_DDIMER_4H, MAIN_DDIMER_AFTER_SCAN, MAIN_DELAYED_DRAW, MAIN_DELAYED_SCAN, MAIN_IMAGE_FIRST,
    MAIN_KNOWN_RECENT, MAIN_REPEAT_SCAN, MAIN_SCAN_4H, MAIN_SCAN_4H_LIKELY, ROW_TEXT, SCAN_NEGATIVE_NO_DDIMER,
    SCAN_NEGATIVE_THEN_DDIMER, SCAN_NEGATIVE_THEN_PREGNANCY_TEST, SCAN_WITHIN_4H, SCAN_WITHIN_4H_UNKNOWN,
    STALE_VTE_TEXT, STOP_INTERIM_EXCLUDED, STOP_INTERIM_REPEAT_DUE,
)
from service.pathways.popliteal_mass import rupture_signs, rupture_suspected
from service.pathways.state import Triage
from service.scores.d_dimer import DDimerState, interpret, interpret_ddimer, pregnancy_not_excluded, select
from service.scores.ultrasound import CURRENT_SCAN, ultrasound_state
from service.scores.wells_dvt import WellsDvt, cancer_item, previous_dvt_item, wells_dvt
from service.vocabulary import KNEE_IMAGING, DvtStatus, Population, Tier, Topic, UltrasoundState, WellsClass

# -- predicates ---------------------------------------------------------------------------------------
def ddimer_replaced_by_scan(t: Triage) -> bool:
    """M-ANTI or M-IMG: the D-dimer step is replaced by ultrasound (§6.3 Modifiers)."""
    return t.already_anticoagulated or t.imaging_first


def draws_ddimer_first(t: Triage, dd: DDimerState) -> bool:
    """"draw the D-dimer first, then" only when no usable D-dimer is on record and the row can use one."""
    return dd.state == "none" and not ddimer_replaced_by_scan(t)


def interim_anticoagulation_current(facts) -> bool:
    ac = facts.anticoagulation
    return ac.state == "current" and ac.pre_existing is False


def modifier_reason(t: Triage) -> str:
    parts = (["anticoagulated"] if t.already_anticoagulated else []) + (["inpatient or recent surgery"] if t.imaging_first else [])
    return " and ".join(parts)


def latest_negative_scan(facts):
    current = [u for u in facts.ultrasounds if u.time is not None and u.time >= facts.now - CURRENT_SCAN
               and u.value == "no-dvt-seen"]
    return max(current, key=lambda u: u.time) if current else None


def known_recent_dvt(facts) -> list:
    """R2: an active DVT Condition (not Z86.-) with onset within 90 days, or dvt-seen 9–90 days ago."""
    now = facts.now
    out = []
    for c in facts.conditions_in("vte-history-dvt"):
        personal_history = any(code.startswith("Z86") for _s, code in c.codes)
        if c.active and not personal_history and c.onset and c.onset >= now - timedelta(days=90):
            out.append(c.source)
    for u in facts.ultrasounds:
        if u.value == "dvt-seen" and u.time and now - timedelta(days=90) <= u.time < now - CURRENT_SCAN:
            out.append(u.source)
    return out


def stale_active_vte(facts) -> list:
    """R4: an active VTE Condition (not Z86.-) with onset more than 90 days ago: previous DVT, not current."""
    cutoff = facts.now - timedelta(days=90)
    return [c for c in facts.conditions_in("vte-history")
            if c.active and c.onset and c.onset < cutoff and not any(code.startswith("Z86") for _s, code in c.codes)]


def pregnancy_status_needed(facts) -> bool:
    """§1.9 item 4: female (or gender unknown/other), aged 12–50 (or age unknown, or an age range that
    reaches into 12–50), status unknown."""
    return pregnancy_not_excluded(facts)


def _interim(t: Triage, draft: CardDraft, dd: DDimerState) -> None:
    if t.already_anticoagulated:
        return                                  # never add a second anticoagulant (§6.3 M-ANTI)
    text = INTERIM_DRAW_FIRST if draws_ddimer_first(t, dd) else INTERIM_WITHOUT_DRAW
    if t.facts.anticoagulation.state == "uncertain":
        text = CONFIRM_STILL_TAKING + text
    if pregnancy_status_needed(t.facts):
        text += " Confirm pregnancy status first."
    if t.facts.medication_use.get("oestrogen-therapy"):
        text += " Counsel on contraception and hormone therapy."
    if t.imaging_first:
        text += " Weigh post-operative bleeding risk."
    draft.recommendation.append(text)


def _stop_interim(t: Triage, draft: CardDraft, template: str = STOP_INTERIM_EXCLUDED) -> None:
    if interim_anticoagulation_current(t.facts):
        draft.recommendation.append(template.format(sources=cite_all(t.facts.anticoagulation.sources, False)))


def _scan_within_4h_line(t: Triage, draft: CardDraft) -> None:
    """The record that decides between L1 and L2/L3 is cited (§6.3 "Scan within 4 h")."""
    reading = t.facts.ka.get("ultrasound-within-4h")
    if reading is not None and reading.value in SCAN_WITHIN_4H and reading.winner is not None:
        draft.evidence.append(f"{SCAN_WITHIN_4H[reading.value]}: {cite(reading.winner.source)}")


def _duplex(rule: str, hours: int, reason: str, now) -> Suggest:
    return Suggest("venous-duplex-us", rule, reason, label=f"Order proximal leg-vein ultrasound (result within {hours} hours)",
                   period=(now, now + timedelta(hours=hours)))


def _ddimer_suggest(rule: str, reason: str, now) -> Suggest:
    return Suggest("d-dimer", rule, reason, label="Order quantitative D-dimer (result within 4 hours)",
                   period=(now, now + timedelta(hours=4)))


def _forbid_knee_imaging(draft: CardDraft) -> None:
    for orderable in KNEE_IMAGING:
        mc.not_suggest(draft, orderable, KNEE_IMAGING_REASON)


def evaluate(t: Triage) -> None:
    if not t.dvt_suspected or t.population != Population.ADULT:
        return
    facts = t.facts
    wells = wells_dvt(facts, t.derived(cancer_item), t.derived(previous_dvt_item))
    t.wells_class = wells.klass
    ac = facts.anticoagulation
    t.already_anticoagulated = ac.state == "current" and ac.pre_existing is True
    t.imaging_first = facts.setting.imaging_first
    us = ultrasound_state(facts)
    t.us_state = us
    likely = wells.klass != WellsClass.UNLIKELY
    dd = interpret_ddimer(facts, t.settings, wells_unlikely=not likely, population="adult",
                          imaging_first=t.imaging_first)
    draft = CardDraft(topic=Topic.DVT_PATHWAY, tier=Tier.EMERGENCY_SAME_DAY, guidelines=["ng158"])
    excluded_by = _row(t, draft, wells, us, dd)
    _modifiers(t, draft, wells, dd)
    # the Wells lines go on this card and, should the PE card supersede it, on that one
    wells_evidence, wells_unknown = wells.evidence_lines(), wells.unknown_lines()
    _evidence(t, draft, wells, dd, wells_evidence, wells_unknown)
    if excluded_by is not None:
        t.close_dvt(excluded_by)
        draft.tier = Tier.SELF_CARE
        draft.safety_net = True
        _stop_interim(t, draft)
        draft.recommendation.append(CONSIDER_ALTERNATIVE)
    else:
        t.dvt_status = DvtStatus.OPEN
        if not draft.summary:
            draft.summary = f"DVT pathway ({wells_text(wells)})"
    pregnancy_test_first.apply(t, draft)
    draft.scores["wellsDvt"] = wells.score_key()
    draft.scores["dDimer"] = dd.score_key()
    t.dvt_carried_by_pe = CardDraft(
        topic=Topic.DVT_PATHWAY, tier=draft.tier, scores=dict(draft.scores),
        evidence=wells_evidence + mc.suspicion_lines(t), unknown=list(wells_unknown),
        flags=[item.flag for item in wells.items if item.flag in mc.CARD_FLAGS])
    t.add_card(draft)


def _row_text(draft: CardDraft, rule: str, **values: str) -> None:
    """The row's rule, with its summary and headline (:data:`ROW_TEXT`)."""
    draft.add_rule(rule)
    summary, headline = ROW_TEXT[rule]
    draft.summary = summary.format(**values)
    draft.headline = headline.format(**values)


def wells_text(wells: WellsDvt) -> str:
    return f"Wells {wells.min}" if wells.min == wells.max else f"Wells {wells.min}–{wells.max}"


def _row(t: Triage, draft: CardDraft, wells: WellsDvt, us: str, dd: DDimerState) -> str | None:
    """Fill the card from the one row of §6.3 that applies; returns the rule that excluded DVT, if any."""
    facts = t.facts
    if us == UltrasoundState.POSITIVE:
        _confirmed(facts, draft)
        return None
    recent = known_recent_dvt(facts)
    if recent:
        _known_recent(t, draft, recent)
        return None
    if wells.klass != WellsClass.UNLIKELY:
        return _likely_rows(t, draft, wells, us, dd)
    return _unlikely_rows(t, draft, wells, us, dd)


def _confirmed(facts, draft: CardDraft) -> None:
    _row_text(draft, "DVT-CONFIRMED")
    scan = max((u for u in facts.ultrasounds if u.value == "dvt-seen" and u.time), key=lambda u: u.time)
    draft.evidence.append(f"Leg-vein ultrasound: DVT seen. {cite(scan.source)}")
    draft.recommendation.append(MAIN_CONFIRMED)
    mc.not_suggest(draft, "d-dimer", "DVT is already confirmed.")
    mc.not_suggest(draft, "venous-duplex-us", "DVT is already confirmed on ultrasound.")


def _known_recent(t: Triage, draft: CardDraft, recent: list) -> None:
    _row_text(draft, "DVT-KNOWN-RECENT")
    untreated = t.facts.anticoagulation.state in ("none", "uncertain")
    draft.tier = Tier.EMERGENCY_SAME_DAY if untreated else Tier.URGENT
    draft.evidence.append(f"Recent DVT: {cite_all(recent)}")
    draft.recommendation.append(MAIN_KNOWN_RECENT)
    draft.suggestions.append(_duplex("DVT-KNOWN-RECENT", 24, "if symptoms are new or worse: extension or recurrence",
                                     t.facts.now))
    mc.not_suggest(draft, "d-dimer", "useless with a known DVT.")


def _likely_rows(t: Triage, draft: CardDraft, wells: WellsDvt, us: str, dd: DDimerState) -> str | None:
    """Rows L1–L7: Wells likely or indeterminate (handled as likely)."""
    label = "DVT likely" if wells.klass == WellsClass.LIKELY else "DVT cannot be excluded"
    score = wells_text(wells)
    if us == UltrasoundState.NONE:
        _likely_no_scan(t, draft, dd, label, score)
        return None
    if us == UltrasoundState.NEGATIVE_REPEAT:
        return _excluded(draft, "DVT-REPEAT-US-NEG", score, "DVT excluded by two negative scans.")
    return _likely_negative_scan(t, draft, score)


def _likely_no_scan(t: Triage, draft: CardDraft, dd: DDimerState, label: str, score: str) -> None:
    """L1 (scan within 4 h, or the D-dimer replaced by the scan) or L2/L3 (the scan is delayed)."""
    within_4h = t.facts.ka_value("ultrasound-within-4h")
    if within_4h is not False or ddimer_replaced_by_scan(t):
        _scan_within_4h(t, draft, label, score, within_4h)
    else:
        _scan_delayed(t, draft, dd, label, score)
    _interim(t, draft, dd)
    _scan_within_4h_line(t, draft)
    _forbid_knee_imaging(draft)


def _scan_within_4h(t: Triage, draft: CardDraft, label: str, score: str, within_4h: bool | None) -> None:
    _row_text(draft, "DVT-LIKELY-US4H", label=label, score=score)
    draft.suggestions.append(_duplex("DVT-LIKELY-US4H", 4, f"{label} (two-level {score}); NICE NG158 1.1.3: "
                                     "proximal leg-vein ultrasound with the result within 4 hours", t.facts.now))
    draft.recommendation.append(MAIN_SCAN_4H_LIKELY)
    if ddimer_replaced_by_scan(t):
        draft.recommendation.append(SCAN_NEGATIVE_NO_DDIMER.format(why=modifier_reason(t)))
    elif pregnancy_not_excluded(t.facts):
        draft.recommendation.append(SCAN_NEGATIVE_THEN_PREGNANCY_TEST)
    else:
        draft.recommendation.append(SCAN_NEGATIVE_THEN_DDIMER)
    if within_4h is None:
        draft.unknown.append(SCAN_WITHIN_4H_UNKNOWN)
    mc.not_suggest(draft, "d-dimer", DDIMER_REPLACED_BY_SCAN.format(why=modifier_reason(t)) if ddimer_replaced_by_scan(t)
         else DDIMER_AFTER_NEGATIVE_SCAN)


def _scan_delayed(t: Triage, draft: CardDraft, dd: DDimerState, label: str, score: str) -> None:
    now = t.facts.now
    _row_text(draft, "DVT-LIKELY-SCAN-DELAYED", label=label, score=score)
    draft.suggestions.append(_duplex("DVT-LIKELY-SCAN-DELAYED", 24, "scan result within 24 h", now))
    draft.recommendation.append(MAIN_DELAYED_DRAW if dd.state == "none" else MAIN_DELAYED_SCAN)
    if dd.state == "none":
        draft.suggestions.insert(0, _ddimer_suggest("DVT-LIKELY-SCAN-DELAYED",
                                                    "draw before the first anticoagulant dose", now))
    else:
        mc.not_suggest(draft, "d-dimer", "already drawn; a negative result does not exclude DVT in the likely group.")


def _likely_negative_scan(t: Triage, draft: CardDraft, score: str) -> str | None:
    """L4–L6: the current scan is negative; the D-dimer around it decides."""
    facts, now = t.facts, t.facts.now
    scan = latest_negative_scan(facts)
    around = select(facts, scan.time - timedelta(hours=72), scan.time + timedelta(hours=72))
    ac = facts.anticoagulation
    state = interpret(facts, around, age_adjusted_on=False, wells_unlikely=False, population="adult",
                      imaging_first=t.imaging_first, anticoag_state=ac.state, anticoag_start=ac.start)
    effective = state.state
    if effective == "none" and ddimer_replaced_by_scan(t):
        effective = "unusable"
    draft.evidence.append(f"Leg-vein ultrasound: no DVT seen. {cite(scan.source)}")
    if around is not None:
        draft.evidence.append(state.line())
    if effective == "none":
        _row_text(draft, "DVT-LIKELY-US-NEG-DDIMER-NEEDED", score=score)
        draft.tier = Tier.URGENT
        draft.suggestions.append(_ddimer_suggest("DVT-LIKELY-US-NEG-DDIMER-NEEDED", "scan negative, Wells likely", now))
        draft.recommendation.append(MAIN_DDIMER_AFTER_SCAN)
        mc.not_suggest(draft, "knee-xray", KNEE_IMAGING_REASON)
        mc.not_suggest(draft, "mri-knee", KNEE_IMAGING_REASON)
    elif effective in ("positive", "unusable"):
        start, end = scan.time + timedelta(days=6), scan.time + timedelta(days=8)
        _row_text(draft, "DVT-LIKELY-US-NEG-DDIMER-POS-REPEAT", score=score, ddimer=effective, start=fmt_time(start),
                  end=fmt_time(end))
        draft.tier = Tier.URGENT
        draft.suggestions.append(Suggest("venous-duplex-us", "DVT-LIKELY-US-NEG-DDIMER-POS-REPEAT",
                                         "repeat proximal scan 6–8 days after the first",
                                         label="Book repeat proximal leg-vein ultrasound (6–8 days after the first)",
                                         period=(start, end), repeat=True))
        draft.recommendation.append(MAIN_REPEAT_SCAN.format(start=fmt_time(start), end=fmt_time(end)))
        _stop_interim(t, draft, STOP_INTERIM_REPEAT_DUE)
        for orderable in ("d-dimer", "mri-knee", "knee-xray"):
            mc.not_suggest(draft, orderable, "the repeat scan decides; " + ("already drawn." if orderable == "d-dimer" else KNEE_IMAGING_REASON))
    else:
        return _excluded(draft, "DVT-LIKELY-US-NEG-DDIMER-NEG", score)
    return None


def _excluded(draft: CardDraft, rule: str, score: str, why: str = "DVT excluded.") -> str:
    """A row that excludes DVT: no further D-dimer or leg scan. Returns the rule."""
    _row_text(draft, rule, score=score)
    mc.not_suggest(draft, "d-dimer", why)
    mc.not_suggest(draft, "venous-duplex-us", why)
    return rule


def _unlikely_rows(t: Triage, draft: CardDraft, wells: WellsDvt, us: str, dd: DDimerState) -> str | None:
    """Rows U1–U5: Wells unlikely."""
    score = f"Wells {wells.max}"
    if us in (UltrasoundState.NEGATIVE, UltrasoundState.NEGATIVE_REPEAT):
        return _excluded(draft, "DVT-UNLIKELY-US-NEG", score)
    if dd.state == "none" and ddimer_replaced_by_scan(t):
        _image_first(t, draft, score)
    elif dd.state == "none":
        _unlikely_ddimer(t, draft, dd, score)
    elif dd.state in ("positive", "unusable"):
        _unlikely_ddimer_positive(t, draft, dd, score)
    else:
        rule = _excluded(draft, "DVT-UNLIKELY-DDIMER-NEG", score)
        mc.not_suggest(draft, "knee-xray", "not needed for this result; see the knee-pain review if it applies.")
        mc.not_suggest(draft, "mri-knee", "not needed for this result.")
        return rule
    return None


def _image_first(t: Triage, draft: CardDraft, score: str) -> None:
    """U5: the D-dimer cannot be used (already anticoagulated, or inpatient/recent surgery)."""
    rule = "DVT-ANTICOAGULATED" if t.already_anticoagulated else "DVT-IMAGING-FIRST"
    _row_text(draft, rule, score=score)
    draft.suggestions.append(_duplex(rule, 4, "image first: D-dimer unreliable here "
                                     "(result within 4 h where possible, 24 h at the latest)", t.facts.now))
    draft.recommendation.append(MAIN_IMAGE_FIRST)
    draft.recommendation.append(SCAN_NEGATIVE_NO_DDIMER.format(why=modifier_reason(t)))
    mc.not_suggest(draft, "d-dimer", DDIMER_REPLACED_BY_SCAN.format(why=modifier_reason(t)))


def _unlikely_ddimer(t: Triage, draft: CardDraft, dd: DDimerState, score: str) -> None:
    """U2: D-dimer first."""
    _row_text(draft, "DVT-UNLIKELY-DDIMER", score=score)
    draft.suggestions.append(_ddimer_suggest("DVT-UNLIKELY-DDIMER", f"DVT unlikely (two-level {score}); NICE NG158 "
                                             "1.1.5: D-dimer with the result within 4 hours", t.facts.now))
    draft.recommendation.append(MAIN_DDIMER_4H)
    draft.recommendation.append(DDIMER_THEN_SCAN)
    _interim(t, draft, dd)
    mc.not_suggest(draft, "venous-duplex-us", "only if the D-dimer is positive.")
    _forbid_knee_imaging(draft)


def _unlikely_ddimer_positive(t: Triage, draft: CardDraft, dd: DDimerState, score: str) -> None:
    """U3: D-dimer positive or unusable: scan within 4 hours."""
    _row_text(draft, "DVT-UNLIKELY-DDIMER-POS-US", score=score, ddimer=dd.state)
    draft.suggestions.append(_duplex("DVT-UNLIKELY-DDIMER-POS-US", 4, f"D-dimer {dd.state}; NICE NG158: ultrasound "
                                     "within 4 h, else interim anticoagulation and scan within 24 h", t.facts.now))
    draft.recommendation.append(MAIN_SCAN_4H)
    _interim(t, draft, dd)
    mc.not_suggest(draft, "d-dimer", "already drawn.")
    mc.not_suggest(draft, "knee-xray", KNEE_IMAGING_REASON)
    mc.not_suggest(draft, "mri-knee", KNEE_IMAGING_REASON)


def _modifiers(t: Triage, draft: CardDraft, wells: WellsDvt, dd: DDimerState) -> None:
    facts = t.facts
    if wells.klass == "indeterminate":
        draft.add_rule("DVT-INDETERMINATE")
        unknown = ", ".join(i.label for i in wells.unknown)
        draft.recommendation.append(f"Wells cannot be classified as unlikely: {unknown} could add up to "
                                    f"+{wells.max - wells.min}. Examine today. Until then treat as DVT likely.")
        t.need_assessment("ASSESS-WELLS-INCOMPLETE", "emergency-same-day",
                          [f"{i.label} (Wells {i.id})" for i in wells.unknown] +
                          [f"{i.label}: not documented" for i in wells.items if i.state == "not-documented"] +
                          ["pregnancy status, hormone therapy"])
    if t.already_anticoagulated:
        draft.add_rule("DVT-ANTICOAGULATED")
        draft.recommendation.append("On an anticoagulant: D-dimer may be falsely low and is not used; anticoagulation "
                                    "does not exclude DVT; DVT despite an anticoagulant needs specialist review "
                                    "(adherence, dose, treatment failure). Do not add a second anticoagulant.")
        mc.not_suggest(draft, "d-dimer", "may be falsely low on anticoagulation.")
    if t.imaging_first:
        draft.add_rule("DVT-IMAGING-FIRST")
        reason = facts.setting.imaging_first_reason or "inpatient or recent surgery"
        draft.recommendation.append(f"{reason[:1].upper()}{reason[1:]}: D-dimer is "
                                    "unreliable here and its evidence comes from community patients; image first.")
        mc.not_suggest(draft, "d-dimer", "not as the first or only test in the imaging-first group.")
    if facts.anticoagulation.state == "prophylactic":
        line = "Prophylactic-dose anticoagulation does not exclude DVT."
        if line not in draft.recommendation:
            draft.recommendation.append(line)
    if facts.anticoagulation.state == "uncertain":
        draft.add_flag("anticoagulation-uncertain")
    cysts = facts.conditions_in("bakers-cyst")
    if cysts or (facts.ka_true("sudden-onset") and facts.ka_true("popliteal-mass")):
        draft.add_rule("DVT-BAKER-MIMIC")
        draft.recommendation.append("A ruptured Baker's cyst mimics DVT and both can coexist; the venous duplex "
                                    "excludes DVT and can show the cyst; do not withhold the pathway or interim "
                                    "anticoagulation because a cyst is known.")
        if cysts:
            draft.evidence.append(f"Baker's cyst: {cite_all([c.source for c in cysts])}")
        if rupture_suspected(facts):
            signs = "; ".join(rupture_signs(facts))
            draft.recommendation.append(f"Suspected rupture of the known Baker's cyst ({signs}): handled on this "
                                        "card; the venous duplex excludes DVT and shows the cyst.")
    redness = redness_differential(facts)
    if redness:
        draft.recommendation.append(redness)
    for rule in dd.rules:
        draft.add_rule(rule)
    for flag in dd.flags:
        draft.add_flag(flag)
    if pregnancy_status_needed(facts):
        draft.recommendation.append("Confirm pregnancy status before choosing an anticoagulant (DOACs are not used "
                                    "in pregnancy).")
        t.need_assessment("ASSESS-PREGNANCY-STATUS", draft.tier,
                          ["Pregnancy status (LOINC 82810-3): decides the pathway and the anticoagulant."])


def _evidence(t: Triage, draft: CardDraft, wells: WellsDvt, dd: DDimerState, wells_evidence: list[str],
              wells_unknown: list[str]) -> None:
    facts = t.facts
    draft.evidence[:0] = wells_evidence
    side = facts.ka.get("symptom-side")
    if side and side.winner:
        if side.value == "bilateral":
            draft.evidence.append(f"Bilateral symptoms ({side.winner.source.ref}): score the more symptomatic leg.")
        else:
            draft.evidence.append(f"{str(side.value).capitalize()} leg ({side.winner.source.ref})")
    draft.evidence.extend(t.suspicion)
    if dd.result is not None and not any(line.startswith("D-dimer") for line in draft.evidence):
        draft.evidence.append(dd.line())
    non_scoring = []
    for cls, label in (("oestrogen-therapy", "oestrogen"), ("serm", "SERM"), ("testosterone", "testosterone")):
        if facts.medication_use.get(cls):
            non_scoring.append(f"{label} ({cite_all(facts.medication_use[cls], False)})")
    if facts.ka_true("long-haul-travel"):
        non_scoring.append("long-haul travel")
    if facts.smoking is not None and facts.smoking.value == "current":
        non_scoring.append("current smoker")
    draft.evidence.append("Risk factors that do not score in Wells: " + ("; ".join(non_scoring) or "none recorded") + ".")
    draft.unknown[:0] = wells_unknown
    if dd.result is None:
        draft.unknown.append("No D-dimer on record.")
    not_doc = [i for i in wells.items if i.state == "not-documented"]
    if not_doc:
        draft.add_flag("not-documented")
        draft.quality.append("not-documented: the history items listed above.")
    for c in stale_active_vte(facts):
        draft.add_flag("stale-condition")
        draft.quality.append(STALE_VTE_TEXT.format(ref=c.source.ref, date=fmt_date(c.onset)))
    for item in wells.items:
        if item.flag == "cancer-activity-unconfirmed":
            draft.add_flag("cancer-activity-unconfirmed")
