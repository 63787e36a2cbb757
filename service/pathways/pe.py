"""PE emergency (topic ``pe-emergency``), clinical-rules §6.1: ESC 2019, NICE NG158, Kline PERC, RCOG GTG 37b.

Runs before the DVT pathways. Suspected high-risk PE (systolic BP below 90 with a PE symptom or DVT
suspected, row P3) is checked first; then a negative PERC under attested low suspicion (P1) or Wells
PE unlikely with a usable negative D-dimer (P2) exclude PE without a card; otherwise PE-RED-FLAG (P4)
and the rows P5–P9 choose the tests. The pathway records the card's tier (``t.pe_tier``) and, when
the card will supersede the DVT card, its one leg-scan text (``t.pe_supersede_text``); the merge
itself is a step of assembly (:func:`service.cards.merge.pe_supersedes_dvt`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from service.cards.text import clip_summary
from service.cards.draft import CardDraft, NotSuggested, Suggest
from service.cards.evidence import cite, cite_all
from service.pathways import drafting as mc, pe_pregnancy, pregnancy_test_first
from service.pathways.state import Triage
from service.scores.d_dimer import DDimerState, interpret_ddimer, pregnancy_not_excluded
from service.scores.perc import Perc, perc, perc_applies
from service.scores.score_items import compare, fmt_quantity, num, quantity
from service.scores.wells_pe import WellsPe, wells_pe
from service.scores.wells_dvt import cancer_item, previous_dvt_item
from service.vocabulary import Population, Tier, Topic

TOPIC = Topic.PE_EMERGENCY
SAFETY_NET_PE = "Return now if breathlessness, chest pain or haemoptysis recur or worsen."
CONFIRM_PREGNANCY = ("Confirm pregnancy status before choosing an anticoagulant (DOACs are not used in pregnancy); "
                     "if pregnant, the pregnancy row applies (no Wells PE, PERC or D-dimer).")
PE_SYMPTOMS = (("dyspnoea", "breathlessness"), ("chest-pain", "chest pain"), ("haemoptysis", "haemoptysis"),
               ("syncope", "syncope"))
VITALS = (("heart_rate", "Heart rate"), ("spo2", "SpO2"), ("sbp", "Systolic BP"))
UNSTABLE_TEXT = ("Suspected high-risk PE (systolic BP below 90 mmHg; ESC 2019): resuscitation, call the emergency "
                 "team now; oxygen, IV access, senior review.")
PAEDIATRIC_TEXT = "Immediate paediatric emergency assessment. Wells PE, PERC and D-dimer are not validated under 18."
LIKELY_CTPA = ("CTPA immediately; interim therapeutic anticoagulation if it is delayed; V/Q SPECT if contrast allergy "
               "or CrCl < 30 mL/min.")
NO_KNEE_TESTS = (("knee-xray", "does not assess PE; knee imaging waits until PE is dealt with."),
                 ("mri-knee", "does not assess PE; knee imaging waits until PE is dealt with."),
                 ("popliteal-us", "does not assess PE; the leg-vein duplex is the venous test."))
WELLS_ITEM_READINGS = ("pe-most-likely", "deep-vein-tenderness", "leg-swelling", "entire-leg-swollen",
                       "pitting-edema", "pe-suspicion-low")


@dataclass
class Workup:
    """The adult scores of a PE symptom (§4.6, §4.7, §4.9); None where they do not apply."""

    wells: WellsPe | None = None
    perc: Perc | None = None
    ddimer: DDimerState | None = None


@dataclass
class SummaryParts:
    """What the card's summary says: the action and the first test."""

    action: str = "emergency department now"
    test: str = ""

    def offer(self, test: str) -> None:
        self.test = self.test or test


def unstable(t: Triage) -> bool:
    """Row P3: systolic BP below 90 with a PE symptom or DVT suspected."""
    reading = t.facts.vitals.get("sbp")
    sbp_low = compare(quantity(reading), "<", 90) is True if quantity(reading) is not None else False
    return sbp_low and (t.pe_symptom or t.dvt_suspected)


def workup(t: Triage) -> Workup:
    if t.population != Population.ADULT or not t.pe_symptom:
        return Workup()
    facts = t.facts
    cancer, previous_dvt = t.derived(cancer_item), t.derived(previous_dvt_item)
    wells = wells_pe(facts, cancer, previous_dvt)
    t.pe_likely = wells.likely
    # the age-adjusted cut-off is never used on the PE pathway (§4.9 step 4): wells_unlikely=False
    dd = interpret_ddimer(facts, t.settings, wells_unlikely=False, population="adult",
                          imaging_first=facts.setting.imaging_first)
    return Workup(wells, perc(facts, previous_dvt) if perc_applies(facts) else None, dd)


