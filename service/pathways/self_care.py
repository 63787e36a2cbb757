"""Self-care with safety net (clinical-rules §6.15).

Fires only when nothing above self-care is produced, the minimum triage dataset is known and
reassuring, no PE symptom is unresolved and the whole chart was read. If the dataset fails only
because of unknowns, ASSESS-TRIAGE-INCOMPLETE (urgent) takes its place (added by assessment).
"""
from __future__ import annotations

from service.drafts import TIER_RANK, CardDraft, NotSuggested
from service.evidence import cite
from service.pathways.minimum_dataset import minimum_dataset
from service.triage import Triage

NOT_SUGGESTED = ("d-dimer", "venous-duplex-us", "knee-xray", "mri-knee", "cbc", "crp", "esr", "ctpa")
BENIGN_SETS = {"calf-strain": "calf strain", "hamstring-strain": "hamstring strain"}


def _only_self_care_cards(t: Triage) -> bool:
    return all(TIER_RANK[d.tier] >= TIER_RANK["self-care"] for d in t.cards.values())


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
    draft = CardDraft(topic="self-care", tier="self-care", safety_net=True)
    draft.add_rule("SELF-CARE")
    dvt = t.cards.pop("dvt-pathway", None)
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
    draft.recommendation.append("Relative rest, ice or heat, simple analgesia, graded return to activity.")
    for orderable in NOT_SUGGESTED:
        draft.not_recommended.append(NotSuggested(orderable, "nothing recorded points to a cause that needs it."))
    draft.guidelines.append("ng158")
    t.add_card(draft)
