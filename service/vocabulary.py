"""The named states of the knee domain, one place for each (contract §4, §5; clinical-rules §3, §4.1, §6.3).

Each is a :class:`enum.StrEnum`: a member *is* its string, so the card JSON, the audit rows and the
vignette expectations keep the plain values the contract names, while the code reads
``Tier.URGENT`` instead of a literal whose allowed values live in a comment.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Self


class RankedStrEnum(StrEnum):
    """A StrEnum whose declaration order is a ranking, most urgent first.

    ``rank``: 0 for the most urgent member; a lower rank is more urgent. Set once per member as it is
    created (its place in the declaration), since rankings are compared on every card and finding.
    """

    rank: int

    def __init__(self, *args: object) -> None:
        self.rank = len(type(self)._member_names_)

    @classmethod
    def of(cls, value: str) -> Self:
        """The member for a value (member or plain string): a dictionary look-up, else the enum's own
        lookup (which raises ValueError for a value it does not hold)."""
        return cls._value2member_map_.get(value) or cls(value)


class Tier(RankedStrEnum):
    """Card urgency (contract §4 extension ``tier``), most urgent first: the order is the ranking."""

    EMERGENCY_IMMEDIATE = "emergency-immediate"
    EMERGENCY_SAME_DAY = "emergency-same-day"
    URGENT = "urgent"
    ROUTINE = "routine"
    SELF_CARE = "self-care"

    @property
    def indicator(self) -> str:
        """The CDS Hooks card indicator of this tier (contract §4)."""
        if self in (Tier.EMERGENCY_IMMEDIATE, Tier.EMERGENCY_SAME_DAY):
            return "critical"
        return "warning" if self is Tier.URGENT else "info"


def more_urgent(a: str | None, b: str | None) -> Tier | None:
    """The more urgent of two tiers; an absent tier yields to the other."""
    if a is None or b is None:
        return None if a is None and b is None else Tier.of(a if b is None else b)
    tier_a, tier_b = Tier.of(a), Tier.of(b)
    return tier_a if tier_a.rank <= tier_b.rank else tier_b


class Topic(StrEnum):
    """Card topics: code of ``source.topic`` in CS card-topic (contract §4)."""

    PE_EMERGENCY = "pe-emergency"
    LIMB_ISCHAEMIA = "limb-ischaemia"
    DVT_PATHWAY = "dvt-pathway"
    SEPTIC_ARTHRITIS = "septic-arthritis"
    KNEE_INJURY_IMAGING = "knee-injury-imaging"
    CHRONIC_KNEE_PAIN_IMAGING = "chronic-knee-pain-imaging"
    INFLAMMATORY_ARTHRITIS = "inflammatory-arthritis"
    POPLITEAL_MASS = "popliteal-mass"
    PAES = "paes"
    ASSESSMENT_NEEDED = "assessment-needed"
    SELF_CARE = "self-care"
    ORDER_ADVICE = "order-advice"


class Orderable(StrEnum):
    """Orderable ids of the catalog (contract §5; CS orderable). Their displays and codes are data:
    ``mappings/codesets.json`` ``orderables``; a test checks both lists name the same ids."""

    VENOUS_DUPLEX_US = "venous-duplex-us"
    POPLITEAL_US = "popliteal-us"
    KNEE_XRAY = "knee-xray"
    MRI_KNEE = "mri-knee"
    D_DIMER = "d-dimer"
    CBC = "cbc"
    CRP = "crp"
    ESR = "esr"
    BLOOD_CULTURE = "blood-culture"
    ARTHROCENTESIS = "arthrocentesis"
    URIC_ACID = "uric-acid"
    RHEUMATOID_FACTOR = "rheumatoid-factor"
    ANTI_CCP = "anti-ccp"
    ABI = "abi"
    ARTERIAL_DUPLEX = "arterial-duplex"
    CTPA = "ctpa"
    PREGNANCY_TEST = "pregnancy-test"


class Population(StrEnum):
    """Which DVT pathway applies (clinical-rules §3)."""

    ADULT = "adult"
    PREGNANCY = "pregnancy"            # pregnant or up to 6 weeks postpartum: RCOG GTG 37b
    PAEDIATRIC = "paediatric"          # under 18, known: an age range crossing 18 stays adult


class DvtStatus(StrEnum):
    """Where the DVT question stands after the DVT pathways (clinical-rules §6.3–§6.5)."""

    NOT_SUSPECTED = "not-suspected"
    OPEN = "open"                      # a DVT test is still due: knee imaging waits (§6.3)
    CLOSED = "closed"                  # confirmed, or excluded by a named rule


class WellsClass(StrEnum):
    """Two-level Wells DVT (clinical-rules §4.2); indeterminate when unknown items span the cut-off."""

    LIKELY = "likely"                  # 2 or more
    UNLIKELY = "unlikely"              # 1 or less, with every item known
    INDETERMINATE = "indeterminate"    # handled as likely: absent data never lowers risk


class UltrasoundState(StrEnum):
    """The proximal leg-vein ultrasound of this episode as the DVT rules read it (clinical-rules §6.3)."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    NEGATIVE_REPEAT = "negative-repeat"   # a negative scan after an earlier negative one
    NONE = "none"                          # no scan in the episode window


