"""DVT suspicion trigger (clinical-rules §5) and population (§3)."""
from __future__ import annotations

from datetime import timedelta

from service.cards.evidence import cite, cite_all
from service.chart.facts import Facts, Quantity
from service.scores.wells_dvt import cancer_item, cancer_risk_factor
from service.pathways.state import Triage
from service.vocabulary import DvtStatus, Population
from service.chart.units import compare

PE_SYMPTOMS = ("dyspnoea", "chest-pain", "haemoptysis", "syncope")


def _ka_line(facts: Facts, code: str, label: str) -> str:
    return f"{label}: {cite(facts.ka[code].winner.source)}" if facts.ka[code].winner else label


# §5 S1–S4: the signs and symptoms of DVT, each a named predicate returning its evidence lines.
# S1, S3 and S4 are the calf or leg swelling that also marks a suspected rupture of a known Baker's
# cyst (§6.10); S1–S4 (never S5 or S6) decide the duplex-first step of PE in pregnancy (§6.1 P7).
def s1_leg_swelling(facts: Facts) -> list[str]:
    lines = []
    if facts.ka_true("leg-swelling"):
        lines.append("S1: " + _ka_line(facts, "leg-swelling", "leg swelling"))
    if facts.symptoms.get("leg-oedema"):
        lines.append(f"S1: leg oedema ({cite_all(facts.symptoms['leg-oedema'], False)})")
    return lines


def s2_deep_vein_tenderness(facts: Facts) -> list[str]:
    if facts.ka_true("deep-vein-tenderness"):
        return ["S2: " + _ka_line(facts, "deep-vein-tenderness", "deep-vein tenderness")]
    return []


def s3_oedema_or_whole_leg(facts: Facts) -> list[str]:
    return ["S3: " + _ka_line(facts, code, label)
            for code, label in (("pitting-edema", "pitting oedema"), ("entire-leg-swollen", "entire leg swollen"))
            if facts.ka_true(code)]


def s4_calf_difference(facts: Facts) -> list[str]:
    calf = facts.ka_value("calf-circumference-difference")
    if isinstance(calf, Quantity) and compare(calf, ">=", 2.0):
        return ["S4: " + _ka_line(facts, "calf-circumference-difference", f"calf {calf.value:g} cm larger")]
    return []


REDNESS_DIFFERENTIAL = ("Red, warm leg ({ref}): consider cellulitis, superficial thrombophlebitis or a ruptured Baker's "
                        "cyst as differentials; none of them excludes DVT, and both can coexist.")


def redness_differential(facts: Facts) -> str | None:
    """§5: ka:leg-redness-warmth does not trigger suspicion; where DVT is worked up it is named as a
    differential (cellulitis, superficial thrombophlebitis, ruptured cyst), citing its record."""
    reading = facts.ka.get("leg-redness-warmth")
    if reading is None or reading.value is not True or reading.winner is None:
        return None
    return REDNESS_DIFFERENTIAL.format(ref=cite(reading.winner.source))


SIGNS = (s1_leg_swelling, s2_deep_vein_tenderness, s3_oedema_or_whole_leg, s4_calf_difference)
SWELLING = (s1_leg_swelling, s3_oedema_or_whole_leg, s4_calf_difference)


def dvt_sign_lines(facts: Facts) -> list[str]:
    """S1–S4 present: signs or symptoms of DVT (RCOG GTG 37b's condition for a leg scan first)."""
    return [line for predicate in SIGNS for line in predicate(facts)]


def swelling_lines(facts: Facts) -> list[str]:
    """Calf or leg swelling recorded (S1, S3 or S4)."""
    return [line for predicate in SWELLING for line in predicate(facts)]


def risk_factors(t: Triage) -> list[str]:
    """S5's recorded VTE risk factors (a type that could not be read supplies none)."""
    facts = t.facts
    now = facts.now
    out: list[str] = []
    vte = facts.conditions_in("vte-history")
    if vte:
        out.append(f"previous VTE ({cite_all([c.source for c in vte], False)})")
    cancer = cancer_risk_factor(facts, t.derived(cancer_item))
    if cancer is not None:
        what = "cancer, activity unconfirmed" if cancer.state == "unknown" else "active cancer"
        out.append(f"{what} ({cite_all(list(cancer.sources), False)})")
    for surgery in facts.surgeries_within(84):
        out.append(f"surgery ({cite_all(surgery.sources, False)})")
    casts = [p.source for p in facts.procedures_in("leg-cast") if p.time is None or p.time >= now - timedelta(days=84)]
    if casts:
        out.append(f"leg cast ({cite_all(casts, False)})")
    for code, label in (("bedridden-3-days", "bedridden 3 days or more"),
                        ("lower-limb-immobilisation", "leg immobilisation"),
                        ("long-haul-travel", "long-haul travel")):
        if facts.ka_true(code):
            out.append(_ka_line(facts, code, label))
    paralysis = [c.source for c in facts.conditions_in("paralysis-lower-limb") if c.active]
    if paralysis:
        out.append(f"paralysis ({cite_all(paralysis, False)})")
    if facts.pregnancy.state in ("pregnant", "postpartum"):
        out.append(f"{facts.pregnancy.state} ({cite_all(facts.pregnancy.sources, False)})")
    for cls, label in (("oestrogen-therapy", "oestrogen therapy"), ("serm", "SERM"), ("testosterone", "testosterone")):
        if facts.medication_use.get(cls):
            out.append(f"{label} ({cite_all(facts.medication_use[cls], False)})")
    thrombo = [c.source for c in facts.conditions_in("thrombophilia") if c.active]
    if thrombo:
        out.append(f"thrombophilia ({cite_all(thrombo, False)})")
    if facts.setting.inpatient:
        out.append("current inpatient stay")
    return out


def suspicion(t: Triage) -> list[str]:
    facts = t.facts
    reasons: list[str] = list(t.derived(dvt_sign_lines))
    complaint = bool({"T1", "T3", "T4"} & set(t.triggers))
    if complaint:
        factors = risk_factors(t)
        if factors:
            reasons.append("S5: knee or calf pain with a VTE risk factor: " + "; ".join(factors))
    now = facts.now
    if any(d.time and d.time >= now - timedelta(hours=72) for d in facts.ddimers):
        reasons.append("S6: a D-dimer within 72 h (DVT work-up under way)")
    if any(u.time and u.time >= now - timedelta(days=8) for u in facts.ultrasounds):
        reasons.append("S6: a leg-vein ultrasound result within 8 days")
    if facts.ka.get("alternative-diagnosis-as-likely") and facts.ka["alternative-diagnosis-as-likely"].known:
        reasons.append("S6: Wells alternative-diagnosis attestation recorded")
    return reasons


def population(t: Triage) -> Population:
    """Which DVT pathway applies (§3); an unknown age is adult (§1.6)."""
    if t.facts.pregnancy.state in ("pregnant", "postpartum"):
        return Population.PREGNANCY
    if t.facts.age_range is not None and t.facts.age_under(18) is not False:
        # an age range reaching below 18 takes the paediatric variant: no Wells or D-dimer rule-out
        return Population.PAEDIATRIC
    return Population.ADULT


def evaluate(t: Triage) -> None:
    t.population = population(t)
    t.suspicion = suspicion(t)
    t.dvt_suspected = bool(t.suspicion)
    t.dvt_signs = t.derived(dvt_sign_lines)
    t.pe_symptom = any(t.facts.symptoms.get(s) for s in PE_SYMPTOMS)
    if t.dvt_suspected:
        t.dvt_status = DvtStatus.OPEN
