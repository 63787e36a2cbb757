"""The setting (clinical-rules §1.11): the current encounter, inpatient or not, qualifying surgeries, and
whether the imaging-first group applies (inpatient, surgery within 30 days, or not excludable §1.13)."""
from __future__ import annotations

from datetime import date

from service.chart.facts import ProcedureFact, Setting, Surgery
from service.chart.read_state import MIN_TIME, ReadState
from service.chart.windows import SURGERY_IMAGING_FIRST, within


def read_setting(r: ReadState) -> None:
    f = r.facts
    current = [e for e in f.encounters if e.is_current]
    encounter = max(current, key=lambda e: e.start or MIN_TIME) if current else None
    enc_unreadable = "Encounter" in f.unreadable_types
    inpatient: bool | None = None if enc_unreadable and encounter is None else bool(
        encounter and "inpatient-encounter" in encounter.class_sets)
    setting = Setting(encounter, inpatient, qualifying_surgeries=_qualifying_surgeries(r))
    reasons = []
    if inpatient:
        reasons.append(f"inpatient ({encounter.source.ref})")
    recent = [s for s in setting.qualifying_surgeries
              if s.time is None or within(s.time, r.now, SURGERY_IMAGING_FIRST)]
    if recent:
        reasons.append("surgery within 30 days (" + ", ".join(src.ref for s in recent for src in s.sources) + ")")
    missing = sorted({"Encounter", "Procedure"} & f.unreadable_types)
    if missing:
        # §1.13: inpatient / recent surgery unknown -> the imaging-first group is assumed
        reasons.append(f"assumed: {' and '.join(missing)} records could not be read, so an inpatient stay "
                       "or recent surgery cannot be excluded")
    setting.imaging_first = bool(reasons)
    setting.imaging_first_reason = "; ".join(reasons)
    f.setting = setting


def _qualifying_surgeries(r: ReadState) -> list[Surgery]:
    """§1.11 item 4: set:major-surgery, or any Procedure on the same UTC day as an anaesthesia Procedure
    (the anaesthesia Procedure itself included). One Surgery per UTC day (undated ones on their own)."""
    procs = r.facts.procedures
    anaesthesia_days = {p.time.date() for p in procs if "anaesthesia-general-or-regional" in p.sets and p.time}
    by_day: dict[date, list[ProcedureFact]] = {}
    undated: list[Surgery] = []
    for p in procs:
        major = "major-surgery" in p.sets
        anaesthesia = "anaesthesia-general-or-regional" in p.sets
        if p.time is None:
            if major or anaesthesia:
                undated.append(Surgery(None, [p.source]))
                r.note("undated", f"{p.source.ref}: undated surgery; counted (raises risk)")
            continue
        if major or anaesthesia or p.time.date() in anaesthesia_days:
            by_day.setdefault(p.time.date(), []).append(p)
    out = [Surgery(max(p.time for p in ps), [p.source for p in ps]) for _, ps in sorted(by_day.items())]
    return out + undated
