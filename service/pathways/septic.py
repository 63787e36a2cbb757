"""Septic arthritis (topic ``septic-arthritis``): adult §6.6 (BSR 2006, NICE NG219, NG51 tier),
child §6.7 (Kocher/Caird), gout vs septic §6.8 (inside this card).

A hot swollen knee always takes the septic route first (NG219: refer immediately if septic arthritis is
suspected); gout features only add GOUT-VS-SEPTIC and a urate test to this card.
"""
from __future__ import annotations

from datetime import timedelta

from service.cards.text import clip_summary
from service.cards.draft import CardDraft, Suggest
from service.cards.evidence import cite
from service.chart.facts import ConditionFact, Facts, Source
from service.pathways import drafting as mc
from service.scores import kocher, sepsis
from service.scores.injury import knee_surgery_sources
from service.scores.score_items import check_reading, fmt_quantity, quantity
from service.pathways.state import Triage
from service.vocabulary import Tier, Topic

TOPIC = Topic.SEPTIC_ARTHRITIS
CONDITION_WINDOW = timedelta(days=30)   # §6.6: septic-arthritis Condition with onset within 30 days
BASELINE_XR = timedelta(hours=72)       # §7.7: baseline radiograph counts within 72 h
URATE_GOUT = 360.0                      # µmol/L (6 mg/dL), NG219
FEVER_TEMP = 38.0                       # §1.8: fever also means a temperature >= 38.0 °C within 24 h

GOUT_TEXT = ("Do not diagnose gout from urate alone; urate ≥ 360 µmol/L (6 mg/dL) supports gout; if < 360 "
             "during a flare and gout is still suspected, repeat ≥ 2 weeks after it settles (NG219); crystal "
             "confirmation comes from the aspirate.")

# §6.6 adult text, chosen by whether an NG51 high-risk feature is present (§4.10): with one, blood
# cultures then IV antibiotics within 1 hour, and the aspiration must not delay them (NICE NG51; BSR
# 2006 with the BOA); without one, aspirate before antibiotics.
ADULT_TEXT = {
    False: {
        "aspiration": "aspirate before antibiotics: Gram stain, culture, cell count, crystals",
        "culture": None,
        "recommendation": ("Aspirate the knee before antibiotics (Gram stain, culture, cell count, polarised-light "
                           "crystal microscopy)."),
        "summary": "Septic arthritis until proven otherwise: same-day orthopaedics, aspirate before antibiotics "
                   "(no NG51 high-risk feature)",
        "headline": "**Septic arthritis until proven otherwise (BSR 2006).** Same-day orthopaedic review; aspirate "
                    "the knee before antibiotics.",
    },
    True: {
        "aspiration": ("before antibiotics only if it does not delay them; otherwise as soon as possible after the "
                       "first dose (Gram stain, culture, cell count, crystals)"),
        "culture": "now, before the first antibiotic dose (NICE NG51: antibiotics within 1 hour)",
        "recommendation": ("Suspected sepsis with a high-risk feature: take blood cultures, then give intravenous "
                           "broad-spectrum antibiotics within 1 hour; aspirate the joint before the first dose only "
                           "if that does not delay it, otherwise as soon as possible after it (still send Gram stain, "
                           "culture, cell count and crystals)."),
        "summary": "Septic arthritis with sepsis high-risk feature ({n}): blood cultures, then IV antibiotics within "
                   "1 hour",
        "headline": "**Septic arthritis with a sepsis high-risk feature (NICE NG51; BSR 2006).** Blood cultures, then "
                    "intravenous antibiotics within 1 hour; aspirate only if that does not delay them.",
    },
}
ANTIBIOTICS_WITHIN = timedelta(hours=1)

# bloods and cultures for both adult and child (§6.6, §6.7), in suggestion order
BLOODS = (
    ("blood-culture", "blood cultures always for a hot swollen joint (BSR 2006), not only when febrile"),
    ("cbc", "white cell count (baseline)"),
    ("crp", "CRP (baseline and to follow response)"),
    ("esr", "ESR (baseline and to follow response)"),
)


def evaluate(t: Triage) -> None:
    facts = t.facts
    if facts.adult:
        _adult(t)
    else:
        _child(t)


