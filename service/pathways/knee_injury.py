"""Knee injury imaging (topic ``knee-injury-imaging``), clinical-rules §6.9: Stiell (Ottawa), Seaberg
(Pittsburgh), ACR AC Acute Trauma to the Knee.

Rows R1–R9. Several rows can fire together: one card lists them all, with a single ``knee-xray``
suggestion, and takes the most urgent tier. R2–R4 are skipped when a radiograph after the injury
exists (R6–R8 apply instead). R9 (rules negative) makes no card: OTTAWA-NEG and KNEE-INJURY-NO-XR go
to ``t.carry_rules`` with their evidence and "not suggested" entries (§7.2).
"""
from __future__ import annotations

from datetime import timedelta

from service.cards.text import clip_summary
from service.cards.draft import CardDraft, NotSuggested, Suggest
from service.cards.evidence import ago, cite, fmt_date, fmt_time
from service.chart.dates import months_before
from service.chart.facts import Facts, Value
from service.pathways import drafting as mc
from service.scores import ottawa_knee, pittsburgh_knee
from service.scores.injury import InjuryEpisode, injury_episode
from service.scores.ottawa_knee import OttawaResult
from service.scores.pittsburgh_knee import PittsburghResult
from service.pathways.state import Triage
from service.vocabulary import Tier, Topic

TOPIC = Topic.KNEE_INJURY_IMAGING
R1_XR_WINDOW = timedelta(hours=24)           # §7.7: R1 radiograph counts within 24 h
NO_FRACTURE = ("normal-or-effusion-only", "osteoarthritis")

MRI_FIRST = "not an initial test after a knee injury: radiographs first (ACR AC Acute Trauma to the Knee)"
ROW_TIER = {
    "KNEE-DISLOCATION": Tier.EMERGENCY_IMMEDIATE,
    "OTTAWA-POS": Tier.URGENT, "OTTAWA-INDETERMINATE": Tier.URGENT, "PITTSBURGH-POS": Tier.URGENT,
    "KNEE-INJURY-PRIOR-SURGERY": Tier.URGENT, "ACR-EFFUSION-XR": Tier.URGENT,
    "KNEE-DERANGEMENT-XR-FIRST": Tier.URGENT, "KNEE-DERANGEMENT-MRI": Tier.URGENT, "KNEE-FRACTURE": Tier.URGENT,
    "KNEE-INJURY-XR-NO-FRACTURE": Tier.ROUTINE,
}
XR_REASON = {
    "KNEE-DISLOCATION": "suspected knee dislocation: radiographs now",
    "OTTAWA-POS": "Ottawa knee rule positive: knee radiographs, same day preferred",
    "OTTAWA-INDETERMINATE": "Ottawa knee rule indeterminate (items unknown): imaged as positive",
    "PITTSBURGH-POS": "Pittsburgh knee rule positive or indeterminate",
    "KNEE-INJURY-PRIOR-SURGERY": "prosthesis or prior surgery: the rules do not apply; image",
    "ACR-EFFUSION-XR": "effusion after an acute injury: radiography usually appropriate (ACR variant 2)",
    "KNEE-DERANGEMENT-XR-FIRST": "locking or giving way: radiographs first, then MRI without IV contrast if no fracture",
}

# the first row that fired -> (summary, headline); the other radiograph rows share RADIOGRAPH_SUMMARY
SUMMARY_TEXT = {
    "KNEE-DISLOCATION": ("Suspected knee dislocation: emergency now, check pulses; knee radiographs and ABI",
                         "**Suspected knee dislocation (ACR AC Acute Trauma to the Knee).** Emergency assessment now: "
                         "pulses, neurovascular status, radiographs and ABI."),
    "KNEE-DERANGEMENT-MRI": ("MRI knee without IV contrast: locking or giving way after injury, radiograph without "
                             "fracture",
                             "**Internal derangement suspected after a radiograph without fracture (ACR variant 3).** "
                             "MRI knee without IV contrast."),
    "KNEE-FRACTURE": ("Knee fracture on radiograph: same-day orthopaedic or fracture clinic review",
                      "**Knee fracture on the radiograph.** Same-day orthopaedic or fracture clinic review."),
    "KNEE-INJURY-XR-NO-FRACTURE": ("Soft-tissue knee injury, radiograph without fracture: review if not improving in "
                                   "1–2 weeks",
                                   "**Soft-tissue knee injury: radiograph without fracture.** Review if not improving "
                                   "in 1–2 weeks or if locking or giving way develops."),
}
RADIOGRAPH_SUMMARY = ("Knee radiograph, same day preferred ({scores})",
                      "**Knee injury: radiographs indicated ({scores}).** Knee radiographs, same day preferred; MRI is "
                      "not a first test (Stiell, Seaberg, ACR AC).")
