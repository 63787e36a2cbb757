"""Self-care with safety net (clinical-rules §6.15).

Fires only when nothing above self-care is produced, the minimum triage dataset is known and
reassuring, no PE symptom is unresolved and the whole chart was read. If the dataset fails only
because of unknowns, ASSESS-TRIAGE-INCOMPLETE (urgent) takes its place (added by assessment).
"""
from __future__ import annotations

from service.cards.draft import CardDraft, NotSuggested
from service.vocabulary import Tier, Topic
from service.cards.evidence import cite
from service.pathways.minimum_dataset import minimum_dataset
from service.pathways.state import Triage

NOT_SUGGESTED = ("d-dimer", "venous-duplex-us", "knee-xray", "mri-knee", "cbc", "crp", "esr", "ctpa")
BENIGN_SETS = {"calf-strain": "calf strain", "hamstring-strain": "hamstring strain"}

# §6.15: the source document's home care, one line each, in plain words (the card's Recommendation)
HOME_CARE = (
    "Rest and change activity: cut back on running, jumping and deep squats for several days, then build up "
    "again gradually.",
    "Ice: 10–15 minutes at a time, a few times a day, with a cloth between the ice and the skin.",
    "Support: a soft knee sleeve or an elastic bandage, not so tight that it causes numbness.",
    "Raise the leg on pillows when resting, to reduce swelling.",
    "Gentle calf and hamstring stretches, if they do not make the pain worse.",
)
PAIN_RELIEF = ("Pain relief: paracetamol; an anti-inflammatory painkiller (for example ibuprofen) only where it is "
               "safe for you, as directed on the pack. If you have kidney, heart, stomach or bleeding problems, take "
               "a blood thinner or are pregnant, ask a pharmacist or doctor before taking one.")
PAIN_RELIEF_NO_NSAID = ("Pain relief: paracetamol. Do not take anti-inflammatory painkillers such as ibuprofen or "
                        "naproxen, including ones bought without a prescription")
NSAID_CAUTION_RULE = "SELF-CARE-NSAID-CAUTION"


def _cited(sources) -> str:
    return ", ".join(f"{s.display} ({s.ref})" if s.display and s.display != s.ref else s.ref for s in sources)


def n1_anticoagulant(facts) -> str | None:
    ac = facts.anticoagulation
    if ac.state in ("current", "prophylactic") and ac.sources:
        return f"because you take {_cited(ac.sources)}: an anti-inflammatory adds to its bleeding risk (stomach and elsewhere)"
    if ac.state == "uncertain":
        what = _cited(ac.sources) if ac.sources else "; ".join(ac.reasons) or "the medication lists"
        return (f"because you may still be taking an anticoagulant ({what}): an anti-inflammatory adds to the "
                "bleeding risk of an anticoagulant (stomach and elsewhere)")
    return None


def _condition_finding(set_name: str, what: str, reason: str):
    def finding(facts) -> str | None:
        found = facts.conditions_in(set_name)         # counted Conditions, any clinicalStatus (§1.2)
        if not found:
            return None
        return f"because {what} is recorded ({', '.join(c.source.ref for c in found)}): {reason}"
    return finding


def n5_pregnant(facts) -> str | None:
    preg = facts.pregnancy
    if preg.state != "pregnant":
        return None
    refs = ", ".join(s.ref for s in preg.sources) or "pregnancy recorded"
    return (f"because you are pregnant ({refs}): anti-inflammatories are not recommended in pregnancy unless a "
            "doctor advises them, especially from 20 weeks (risk to the baby's kidneys and heart)")


# §6.15 SELF-CARE-NSAID-CAUTION [design; NICE CKS NSAIDs: prescribing issues; MHRA Drug Safety Update]:
# each finding (N1–N5) is a named predicate returning its card line, or None
NSAID_FINDINGS = (
    ("N1", n1_anticoagulant),
    ("N2", _condition_finding("chronic-kidney-disease", "chronic kidney disease",
                              "anti-inflammatories can worsen kidney function")),
    ("N3", _condition_finding("heart-failure", "heart failure",
                              "anti-inflammatories cause fluid retention and can worsen heart failure")),
    ("N4", _condition_finding("peptic-ulcer-gi-bleeding", "a stomach ulcer or bleeding from the gut",
                              "risk of a stomach ulcer or bleeding")),
    ("N5", n5_pregnant),
)