# -- shared --------------------------------------------------------------------------------------
def _septic_conditions(facts: Facts) -> list[ConditionFact]:
    """Active set:septic-arthritis Conditions with onset within 30 days (undated ones raise risk)."""
    out = []
    for c in facts.conditions_in("septic-arthritis"):
        if not c.active:
            continue
        if c.onset is None or c.onset >= facts.now - CONDITION_WINDOW:
            out.append(c)
    return out


def _fever_sources(facts: Facts) -> list[Source]:
    """§1.8 fever: a fever symptom, or a temperature >= 38.0 °C within 24 h."""
    sources = list(facts.symptoms.get("fever", []))
    temp = facts.vitals.get("temperature")
    if check_reading(temp, ">=", FEVER_TEMP) and temp is not None and temp.winner is not None:
        if temp.winner.source not in sources:
            sources.append(temp.winner.source)
    return sources


def _trigger_evidence(t: Triage, draft: CardDraft, conditions: list[ConditionFact]) -> None:
    facts = t.facts
    line = mc.ka_line(facts, "hot-swollen-joint", draft=draft)
    if line and facts.ka_true("hot-swollen-joint"):
        draft.evidence.append(line)
    for c in conditions:
        if c.onset is None:
            draft.add_flag("undated")
        draft.evidence.append(mc.condition_line("Septic arthritis recorded", c))
    for code in ("knee-flexion-90", "bear-weight-4-steps", "joint-effusion"):
        line = mc.ka_line(facts, code, draft=draft)
        if line:
            draft.evidence.append(line)


def _lab_evidence(facts: Facts, draft: CardDraft) -> None:
    for key, name in (("temperature", "Temperature"),):
        reading = facts.vitals.get(key)
        if quantity(reading) is not None and reading.winner is not None:
            mc.use_reading(draft, reading)
            draft.evidence.append(f"{name} {fmt_quantity(quantity(reading))}: {cite(reading.winner.source)}")
    for key, name in (("wbc", "WBC"), ("crp", "CRP"), ("esr", "ESR")):
        reading = facts.labs.get(key)
        if quantity(reading) is not None and reading.winner is not None:
            mc.use_reading(draft, reading)
            draft.evidence.append(f"{name} {fmt_quantity(quantity(reading))}: {cite(reading.winner.source)}")


def _workup(draft: CardDraft, rule: str, facts: Facts, aspiration_reason: str,
            culture_now: str | None = None) -> None:
    """§6.6 / §6.7 suggestions (assembly removes those already ordered or resulted, §7.7). With
    ``culture_now`` (SEPTIC-ADULT-SEPSIS) blood cultures come first, within the hour (§7.5 ≤ 1 h)."""
    if culture_now:
        mc.suggest(draft, Suggest("blood-culture", rule, culture_now,
                                  period=(facts.now, facts.now + ANTIBIOTICS_WITHIN)))
    mc.suggest(draft, Suggest("arthrocentesis", rule, aspiration_reason))
    for orderable, reason in BLOODS:
        mc.suggest(draft, Suggest(orderable, rule, reason))
    mc.suggest(draft, Suggest("knee-xray", rule, "baseline knee radiograph",
                              done_since=facts.now - BASELINE_XR))


def _prosthesis(facts: Facts, draft: CardDraft) -> None:
    sources = knee_surgery_sources(facts)
    if sources:
        draft.evidence.append(mc.source_line("Knee surgery or prosthesis on record", sources))
        draft.recommendation.append(
            "Prosthetic knee or previous knee surgery: refer to orthopaedics now (possible prosthetic joint "
            "infection); aspiration by the orthopaedic team.")


