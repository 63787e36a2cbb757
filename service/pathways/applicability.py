"""When the pathway applies (clinical-rules §2): triggers T1–T5."""
from __future__ import annotations

from service.pathways.state import Triage
from service.scores.injury import MECHANISMS as INJURY_MECHANISMS
from service.vocabulary import KNEE_IMAGING

# §2 T2: any of these ka: items true within its window (windows are applied by the chart layer)
T2_ITEMS = (
    "hot-swollen-joint", "joint-effusion", "popliteal-mass", "knee-locking", "knee-giving-way",
    "knee-deformity", "exertional-calf-pain", "pulse-loss-on-provocation", "acute-limb-ischaemia",
    "night-pain",
)
# §2 T5: a draft for knee imaging triggers at the order hooks
T5_ORDERABLES = frozenset(KNEE_IMAGING)
# types that can hold a trigger (§2 "Unreadable chart"); medications, Procedures and chart
# ServiceRequests cannot
TRIGGER_TYPES = frozenset({"Observation", "Condition", "Encounter"})


def find_triggers(t: Triage) -> list[str]:
    facts = t.facts
    triggers: list[str] = []
    if facts.ka_true("posterior-knee-pain"):
        triggers.append("T1")
    if any(facts.ka_true(code) for code in T2_ITEMS) or facts.ka_value("injury-mechanism") in INJURY_MECHANISMS:
        triggers.append("T2")
    kinds = {kind for kind, _set, _src in facts.knee_complaints}
    for kind in ("T3", "T4"):
        if kind in kinds:
            triggers.append(kind)
    if t.hook in ("order-select", "order-sign") and any(
        d.orderables & T5_ORDERABLES or d.reason_sets for d in t.drafts
    ):
        triggers.append("T5")
    return triggers


def trigger_may_be_hidden(t: Triage) -> bool:
    """A type that could hold a trigger was not read (§2, §1.13): never answer an empty list."""
    return bool(t.facts.unreadable_types & TRIGGER_TYPES)


def evaluate(t: Triage) -> bool:
    """Record the triggers; True when the knee pathway applies."""
    t.triggers = find_triggers(t)
    return bool(t.triggers)