def nsaid_caution_lines(facts) -> list[str]:
    return [line for _name, finding in NSAID_FINDINGS if (line := finding(facts))]


def home_care(facts) -> tuple[list[str], bool]:
    """The Recommendation lines, and whether the NSAID caution fired."""
    caution = nsaid_caution_lines(facts)
    if not caution:
        return list(HOME_CARE) + [PAIN_RELIEF], False
    return list(HOME_CARE) + [PAIN_RELIEF_NO_NSAID] + [f"{line[:1].upper()}{line[1:]}." for line in caution], True


def _only_self_care_cards(t: Triage) -> bool:
    return all(Tier.of(d.tier).rank >= Tier.SELF_CARE.rank for d in t.cards.values())


def eligible(t: Triage) -> bool:
    if not _only_self_care_cards(t):
        return False
    if t.pe_symptom and not t.pe_excluded_rule:
        return False
    if t.facts.fetch_problems or t.facts.unresolved_medications:
        return False
    mtd = minimum_dataset(t)
    return mtd.complete and mtd.short and mtd.swelling_ok and not mtd.red_flags_true


def evaluate(t: Triage) -> None:
    if t.assessment or not eligible(t):
        return
    facts = t.facts
    mtd = minimum_dataset(t)
    draft = CardDraft(topic=Topic.SELF_CARE, tier=Tier.SELF_CARE, safety_net=True)
    draft.add_rule("SELF-CARE")
    dvt = t.cards.pop(Topic.DVT_PATHWAY, None)
    side = facts.ka_value("symptom-side")
    where = {"left": "behind the left knee", "right": "behind the right knee",
             "bilateral": "behind both knees"}.get(side, "behind the knee")
    days = f" ({int(mtd.duration_days)} days)" if mtd.duration_days and mtd.duration_days >= 1 else ""
    if dvt is not None:
        # §7.2: the excluded DVT result is carried onto this card, which owns its scores (§4.11)
        for rule in dvt.rules:
            draft.add_rule(rule)
        draft.scores.update(dvt.scores)
        for flag in dvt.flags:
            draft.add_flag(flag)
        draft.evidence.extend(dvt.evidence)
        draft.recommendation.extend(line for line in dvt.recommendation if "interim" in line.lower())
        draft.quality.extend(dvt.quality)
        draft.summary = f"Self-care with safety net: DVT excluded by the NG158 pathway; pain {where}{days}"
        draft.headline = (f"**Self-care with safety net.** DVT is unlikely by the NG158 pathway "
                          f"({', '.join(r for r in dvt.rules if r.startswith(('DVT-', 'PREG-')))}); "
                          "consider an alternative diagnosis (strain, Baker's cyst, OA, cellulitis).")
    else:
        draft.summary = f"Self-care with safety net: no red flag recorded for pain {where}{days}"
        draft.headline = f"**Self-care with safety net.** No red flag is recorded for this ache {where}{days}."
    if mtd.onset_line:
        draft.evidence.insert(0, mtd.onset_line)
    reassuring = [f"{code.replace('-', ' ')}: no ({cite(facts.ka[code].winner.source)})"
                  for code in ("leg-swelling",) if facts.ka_false(code) and facts.ka[code].winner]
    draft.evidence.extend(reassuring)
    if not t.dvt_suspected:
        draft.evidence.append("DVT not suspected (DVT-NOT-SUSPECTED): no swelling, deep-vein tenderness or VTE risk factor recorded.")
    draft.evidence.extend(t.carry_evidence)
    causes = [f"{label}: {cite(c.source)}" for name, label in BENIGN_SETS.items() for c in facts.conditions_in(name)]
    if causes:
        draft.evidence.append("Likely benign cause recorded: " + "; ".join(causes))
    if mtd.not_recorded:
        draft.extra.append(("Not recorded, covered by the safety net", [", ".join(mtd.not_recorded)]))
    lines, caution = home_care(facts)
    draft.recommendation.extend(lines)
    if caution:
        draft.add_rule(NSAID_CAUTION_RULE)
        draft.guidelines.append("nsaid")
    for orderable in NOT_SUGGESTED:
        draft.not_recommended.append(NotSuggested(orderable, "nothing recorded points to a cause that needs it."))
    draft.guidelines.insert(0, "ng158")          # §7.5: NG158 is the self-care card's main link
    t.add_card(draft)
