"""Response assembly (clinical-rules §7.2–§7.4, §7.7): pure, CardDraft in, CardDraft out."""
from __future__ import annotations

from datetime import datetime, timedelta

from service.cards.draft import TOPIC_ORDER, CardDraft, NotSuggested
from service.cards.merge import limb_supersedes_paes, pe_supersedes_dvt, review_into_dvt
from service.cards.text import CARD_FLAGS, ORDERABLE_TITLES, explains, lower_first, references
from service.chart.dates import months_before
from service.cards.evidence import ago, cite, fmt_time
from service.chart.facts import Facts
from service.pathways.state import Triage
from service.vocabulary import KNEE_IMAGING, DvtStatus, Tier, Topic


def sort_key(d: CardDraft) -> tuple[int, int]:
    return Tier(d.tier).rank, TOPIC_ORDER.index(d.topic)


# -- §7.2 suppression ---------------------------------------------------------------------------
def carry_to_most_urgent(t: Triage) -> None:
    rules = list(t.carry_rules)
    if not t.dvt_suspected and t.cards and "DVT-NOT-SUSPECTED" not in rules:
        rules.append("DVT-NOT-SUSPECTED")
    if not t.cards or not rules:
        return
    top = sorted(t.cards.values(), key=sort_key)[0]
    for rule in rules:
        top.add_rule(rule)
    for key, value in t.carry_scores.items():
        top.scores.setdefault(key, value)       # §4.11: a PERC that excluded PE goes on the top card
    if top.topic != "self-care":
        top.evidence.extend(line for line in t.carry_evidence if line not in top.evidence)
        for n in t.carry_not_recommended:
            if not top.suggests(n.orderable) and not top.forbids(n.orderable):
                top.not_recommended.append(n)


# -- §7.3 one test, two cards -------------------------------------------------------------------
def hard_blocks(t: Triage) -> dict[str, str]:
    facts = t.facts
    blocked: dict[str, str] = {}
    if facts.pregnancy.state in ("pregnant", "postpartum"):
        blocked["d-dimer"] = "D-dimer is not used to investigate VTE in pregnancy or postpartum (RCOG GTG 37b)."
    elif facts.age_range is not None and facts.age_under(18) is not False:   # a range reaching below 18 too
        blocked["d-dimer"] = "D-dimer is not validated under 18 (NG158 scope)."
    elif t.already_anticoagulated or t.imaging_first:
        blocked["d-dimer"] = "D-dimer is unreliable on anticoagulation or in the imaging-first group: image first."
    if t.dvt_status == DvtStatus.OPEN:
        blocked["mri-knee"] = "knee assessment and imaging once DVT is excluded."
        blocked["popliteal-us"] = "the venous duplex also shows a cyst; popliteal imaging once DVT is excluded."
    urgent_vascular = any(
        d.topic in ("pe-emergency", "limb-ischaemia") and d.tier == Tier.EMERGENCY_IMMEDIATE for d in t.cards.values()
    )
    if urgent_vascular:
        for orderable in KNEE_IMAGING:
            blocked.setdefault(orderable, "no knee imaging while a life-threatening vascular emergency is open.")
    return blocked


def resolve_conflicts(t: Triage) -> None:
    blocked = hard_blocks(t)
    dislocation = t.cards.get(Topic.KNEE_INJURY_IMAGING)
    for draft in t.cards.values():
        keep = []
        for s in draft.suggestions:
            reason = blocked.get(s.orderable)
            exempt = (s.orderable == "knee-xray" and dislocation is draft and "KNEE-DISLOCATION" in draft.rules)
            if reason and not exempt:
                if not draft.forbids(s.orderable):
                    draft.not_recommended.append(NotSuggested(s.orderable, reason))
                continue
            keep.append(s)
        draft.suggestions = keep
    cards = sorted(t.cards.values(), key=sort_key)
    for i, draft in enumerate(cards):
        keep = []
        for s in draft.suggestions:
            beaten = False
            for other in cards:
                if other is draft:
                    continue
                rank_other, rank_mine = Tier(other.tier).rank, Tier(draft.tier).rank
                if other.forbids(s.orderable) and not other.suggests(s.orderable):
                    # parallel work-up: injury/septic/mass radiographs stay while DVT is open (§7.3 item 2)
                    parallel = (s.orderable == "knee-xray" and other.topic == "dvt-pathway"
                                and draft.topic in ("knee-injury-imaging", "septic-arthritis", "popliteal-mass"))
                    if not parallel and rank_other <= rank_mine:
                        beaten = True
                        break
                if other.suggests(s.orderable) and cards.index(other) < i:
                    draft.recommendation.append(f"{s.orderable}: see the {other.topic} card.")
                    beaten = True
                    break
            if not beaten:
                keep.append(s)
        draft.suggestions = keep