def evaluate(t: Triage) -> None:
    is_unstable = unstable(t)
    if not t.pe_symptom and not is_unstable:
        return
    scores = workup(t)
    if not is_unstable and _excluded_without_card(t, scores):
        return
    draft = CardDraft(topic=TOPIC, tier=Tier.EMERGENCY_IMMEDIATE, guidelines=["esc", "ng158"])
    draft.evidence.extend(_symptom_lines(t))
    for key, label in VITALS:
        line = _vital_line(t, draft, key, label)
        if line:
            draft.evidence.append(line)
    summary = SummaryParts()
    if is_unstable:
        _unstable_row(draft, summary)
    pregnancy_plan = _red_flag_rows(t, draft, scores, is_unstable, summary) if t.pe_symptom else None
    pregnancy_test_first.apply(t, draft, position=1)                              # P6 with §1.9 item 4
    _anticoagulated(t, draft)
    _score_lines(t, draft, scores)
    for orderable, why in NO_KNEE_TESTS:
        mc.not_suggest(draft, orderable, why)
    t.pe_tier = draft.tier
    if t.population == Population.ADULT and pregnancy_not_excluded(t.facts):      # §1.9 item 4, §6.14
        draft.recommendation.append(CONFIRM_PREGNANCY)
        t.need_assessment("ASSESS-PREGNANCY-STATUS", draft.tier,
                          ["Pregnancy status (LOINC 82810-3): decides the PE pathway (RCOG GTG 37b) and the "
                           "anticoagulant."])
    if t.pe_supersedes_dvt:
        t.pe_supersede_text = pe_pregnancy.supersede_text(draft, pregnancy_plan)
    _summary(draft, scores.wells, is_unstable, summary)
    mc.finish(draft, t)


# -- no card: PE excluded ---------------------------------------------------------------------------
def _excluded_without_card(t: Triage, scores: Workup) -> bool:
    """P1 (PERC negative) or P2 (Wells PE unlikely, D-dimer negative)."""
    wells, perc_result, dd = scores.wells, scores.perc, scores.ddimer
    if wells is None:
        return False
    if perc_result is not None and perc_result.result == "negative":
        _exclude(t, "PE-PERC-NEG", _symptom_lines(t) + perc_result.evidence_lines(), {"perc": "negative"},
                 perc_result)
        return True
    if not wells.likely and dd is not None and dd.state == "negative":
        _exclude(t, "PE-EXCLUDED-DDIMER-NEG", _symptom_lines(t) + wells.evidence_lines() + [dd.line()],
                 wells.score_keys(), perc_result)
        return True
    return False