class PregnancyState(StrEnum):
    """Pregnancy as the chart shows it (clinical-rules §1.9)."""

    PREGNANT = "pregnant"
    POSTPARTUM = "postpartum"          # up to 6 weeks after delivery
    NOT_PREGNANT = "not-pregnant"
    UNKNOWN = "unknown"                # asked for where a possible age is 12-50


class AnticoagulationState(StrEnum):
    """Anticoagulation as the chart shows it (clinical-rules §1.10)."""

    CURRENT = "current"              # therapeutic (or undetermined intensity, handled as therapeutic)
    UNCERTAIN = "uncertain"          # stale statements, long-term use recorded, unreadable or unresolved
    PROPHYLACTIC = "prophylactic"
    NONE = "none"


class AnticoagulantIntensity(StrEnum):
    """Intensity of one anticoagulant medication (terminology §4.1)."""

    THERAPEUTIC = "therapeutic"
    PROPHYLACTIC = "prophylactic"
    UNKNOWN = "unknown"                # read as therapeutic by the anticoagulation rule (§1.10)


class RequestPriority(RankedStrEnum):
    """FHIR ``request-priority`` of a ServiceRequest, most urgent first: the order is the ranking
    (clinical-rules §6.16 "keep one": stat > asap > urgent > routine; none counts as routine)."""

    STAT = "stat"
    ASAP = "asap"
    URGENT = "urgent"
    ROUTINE = "routine"

    @classmethod
    def read(cls, value: object) -> "RequestPriority":
        """A draft's ``priority`` as given; absent or not a FHIR code counts as routine."""
        return cls(value) if isinstance(value, str) and value in _PRIORITY_CODES else cls.ROUTINE

    @classmethod
    def for_tier(cls, tier: str) -> "RequestPriority":
        """The priority of a ServiceRequest a card of ``tier`` creates (contract §4)."""
        if tier in (Tier.EMERGENCY_IMMEDIATE, Tier.EMERGENCY_SAME_DAY):
            return cls.STAT
        return cls.URGENT if tier == Tier.URGENT else cls.ROUTINE


_PRIORITY_CODES = frozenset(p.value for p in RequestPriority)

# The knee imaging tests (contract §5): what waits while DVT is open (clinical-rules §6.3,
# §6.16 OA-KNEE-IMAGING-DVT-OPEN) and what an order hook's T5 trigger looks for (§2).
KNEE_IMAGING: tuple[Orderable, ...] = (Orderable.KNEE_XRAY, Orderable.MRI_KNEE, Orderable.POPLITEAL_US)