LOCKED_KNEE = "A knee locked in flexion that cannot extend -> same-day orthopaedics."
BLUNT_PCL = "Blunt (dashboard) injury: suspected PCL injury -> MRI without IV contrast after radiographs."
# Recommendation lines in card order, each with the rows that call for it
RECOMMENDATIONS = (
    (("KNEE-DISLOCATION",),
     "Suspected knee dislocation: emergency department now. Check distal pulses and neurovascular status now; ABI < "
     "0.9 or abnormal pulses -> CT angiography; radiographs, MRI and angiography if dislocation is confirmed (ACR)."),
    (tuple(rule for rule in XR_REASON if rule != "KNEE-DISLOCATION"),
     "Knee radiographs (AP and lateral), same day preferred (suggested)."),
    (("OTTAWA-INDETERMINATE",),
     "Ottawa knee rule indeterminate: the unknown items are listed above; imaging follows the positive branch until "
     "they are recorded."),
    (("KNEE-INJURY-PRIOR-SURGERY",),
     "Prosthesis or prior knee surgery: the Ottawa and Pittsburgh rules do not apply; image."),
    (("ACR-EFFUSION-XR",),
     "Effusion after an acute injury: radiography is usually appropriate even when Ottawa is negative (ACR variant 2)."),
    (("KNEE-DERANGEMENT-XR-FIRST",),
     "Locking or giving way after the injury: radiographs first, then MRI without IV contrast if they show no "
     "fracture; review within days."),
    (("KNEE-DERANGEMENT-MRI",),
     "Radiograph after the injury without fracture and derangement features: MRI knee without IV contrast (ACR "
     "variant 3, suggested)."),
    (("KNEE-DERANGEMENT-XR-FIRST", "KNEE-DERANGEMENT-MRI"), LOCKED_KNEE),
    (("KNEE-FRACTURE",),
     "Fracture on the radiograph: same-day orthopaedic / fracture clinic review; a Segond fracture -> MRI per "
     "orthopaedics."),
    (("KNEE-INJURY-XR-NO-FRACTURE",),
     "Soft-tissue injury: review if not improving in 1–2 weeks or if locking or giving way develops."),
)


def evaluate(t: Triage) -> None:
    facts = t.facts
    episode = injury_episode(facts)
    deformity = facts.ka_true("knee-deformity")
    if episode is None and not deformity:
        return
    ottawa = ottawa_knee.score(facts, episode)
    pittsburgh = pittsburgh_knee.score(facts, episode)
    for key, value in {**ottawa.score_keys(), **pittsburgh.score_keys()}.items():
        t.scores[key] = value

    rows = _rows(facts, episode, deformity, ottawa, pittsburgh)
    if not rows:
        if _rules_negative(facts, episode, ottawa, pittsburgh):
            _carry_rules_negative(t, episode, ottawa, pittsburgh)
        return
    draft = _card(t, episode, deformity, ottawa, pittsburgh, rows)
    mc.finish(draft, t)


# -- decisions -------------------------------------------------------------------------------
def _after_injury(facts: Facts, episode: InjuryEpisode | None) -> Value | None:
    """"Radiograph after injury": a ka:knee-radiograph-result dated on or after the injury."""
    return None if episode is None else mc.radiograph_since(facts, episode.time)


def _derangement(facts: Facts) -> bool:
    return facts.ka_true("knee-locking") or facts.ka_true("knee-giving-way")