def _exclude(t: Triage, rule: str, lines: list[str], score: dict, perc_result: Perc | None) -> None:
    """No PE card: the rule, scores and safety net go onto the most urgent card (§6.1, §7.2).
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


# -- the card's rows ----------------------------------------------------------------------------------
def _unstable_row(draft: CardDraft, summary: SummaryParts) -> None:
    """P3: suspected high-risk PE."""
    draft.add_rule("PE-UNSTABLE")
    draft.recommendation.append(UNSTABLE_TEXT)
    mc.suggest(draft, Suggest("ctpa", "PE-UNSTABLE", "when the patient is stable enough; bedside "
                              "echocardiography if not", priority="stat"))
    summary.action, summary.test = "resuscitation now", "CTPA when stable"


def _red_flag_rows(t: Triage, draft: CardDraft, scores: Workup, is_unstable: bool,
                   summary: SummaryParts) -> str | None:
    """P4 with the row of the population: P8 (under 18), P7 (pregnancy), P5/P6 (adult). Returns the
    pregnancy plan when P7 applies."""
    draft.add_rule("PE-RED-FLAG")
    draft.recommendation.insert(0, "Call an ambulance or go to the emergency department now.")
    if t.population == Population.PAEDIATRIC:
        draft.add_rule("PE-PAEDIATRIC")
        draft.recommendation.append(PAEDIATRIC_TEXT)
        draft.suggestions = []
        summary.test = "paediatric emergency assessment"
        return None
    if t.population == Population.PREGNANCY:
        plan, test = pe_pregnancy.apply(t, draft, is_unstable)
        summary.offer(test)
        return plan
    if scores.wells is not None and scores.wells.likely:
        _likely_row(draft, summary)
    elif scores.wells is not None:
        _unlikely_row(t, draft, scores, is_unstable, summary)
    return None


def _likely_row(draft: CardDraft, summary: SummaryParts) -> None:
    """P5: Wells PE likely: CTPA."""
    draft.add_rule("PE-LIKELY-CTPA")
    mc.suggest(draft, Suggest("ctpa", "PE-LIKELY-CTPA", "immediately; interim therapeutic anticoagulation if it is "
                              "delayed; V/Q SPECT if contrast allergy or CrCl < 30 mL/min"))
    mc.not_suggest(draft, "d-dimer", "PE is likely (Wells PE): a negative D-dimer would not exclude PE; go straight "
                                     "to CTPA.")
    draft.recommendation.append(LIKELY_CTPA)
    summary.offer("CTPA")


def _unlikely_row(t: Triage, draft: CardDraft, scores: Workup, is_unstable: bool, summary: SummaryParts) -> None:
    """P6: Wells PE unlikely: a D-dimer first when it can be used, else CTPA."""
    facts, dd = t.facts, scores.ddimer
    anticoagulated = facts.anticoagulation.state != "none"
    imaging_first = facts.setting.imaging_first
    if dd is not None and dd.state == "none" and not anticoagulated and not imaging_first:
        draft.add_rule("PE-UNLIKELY-DDIMER")
        mc.suggest(draft, Suggest("d-dimer", "PE-UNLIKELY-DDIMER", "result within 4 h; CTPA if positive",
                                  period=(facts.now, facts.now + timedelta(hours=4))))
        draft.recommendation.append("PE unlikely (Wells PE): D-dimer with result within 4 h; CTPA if positive.")
        summary.offer("D-dimer within 4 h")
    else:
        draft.add_rule("PE-DDIMER-POS-CTPA")
        why = ("D-dimer positive or unusable" if dd is not None and dd.state in ("positive", "unusable")
               else "anticoagulated: D-dimer unreliable" if anticoagulated
               else "inpatient or recent surgery: image first" if imaging_first else "D-dimer not usable")
        mc.suggest(draft, Suggest("ctpa", "PE-DDIMER-POS-CTPA", why))
        mc.not_suggest(draft, "d-dimer", why + "; go to CTPA.")
        draft.recommendation.append(f"CTPA ({why}).")
        summary.offer("CTPA")
    perc_result = scores.perc
    if (facts.ka_true("pe-suspicion-low") and perc_result is not None
            and perc_result.result in ("positive", "incomplete")) and not is_unstable:
        draft.add_rule("PE-LOW-SUSPICION-PERC-POS")
        draft.tier = Tier.EMERGENCY_SAME_DAY
        summary.action = "emergency assessment today"
        draft.recommendation.append(f"Low clinical suspicion attested but PERC {perc_result.result}: PE cannot be "
                                    "excluded without testing.")


def _anticoagulated(t: Triage, draft: CardDraft) -> None:
    """P9: PE on (or possibly on) anticoagulation."""
    state = t.facts.anticoagulation.state
    if state not in ("current", "uncertain"):
        return
    draft.add_rule("PE-ANTICOAGULATED")
    draft.recommendation.append("D-dimer unreliable on anticoagulation; PE on anticoagulation needs specialist review.")
    if state == "uncertain":
        draft.add_flag("anticoagulation-uncertain")
    if not draft.suggests("d-dimer"):
        mc.not_suggest(draft, "d-dimer", "unreliable on anticoagulation.")


# -- evidence and summary -----------------------------------------------------------------------------
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


def _score_lines(t: Triage, draft: CardDraft, scores: Workup) -> None:
    if scores.wells is not None:
        draft.scores.update(scores.wells.score_keys())
        draft.evidence.extend(scores.wells.evidence_lines())
        draft.unknown.extend(scores.wells.unknown_lines())
        for item in scores.wells.items:
            if item.state == "unknown":
                for flag in item.flags:
                    draft.add_flag(flag)
        for code in WELLS_ITEM_READINGS:
            mc.use_reading(draft, t.facts.ka.get(code))
    if scores.perc is not None:
        draft.guidelines.append("perc")
        draft.scores["perc"] = scores.perc.result
        draft.evidence.extend(scores.perc.evidence_lines())
        draft.unknown.extend(scores.perc.unknown_lines())


def _summary(draft: CardDraft, wells: WellsPe | None, is_unstable: bool, parts: SummaryParts) -> None:
    score_txt = ""
    if wells is not None:
        klass = {"likely": "likely", "unlikely": "unlikely"}.get(wells.klass, "handled as likely")
        shown = num(wells.score) if wells.max == wells.score else f"{num(wells.score)}–{num(wells.max)}"
        score_txt = f" (Wells PE {shown}, {klass})"
    lead = "Suspected high-risk pulmonary embolism" if is_unstable else "Possible pulmonary embolism"
    draft.summary = clip_summary(f"{lead}: {parts.action}" + (f" — {parts.test}" if parts.test else "") + score_txt)
    draft.headline = (f"**{lead} (ESC 2019, NICE NG158).** "
                      + ("Call an ambulance or go to the emergency department now."
                         if draft.tier == Tier.EMERGENCY_IMMEDIATE
                         else "Emergency assessment today: PE cannot be excluded without testing."))
