"""PE emergency (topic ``pe-emergency``), clinical-rules §6.1: ESC 2019, NICE NG158, Kline PERC, RCOG GTG 37b.

Runs before the DVT pathways. P3 (SBP < 90 with a PE symptom or DVT suspected) is checked first; then
P1 (PERC negative under attested low suspicion) and P2 (Wells PE unlikely with a usable negative
D-dimer) exclude PE without a card; otherwise P4 (PE-RED-FLAG) and P5–P9 choose the tests. An
emergency-immediate PE card with DVT suspected supersedes the DVT card (§7.2): this module records
``t.pe_tier`` and carries the Wells DVT score; the DVT pathways skip their card.
"""
from __future__ import annotations

from datetime import timedelta

from service.cards.draft import CardDraft, NotSuggested, Suggest
from service.cards.evidence import cite, cite_all
from service.pathways import drafting as mc, pregnancy_test_first
from service.pathways.dvt_suspicion import dvt_sign_lines
from service.scores.d_dimer import pregnancy_not_excluded
from service.scores.perc import Perc, perc, perc_applies
from service.scores.score_items import compare, fmt_quantity, num, quantity
from service.scores.wells_pe import WellsPe, wells_pe
from service.pathways.state import Triage

TOPIC = "pe-emergency"
SAFETY_NET_PE = "Return now if breathlessness, chest pain or haemoptysis recur or worsen."
CONFIRM_PREGNANCY = ("Confirm pregnancy status before choosing an anticoagulant (DOACs are not used in pregnancy); "
                     "if pregnant, the pregnancy row applies (no Wells PE, PERC or D-dimer).")

# §6.1 superseding text: exactly one, chosen by what the PE card does (never "do not delay CTPA" beside
# "duplex first")
SUPERSEDE_NOTE = "Leg vein ultrasound can support the diagnosis; do not delay CTPA for it."
SUPERSEDE_DUPLEX_FIRST = ("Leg-vein compression duplex first (RCOG GTG 37b): if it shows DVT, treat and no CTPA is "
                          "needed; if it is negative, CTPA or a V/Q scan without delay.")
SUPERSEDE_DVT_CONFIRMED = "DVT confirmed on ultrasound: treat; no further PE imaging is needed (RCOG GTG 37b)."

# §6.1 P7 (RCOG GTG 37b): a leg scan first only with signs or symptoms of DVT (S1–S4); pregnancy or the
# postpartum state alone (S5) never holds back chest imaging.
P7_CHEST_IMAGING_TEXT = ("ECG and chest X-ray now; then CTPA or a V/Q lung scan, without waiting for a leg scan "
                         "(CTPA in preference when the chest X-ray is abnormal; otherwise V/Q or CTPA per local "
                         "obstetric protocol); LMWH until PE is excluded unless contraindicated.")
# with DVT signs or a positive scan DVT is suspected, so the superseding text above states the plan;
# the row's own line adds only what it does not say
P7_DUPLEX_FIRST_TEXT = "ECG and chest X-ray now, while the leg-vein duplex is done (signs of DVT: {signs})."
P7_DVT_CONFIRMED_TEXT = "ECG and chest X-ray now; LMWH for the DVT seen on ultrasound ({scan})."


def p7_dvt_confirmed(t: Triage, us: str, p3: bool) -> bool:
    """A current positive scan: treat; no PE imaging (RCOG GTG 37b)."""
    return us == "positive"


def p7_duplex_first(t: Triage, us: str, p3: bool) -> bool:
    """P7's duplex-first step: DVT signs S1–S4, US state none, and no P3 (an unstable patient goes to CTPA)."""
    return bool(dvt_sign_lines(t.facts)) and us == "none" and not p3


# §6.1 P7 plans, first that holds; chest imaging otherwise (no DVT signs, or the current scan negative)
P7_PLANS = (
    ("dvt-confirmed", p7_dvt_confirmed),
    ("duplex-first", p7_duplex_first),
    ("chest-imaging", lambda t, us, p3: True),
)