def _rows(facts: Facts, episode: InjuryEpisode | None, deformity: bool, ottawa: OttawaResult,
          pittsburgh: PittsburghResult) -> list[str]:
    """The rules of R1–R8 that fire, in firing order."""
    rows: list[str] = []
    if deformity:
        rows.append("KNEE-DISLOCATION")                       # R1, with or without a recorded injury
    if episode is None:
        return rows
    xr = _after_injury(facts, episode)
    acute = episode.acute
    derangement = _derangement(facts)
    if acute and xr is None:                                   # R2–R4 only before a radiograph
        if ottawa.applies and ottawa.value is True:
            rows.append("OTTAWA-POS")                          # R2
        if ottawa.indeterminate:
            rows.append("OTTAWA-INDETERMINATE")                # R2b
        if pittsburgh.positive_or_indeterminate:
            rows.append("PITTSBURGH-POS")                      # R3
        if episode.fall_or_blunt and episode.surgery_on_record:
            rows.append("KNEE-INJURY-PRIOR-SURGERY")           # R3b
        if facts.ka_true("joint-effusion"):
            rows.append("ACR-EFFUSION-XR")                     # R4
    if derangement and xr is None:
        rows.append("KNEE-DERANGEMENT-XR-FIRST")               # R5
    if derangement and xr is not None and xr.value in NO_FRACTURE:
        rows.append("KNEE-DERANGEMENT-MRI")                    # R6
    if xr is not None and xr.value == "fracture":
        rows.append("KNEE-FRACTURE")                           # R7
    if acute and xr is not None and xr.value in NO_FRACTURE and not derangement:
        rows.append("KNEE-INJURY-XR-NO-FRACTURE")              # R8
    return rows


def _rules_negative(facts: Facts, episode: InjuryEpisode | None, ottawa: OttawaResult,
                    pittsburgh: PittsburghResult) -> bool:
    """R9: acute; Ottawa false; Pittsburgh false or not applicable; effusion not true; no derangement
    features; no radiograph after the injury (then R8 applies instead)."""
    return (episode is not None and episode.acute and ottawa.applies and ottawa.value is False
            and (not pittsburgh.applies or pittsburgh.value is False)
            and not facts.ka_true("joint-effusion") and not _derangement(facts)
            and _after_injury(facts, episode) is None)


def _carry_rules_negative(t: Triage, episode: InjuryEpisode, ottawa: OttawaResult,
                          pittsburgh: PittsburghResult) -> None:
    """R9 makes no card: its rules, evidence and "not suggested" entries go to the most urgent card (§7.2)."""
    for rule in ("OTTAWA-NEG", "KNEE-INJURY-NO-XR"):
        if rule not in t.carry_rules:
            t.carry_rules.append(rule)
    lines = [_injury_line(episode)]
    lines.append("Ottawa knee rule negative (OTTAWA-NEG): all five items known and negative ("
                 + "; ".join(f"{i.detail}" for i in ottawa.items) + ")")
    if pittsburgh.applies:
        lines.append("Pittsburgh knee rule negative: " + "; ".join(i.detail for i in pittsburgh.items))
    sources = [s for i in ottawa.items for s in i.sources]
    if sources:
        lines.append(mc.source_line("Ottawa items", sources))
    t.carry_evidence.extend(line for line in lines if line not in t.carry_evidence)
    for orderable, reason in (
        ("knee-xray", "KNEE-INJURY-NO-XR: fracture probability < 1.5% when Ottawa is negative"),
        ("mri-knee", f"KNEE-INJURY-NO-XR: {MRI_FIRST}"),
    ):
        if not any(n.orderable == orderable for n in t.carry_not_recommended):
            t.carry_not_recommended.append(NotSuggested(orderable, reason))


# -- the card --------------------------------------------------------------------------------
def _card(t: Triage, episode: InjuryEpisode | None, deformity: bool, ottawa: OttawaResult,
          pittsburgh: PittsburghResult, rows: list[str]) -> CardDraft:
    facts = t.facts
    draft = mc.card_for_rows(TOPIC, rows, ROW_TIER)
    draft.guidelines += ["ottawa", "acr"]
    draft.scores.update(ottawa.score_keys())
    draft.scores.update(pittsburgh.score_keys())
    xr = _after_injury(facts, episode)

    _evidence(facts, draft, episode, ottawa, pittsburgh, xr)
    _unknowns(facts, draft, episode, ottawa, pittsburgh)
    _suggestions(t, draft, episode, rows, xr)
    _recommendations(draft, episode, rows)
    draft.summary, draft.headline = _summary(rows, ottawa, pittsburgh, xr)
    return draft


