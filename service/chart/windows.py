"""Look-back windows (clinical-rules §1.4) and the test "within a window" (§1.1 item 2).

A window is a :class:`~datetime.timedelta`, or :class:`CalendarMonths` where the rules count calendar
months (12 months of radiographs, 6 months of cancer treatment). A time is within a window when
``now - window <= t <= now + 5 minutes``: inclusive at both ends, and a clock a few minutes ahead of ours
is not "the future".
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Mapping, NamedTuple

from service.chart.dates import months_before

H = timedelta(hours=1)
D = timedelta(days=1)
FUTURE_TOLERANCE = timedelta(minutes=5)          # §1.1 item 2: "≤ now + 5 minutes"


class CalendarMonths(NamedTuple):
    """A window of calendar months (§1.1 item 2: 31 March - 1 month = 28/29 February)."""

    months: int


Window = timedelta | CalendarMonths


def window_start(now: datetime, window: Window) -> datetime:
    """The earliest time inside ``window`` looking back from ``now``."""
    if isinstance(window, CalendarMonths):
        return months_before(now, window.months)
    return now - window


def within(t: datetime | None, now: datetime, window: Window) -> bool:
    """§1.1 item 2: now - N <= t <= now + 5 min (inclusive); an unknown time is never within."""
    return t is not None and window_start(now, window) <= t <= now + FUTURE_TOLERANCE


# ---- knee-assessment items (contract §3) -----------------------------------------------------------
KA_EXAM_72H = ("leg-swelling", "calf-circumference-difference", "deep-vein-tenderness", "entire-leg-swollen",
               "pitting-edema", "collateral-superficial-veins", "leg-redness-warmth", "hot-swollen-joint",
               "joint-effusion", "bear-weight-4-steps", "knee-flexion-90", "isolated-patellar-tenderness",
               "fibular-head-tenderness", "knee-deformity", "pulse-loss-on-provocation", "acute-limb-ischaemia")
KA_ATTESTATION_24H = ("alternative-diagnosis-as-likely", "pe-suspicion-low", "pe-most-likely",
                      "ultrasound-within-4h")
KA_HISTORY_30D = ("posterior-knee-pain", "symptom-side", "symptom-onset", "sudden-onset",
                  "pain-limits-walking-or-sleep", "knee-locking", "knee-giving-way", "popliteal-mass",
                  "mass-enlarging", "night-pain", "exertional-calf-pain", "synovitis-other-joints",
                  "morning-stiffness", "bedridden-3-days", "lower-limb-immobilisation", "long-haul-travel")
KA_DEFAULT = 30 * D
KA_WINDOWS: Mapping[str, Window] = {
    **{c: 72 * H for c in KA_EXAM_72H},
    **{c: 24 * H for c in KA_ATTESTATION_24H},
    **{c: 30 * D for c in KA_HISTORY_30D},
    "injury-mechanism": 42 * D, "injury-date": 42 * D,        # the "recent injury" of §6.9
    "venous-ultrasound-result": 90 * D,                       # read for 90 days; current = 8 days
    "knee-radiograph-result": CalendarMonths(12),
}

# ---- measurements ---------------------------------------------------------------------------------
VITALS = 24 * H
# Facts.labs key -> window
LABS: Mapping[str, Window] = {
    "crp": 72 * H, "crp_hs": 72 * H, "esr": 72 * H, "wbc": 72 * H, "urate": 30 * D,
    "rheumatoid_factor": CalendarMonths(12), "anti_ccp": CalendarMonths(12),
    "blood_culture": 24 * H,
}
DDIMER_KEEP = 90 * D                 # Facts.ddimers: pathways pick their own window (§1.4, §6.3)
SMOKING = CalendarMonths(12)

# ---- pregnancy, symptoms, complaints ----------------------------------------------------------------
PREGNANCY = 294 * D                  # 42 weeks
POSTPARTUM = 42 * D
SYMPTOM = 7 * D
COMPLAINT = 30 * D
INJURY_COMPLAINT = 42 * D            # set:knee-injury (§2 T4, §6.9)

# ---- medications, surgery -------------------------------------------------------------------------
SIX_MONTHS = CalendarMonths(6)
SURGERY_IMAGING_FIRST = 30 * D       # §1.11 item 3
ANTICOAG_ONSET_DEFAULT = 14 * D      # §1.10 item 3: onset unknown -> pre-existing when > 14 days
APIXABAN_SURGERY = 42 * D            # terminology §4.1 rule 2: hip/knee replacement in the previous 6 weeks