def _p7_plan(draft: CardDraft, t: Triage, plan: str) -> str:
    """Apply a P7 plan to the card; returns the summary's test words."""
    facts, now = t.facts, t.facts.now
    if plan == "dvt-confirmed":
        scan = max((u for u in facts.ultrasounds if u.value == "dvt-seen" and u.time), key=lambda u: u.time)
        draft.recommendation.append(P7_DVT_CONFIRMED_TEXT.format(scan=cite(scan.source)))
        return "LMWH (DVT on ultrasound)"
    if plan == "duplex-first":
        # the signs are cited in Evidence; here their names only
        signs = ", ".join(line.split(": ", 1)[-1].split(":")[0].split(" (")[0] for line in dvt_sign_lines(facts))
        mc.suggest(draft, Suggest("venous-duplex-us", "PE-PREGNANCY", "leg-vein compression duplex first (signs of "
                                  "DVT): if it is positive, no further PE imaging is needed",
                                  period=(now, now + timedelta(hours=4))))
        draft.recommendation.append(P7_DUPLEX_FIRST_TEXT.format(signs=signs))
        return "leg-vein duplex first"
    mc.suggest(draft, Suggest("ctpa", "PE-PREGNANCY", "ECG and chest X-ray now; CTPA or V/Q without waiting for a "
                              "leg scan; LMWH until PE is excluded unless contraindicated"))
    draft.recommendation.append(P7_CHEST_IMAGING_TEXT)
    return "ECG, chest X-ray, then CTPA or V/Q"


def supersede_text(draft: CardDraft, p7_plan: str | None) -> str | None:
    if draft.suggests("ctpa"):
        return SUPERSEDE_NOTE
    if p7_plan == "duplex-first":
        return SUPERSEDE_DUPLEX_FIRST
    if p7_plan == "dvt-confirmed":
        return SUPERSEDE_DVT_CONFIRMED
    if any(r in draft.rules for r in ("PE-UNLIKELY-DDIMER", "PE-DDIMER-POS-CTPA", "PE-LIKELY-CTPA")):
        return SUPERSEDE_NOTE           # P5/P6: CTPA is the next imaging step on this card
    return None
PE_SYMPTOMS = (("dyspnoea", "breathlessness"), ("chest-pain", "chest pain"), ("haemoptysis", "haemoptysis"),
               ("syncope", "syncope"))


def _sbp_low(t: Triage) -> bool:
    reading = t.facts.vitals.get("sbp")
    return compare(quantity(reading), "<", 90) is True if quantity(reading) is not None else False


def _symptom_lines(t: Triage) -> list[str]:
    lines = []
    for key, label in PE_SYMPTOMS:
        sources = t.facts.symptoms.get(key) or []
        if sources:
            lines.append(f"PE symptom, {label}: {cite_all(sources)}")
    return lines


def _vital_line(t: Triage, draft: CardDraft | None, key: str, label: str) -> str | None:
    reading = t.facts.vitals.get(key)
    q = quantity(reading)
    if q is None or reading.winner is None:
        return None
    if draft is not None:
        mc.use_reading(draft, reading)
    return f"{label} {fmt_quantity(q)}. {cite(reading.winner.source)}"


def _exclude(t: Triage, rule: str, lines: list[str], score: dict, perc_result: Perc | None) -> None:
    """P1/P2: no PE card; the rule, scores and safety net go onto the most urgent card (§6.1, §7.2).
    A PERC that was computed is reported there too (§4.11): with no PE card nothing else owns it."""
    t.pe_excluded_rule = rule
    if rule not in t.carry_rules:
        t.carry_rules.append(rule)
    for key, value in score.items():
        t.scores[key] = value
    if perc_result is not None:
        t.scores["perc"] = perc_result.result
        t.carry_scores["perc"] = perc_result.result
    for line in lines + [f"{rule}: PE excluded. {SAFETY_NET_PE}"]:
        if line not in t.carry_evidence:
            t.carry_evidence.append(line)
    if rule == "PE-PERC-NEG":
        for orderable in ("d-dimer", "ctpa"):
            if not any(n.orderable == orderable for n in t.carry_not_recommended):
                t.carry_not_recommended.append(NotSuggested(orderable, "PE excluded by a negative PERC under "
                                                                       "attested low suspicion (for PE)."))


