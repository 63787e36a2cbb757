"""Pregnancy (clinical-rules §1.9): pregnant, postpartum, not pregnant or unknown, from pregnancy-status
and pregnancy-test Observations, pregnancy, delivery and postpartum Conditions and delivery Procedures;
and the gestational age of a pregnancy."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from service.chart.facts import Pregnancy, Source
from service.chart.read_state import MIN_TIME, ReadState
from service.chart.resolution import resolve
from service.chart.windows import POSTPARTUM, PREGNANCY, within
from service.terminology.code_sets import ICD10CM
from service.vocabulary import PregnancyState

# §1.9: ICD-10-CM Z3A.nn = nn weeks of gestation (Z3A.00 unknown, Z3A.01 "< 8 weeks")
Z3A = re.compile(r"^Z3A\.(\d\d)$")
Z3A_UNDER_8_WEEKS_DAYS = 56.0        # Z3A.01: read as its upper bound (8 weeks) at record time


@dataclass
class _Evidence:
    pregnant: list[tuple[datetime | None, Source]] = field(default_factory=list)
    ended: list[tuple[datetime | None, Source]] = field(default_factory=list)   # not pregnant (any later)
    postpartum: list[Source] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)


def read_pregnancy(r: ReadState) -> None:
    f, now = r.facts, r.now
    ev = _Evidence()
    status_values = [v for v in r.preg_status if v.time is not None and within(v.time, now, PREGNANCY)]
    status_reading = resolve("pregnancy", status_values, now, PREGNANCY) if status_values else None
    for v in status_values:
        if v.value == "pregnant":
            ev.pregnant.append((v.time, v.source))
        elif v.value == "not-pregnant":
            ev.ended.append((v.time, v.source))
    for v in r.preg_tests:
        if v.time is not None and within(v.time, now, PREGNANCY):
            ev.pregnant.append((v.time, v.source))
    _condition_and_procedure_evidence(r, ev)
    latest_preg = max((t or MIN_TIME for t, _ in ev.pregnant), default=None)
    later_end = latest_preg is not None and any(t is not None and t > latest_preg for t, _ in ev.ended)
    if ev.pregnant and not later_end:
        state, sources = PregnancyState.PREGNANT, [s for _, s in ev.pregnant]
    elif ev.postpartum:
        state, sources = PregnancyState.POSTPARTUM, ev.postpartum
    elif status_reading is not None and status_reading.value == "not-pregnant" and not any(
            t is not None and t > status_reading.winner.time for t, _ in ev.pregnant):
        state, sources = PregnancyState.NOT_PREGNANT, [status_reading.winner.source]
    elif f.age_under(10) is True or f.age_over(55) is True:     # the whole age range outside 10-55
        state, sources = PregnancyState.NOT_PREGNANT, []
    else:
        state, sources = PregnancyState.UNKNOWN, []
    preg = Pregnancy(state, sources, flags=ev.flags)
    if state in (PregnancyState.PREGNANT, PregnancyState.POSTPARTUM) and f.gender == "male":
        preg.flags.add("conflict")
        r.note("conflict", f"pregnancy evidence ({', '.join(s.ref for s in sources)}) conflicts with "
                           "recorded gender male; the pregnancy evidence is honoured")
    if state == PregnancyState.PREGNANT:
        _gestational_age(r, preg)
    f.pregnancy = preg


def _condition_and_procedure_evidence(r: ReadState, ev: _Evidence) -> None:
    now = r.now
    for c in r.facts.conditions:
        if "pregnancy" in c.sets:
            if c.has_abatement:
                ev.ended.append((c.abatement, c.source))
                if within(c.abatement, now, POSTPARTUM):
                    ev.postpartum.append(c.source)
            if c.active and c.onset is not None and within(c.onset, now, PREGNANCY):
                ev.pregnant.append((c.onset, c.source))
            elif c.active and c.onset is not None:
                ev.flags.add("stale-condition")
                r.note("stale-condition", f"{c.source.ref}: pregnancy Condition older than 42 weeks; ignored")
            elif c.active:
                ev.pregnant.append((None, c.source))            # undated: raises risk, used (§1.1 item 4)
                r.note("undated", f"{c.source.ref}: undated pregnancy Condition; used")
        if "delivery" in c.sets and c.onset is not None:
            ev.ended.append((c.onset, c.source))
            if within(c.onset, now, POSTPARTUM):
                ev.postpartum.append(c.source)
        if "postpartum" in c.sets and c.active and within(c.onset, now, POSTPARTUM):
            ev.postpartum.append(c.source)
        if "not-pregnant" in c.sets and c.onset is not None:
            ev.ended.append((c.onset, c.source))
    for p in r.facts.procedures:
        if "delivery" in p.sets and p.time is not None:
            ev.ended.append((p.time, p.source))
            if within(p.time, now, POSTPARTUM):
                ev.postpartum.append(p.source)


def _gestational_age(r: ReadState, preg: Pregnancy) -> None:
    """§1.9 gestational age from the latest source (Observation/component, EDD, Z3A.nn Condition)."""
    cands = [c for c in r.ga_candidates if c[0] is None or within(c[0], r.now, PREGNANCY)]
    for c in r.facts.conditions:
        if "pregnancy" not in c.sets or not c.active:
            continue
        at = c.recorded or c.onset
        for system, code in c.codes:
            m = Z3A.match(code) if system == ICD10CM else None
            if not m or at is None:
                continue
            weeks = int(m.group(1))
            if weeks == 0:
                continue                                        # Z3A.00: unknown
            at_record = Z3A_UNDER_8_WEEKS_DAYS if weeks == 1 else weeks * 7.0
            cands.append((at, at_record + (r.now - at).total_seconds() / 86400, c.source))
    if cands:
        t, days, source = max(cands, key=lambda c: c[0] or MIN_TIME)
        preg.gestational_age_days = days
        preg.gestational_age_source = source
