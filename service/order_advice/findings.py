"""One evaluation of the order-advice table for one request (clinical-rules §6.16 items 2–8).

The rows of :mod:`service.order_advice.rows` judge the drafts; the rules that apply to any test —
``OA-FORBIDDEN-TEST``, ``OA-DUPLICATE-DRAFT``, ``OA-MISSING-TEST`` — are procedures here. Then each
test is created at most once, by the most urgent finding that wants it (item 7).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timezone

from service.cards.draft import CardDraft, Suggest
from service.catalog import ORDER_SELECT, ORDER_SIGN
from service.chart.draft_orders import DraftOrder
from service.order_advice.rows import (
    ADDITION_ROWS,
    DUPLICATE_DRAFT,
    FORBIDDEN_TEST,
    MISSING_TEST,
    Finding,
    addition_finding,
    against_finding,
    new_finding,
)
from service.order_advice.state import EMERGENCY, Situation, card_order
from service.order_advice.text import ADVICE, WHY, Phrases, draft_ref, test_name
from service.vocabulary import RequestPriority, Tier, more_urgent


def evaluate(s: Situation) -> list[Finding]:
    """The findings, most urgent first (then table order, then draft order)."""
    phrases = Phrases(s)
    findings: list[Finding] = []
    judged_by_a_row: set[str] = set()
    # Rows with a delete judge the judged drafts only, and never a draft of a recommended test
    # (item 3: the recommended set is what the pathway wants; a draft covering it is fine).
    for draft in s.judged:
        if draft.orderables & s.recommended:
            continue
        finding = against_finding(s, phrases, draft)
        if finding is not None:
            findings.append(finding)
            judged_by_a_row.add(draft.id)
    # Rows without a delete, triggered by any draft (not "against", item 2); the drafts they judge
    # are not judged again by OA-FORBIDDEN-TEST ("no other rule").
    for row in ADDITION_ROWS:
        finding = addition_finding(s, phrases, row)
        if finding is not None:
            findings.append(finding)
            judged_by_a_row.update(d.id for d in finding.triggers)
    for draft in s.judged:
        if draft.id in judged_by_a_row or draft.orderables & s.recommended:
            continue
        finding = forbidden_test(s, phrases, draft)
        if finding is not None:
            findings.append(finding)

    findings = merge(findings)
    deleted = {d.id for f in findings for d in f.deletes}
    findings.extend(duplicates(s, phrases, deleted))
    findings.sort(key=lambda f: f.sort_key)
    allocate_creates(s, findings)
    # a create-only finding whose tests another finding already creates says nothing new
    findings = [f for f in findings if f.deletes or f.creates]
    findings.extend(missing_tests(s, phrases, findings))
    findings.sort(key=lambda f: f.sort_key)
    return findings


def forbidden_test(s: Situation, phrases: Phrases, draft: DraftOrder) -> Finding | None:
    """OA-FORBIDDEN-TEST: the most urgent card that lists the test under "Not suggested" speaks;
    its reason is quoted and its own tests are created instead."""
    hits = [(o, *s.forbidden[o]) for o in sorted(draft.orderables) if o in s.forbidden]
    if not hits:
        return None
    orderable, card, item = min(hits, key=lambda hit: card_order(hit[1]))
    wants = s.want(*[suggestion.orderable for suggestion in card.suggestions])
    tier = card.tier if (wants and card.tier in EMERGENCY) else Tier.URGENT
    main = card.rules[:1]
    values = {"test": test_name(orderable), "topic": card.topic, "listing_rules": ", ".join(main) or card.topic,
              "reason": item.reason}
    return new_finding(
        s, FORBIDDEN_TEST, tier, draft, orderable, wants,
        why=phrases.fill(WHY[FORBIDDEN_TEST], **values), advice=phrases.fill(ADVICE[FORBIDDEN_TEST], **values),
        motivating=main + [r for r in s.recommending_rules(wants) if r not in main], cards=[card])


def _keep_order(s: Situation, d: DraftOrder) -> tuple[int, int, int]:
    """§6.16 "keep one": the most urgent priority, then the selected draft (order-select), then the first."""
    return (RequestPriority.of(d.priority).rank, 0 if (s.hook == ORDER_SELECT and d.selected) else 1, d.index)


def duplicates(s: Situation, phrases: Phrases, deleted: set[str]) -> list[Finding]:
    """OA-DUPLICATE-DRAFT. Drafts on different UTC days are scheduled repeats (the pregnancy
    pathway's day-3 and day-7 scans). An undated draft is due now, so it is read as today's: it
    duplicates another draft for today but not a repeat booked for a later day."""
    today = s.facts.now.astimezone(timezone.utc).date().isoformat()
    out: list[Finding] = []
    seen_groups: set[tuple[str, ...]] = set()
    for orderable in sorted({o for d in s.drafts for o in d.orderables}):
        groups: dict[str, list[DraftOrder]] = {}
        for d in s.drafts:
            if orderable in d.orderables and d.id not in deleted and d.id:
                groups.setdefault(d.occurrence_day or today, []).append(d)
        for day, group in groups.items():
            if len(group) < 2 or (s.hook == ORDER_SELECT and not any(d.selected for d in group)):
                continue
            ids = tuple(sorted(d.id for d in group))
            if ids in seen_groups:      # a draft matching two orderables: one finding
                continue
            seen_groups.add(ids)
            keep = min(group, key=lambda d: _keep_order(s, d))
            others = [d for d in group if d is not keep]
            when = "" if day == today and not any(d.occurrence_day for d in group) else f" for {day}"
            values = {"count": len(group), "test": test_name(orderable), "when": when,
                      "drafts": ", ".join(draft_ref(d, s.hook) for d in group), "kept": keep.id,
                      "priority": keep.priority, "plural": "s" if len(others) > 1 else ""}
            out.append(Finding(rule=DUPLICATE_DRAFT, tier=Tier.ROUTINE, orderable=orderable, deletes=others,
                               kept=keep, why=phrases.fill(WHY[DUPLICATE_DRAFT], **values),
                               advice=phrases.fill(ADVICE[DUPLICATE_DRAFT], **values)))
    return out


def missing_tests(s: Situation, phrases: Phrases, findings: list[Finding]) -> list[Finding]:
    """OA-MISSING-TEST (§6.16 item 6): a recommended test no draft covers and no finding creates,
    when (a) the card has another finding, (b) order-select with a selected draft matching the
    catalog, or (c) order-sign and the test comes from an emergency card. A test added under (c)
    makes the card exist, which is (a) for the other missing tests."""
    created = {c.orderable for f in findings for c in f.creates}
    missing = [o for o in s.suggests if not s.covered(o) and o not in created]
    if not missing:
        return []
    any_selected = any(d.selected and d.orderables for d in s.drafts)
    if findings or (s.hook == ORDER_SELECT and any_selected):
        chosen = missing
    elif s.hook == ORDER_SIGN and any(s.recommending_card[o].tier in EMERGENCY for o in missing):
        chosen = missing
    else:
        chosen = []
    out = []
    for orderable in sorted(chosen, key=lambda o: (card_order(s.recommending_card[o]), o)):
        card = s.recommending_card[orderable]
        rules = s.recommending_rules([orderable])
        values = {"test": test_name(orderable), "topic": card.topic, "rules": ", ".join(rules),
                  "reasons": "; ".join(c.reason for c in s.suggests[orderable] if c.reason)}
        finding = Finding(rule=MISSING_TEST, tier=card.tier, orderable=orderable, wants=[orderable],
                          motivating=rules, cards=[card], why=phrases.fill(WHY[MISSING_TEST], **values),
                          advice=phrases.fill(ADVICE[MISSING_TEST], **values))
        finding.creates = [created_request(c, card) for c in s.suggests[orderable]]
        out.append(finding)
    return out


def allocate_creates(s: Situation, findings: list[Finding]) -> None:
    """§6.16 item 7: a test is created at most once in the card, by the most urgent finding that
    wants it; item 8: with the motivating card's priority."""
    created: set[str] = set()
    for f in findings:
        for orderable in f.wants:
            if orderable in created or orderable not in s.suggests:
                continue
            card = s.recommending_card[orderable]
            f.creates.extend(created_request(c, card) for c in s.suggests[orderable])
            created.add(orderable)


def created_request(suggestion: Suggest, card: CardDraft) -> Suggest:
    """The pathway card's suggestion, with that card's priority unless it names its own (item 8)."""
    return replace(suggestion, priority=suggestion.priority or RequestPriority.for_tier(card.tier))


def merge(findings: list[Finding]) -> list[Finding]:
    """One suggestion per rule and drafted test: two D-dimer drafts against the same rule are
    deleted together, and the replacement test is created once (item 7)."""
    out: list[Finding] = []
    index: dict[tuple[str, str | None], Finding] = {}
    for f in findings:
        key = (f.rule, f.orderable)
        if key in index and f.deletes:
            g = index[key]
            g.deletes.extend(d for d in f.deletes if d not in g.deletes)
            g.tier = more_urgent(g.tier, f.tier)
            g.wants.extend(o for o in f.wants if o not in g.wants)
            g.motivating.extend(r for r in f.motivating if r not in g.motivating)
            g.cards.extend(c for c in f.cards if c not in g.cards)
            continue
        index[key] = f
        out.append(f)
    return out