# -- adult (§6.6, §6.8, §4.10) ------------------------------------------------------------------
def _gout_features(facts: Facts, draft: CardDraft) -> bool:
    """§6.6 GOUT-VS-SEPTIC: a gout Condition (any clinicalStatus), current gout medication, or urate
    >= 360 µmol/L within 30 days. Adds its evidence lines; unknowns go to the Unknown section."""
    found = False
    for c in facts.conditions_in("gout"):
        draft.evidence.append(mc.condition_line("Gout recorded", c))
        found = True
    meds = facts.medication_use.get("gout-medication") or []
    if meds:
        draft.evidence.append(mc.source_line("Current gout medication", meds))
        found = True
    elif "gout-medication" in facts.medication_use_unknown:
        draft.unknown.append("Whether gout medication is taken is unknown (medications not fully read): it would "
                             "add the gout-vs-septic text and a urate test.")
    urate = facts.labs.get("urate")
    high = check_reading(urate, ">=", URATE_GOUT)
    if quantity(urate) is not None and urate.winner is not None:
        mc.use_reading(draft, urate)
        supports = "supports gout" if high else ("does not exclude gout during a flare" if high is False
                                                 else "comparator does not settle 360")
        draft.evidence.append(f"Urate {fmt_quantity(quantity(urate))} ({supports}): {cite(urate.winner.source)}")
        found = found or bool(high)
    return found


def _adult(t: Triage) -> None:
    facts = t.facts
    conditions = _septic_conditions(facts)
    if not (facts.ka_true("hot-swollen-joint") or conditions):
        return
    draft = CardDraft(topic=TOPIC, tier=Tier.EMERGENCY_SAME_DAY)
    draft.add_rule("SEPTIC-ADULT")
    draft.guidelines.append("bsr")
    _trigger_evidence(t, draft, conditions)

    sep = sepsis.score(facts)
    if sep.high_risk:
        draft.add_rule("SEPTIC-ADULT-SEPSIS")
        draft.guidelines.append("ng51")
        draft.raise_to("emergency-immediate")
    _sepsis_lines(facts, draft, sep)
    _lab_evidence(facts, draft)

    gout = _gout_features(facts, draft)
    if gout:
        draft.add_rule("GOUT-VS-SEPTIC")
        draft.guidelines.append("ng219")

    text = ADULT_TEXT[sep.high_risk]
    # recommendation (key messages, §6.6): the sepsis text replaces "aspirate before antibiotics"
    draft.recommendation += [
        text["recommendation"],
        "A hot, swollen, tender knee with restricted movement is septic arthritis until proven otherwise, even "
        "without fever: " + ("emergency assessment now; orthopaedic review." if sep.high_risk
                             else "same-day orthopaedic review."),
        "Blood cultures always (BSR), with FBC, CRP, ESR and a baseline knee radiograph.",
        "Crystals do not exclude infection.",
        "Warfarin or a DOAC does not contraindicate needle aspiration.",
        "No intra-articular steroid until infection is excluded.",
    ]
    _prosthesis(facts, draft)
    if gout:
        draft.recommendation.append(GOUT_TEXT)

    rule = "SEPTIC-ADULT-SEPSIS" if sep.high_risk else "SEPTIC-ADULT"
    _workup(draft, rule, facts, text["aspiration"], text["culture"])
    if gout:
        mc.suggest(draft, Suggest("uric-acid", "GOUT-VS-SEPTIC", "serum urate (supports, never confirms, gout; NG219)"))
    mc.not_suggest(draft, "mri-knee", "not a first test for a hot swollen knee: aspirate and radiograph first")
    mc.dvt_tests_not_suggested(t, draft, duplex=False,
                               why="no DVT suspicion recorded: not indicated for a hot swollen joint")

    draft.scores.update(sep.score_keys())
    draft.summary = clip_summary(text["summary"].format(n=sep.value))
    draft.headline = text["headline"]
    mc.finish(draft, t)


def _sepsis_lines(facts: Facts, draft: CardDraft, sep: sepsis.SepsisResult) -> None:
    for item in sep.items:
        mc.use_reading(draft, facts.vitals.get(item.code))   # item.code is the Facts.vitals key
    known = [i for i in sep.items if i.known]
    if sep.positive:
        for item in sep.positive:
            draft.evidence.append(mc.item_line(item, "NG51 high-risk feature"))
    if known and not sep.positive:
        parts = [f"{i.detail} ({', '.join(s.ref for s in i.sources)})" for i in known]
        times = {cite(i.sources[0]).split(" (", 1)[-1].rstrip(")") for i in known if i.sources}
        tail = f", all {times.pop()}" if len(times) == 1 else ""
        draft.evidence.append("No NG51 high-risk sepsis feature: " + ", ".join(parts) + tail)
    if sep.unknown:
        names = ", ".join(i.detail.replace(" not recorded within 24 h", "") for i in sep.unknown)
        draft.unknown.append(
            f"Vital signs missing ({names}, within 24 h): screen for sepsis now. Systolic BP ≤ 90 mmHg, heart rate "
            "> 130/min, respiratory rate ≥ 25/min or SpO2 < 92% would make this an emergency now; record them as "
            "vital-sign Observations.")
    draft.unknown.append(
        f"NG51 high-risk criteria with no coded input here ({sepsis.UNCODED_NG51}): check them now; any one "
        "makes this an emergency now.")


