"""The proximal leg-vein ultrasound state of this episode (clinical-rules §6.3 "US state").

Read from ``ka:venous-ultrasound-result``: only a dated result within 8 days counts (§1.4; an
undated result never does), and the latest of those decides. A negative scan 5–10 days after an
earlier negative one is the repeat scan of rows L5/L7.
"""
from __future__ import annotations

from datetime import timedelta

from service.chart.facts import Facts
from service.vocabulary import UltrasoundState

CURRENT_SCAN = timedelta(days=8)          # §1.4: a venous ultrasound result is current for 8 days
REPEAT_GAP = (timedelta(days=5), timedelta(days=10))   # §6.3 L5: repeat 6–8 days after the first, with slack

DVT_SEEN = "dvt-seen"
NO_DVT_SEEN = "no-dvt-seen"


def ultrasound_state(facts: Facts) -> UltrasoundState:
    """positive, negative, negative-repeat, or none (no usable current result)."""
    now = facts.now
    current = [u for u in facts.ultrasounds if u.time is not None and u.time >= now - CURRENT_SCAN]
    if not current:
        return UltrasoundState.NONE
    latest = max(current, key=lambda u: u.time)
    if latest.value == DVT_SEEN:
        return UltrasoundState.POSITIVE
    if latest.value != NO_DVT_SEEN:
        return UltrasoundState.NONE
    shortest, longest = REPEAT_GAP
    earlier = [u for u in facts.ultrasounds if u.value == NO_DVT_SEEN and u.time is not None
               and shortest <= latest.time - u.time <= longest]
    return UltrasoundState.NEGATIVE_REPEAT if earlier else UltrasoundState.NEGATIVE