# -- §7.7 already ordered or done ---------------------------------------------------------------
OPEN_ORDER_WINDOW = {
    "venous-duplex-us": timedelta(hours=24), "d-dimer": timedelta(hours=24), "ctpa": timedelta(hours=24),
    "knee-xray": timedelta(days=30), "mri-knee": timedelta(days=90), "popliteal-us": timedelta(days=30),
    "abi": timedelta(days=30), "arterial-duplex": timedelta(days=30), "cbc": timedelta(hours=24),
    "crp": timedelta(hours=24), "esr": timedelta(hours=24), "blood-culture": timedelta(hours=24),
    "arthrocentesis": timedelta(hours=24), "uric-acid": timedelta(days=30),
    "rheumatoid-factor": timedelta(days=30), "anti-ccp": timedelta(days=30),
    "pregnancy-test": timedelta(hours=24),
}
DONE_WINDOW = {
    "venous-duplex-us": timedelta(hours=24), "d-dimer": timedelta(hours=24), "ctpa": timedelta(hours=24),
    "cbc": timedelta(hours=24), "crp": timedelta(hours=24), "esr": timedelta(hours=24),
    "blood-culture": timedelta(hours=24), "arthrocentesis": timedelta(hours=24), "uric-acid": timedelta(days=30),
    "pregnancy-test": timedelta(hours=24),
}
TWELVE_MONTH_DONE = ("mri-knee", "rheumatoid-factor", "anti-ccp")
RESULT_LAB = {"cbc": ("wbc", timedelta(hours=24)), "crp": ("crp", timedelta(hours=24)),
              "esr": ("esr", timedelta(hours=24)), "blood-culture": ("blood_culture", timedelta(hours=24)),
              "uric-acid": ("urate", timedelta(days=30)), "rheumatoid-factor": ("rheumatoid_factor", None),
              "anti-ccp": ("anti_ccp", None)}
SINCE_ONSET = ("popliteal-us", "abi", "arterial-duplex")


def _done_since(facts: Facts, orderable: str, suggested_since: datetime | None) -> datetime:
    now = facts.now
    if orderable in DONE_WINDOW:
        return now - DONE_WINDOW[orderable]
    if orderable in TWELVE_MONTH_DONE:
        return months_before(now, 12)
    if suggested_since is not None:
        return suggested_since
    if orderable in SINCE_ONSET:
        onset = facts.ka_value("symptom-onset")
        return onset if isinstance(onset, datetime) else months_before(now, 3)
    return months_before(now, 12)


# §7.7 "the card says instead": what is on record, then what to do with it. {test} is the test's name.
REQUESTED_TEXT = {
    "venous-duplex-us": "Leg-vein ultrasound requested {when} ({ref}): result needed within 4 h "
                        "(24 h with interim anticoagulation)",
    "d-dimer": "D-dimer requested {when} ({ref}): act on the result (within 4 h)",
    "pregnancy-test": "Pregnancy test requested {when} ({ref}): act on its result before the D-dimer",
    "ctpa": "CTPA requested {when} ({ref}): do not delay it",
    "knee-xray": "Knee radiograph requested {when} ({ref}): result awaited",
    "mri-knee": "MRI knee requested {when} ({ref})",
    "popliteal-us": "Popliteal ultrasound requested {when} ({ref}): review the report; scan again if the lump changes",
    "abi": "{test} requested {when} ({ref}): review it; MRA or CTA with stress positioning if positive or equivocal",
    "arterial-duplex": "{test} requested {when} ({ref}): review it; MRA or CTA with stress positioning if positive "
                       "or equivocal",
    "cbc": "FBC requested {when} ({ref}): result pending",
    "blood-culture": "Blood cultures requested {when} ({ref}): result pending",
}
DONE_TEXT = {
    "venous-duplex-us": "Ultrasound done {when} ({ref}): record its result as ka:venous-ultrasound-result; the "
                        "pathway continues from it",
    "d-dimer": "D-dimer drawn {when} ({ref}): result not yet on record",
    "pregnancy-test": "Pregnancy test done {when} ({ref}): result not yet on record",
    "ctpa": "CTPA done {when} ({ref}): review the report; dismiss this card once PE is excluded",
    "knee-xray": "Knee radiograph done {when} ({ref}): record its result as ka:knee-radiograph-result; the next "
                 "step depends on it",
    "mri-knee": "MRI knee done {when} ({ref}): review its report; a repeat MRI is a specialist decision",
    "popliteal-us": "Popliteal ultrasound done {when} ({ref}): review the report; scan again if the lump changes",
    "abi": "{test} done {when} ({ref}): review it; MRA or CTA with stress positioning if positive or equivocal",
    "arterial-duplex": "{test} done {when} ({ref}): review it; MRA or CTA with stress positioning if positive or "
                       "equivocal",
    "cbc": "FBC taken {when} ({ref}): result pending",
    "blood-culture": "Blood cultures taken {when} ({ref}): result pending",
    "arthrocentesis": "Knee aspirated {when} ({ref}): chase Gram stain, culture, cell count and crystals",
}
RESULT_NAME = {"wbc": "WBC", "crp": "CRP", "esr": "ESR", "blood_culture": "Blood culture", "urate": "Urate",
               "rheumatoid_factor": "Rheumatoid factor", "anti_ccp": "Anti-CCP"}


