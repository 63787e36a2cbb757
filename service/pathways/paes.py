"""Popliteal artery entrapment (topic ``paes``), clinical-rules §6.11: ACR AC Nonatherosclerotic PAD.

PAES-SUSPECTED: exertional calf pain, pulse loss on provocation, or an active set:paes Condition, with
ka:acute-limb-ischaemia not true (that is §6.2, which supersedes this card). PAES-PULSE-LOSS joins it
when pulse loss on provocation is recorded.
"""
from __future__ import annotations

from service.cards.text import clip_summary
from service.cards.draft import CardDraft, Suggest
from service.pathways import drafting as mc
from service.pathways.state import Triage
from service.vocabulary import Tier, Topic

TOPIC = Topic.PAES
ATHEROSCLEROTIC_AGE = 40


def evaluate(t: Triage) -> None:
    facts = t.facts
    conditions = [c for c in facts.conditions_in("paes") if c.active]
    exertional = facts.ka_true("exertional-calf-pain")
    pulse_loss = facts.ka_true("pulse-loss-on-provocation")
    if not (exertional or pulse_loss or conditions) or facts.ka_true("acute-limb-ischaemia"):
        return
    draft = CardDraft(topic=TOPIC, tier=Tier.URGENT)
    draft.add_rule("PAES-SUSPECTED")
    if pulse_loss:
        draft.add_rule("PAES-PULSE-LOSS")
    draft.guidelines.append("acr")

    for code in ("exertional-calf-pain", "pulse-loss-on-provocation", "acute-limb-ischaemia", "leg-swelling"):
        line = mc.ka_line(facts, code, draft=draft)
        if line:
            draft.evidence.append(line)
    for c in conditions:
        draft.evidence.append(mc.condition_line("Popliteal artery entrapment recorded", c))
    if facts.age_range is not None:
        draft.evidence.append(f"Age {facts.age_range.label}. {facts.patient_ref}")
    if facts.ka_value("acute-limb-ischaemia") is None:
        draft.unknown.append("Acute limb ischaemia not recorded (ka:acute-limb-ischaemia, true/false): a cold, pale, "
                             "pulseless or numb limb is an emergency now.")
    if facts.ka_value("pulse-loss-on-provocation") is None:
        draft.unknown.append("Pulses on plantar flexion / dorsiflexion not recorded (ka:pulse-loss-on-provocation, "
                             "true/false): pulse loss supports entrapment.")

    since = mc.onset_window_start(facts)        # §7.7: abi / arterial duplex done on/after onset
    mc.suggest(draft, Suggest("abi", "PAES-SUSPECTED", "at rest and after exercise or plantar-flexion / "
                              "dorsiflexion provocation", done_since=since))
    mc.suggest(draft, Suggest("arterial-duplex", "PAES-SUSPECTED", "with provocative manoeuvres", done_since=since))
    mc.dvt_tests_not_suggested(t, draft, why="no DVT suspicion recorded: venous tests do not assess arterial "
                                              "entrapment")
    mc.not_suggest(draft, "knee-xray", "does not assess arterial entrapment")
    mc.not_suggest(draft, "mri-knee", "a non-vascular knee protocol does not assess entrapment (MRA or CTA with "
                                      "stress positioning if the vascular tests are positive or equivocal)")

    rec = draft.recommendation
    rec.append("Vascular or sports-medicine referral within days; ABI at rest and after provocation and arterial "
               "duplex with provocative manoeuvres (suggested).")
    rec.append("MRA or CTA with stress positioning if positive or equivocal.")
    rec.append("Differentials: chronic exertional compartment syndrome, medial tibial stress syndrome, stress "
               "fracture, nerve entrapment.")
    if facts.age_at_least(ATHEROSCLEROTIC_AGE) is not False:     # unknown or a range reaching 40
        rec.append("Age 40 or over (or unknown), or atherosclerotic risk factors: consider atherosclerotic "
                   "peripheral arterial disease.")
    else:
        rec.append("With atherosclerotic risk factors, consider atherosclerotic peripheral arterial disease.")
    rec.append("Emergency if the limb becomes cold, pale, pulseless or numb.")

    detail = "pulse loss on provocation" if pulse_loss else "exertional calf pain" if exertional else "recorded"
    draft.summary = clip_summary(f"ABI with provocation and arterial duplex: suspected popliteal artery entrapment "
                            f"({detail})")
    draft.headline = ("**Suspected popliteal artery entrapment (ACR AC Nonatherosclerotic PAD).** ABI at rest and "
                      "after provocation, arterial duplex with provocative manoeuvres; vascular referral within days.")
    mc.finish(draft, t)
