"""Acute limb ischaemia (topic ``limb-ischaemia``), clinical-rules §6.2.

ALI-RED-FLAG when ka:acute-limb-ischaemia = true: emergency-immediate, no test suggestions (immediate
vascular surgical assessment). The ``paes`` card is superseded (its rules are listed here); the DVT
card, if any, is kept.
"""
from __future__ import annotations

from service.cards.draft import CardDraft
from service.pathways import drafting as mc
from service.pathways.state import Triage
from service.vocabulary import Tier, Topic

TOPIC = Topic.LIMB_ISCHAEMIA
DELAY = "outpatient tests delay revascularisation: immediate vascular surgical assessment instead."


def evaluate(t: Triage) -> None:
    facts = t.facts
    if not facts.ka_true("acute-limb-ischaemia"):
        return
    draft = CardDraft(topic=TOPIC, tier=Tier.EMERGENCY_IMMEDIATE, guidelines=["acr"])
    draft.add_rule("ALI-RED-FLAG")
    line = mc.ka_line(facts, "acute-limb-ischaemia", "Acute limb ischaemia (cold, pale, pulseless or numb limb)",
                      draft=draft)
    if line:
        draft.evidence.append(line)
    for code in ("exertional-calf-pain", "pulse-loss-on-provocation", "leg-swelling"):
        line = mc.ka_line(facts, code, draft=draft)
        if line:
            draft.evidence.append(line)
    # the paes pathway runs later and stands down when ALI is true (§6.2 supersedes it): list the rules
    # it would have fired
    pulse_loss = facts.ka_true("pulse-loss-on-provocation")
    if facts.ka_true("exertional-calf-pain") or pulse_loss or any(c.active for c in facts.conditions_in("paes")):
        draft.add_rule("PAES-SUSPECTED")
        if pulse_loss:
            draft.add_rule("PAES-PULSE-LOSS")
    for orderable in ("abi", "arterial-duplex", "d-dimer", "knee-xray", "mri-knee"):
        mc.not_suggest(draft, orderable, DELAY)
    rec = draft.recommendation
    rec.append("Immediate vascular surgical assessment; do not delay for tests.")
    rec.append("Causes to consider: popliteal artery thrombosis or aneurysm (complications of popliteal artery "
               "entrapment), arterial embolism, and phlegmasia (massive DVT).")
    draft.summary = "Acute limb ischaemia: immediate vascular surgical assessment now — do not delay for tests"
    draft.headline = ("**Acute limb ischaemia.** Immediate vascular surgical assessment; do not delay for tests.")
    mc.finish(draft, t)