def _injury_line(episode: InjuryEpisode) -> str:
    what = episode.mechanism or "knee injury (Condition)"
    when = "time unknown" if episode.time is None else f"{ago(episode.now, episode.time)} ({fmt_time(episode.time)})"
    refs = []
    if episode.mechanism_source:
        refs.append(cite(episode.mechanism_source))
    if episode.time_from == "injury-date" and episode.time_source:
        refs.append(cite(episode.time_source))
    refs += [cite(s) for s in episode.conditions]
    line = f"Injury: {what}, {when}"
    if "injury-date-unknown" in episode.flags:
        line += "; injury date not recorded (ka:injury-date): the time of the record was used"
    return line + (". " + ", ".join(refs) if refs else "")


def _evidence(facts: Facts, draft: CardDraft, episode: InjuryEpisode | None, ottawa: OttawaResult,
              pittsburgh: PittsburghResult, xr: Value | None) -> None:
    if episode is not None:
        draft.evidence.append(_injury_line(episode))
        for flag in sorted(episode.flags & mc.CARD_FLAGS):
            draft.add_flag(flag)
        for code in ("injury-mechanism", "injury-date"):
            mc.use_reading(draft, facts.ka.get(code))
    line = mc.ka_line(facts, "knee-deformity", draft=draft)
    if line and facts.ka_true("knee-deformity"):
        draft.evidence.append(line)
    if ottawa.applies:
        for item in ottawa.items:
            mc.use_item(draft, item)
            mc.use_reading(draft, facts.ka.get(item.code))
            if item.known:
                draft.evidence.append(mc.item_line(item, "Ottawa +" if item.state else "Ottawa 0"))
        verdict = ("positive" if ottawa.value else "negative (all five items known and negative)"
                   if ottawa.value is False else
                   f"indeterminate ({len(ottawa.unknown)} item(s) unknown): handled as positive")
        draft.evidence.append(f"Ottawa knee rule: {verdict}")
    elif episode is not None:
        draft.evidence.append(f"Ottawa knee rule not applicable: {ottawa.reason}")
    if pittsburgh.applies:
        for item in pittsburgh.items:
            mc.use_reading(draft, facts.ka.get(item.code))
            if item.known:
                draft.evidence.append(mc.item_line(item, "Pittsburgh +" if item.state else "Pittsburgh 0"))
        verdict = ("positive" if pittsburgh.value else "negative" if pittsburgh.value is False
                   else "indeterminate: handled as positive")
        draft.evidence.append(f"Pittsburgh knee rule: {verdict}")
    elif episode is not None:
        draft.evidence.append(f"Pittsburgh knee rule not applicable: {pittsburgh.reason}")
    if episode is not None and episode.knee_surgery:
        draft.evidence.append(mc.source_line("Knee surgery or prosthesis on record", episode.knee_surgery))
    for code in ("joint-effusion", "knee-locking", "knee-giving-way"):
        line = mc.ka_line(facts, code, draft=draft)
        if line:
            draft.evidence.append(line)
    if xr is not None:
        draft.evidence.append(mc.radiograph_line(xr) + " (after the injury)")
        for flag in sorted(set(xr.flags) & mc.CARD_FLAGS):
            draft.add_flag(flag)


def _unknowns(facts: Facts, draft: CardDraft, episode: InjuryEpisode | None, ottawa: OttawaResult,
              pittsburgh: PittsburghResult) -> None:
    for item in ottawa.unknown:
        how = "record the date of birth" if item.code == "age" else mc.how_to_record(item.code)
        draft.unknown.append(f"Ottawa item not recorded: {item.label} ({how}). Until it is, the rule is "
                             "indeterminate and the radiograph is suggested.")
    for item in pittsburgh.unknown:
        if ottawa.applies and any(o.code == item.code for o in ottawa.unknown):
            continue
        how = "record the date of birth" if item.code == "age" else mc.how_to_record(item.code)
        draft.unknown.append(f"Pittsburgh item not recorded: {item.label} ({how}); handled as positive.")
    if episode is not None:
        missing = [c for c in ("knee-locking", "knee-giving-way", "joint-effusion") if facts.ka_value(c) is None]
        if missing:
            draft.unknown.append(
                "Not recorded: " + ", ".join(mc.KA_LABELS[c].lower() for c in missing)
                + " (ka:" + ", ka:".join(missing) + ", true/false). Locking or giving way would add the internal "
                "derangement route (radiographs, then MRI without IV contrast); an effusion makes radiography "
                "usually appropriate.")
        if episode.time is None:
            draft.unknown.append("When the injury happened is unknown (ka:injury-date): handled as acute.")