# -- child (§6.7, §4.7) ----------------------------------------------------------------------------
def _child(t: Triage) -> None:
    facts = t.facts
    fever = _fever_sources(facts)
    conditions = _septic_conditions(facts)
    hot = facts.ka_true("hot-swollen-joint")
    no_weight = facts.ka_false("bear-weight-4-steps")
    effusion = facts.ka_true("joint-effusion")
    # §6.7 (and §9 item 3: wider than the evidence review). A recorded septic-arthritis Condition
    # also opens the child card [safer reading: the adult rule's Condition applies to children too].
    if not (hot or (fever and (no_weight or effusion)) or conditions):
        return
    draft = CardDraft(topic=TOPIC, tier=Tier.EMERGENCY_SAME_DAY)
    draft.add_rule("SEPTIC-CHILD")
    draft.guidelines += ["kocher", "bsr"]
    _trigger_evidence(t, draft, conditions)
    if fever:
        draft.evidence.append(mc.source_line("Fever", fever))

    score = kocher.score(facts)
    draft.add_rule("KOCHER-INFO")
    for flag in score.flags:
        draft.add_flag(flag)
    for reading in (facts.ka.get("bear-weight-4-steps"), facts.vitals.get("temperature"),
                    facts.labs.get("esr"), facts.labs.get("crp"), facts.labs.get("wbc")):
        mc.use_reading(draft, reading)
    for item in score.items:
        mark = "+1" if item.state is True else "0" if item.state is False else "unknown"
        if item.known:
            draft.evidence.append(mc.item_line(item, f"Kocher {mark}"))
        else:
            draft.unknown.append(f"Kocher criterion {item.label}: {item.detail}. It could add 1 "
                                 f"({_kocher_record(item.code)}); it never lowers the urgency.")
    max_text = f" (max {score.max})" if score.max != score.value else ""
    draft.evidence.append(f"Kocher {score.value} of 4{max_text}: {score.probability_text()}. {kocher.CAVEAT}")
    draft.scores.update(score.score_keys())

    draft.recommendation += [
        "Urgent paediatric orthopaedic assessment today; immediate if the child is unwell or shocked (clinician "
        "judgement: the adult NG51 thresholds do not apply to children).",
        "Do not discharge as transient synovitis without that assessment.",
        "No oral antibiotics at home before aspiration.",
        "Joint ultrasound ± aspiration by the paediatric orthopaedic team; blood cultures, FBC, CRP, ESR and a knee "
        "radiograph.",
    ]
    _prosthesis(facts, draft)
    _lab_evidence(facts, draft)
    _workup(draft, "SEPTIC-CHILD", facts, "joint ultrasound ± aspiration by the paediatric orthopaedic team")
    mc.dvt_tests_not_suggested(t, draft, why="no DVT suspicion recorded: not indicated for a hot joint in a child")

    max_part = f"–{score.max}" if score.max != score.value else ""
    draft.summary = clip_summary(f"Possible septic arthritis in a child: same-day paediatric orthopaedics, aspirate "
                            f"before antibiotics (Kocher {score.value}{max_part} of 4)")
    draft.headline = ("**Possible septic arthritis in a child (Kocher/Caird).** Same-day paediatric orthopaedic "
                      "assessment, immediate if unwell or shocked.")
    mc.finish(draft, t)


def _kocher_record(code: str) -> str:
    return {
        "bear-weight-4-steps": "record ka:bear-weight-4-steps, true/false",
        "temperature": "record a temperature (LOINC 8310-5)",
        "esr-crp": "send ESR (LOINC 4537-7) or CRP (LOINC 1988-5)",
        "wbc": "send a full blood count (WBC, LOINC 6690-2)",
    }.get(code, "record it")
