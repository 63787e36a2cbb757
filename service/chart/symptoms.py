"""Symptoms (clinical-rules §1.8) and knee-complaint evidence for triggers T3 and T4 (§2)."""
from __future__ import annotations

from service.chart import units
from service.chart.facts import Source
from service.chart.observations import KNEE_COMPLAINT_SETS, SYMPTOM_SETS
from service.chart.read_state import ReadState
from service.chart.windows import COMPLAINT, INJURY_COMPLAINT, SYMPTOM, Window, within

FEVER_CELSIUS = 38.0                 # §1.8: fever = temperature >= 38.0 °C


def read_symptoms(r: ReadState) -> None:
    f = r.facts
    found: dict[str, list[Source]] = {}
    for c in f.conditions:
        for s in SYMPTOM_SETS:
            if s not in c.sets:
                continue
            if within(c.onset, r.now, SYMPTOM) or (c.onset is None and c.active):
                found.setdefault(s, []).append(c.source)
                if c.onset is None:
                    r.note("undated", f"{c.source.ref}: undated active {s} Condition; counted")
    for s, source in r.symptom_obs:
        if source.time is None or within(source.time, r.now, SYMPTOM):
            found.setdefault(s, []).append(source)
            if source.time is None:
                r.note("undated", f"{source.ref}: undated {s} Observation; counted")
    enc = f.setting.current_encounter
    if enc is not None:
        for s in SYMPTOM_SETS:
            if s in enc.reason_sets:
                found.setdefault(s, []).append(enc.source)
    temp = f.vitals.get("temperature")
    if temp is not None and units.compare(temp.value, ">=", FEVER_CELSIUS):
        found.setdefault("fever", []).append(temp.winner.source)
    f.symptoms = found


def _complaint_window(set_name: str) -> Window:
    return INJURY_COMPLAINT if set_name == "knee-injury" else COMPLAINT


def read_knee_complaints(r: ReadState) -> None:
    """Evidence for triggers T3 (visit reason) and T4 (Condition / present Observation), §2."""
    f = r.facts
    complaint_conditions = {c.source.ref: c for c in f.conditions
                            if any(s in c.sets for s in KNEE_COMPLAINT_SETS)}
    for e in f.encounters:
        if not (e.is_current or within(e.start, r.now, COMPLAINT)):
            continue
        for s in KNEE_COMPLAINT_SETS:
            if s in e.reason_sets:
                f.knee_complaints.append(("T3", s, e.source))
        for ref in e.reason_condition_refs:
            c = complaint_conditions.get(ref) or complaint_conditions.get("/".join(ref.split("/")[-2:]))
            if c is not None:
                for s in KNEE_COMPLAINT_SETS:
                    if s in c.sets:
                        f.knee_complaints.append(("T3", s, c.source))
    for c in complaint_conditions.values():
        if not c.active:
            continue
        for s in KNEE_COMPLAINT_SETS:
            if s in c.sets and (c.onset is None or within(c.onset, r.now, _complaint_window(s))):
                f.knee_complaints.append(("T4", s, c.source))
    for s, source in r.complaint_obs:
        if source.time is None or within(source.time, r.now, _complaint_window(s)):
            f.knee_complaints.append(("T4", s, source))