def _suggestions(t: Triage, draft: CardDraft, episode: InjuryEpisode | None, rows: list[str],
                 xr: Value | None) -> None:
    facts = t.facts
    xr_rules = [r for r in rows if r in XR_REASON]
    if xr_rules:
        # §7.7: a radiograph on/after the injury counts (R1: within 24 h); the stricter window wins
        since = facts.now - R1_XR_WINDOW
        if "KNEE-DISLOCATION" not in xr_rules and episode is not None and episode.time is not None:
            since = episode.time
        reason = XR_REASON[xr_rules[0]]
        if len(xr_rules) > 1:
            reason += "; also " + ", ".join(r for r in xr_rules[1:])
        note = "weight-bearing if possible; AP and lateral (patellar view if needed)"
        if "KNEE-DERANGEMENT-XR-FIRST" in xr_rules:
            note += "; then MRI without IV contrast if radiographs show no fracture"
        mc.suggest(draft, Suggest("knee-xray", xr_rules[0], reason, note=note, done_since=since))
    if "KNEE-DISLOCATION" in rows:
        mc.suggest(draft, Suggest("abi", "KNEE-DISLOCATION",
                                  "suspected dislocation: ABI now; < 0.9 or abnormal pulses -> CT angiography"))
        mc.not_suggest(draft, "mri-knee", "later: after radiographs (and angiography if indicated), once "
                                          "dislocation is confirmed")
        mc.dvt_tests_not_suggested(t, draft, duplex=False, why="not a test for a dislocated knee; no DVT suspicion recorded")
    if "KNEE-DERANGEMENT-MRI" in rows:
        mc.suggest(draft, Suggest("mri-knee", "KNEE-DERANGEMENT-MRI",
                                  "MRI knee without IV contrast: derangement features after a radiograph without "
                                  "fracture (ACR variant 3)",
                                  done_since=months_before(facts.now, 12)))  # §7.7 mri-knee: done within 12 months
    if any(r in rows for r in ("OTTAWA-POS", "OTTAWA-INDETERMINATE", "PITTSBURGH-POS",
                               "KNEE-INJURY-PRIOR-SURGERY", "ACR-EFFUSION-XR")):
        mc.not_suggest(draft, "mri-knee", MRI_FIRST)
        mc.dvt_tests_not_suggested(t, draft)
    if "KNEE-DERANGEMENT-XR-FIRST" in rows:
        mc.not_suggest(draft, "mri-knee", "not before radiographs; MRI with IV contrast or MR arthrography are not "
                                          "appropriate first tests either (not in the catalog)")
    if xr is not None and any(r in rows for r in ("KNEE-DERANGEMENT-MRI", "KNEE-FRACTURE",
                                                   "KNEE-INJURY-XR-NO-FRACTURE")):
        mc.not_suggest(draft, "knee-xray", f"done: radiograph {fmt_date(xr.time)} after the injury ({xr.source.ref})")
    if "KNEE-INJURY-XR-NO-FRACTURE" in rows:
        mc.not_suggest(draft, "mri-knee", "no derangement features after a radiograph without fracture")


def _recommendations(draft: CardDraft, episode: InjuryEpisode | None, rows: list[str]) -> None:
    blunt = episode is not None and episode.mechanism == "blunt"
    for fired_by, text in RECOMMENDATIONS:
        if any(rule in rows for rule in fired_by):
            draft.recommendation.append(text)
            if text == LOCKED_KNEE and blunt:
                draft.recommendation.append(BLUNT_PCL)


def _summary(rows: list[str], ottawa: OttawaResult, pittsburgh: PittsburghResult,
             xr: Value | None) -> tuple[str, str]:
    scores = []
    if ottawa.applies:
        scores.append("Ottawa " + ("positive" if ottawa.value else "negative" if ottawa.value is False
                                   else "indeterminate"))
    if pittsburgh.applies:
        scores.append("Pittsburgh " + ("positive" if pittsburgh.value else "negative" if pittsburgh.value is False
                                       else "indeterminate"))
    if "ACR-EFFUSION-XR" in rows:
        scores.append("effusion")
    if "KNEE-DERANGEMENT-XR-FIRST" in rows:
        scores.append("locking/giving way")
    score_text = ", ".join(scores)
    summary, headline = SUMMARY_TEXT.get(rows[0], RADIOGRAPH_SUMMARY)
    return clip_summary(summary.format(scores=score_text)), headline.format(scores=score_text)
