"""DVT suspicion trigger (clinical-rules §5) and population (§3)."""
from __future__ import annotations

from datetime import timedelta

from service.evidence import cite, cite_all
from service.facts import Quantity
from service.triage import Triage
from service.units import compare

PE_SYMPTOMS = ("dyspnoea", "chest-pain", "haemoptysis", "syncope")


def _ka_line(t: Triage, code: str, label: str) -> str:
    return f"{label}: {cite(t.facts.ka[code].winner.source)}" if t.facts.ka[code].winner else label


def risk_factors(t: Triage) -> list[str]:
    """S5's recorded VTE risk factors (a type that could not be read supplies none)."""
    facts = t.facts
    now = facts.now
    out: list[str] = []
    vte = facts.conditions_in("vte-history")
    if vte:
        out.append(f"previous VTE ({cite_all([c.source for c in vte], False)})")
    if facts.conditions_in("active-cancer") and any(c.active for c in facts.conditions_in("active-cancer")):
        out.append(f"cancer ({cite_all([c.source for c in facts.conditions_in('active-cancer')], False)})")
    elif facts.cancer_treatment:
        out.append(f"cancer treatment ({cite_all(facts.cancer_treatment, False)})")
    for surgery in facts.surgeries_within(84):
        out.append(f"surgery ({cite_all(surgery.sources, False)})")
    casts = [p.source for p in facts.procedures_in("leg-cast") if p.time is None or p.time >= now - timedelta(days=84)]
    if casts:
        out.append(f"leg cast ({cite_all(casts, False)})")
    for code, label in (("bedridden-3-days", "bedridden 3 days or more"),
                        ("lower-limb-immobilisation", "leg immobilisation"),
                        ("long-haul-travel", "long-haul travel")):
        if facts.ka_true(code):
            out.append(_ka_line(t, code, label))
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
    reasons: list[str] = []
    if facts.ka_true("leg-swelling"):
        reasons.append("S1: " + _ka_line(t, "leg-swelling", "leg swelling"))
    if facts.symptoms.get("leg-oedema"):
        reasons.append(f"S1: leg oedema ({cite_all(facts.symptoms['leg-oedema'], False)})")
    if facts.ka_true("deep-vein-tenderness"):
        reasons.append("S2: " + _ka_line(t, "deep-vein-tenderness", "deep-vein tenderness"))
    for code, label in (("pitting-edema", "pitting oedema"), ("entire-leg-swollen", "entire leg swollen")):
        if facts.ka_true(code):
            reasons.append("S3: " + _ka_line(t, code, label))
    calf = facts.ka_value("calf-circumference-difference")
    if isinstance(calf, Quantity) and compare(calf, ">=", 2.0):
        reasons.append("S4: " + _ka_line(t, "calf-circumference-difference", f"calf {calf.value:g} cm larger"))
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


def population(t: Triage) -> str:
    if t.facts.pregnancy.state in ("pregnant", "postpartum"):
        return "pregnancy"
    if t.facts.age_range is not None and t.facts.age_under(18) is not False:
        # an age range reaching below 18 takes the paediatric variant: no Wells or D-dimer rule-out
        return "paediatric"
    return "adult"


def evaluate(t: Triage) -> None:
    t.population = population(t)
    t.suspicion = suspicion(t)
    t.dvt_suspected = bool(t.suspicion)
    t.pe_symptom = any(t.facts.symptoms.get(s) for s in PE_SYMPTOMS)
    if t.dvt_suspected:
        t.dvt_status = "open"