def evaluate(t: Triage) -> None:
    facts = t.facts
    now = facts.now
    p3 = _sbp_low(t) and (t.pe_symptom or t.dvt_suspected)
    if not t.pe_symptom and not p3:
        return
    population = t.population
    adult = population == "adult"

    wells: WellsPe | None = None
    perc_result: Perc | None = None
    dd = None
    if adult and t.pe_symptom:
        from service.scores.d_dimer import interpret_ddimer
        wells = wells_pe(facts)
        t.pe_likely = wells.likely
        if perc_applies(facts):
            perc_result = perc(facts)
        # the age-adjusted cut-off is never used on the PE pathway (§4.9 step 4): wells_unlikely=False
        dd = interpret_ddimer(facts, t.settings, wells_unlikely=False, population="adult",
                              imaging_first=facts.setting.imaging_first)

    if not p3 and wells is not None:
        if perc_result is not None and perc_result.result == "negative":          # P1
            _exclude(t, "PE-PERC-NEG", _symptom_lines(t) + perc_result.evidence_lines(), {"perc": "negative"},
                     perc_result)
            return
        if not wells.likely and dd is not None and dd.state == "negative":       # P2
            _exclude(t, "PE-EXCLUDED-DDIMER-NEG", _symptom_lines(t) + wells.evidence_lines() + [dd.line()],
                     wells.score_keys(), perc_result)
            return

    draft = CardDraft(topic=TOPIC, tier="emergency-immediate", guidelines=["esc", "ng158"])
    rec = draft.recommendation
    ac = facts.anticoagulation
    draft.evidence.extend(_symptom_lines(t))
    for key, label in (("heart_rate", "Heart rate"), ("spo2", "SpO2"), ("sbp", "Systolic BP")):
        line = _vital_line(t, draft, key, label)
        if line:
            draft.evidence.append(line)

    action = "emergency department now"
    test = ""
    p7_plan: str | None = None
    if p3:                                                                        # P3
        draft.add_rule("PE-UNSTABLE")
        rec.append("Suspected high-risk PE (systolic BP below 90 mmHg; ESC 2019): resuscitation, call the "
                   "emergency team now; oxygen, IV access, senior review.")
        mc.suggest(draft, Suggest("ctpa", "PE-UNSTABLE", "when the patient is stable enough; bedside "
                                  "echocardiography if not", priority="stat"))
        action, test = "resuscitation now", "CTPA when stable"
    if t.pe_symptom:                                                              # P4
        draft.add_rule("PE-RED-FLAG")
        rec.insert(0, "Call an ambulance or go to the emergency department now.")
        if population == "paediatric":                                            # P8
            draft.add_rule("PE-PAEDIATRIC")
            rec.append("Immediate paediatric emergency assessment. Wells PE, PERC and D-dimer are not validated "
                       "under 18.")
            draft.suggestions = []
            test = "paediatric emergency assessment"
        elif population == "pregnancy":                                           # P7
            draft.add_rule("PE-PREGNANCY")
            draft.guidelines.append("rcog")
            from service.scores.ultrasound import ultrasound_state
            us = ultrasound_state(facts)
            t.us_state = us
            rec.append("Pregnant or postpartum: Wells PE, PERC and D-dimer are not used (RCOG GTG 37b). LMWH "
                       "until VTE is excluded unless strongly contraindicated; DOACs are not used in pregnancy.")
            p7_plan = next(plan for plan, holds in P7_PLANS if holds(t, us, p3))
            plan_test = _p7_plan(draft, t, p7_plan)
            test = test or plan_test
            mc.not_suggest(draft, "d-dimer", "D-dimer is not used to investigate VTE in pregnancy (RCOG GTG 37b).")
        elif wells is not None:
            if wells.likely:                                                      # P5
                draft.add_rule("PE-LIKELY-CTPA")
                mc.suggest(draft, Suggest("ctpa", "PE-LIKELY-CTPA", "immediately; interim therapeutic "
                                          "anticoagulation if it is delayed; V/Q SPECT if contrast allergy or "
                                          "CrCl < 30 mL/min"))
                mc.not_suggest(draft, "d-dimer", "PE is likely (Wells PE): a negative D-dimer would not exclude "
                                                 "PE; go straight to CTPA.")
                rec.append("CTPA immediately; interim therapeutic anticoagulation if it is delayed; V/Q SPECT if "
                           "contrast allergy or CrCl < 30 mL/min.")
                test = test or "CTPA"
            else:                                                                 # P6
                anticoagulated = ac.state != "none"
                imaging_first = facts.setting.imaging_first
                if dd is not None and dd.state == "none" and not anticoagulated and not imaging_first:
                    draft.add_rule("PE-UNLIKELY-DDIMER")
                    mc.suggest(draft, Suggest("d-dimer", "PE-UNLIKELY-DDIMER", "result within 4 h; CTPA if positive",
                                              period=(now, now + timedelta(hours=4))))
                    rec.append("PE unlikely (Wells PE): D-dimer with result within 4 h; CTPA if positive.")
                    test = test or "D-dimer within 4 h"
                else:
                    draft.add_rule("PE-DDIMER-POS-CTPA")
                    why = ("D-dimer positive or unusable" if dd is not None and dd.state in ("positive", "unusable")
                           else "anticoagulated: D-dimer unreliable" if anticoagulated
                           else "inpatient or recent surgery: image first" if imaging_first else "D-dimer not usable")
                    mc.suggest(draft, Suggest("ctpa", "PE-DDIMER-POS-CTPA", why))
                    mc.not_suggest(draft, "d-dimer", why + "; go to CTPA.")
                    rec.append(f"CTPA ({why}).")
                    test = test or "CTPA"
                if (facts.ka_true("pe-suspicion-low") and perc_result is not None
                        and perc_result.result in ("positive", "incomplete")) and not p3:
                    draft.add_rule("PE-LOW-SUSPICION-PERC-POS")
                    draft.tier = "emergency-same-day"
                    action = "emergency assessment today"
                    rec.append(f"Low clinical suspicion attested but PERC {perc_result.result}: PE cannot be "
                               "excluded without testing.")
    pregnancy_test_first.apply(t, draft, position=1)                              # P6 with §1.9 item 4
    if ac.state in ("current", "uncertain"):                                      # P9
        draft.add_rule("PE-ANTICOAGULATED")
        rec.append("D-dimer unreliable on anticoagulation; PE on anticoagulation needs specialist review.")
        if ac.state == "uncertain":
            draft.add_flag("anticoagulation-uncertain")
        if not draft.suggests("d-dimer"):
            mc.not_suggest(draft, "d-dimer", "unreliable on anticoagulation.")

    # scores and their lines
    if wells is not None:
        draft.scores.update(wells.score_keys())
        draft.evidence.extend(wells.evidence_lines())
        draft.unknown.extend(wells.unknown_lines())
        for item in wells.items:
            if item.state == "unknown":
                for flag in item.flags:
                    draft.add_flag(flag)
        for code in ("pe-most-likely", "deep-vein-tenderness", "leg-swelling", "entire-leg-swollen",
                     "pitting-edema", "pe-suspicion-low"):
            mc.use_reading(draft, facts.ka.get(code))
    if perc_result is not None:
        draft.guidelines.append("perc")
        draft.scores["perc"] = perc_result.result
        draft.evidence.extend(perc_result.evidence_lines())
        draft.unknown.extend(perc_result.unknown_lines())

    for orderable, why in (("knee-xray", "does not assess PE; knee imaging waits until PE is dealt with."),
                           ("mri-knee", "does not assess PE; knee imaging waits until PE is dealt with."),
                           ("popliteal-us", "does not assess PE; the leg-vein duplex is the venous test.")):
        mc.not_suggest(draft, orderable, why)

    t.pe_tier = draft.tier
    if population == "adult" and pregnancy_not_excluded(facts):                   # §1.9 item 4, §6.14
        rec.append(CONFIRM_PREGNANCY)
        t.need_assessment("ASSESS-PREGNANCY-STATUS", draft.tier,
                          ["Pregnancy status (LOINC 82810-3): decides the PE pathway (RCOG GTG 37b) and the "
                           "anticoagulant."])
    if draft.tier == "emergency-immediate" and t.dvt_suspected:                   # §6.1 superseding
        draft.add_rule("DVT-SUPERSEDED-BY-PE")
        if population == "adult":
            from service.scores.wells_dvt import wells_dvt
            wd = wells_dvt(facts)
            draft.scores["wellsDvt"] = wd.score_key()
            draft.evidence.extend(line for line in wd.evidence_lines() if line not in draft.evidence)
            draft.unknown.extend(line for line in wd.unknown_lines() if line not in draft.unknown)
            for item in wd.items:
                if getattr(item, "flag", None) and item.flag in mc.CARD_FLAGS:
                    draft.add_flag(item.flag)
        for line in t.suspicion:
            if line not in draft.evidence:
                draft.evidence.append(f"DVT suspected, {line}")
        note = supersede_text(draft, p7_plan)
        t.pe_supersede_text = note
        if note and note not in rec:
            rec.append(note)

    score_txt = ""
    if wells is not None:
        klass = {"likely": "likely", "unlikely": "unlikely"}.get(wells.klass, "handled as likely")
        shown = num(wells.score) if wells.max == wells.score else f"{num(wells.score)}–{num(wells.max)}"
        score_txt = f" (Wells PE {shown}, {klass})"
    lead = "Suspected high-risk pulmonary embolism" if p3 else "Possible pulmonary embolism"
    draft.summary = mc.clip(f"{lead}: {action}" + (f" — {test}" if test else "") + score_txt)
    draft.headline = (f"**{lead} (ESC 2019, NICE NG158).** "
                      + ("Call an ambulance or go to the emergency department now." if draft.tier == "emergency-immediate"
                         else "Emergency assessment today: PE cannot be excluded without testing."))
    mc.finish(draft, t)
