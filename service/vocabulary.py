"""The named states of the knee domain, one place for each (contract §4, §5; clinical-rules §3, §4.1, §6.3).

Each is a :class:`enum.StrEnum`: a member *is* its string, so the card JSON, the audit rows and the
vignette expectations keep the plain values the contract names, while the code reads
``Tier.URGENT`` instead of a literal whose allowed values live in a comment.
"""
from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    """Card urgency (contract §4 extension ``tier``), most urgent first: the order is the ranking."""

    EMERGENCY_IMMEDIATE = "emergency-immediate"
    EMERGENCY_SAME_DAY = "emergency-same-day"
    URGENT = "urgent"
    ROUTINE = "routine"
    SELF_CARE = "self-care"

    @property
    def rank(self) -> int:
        """0 for the most urgent tier; a lower rank is more urgent."""
        return _TIER_ORDER.index(self)

    @property
    def indicator(self) -> str:
        """The CDS Hooks card indicator of this tier (contract §4)."""
        if self in (Tier.EMERGENCY_IMMEDIATE, Tier.EMERGENCY_SAME_DAY):
            return "critical"
        return "warning" if self is Tier.URGENT else "info"


_TIER_ORDER = tuple(Tier)


def more_urgent(a: str | None, b: str | None) -> Tier | None:
    """The more urgent of two tiers; an absent tier yields to the other."""
    if a is None or b is None:
        return None if a is None and b is None else Tier(a if b is None else b)
    return Tier(a) if Tier(a).rank <= Tier(b).rank else Tier(b)


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
    PREGNANCY = "pregnancy"
    PAEDIATRIC = "paediatric"


class DvtStatus(StrEnum):
    """Where the DVT question stands after the DVT pathways (clinical-rules §6.3–§6.5)."""

    NOT_SUSPECTED = "not-suspected"
    OPEN = "open"
    CLOSED = "closed"


class WellsClass(StrEnum):
    """Two-level Wells DVT (clinical-rules §4.2); indeterminate when unknown items span the cut-off."""

    LIKELY = "likely"
    UNLIKELY = "unlikely"
    INDETERMINATE = "indeterminate"


class UltrasoundState(StrEnum):
    """The proximal leg-vein ultrasound of this episode as the DVT rules read it (clinical-rules §6.3)."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    NEGATIVE_REPEAT = "negative-repeat"   # a negative scan after an earlier negative one
    NONE = "none"                          # no scan in the episode window


class PregnancyState(StrEnum):
    """Pregnancy as the chart shows it (clinical-rules §1.9)."""

    PREGNANT = "pregnant"
    POSTPARTUM = "postpartum"
    NOT_PREGNANT = "not-pregnant"
    UNKNOWN = "unknown"


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
    UNKNOWN = "unknown"


class RequestPriority(StrEnum):
    """FHIR ``request-priority`` of a ServiceRequest, most urgent first: the order is the ranking
    (clinical-rules §6.16 "keep one": stat > asap > urgent > routine; none counts as routine)."""

    STAT = "stat"
    ASAP = "asap"
    URGENT = "urgent"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """0 for the most urgent priority; a lower rank is more urgent."""
        return _PRIORITY_ORDER.index(self)

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


_PRIORITY_ORDER = tuple(RequestPriority)
_PRIORITY_CODES = frozenset(p.value for p in RequestPriority)

# The knee imaging tests (contract §5): what waits while DVT is open (clinical-rules §6.3,
# §6.16 OA-KNEE-IMAGING-DVT-OPEN) and what an order hook's T5 trigger looks for (§2).
KNEE_IMAGING: tuple[Orderable, ...] = (Orderable.KNEE_XRAY, Orderable.MRI_KNEE, Orderable.POPLITEAL_US)
