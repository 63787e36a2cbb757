"""What a pathway produces, before assembly (§7) and rendering (contract §4).

Pathways are pure: Facts (+ scores) in, :class:`CardDraft` out. ``service.assembly`` applies the
suppression, one-test-two-cards and already-ordered rules (§7.2, §7.3, §7.7); ``service.cards``
renders the JSON card with fresh uuids and FHIR R4 ServiceRequests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TIERS = ("emergency-immediate", "emergency-same-day", "urgent", "routine", "self-care")
TIER_RANK = {t: i for i, t in enumerate(TIERS)}  # lower = more urgent

TOPIC_ORDER = (
    "pe-emergency", "limb-ischaemia", "dvt-pathway", "septic-arthritis", "knee-injury-imaging",
    "popliteal-mass", "paes", "inflammatory-arthritis", "chronic-knee-pain-imaging",
    "assessment-needed", "order-advice", "self-care",
)

TOPIC_DISPLAY = {
    "pe-emergency": "Possible pulmonary embolism",
    "limb-ischaemia": "Acute limb ischaemia",
    "dvt-pathway": "DVT pathway",
    "septic-arthritis": "Septic arthritis",
    "knee-injury-imaging": "Knee injury imaging",
    "chronic-knee-pain-imaging": "Knee pain review and imaging",
    "inflammatory-arthritis": "Inflammatory arthritis",
    "popliteal-mass": "Popliteal mass and tumour red flags",
    "paes": "Popliteal artery entrapment",
    "assessment-needed": "Assessment needed",
    "self-care": "Self-care",
    "order-advice": "Order advice",
}


def more_urgent(a: str | None, b: str | None) -> str | None:
    """The more urgent of two tiers ("raise to", §0)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if TIER_RANK[a] <= TIER_RANK[b] else b


@dataclass
class Suggest:
    """Suggest orderable X (§0): one create action with a ServiceRequest (contract §4)."""

    orderable: str                  # catalog id (contract §5)
    rule: str                       # rule id that wants it
    reason: str                     # "<rule>: <reason>" is written into reasonCode.text
    label: str = ""                 # suggestion label; default "Order <display>"
    note: str = ""                  # extra note text (the side is added by the renderer)
    period: tuple[datetime, datetime] | None = None  # occurrencePeriod
    repeat: bool = False            # scheduled repeat: never suppressed by §7.7
    # §7.7 "done" window for knee-xray / popliteal-us / abi: results on/after this time suppress
    done_since: datetime | None = None
    priority: str | None = None     # override (order advice takes the motivating card's priority)


@dataclass
class NotSuggested:
    orderable: str
    reason: str


@dataclass
class AdviceSuggestion:
    """Order advice (§6.16 item 7): one suggestion = delete draft(s) and/or create test(s)."""

    rule: str
    label: str
    deletes: list[str] = field(default_factory=list)   # draft ids (rendered "ServiceRequest/<id>")
    creates: list[Suggest] = field(default_factory=list)
    reason: str = ""                                    # action description text


@dataclass
class CardDraft:
    topic: str
    tier: str
    rules: list[str] = field(default_factory=list)
    summary: str = ""
    headline: str = ""              # first paragraph of detail (bold lead + one sentence)
    evidence: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    recommendation: list[str] = field(default_factory=list)
    not_recommended: list[NotSuggested] = field(default_factory=list)
    suggestions: list[Suggest] = field(default_factory=list)
    advice: list[AdviceSuggestion] = field(default_factory=list)  # order-advice card only
    scores: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    quality: list[str] = field(default_factory=list)     # "Data quality" lines
    guidelines: list[str] = field(default_factory=list)  # keys of service.guidelines.GUIDELINES
    safety_net: bool = False
    # free sections rendered after Recommendation, e.g. ("Not recorded, covered by the safety net", [...])
    extra: list[tuple[str, list[str]]] = field(default_factory=list)
    # extra data for assembly/order advice (e.g. {"dvt_state": "open"}); never rendered
    meta: dict[str, Any] = field(default_factory=dict)

    def add_rule(self, rule: str) -> None:
        if rule not in self.rules:
            self.rules.append(rule)

    def add_flag(self, flag: str) -> None:
        if flag not in self.flags:
            self.flags.append(flag)

    def raise_to(self, tier: str) -> None:
        self.tier = more_urgent(self.tier, tier)

    def suggests(self, orderable: str) -> bool:
        return any(s.orderable == orderable for s in self.suggestions)

    def forbids(self, orderable: str) -> bool:
        return any(n.orderable == orderable for n in self.not_recommended)
