"""Inflammatory arthritis bloodwork (topic ``inflammatory-arthritis``), clinical-rules §6.12: NICE NG100.

**Suspected synovitis**: ka:synovitis-other-joints true; or ka:joint-effusion true with morning
stiffness >= 30 min, no recent injury (§6.9) and ka:hot-swollen-joint not true.
IA-KNOWN-FLARE (known RA) -> no serology; IA-NG100-URGENT (more than one joint, or onset >= 12 weeks);
IA-NG100-REFER (knee only, onset < 12 weeks). Onset unknown is handled as >= 12 weeks (urgent).
"""
from __future__ import annotations

from service.cards.text import clip_summary
from service.cards.draft import CardDraft, Suggest
from service.cards.evidence import cite
from service.chart.facts import Facts
from service.pathways import drafting as mc
from service.scores.injury import injury_episode
from service.scores.score_items import check_reading, fmt_quantity, quantity
from service.pathways.state import Triage
from service.vocabulary import Topic

TOPIC = Topic.INFLAMMATORY_ARTHRITIS
STIFFNESS_MIN = 30.0       # minutes; 30 counts (>= 30)

TESTS = (
    ("rheumatoid-factor", "rheumatoid factor (NG100)"),
    ("anti-ccp", "anti-CCP if RF is negative, or per local policy"),
    ("crp", "CRP (baseline inflammation)"),
    ("esr", "ESR (baseline inflammation)"),
    ("cbc", "full blood count (baseline)"),
)


def suspected_synovitis(facts: Facts) -> bool:
    if facts.ka_true("synovitis-other-joints"):
        return True
    if not facts.ka_true("joint-effusion") or facts.ka_true("hot-swollen-joint"):
        return False
    if injury_episode(facts) is not None:
        return False
    return check_reading(facts.ka.get("morning-stiffness"), ">=", STIFFNESS_MIN) is True


def _known_ra(facts: Facts):
    """An active, confirmed RA Condition (an unconfirmed one never removes the serology, §1.2)."""
    return [c for c in facts.conditions_in("rheumatoid-arthritis") if c.active and c.confirmed]


def evaluate(t: Triage) -> None:
    facts = t.facts
    if not suspected_synovitis(facts):
        return
    known = _known_ra(facts)
    other_joints = facts.ka_true("synovitis-other-joints")
    span = mc.duration(facts)
    if known:
        rule, tier = "IA-KNOWN-FLARE", "urgent"
    elif other_joints or span is None or span >= mc.TWELVE_WEEKS:
        rule, tier = "IA-NG100-URGENT", "urgent"
    else:
        rule, tier = "IA-NG100-REFER", "routine"
    draft = CardDraft(topic=TOPIC, tier=tier)
    draft.add_rule(rule)
    draft.guidelines.append("ng100")

    for code in ("synovitis-other-joints", "joint-effusion", "hot-swollen-joint"):
        line = mc.ka_line(facts, code, draft=draft)
        if line:
            draft.evidence.append(line)
    stiff = facts.ka.get("morning-stiffness")
    if quantity(stiff) is not None and stiff.winner is not None:
        mc.use_reading(draft, stiff)
        draft.evidence.append(f"Morning stiffness {fmt_quantity(quantity(stiff))}: {cite(stiff.winner.source)}")
    onset = mc.onset_line(facts, draft)
    if onset is not None:
        draft.evidence.append(onset)
    else:
        draft.unknown.append("Symptom onset not recorded (ka:symptom-onset): handled as 12 weeks or more (urgent "
                             "referral).")
    for c in known:
        draft.evidence.append(mc.condition_line("Rheumatoid arthritis recorded", c))
    for key, name in (("rheumatoid_factor", "Rheumatoid factor"), ("anti_ccp", "Anti-CCP")):
        reading = facts.labs.get(key)
        if reading is not None and reading.winner is not None and reading.value is not None:
            mc.use_reading(draft, reading)
            value = fmt_quantity(reading.value) if quantity(reading) is not None else str(reading.value)
            draft.evidence.append(f"{name} {value}: {cite(reading.winner.source)}")

    if rule == "IA-KNOWN-FLARE":
        draft.recommendation.append("Known rheumatoid arthritis with active synovitis: rheumatology review of active "
                                    "disease; no diagnostic serology.")
    else:
        for orderable, reason in TESTS:
            mc.suggest(draft, Suggest(orderable, rule, reason))
        if rule == "IA-NG100-URGENT":
            draft.recommendation.append("Suspected persistent synovitis (more than one joint, small joints, or 12 weeks "
                                        "or more): refer urgently to rheumatology (NG100).")
        else:
            draft.recommendation.append("Suspected synovitis of the knee only, under 12 weeks: refer to rheumatology "
                                        "(NG100).")
        draft.recommendation.append("Rheumatoid factor, anti-CCP if RF is negative (or per local policy), CRP, ESR "
                                    "and FBC (suggested).")
    draft.recommendation += [
        "Investigations must not delay referral; normal CRP/ESR or negative RF/anti-CCP do not rule it out.",
        "X-ray the hands and feet for persistent synovitis (not a catalog orderable).",
        "Fullness behind the knee suggests a Baker's cyst (popliteal ultrasound only if a lump is recorded).",
    ]
    mc.not_suggest(draft, "mri-knee", "not the first test for suspected inflammatory arthritis")
    mc.dvt_tests_not_suggested(t, draft, duplex=False, why="no DVT suspicion recorded: not indicated")

    if rule == "IA-KNOWN-FLARE":
        draft.summary = clip_summary("Rheumatology review of active rheumatoid arthritis: synovitis flare, no serology")
        draft.headline = ("**Active synovitis in known rheumatoid arthritis (NICE NG100).** Rheumatology review of "
                          "active disease.")
    else:
        how = "urgently" if rule == "IA-NG100-URGENT" else "routinely"
        draft.summary = clip_summary(f"Refer to rheumatology {how}; RF, anti-CCP, CRP, ESR, FBC: suspected inflammatory "
                                "arthritis (NG100)")
        draft.headline = (f"**Suspected inflammatory arthritis (NICE NG100).** Refer to rheumatology {how}; "
                          "bloods must not delay referral.")
    mc.finish(draft, t)
