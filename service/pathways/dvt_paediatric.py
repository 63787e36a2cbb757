"""Suspected DVT under 18 (topic ``dvt-pathway``), clinical-rules §6.5 [design].

DVT-PAEDIATRIC: emergency-same-day; suggest venous-duplex-us; not suggested: d-dimer. Wells N/A.
"""
from __future__ import annotations

from service.cards.draft import CardDraft, Suggest
from service.pathways import drafting as mc
from service.scores.ultrasound import ultrasound_state
from service.pathways.state import Triage
from service.vocabulary import DvtStatus, Population, Tier, Topic

TOPIC = Topic.DVT_PATHWAY
REASON = "same-day paediatric assessment; Wells and D-dimer are not validated under 18, NG158 scope"


def evaluate(t: Triage) -> None:
    if t.population != Population.PAEDIATRIC or not t.dvt_suspected:
        return
    facts = t.facts
    t.us_state = ultrasound_state(facts)
    t.dvt_status = DvtStatus.OPEN
    draft = CardDraft(topic=TOPIC, tier=Tier.EMERGENCY_SAME_DAY, guidelines=["ng158"])
    draft.add_rule("DVT-PAEDIATRIC")
    if facts.age_range is not None:
        draft.evidence.append(f"Age {facts.age_range.label}. {facts.patient_ref}")
        if facts.age_under(18) is None:
            draft.evidence.append(facts.age_range.straddle_note("under 18", "the paediatric variant was used"))
    draft.evidence.extend(mc.suspicion_lines(t))
    mc.suggest(draft, Suggest("venous-duplex-us", "DVT-PAEDIATRIC", REASON))
    mc.not_suggest(draft, "d-dimer", "not validated under 18 (NG158 covers adults only).")
    draft.recommendation.append("Same-day paediatric assessment and leg-vein duplex ultrasound. Wells and D-dimer "
                                "are not validated under 18 (NG158 scope).")
    draft.summary = "Suspected DVT under 18: same-day paediatric assessment and leg-vein duplex ultrasound"
    draft.headline = ("**Suspected DVT under 18.** Same-day paediatric assessment and leg-vein duplex ultrasound; "
                      "Wells and D-dimer are not validated under 18.")
    # a superseding PE card lists the card's findings (§6.1, §7.2)
    t.dvt_carried_by_pe = CardDraft(topic=TOPIC, tier=draft.tier, evidence=mc.suspicion_lines(t) + draft.evidence)
    mc.finish(draft, t)