def _requested(orderable: str, when, ref: str) -> str:
    text = REQUESTED_TEXT.get(orderable, "{test} requested {when} ({ref}): result awaited; act on it")
    return text.format(test=ORDERABLE_TITLES.get(orderable, orderable), when=fmt_time(when), ref=ref)


def _done(orderable: str, when, ref: str, what: str = "result") -> str:
    text = DONE_TEXT.get(orderable, "{test} done {when} ({ref}): review its " + what)
    return text.format(test=ORDERABLE_TITLES.get(orderable, orderable), when=fmt_time(when), ref=ref)


def on_record(facts: Facts, orderable: str, suggested_since: datetime | None) -> str | None:
    """The line a card shows instead of suggesting the test, or None when nothing suppresses it."""
    now = facts.now
    # results first: the most informative thing to show
    if orderable in RESULT_LAB:
        key, window = RESULT_LAB[orderable]
        reading = facts.labs.get(key)
        if reading and reading.winner and reading.winner.time:
            if window is None or reading.winner.time >= now - window:
                v = reading.winner
                shown = getattr(v.value, "as_recorded", "") or str(v.value)
                return f"{RESULT_NAME.get(key, key)} {shown}, {ago(now, v.time)} ({cite(v.source, with_time=False)})"
    if orderable == "knee-xray":
        since = _done_since(facts, orderable, suggested_since)
        for value in facts.radiographs:
            if value.time and value.time >= since:
                return f"Knee radiograph {fmt_time(value.time)}: {value.value} ({value.source.ref})"
    if orderable == "pregnancy-test":        # §7.7: a set:pregnancy-test result within 24 h
        for value in facts.pregnancy_tests:
            if value.time and value.time >= now - timedelta(hours=24):
                return (f"Pregnancy test {value.value or 'result'}, {ago(now, value.time)} "
                        f"({cite(value.source, with_time=False)}): record pregnancy status (82810-3); the D-dimer "
                        "is used only once it is 'not pregnant'")
    for order in facts.orders:
        if orderable not in order.orderables:
            continue
        when = order.authored or order.occurrence
        if order.status == "active" and when and when >= now - OPEN_ORDER_WINDOW[orderable]:
            return _requested(orderable, when, order.source.ref)
        done_at = order.occurrence or order.authored
        if order.status == "completed" and done_at and done_at >= _done_since(facts, orderable, suggested_since):
            return _done(orderable, done_at, order.source.ref)
    for proc in facts.procedures:
        if orderable in proc.orderables and proc.time and proc.time >= _done_since(facts, orderable, suggested_since):
            return _done(orderable, proc.time, proc.source.ref)
    if orderable in ("knee-xray", "mri-knee", "popliteal-us", "abi", "arterial-duplex", "ctpa"):
        for report in facts.reports:
            if orderable in report.orderables and report.time and report.time >= _done_since(facts, orderable, suggested_since):
                return _done(orderable, report.time, report.source.ref, what="report")
    return None


def suppress_already_ordered(t: Triage) -> None:
    for draft in t.cards.values():
        keep = []
        for s in draft.suggestions:
            line = None if s.repeat else on_record(t.facts, s.orderable, s.done_since)
            if line:
                _show_on_record(draft, s.orderable, line)
                draft.meta.setdefault("already_on_record", []).append(s.orderable)
                continue
            keep.append(s)
        draft.suggestions = keep


def _show_on_record(draft: CardDraft, orderable: str, line: str) -> None:
    """One line per finding: a result the card already cites is marked there, not listed again."""
    refs = references(line)
    title = ORDERABLE_TITLES.get(orderable, orderable)
    for i, existing in enumerate(draft.evidence):
        if refs and refs <= references(existing) and not existing.startswith("Already on record"):
            draft.evidence[i] = f"{existing.rstrip('.')}; already on record, so {lower_first(title)} is not suggested again."
            return
    draft.evidence.append(f"Already on record: {line}")


# -- §7.5 flags: every data-quality problem behind a card is on it, in words ----------------------
def explain_chart_quality(t: Triage) -> None:
    """A chart-reading problem (superseded value, stale record, undated, preliminary …) belongs on every
    card that cites the resource it concerns, flagged and explained; a flag a card already carries gets
    the chart's own sentence (which names the resource) when the card has none for it."""
    for draft in t.cards.values():
        cited = references("\n".join(draft.evidence + draft.unknown + draft.recommendation))
        for flag, text in t.facts.quality:
            if flag not in CARD_FLAGS:
                continue
            refs = references(text)
            concerns_card = bool(refs & cited)
            if not concerns_card and flag not in draft.flags:
                continue
            said = [q for q in draft.quality if explains(flag, q)]
            if any(refs & references(q) for q in said) or (said and not concerns_card):
                continue
            draft.add_flag(flag)
            draft.quality.append(f"{flag}: {text.rstrip('.')}.")


def assemble(t: Triage) -> list[CardDraft]:
    pe_supersedes_dvt(t)
    review_into_dvt(t)
    limb_supersedes_paes(t)
    resolve_conflicts(t)
    suppress_already_ordered(t)
    carry_to_most_urgent(t)
    explain_chart_quality(t)
    return sorted(t.cards.values(), key=sort_key)
