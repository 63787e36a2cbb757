"""Anticoagulation (clinical-rules §1.10): current (therapeutic or undetermined intensity), uncertain,
prophylactic or none, from the counted medications and the problem list; whether current therapy is
pre-existing (started before the symptoms) or interim."""
from __future__ import annotations

from datetime import datetime

from service.chart.facts import Anticoagulation, MedicationFact, Source
from service.chart.read_state import ReadState
from service.chart.windows import ANTICOAG_ONSET_DEFAULT, SIX_MONTHS, window_start
from service.vocabulary import AnticoagulantIntensity as Intensity, AnticoagulationState as State

_THERAPEUTIC_OR_UNKNOWN = (Intensity.THERAPEUTIC, Intensity.UNKNOWN)


def read_anticoagulation(r: ReadState) -> None:
    f = r.facts
    six = window_start(r.now, SIX_MONTHS)
    current, stale, prophylactic = [], [], []
    for m in f.medications:
        if m.intensity is None:
            continue
        recent = m.kind == "MedicationRequest" or (m.asserted is not None and m.asserted >= six)
        if m.intensity in _THERAPEUTIC_OR_UNKNOWN:
            (current if recent else stale).append(m)
        elif m.intensity == Intensity.PROPHYLACTIC and recent:
            prophylactic.append(m)
    reasons, sources = _uncertainty(r, stale, six)
    if current:
        ac = Anticoagulation(State.CURRENT, [m.source for m in current])
        ac.start = _earliest_start(current)
        ac.unknown_intensity = any(m.intensity == Intensity.UNKNOWN for m in current)
        ac.pre_existing = _pre_existing(r, ac.start)
        if ac.unknown_intensity:
            ac.flags.add("anticoagulant-undetermined-intensity")
            r.note("anticoagulant-undetermined-intensity",
                   "anticoagulant of undetermined intensity: " + ", ".join(
                       m.source.ref for m in current if m.intensity == Intensity.UNKNOWN)
                   + " (handled as therapeutic)")
    elif reasons:
        ac = Anticoagulation(State.UNCERTAIN, sources, reasons=reasons, flags={"anticoagulation-uncertain"})
        r.note("anticoagulation-uncertain", "anticoagulation uncertain: " + "; ".join(reasons))
    elif prophylactic:
        ac = Anticoagulation(State.PROPHYLACTIC, [m.source for m in prophylactic],
                             flags={"prophylactic-anticoagulation"})
        ac.start = _earliest_start(prophylactic)
    else:
        ac = Anticoagulation(State.NONE)
    f.anticoagulation = ac


def _earliest_start(meds: list[MedicationFact]) -> datetime | None:
    """The earliest start; unknown when any start is unknown."""
    starts = [m.start for m in meds]
    return None if any(s is None for s in starts) else min(starts)


def _uncertainty(r: ReadState, stale: list[MedicationFact], six: datetime) -> tuple[list[str], list[Source]]:
    """Why anticoagulation is uncertain (human lines) and the resources behind them."""
    f = r.facts
    reasons: list[str] = []
    sources: list[Source] = []
    for m in stale:
        reasons.append(f"{m.source.ref}: anticoagulant statement asserted "
                       f"{'at an unknown time' if m.asserted is None else 'more than 6 months ago'}")
        sources.append(m.source)
    for c in f.conditions:
        if "long-term-anticoagulant-use" in c.sets and c.active:
            reasons.append(f"{c.source.ref}: long-term anticoagulant use on the problem list")
            sources.append(c.source)
    for e in f.encounters:
        if "long-term-anticoagulant-use" in e.reason_sets and e.start is not None and e.start >= six:
            reasons.append(f"{e.source.ref}: visit for long-term anticoagulant use")
            sources.append(e.source)
    for m in f.unresolved_medications:
        reasons.append(f"unknown medication ({m.source.ref})")
        sources.append(m.source)
    for t in sorted({"MedicationRequest", "MedicationStatement"} & f.unreadable_types):
        reasons.append(f"{t} records could not be read")
    return reasons, sources


def _pre_existing(r: ReadState, start: datetime | None) -> bool:
    """§1.10 item 3: started before ka:symptom-onset (onset unknown: more than 14 days before now, or at
    an unknown time) -> pre-existing, else interim."""
    if start is None:
        return True
    onset = r.facts.ka_value("symptom-onset")
    if isinstance(onset, datetime):
        return start < onset
    return start < r.now - ANTICOAG_ONSET_DEFAULT
