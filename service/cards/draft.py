"""What a pathway produces, before assembly (§7) and rendering (contract §4).

Pathways are pure: Facts (+ scores) in, :class:`CardDraft` out. :mod:`service.cards.assembly` applies the
suppression, one-test-two-cards and already-ordered rules (§7.2, §7.3, §7.7); :mod:`service.cards.render`
renders the JSON card with fresh uuids and FHIR R4 ServiceRequests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.vocabulary import Tier, Topic, more_urgent

# the order of cards of one tier in a response (§7.4)
TOPIC_ORDER = (
    Topic.PE_EMERGENCY, Topic.LIMB_ISCHAEMIA, Topic.DVT_PATHWAY, Topic.SEPTIC_ARTHRITIS,
    Topic.KNEE_INJURY_IMAGING, Topic.POPLITEAL_MASS, Topic.PAES, Topic.INFLAMMATORY_ARTHRITIS,
    Topic.CHRONIC_KNEE_PAIN_IMAGING, Topic.ASSESSMENT_NEEDED, Topic.ORDER_ADVICE, Topic.SELF_CARE,
)

TOPIC_DISPLAY = {
    Topic.PE_EMERGENCY: "Possible pulmonary embolism",
    Topic.LIMB_ISCHAEMIA: "Acute limb ischaemia",
    Topic.DVT_PATHWAY: "DVT pathway",
    Topic.SEPTIC_ARTHRITIS: "Septic arthritis",
    Topic.KNEE_INJURY_IMAGING: "Knee injury imaging",
    Topic.CHRONIC_KNEE_PAIN_IMAGING: "Knee pain review and imaging",
    Topic.INFLAMMATORY_ARTHRITIS: "Inflammatory arthritis",
    Topic.POPLITEAL_MASS: "Popliteal mass and tumour red flags",
    Topic.PAES: "Popliteal artery entrapment",
    Topic.ASSESSMENT_NEEDED: "Assessment needed",
    Topic.SELF_CARE: "Self-care",
    Topic.ORDER_ADVICE: "Order advice",
}


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
    topic: Topic
    tier: Tier
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
    # extra data for assembly and order advice (e.g. the orderables already on record); never rendered
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
