"""Response assembly (clinical-rules §7.2–§7.4, §7.7): pure, CardDraft in, CardDraft out."""
from __future__ import annotations

from datetime import datetime, timedelta

from service.fhir_time import months_before
from service.drafts import TIER_RANK, TOPIC_ORDER, CardDraft, NotSuggested
from service.evidence import ago, cite, fmt_time
from service.facts import Facts
from service.triage import Triage

KNEE_IMAGING = ("knee-xray", "mri-knee", "popliteal-us")
CKP_BLOCKERS = ("pe-emergency", "limb-ischaemia", "septic-arthritis", "knee-injury-imaging",
                "popliteal-mass", "paes", "inflammatory-arthritis")
CARRY_TO_TOP = ("PE-PERC-NEG", "PE-EXCLUDED-DDIMER-NEG", "OTTAWA-NEG", "KNEE-INJURY-NO-XR", "DVT-NOT-SUSPECTED")


def sort_key(d: CardDraft) -> tuple[int, int]:
    return TIER_RANK[d.tier], TOPIC_ORDER.index(d.topic)


# -- §7.2 suppression ---------------------------------------------------------------------------
def merge_review_into_dvt(t: Triage) -> None:
    review = t.cards.get("chronic-knee-pain-imaging")
    dvt = t.cards.get("dvt-pathway")
    if review is None:
        return
    if t.dvt_status == "open" or any(topic in t.cards for topic in CKP_BLOCKERS):
        del t.cards["chronic-knee-pain-imaging"]
        return
    if dvt is not None and t.dvt_status == "closed":
        # One card for one complaint: "DVT excluded; the knee pain still needs review" (§7.2)
        for rule in review.rules:
            dvt.add_rule(rule)
        dvt.raise_to(review.tier)
        dvt.suggestions.extend(review.suggestions)
        dvt.not_recommended = [n for n in dvt.not_recommended if not review.suggests(n.orderable)]
        dvt.not_recommended.extend(review.not_recommended)
        dvt.evidence.extend(review.evidence)
        dvt.unknown.extend(review.unknown)
        dvt.recommendation.append("DVT excluded; the knee pain still needs review.")
        dvt.recommendation.extend(review.recommendation)
        for flag in review.flags:
            dvt.add_flag(flag)
        dvt.guidelines.extend(review.guidelines)
        dvt.safety_net = dvt.safety_net or review.safety_net
        if review.summary:
            dvt.summary = "DVT excluded; " + review.summary[:1].lower() + review.summary[1:]
        del t.cards["chronic-knee-pain-imaging"]


def limb_supersedes_paes(t: Triage) -> None:
    limb, paes = t.cards.get("limb-ischaemia"), t.cards.get("paes")
    if limb and paes:
        for rule in paes.rules:
            limb.add_rule(rule)
        del t.cards["paes"]


def carry_to_most_urgent(t: Triage) -> None:
    rules = list(t.carry_rules)
    if not t.dvt_suspected and t.cards and "DVT-NOT-SUSPECTED" not in rules:
        rules.append("DVT-NOT-SUSPECTED")
    if not t.cards or not rules:
        return
    top = sorted(t.cards.values(), key=sort_key)[0]
    for rule in rules:
        top.add_rule(rule)
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
    elif t.m_anti or t.m_img:
        blocked["d-dimer"] = "D-dimer is unreliable on anticoagulation or in the imaging-first group: image first."
    if t.dvt_status == "open":
        blocked["mri-knee"] = "knee assessment and imaging once DVT is excluded."
        blocked["popliteal-us"] = "the venous duplex also shows a cyst; popliteal imaging once DVT is excluded."
    urgent_vascular = any(
        d.topic in ("pe-emergency", "limb-ischaemia") and d.tier == "emergency-immediate" for d in t.cards.values()
    )
    if urgent_vascular:
        for orderable in KNEE_IMAGING:
            blocked.setdefault(orderable, "no knee imaging while a life-threatening vascular emergency is open.")
    return blocked


def resolve_conflicts(t: Triage) -> None:
    blocked = hard_blocks(t)
    dislocation = t.cards.get("knee-injury-imaging")
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
                rank_other, rank_mine = TIER_RANK[other.tier], TIER_RANK[draft.tier]
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
}
DONE_WINDOW = {
    "venous-duplex-us": timedelta(hours=24), "d-dimer": timedelta(hours=24), "ctpa": timedelta(hours=24),
    "cbc": timedelta(hours=24), "crp": timedelta(hours=24), "esr": timedelta(hours=24),
    "blood-culture": timedelta(hours=24), "arthrocentesis": timedelta(hours=24), "uric-acid": timedelta(days=30),
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
                return f"{key.replace('_', ' ')} {shown}, {ago(now, v.time)} ({cite(v.source, with_time=False)})"
    if orderable == "knee-xray":
        since = _done_since(facts, orderable, suggested_since)
        for value in facts.radiographs:
            if value.time and value.time >= since:
                return f"Knee radiograph {fmt_time(value.time)}: {value.value} ({value.source.ref})"
    for order in facts.orders:
        if orderable not in order.orderables:
            continue
        when = order.authored or order.occurrence
        if order.status == "active" and when and when >= now - OPEN_ORDER_WINDOW[orderable]:
            return f"{orderable} requested {fmt_time(when)} ({order.source.ref}): result awaited; act on it."
        done_at = order.occurrence or order.authored
        if order.status == "completed" and done_at and done_at >= _done_since(facts, orderable, suggested_since):
            return f"{orderable} done {fmt_time(done_at)} ({order.source.ref}): review its result."
    for proc in facts.procedures:
        if orderable in proc.orderables and proc.time and proc.time >= _done_since(facts, orderable, suggested_since):
            return f"{orderable} done {fmt_time(proc.time)} ({proc.source.ref}): review its result."
    if orderable in ("knee-xray", "mri-knee", "popliteal-us", "abi", "arterial-duplex", "ctpa"):
        for report in facts.reports:
            if orderable in report.orderables and report.time and report.time >= _done_since(facts, orderable, suggested_since):
                return f"{orderable} done {fmt_time(report.time)} ({report.source.ref}): review its report."
    return None


def suppress_already_ordered(t: Triage) -> None:
    for draft in t.cards.values():
        keep = []
        for s in draft.suggestions:
            line = None if s.repeat else on_record(t.facts, s.orderable, s.done_since)
            if line:
                draft.evidence.append(f"Already on record: {line}")
                draft.meta.setdefault("already_on_record", []).append(s.orderable)
                continue
            keep.append(s)
        draft.suggestions = keep


def assemble(t: Triage) -> list[CardDraft]:
    merge_review_into_dvt(t)
    limb_supersedes_paes(t)
    resolve_conflicts(t)
    suppress_already_ordered(t)
    carry_to_most_urgent(t)
    return sorted(t.cards.values(), key=sort_key)
