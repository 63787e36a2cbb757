"""Latest value wins (clinical-rules §1.3): one :class:`Reading` per concept from the values the
Observations gave, within the concept's window (§1.4); same-time disagreement goes to the higher-risk
value (flag ``conflict``), earlier differing values within 24 h are ``superseded``, and an undated value
counts only when it raises risk (§1.1 item 4)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from service.chart import windows
from service.chart.facts import Quantity, Reading, Value
from service.chart.ka_items import shown
from service.chart.read_state import MIN_TIME, ReadState
from service.chart.windows import FUTURE_TOLERANCE, H, Window, window_start, within
from service.terminology.code_sets import BOOLEAN, KNEE_ASSESSMENT

# §1.3 item 4: ka booleans where false is the higher-risk value
FALSE_IS_RISK = frozenset({"bear-weight-4-steps", "knee-flexion-90", "alternative-diagnosis-as-likely",
                           "pe-suspicion-low", "ultrasound-within-4h"})
# §1.3 item 4 table for coded concepts: value -> rank (higher = higher risk); unknown where the table
# puts it between the extremes
_CODED_RANK: dict[str, dict[Any, float]] = {
    "venous-ultrasound-result": {"dvt-seen": 2, None: 1},
    "knee-radiograph-result": {"suspicious-lesion": 4, "fracture": 3, None: 2, "normal-or-effusion-only": 1},
    "injury-mechanism": {"fall": 3, "blunt": 3, "twist": 2, None: 1},
    "symptom-side": {"left": 2, "bilateral": 1},
    "pregnancy": {"pregnant": 2, None: 1},
}
# §1.1 item 4: the undated coded values that raise risk
_RISK_RAISING = {
    "venous-ultrasound-result": frozenset({"dvt-seen"}),
    "knee-radiograph-result": frozenset({"suspicious-lesion", "fracture"}),
    "injury-mechanism": frozenset({"twist", "fall", "blunt"}),
    "symptom-side": frozenset({"left"}),
}
_BOOLEAN_ITEMS = frozenset(c for c, kind in KNEE_ASSESSMENT.items() if kind == BOOLEAN)
_LOWER_IS_RISK = frozenset({"spo2", "sbp"})
# the flags of a Reading that give a quality line (conflicts and superseded values carry theirs)
_NOTED = frozenset({"preliminary", "undated", "conflict", "superseded"})


def _risk_rank(concept: str, value: Any) -> float:
    """Higher = higher risk (§1.3 item 4 table). Unknown sits between the extremes where the table says
    so (D-dimer, pregnancy), else below every known value."""
    if concept in _BOOLEAN_ITEMS:
        if value is None:
            return 1
        return 2 if value is (concept not in FALSE_IS_RISK) else 0
    ranks = _CODED_RANK.get(concept)
    if ranks is not None:
        return ranks.get(value, float("-inf") if value is None else 0)
    if value is None:
        return float("-inf")
    if isinstance(value, datetime):
        ts = value.timestamp()
        return -ts if concept == "symptom-onset" else ts       # earlier onset; later injury date
    if isinstance(value, Quantity):
        return -value.value if concept in _LOWER_IS_RISK else value.value
    return 0


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return (a.value, a.unit, a.comparator) == (b.value, b.unit, b.comparator)
    return a == b


def _order_key(v: Value) -> tuple[datetime, datetime]:
    return (v.time or MIN_TIME, v.issued or MIN_TIME)


def _raises_risk(concept: str, value: Any) -> bool:
    """§1.1 item 4: an undated value is used only when it raises risk."""
    if value is None:
        return False
    if concept in _BOOLEAN_ITEMS:
        return value is (concept not in FALSE_IS_RISK)
    return value in _RISK_RAISING.get(concept, ())


def resolve(concept: str, values: list[Value], now: datetime, window: Window) -> Reading | None:
    """One concept's Reading: latest in window wins; same-time disagreement -> higher risk + conflict;
    earlier differing values within 24 h -> superseded. Undated: used only when risk-raising."""
    start, latest = window_start(now, window), now + FUTURE_TOLERANCE      # once per concept
    if len(values) == 1:            # the common case: one value of the concept
        t = values[0].time
        dated = values if t is not None and start <= t <= latest else []
    else:
        dated = [v for v in values if v.time is not None and start <= v.time <= latest]
    if not dated:
        undated = [v for v in values if v.time is None]
        if not undated:
            return None
        risky = [v for v in undated if _raises_risk(concept, v.value)]
        if risky:
            winner = max(risky, key=lambda v: _risk_rank(concept, v.value))
            return Reading(winner.value, winner, flags=set(winner.flags) | {"undated"})
        return Reading(None, None, flags={"undated"})     # undated reassuring value -> unknown
    if len(dated) == 1:
        winner = dated[0]
        return Reading(winner.value, winner, flags=set(winner.flags))
    dated.sort(key=_order_key)
    top = _order_key(dated[-1])
    ties = [v for v in dated if _order_key(v) == top]
    winner = max(ties, key=lambda v: _risk_rank(concept, v.value))
    reading = Reading(winner.value, winner, flags=set(winner.flags))
    reading.conflicts = [v for v in ties if v is not winner and not _same(v.value, winner.value)]
    if reading.conflicts:
        reading.flags.add("conflict")
    floor = winner.time - 24 * H
    reading.superseded = [v for v in reversed(dated) if _order_key(v) < top and v.time >= floor
                          and not _same(v.value, winner.value)]
    if reading.superseded:
        reading.flags.add("superseded")
    return reading


def resolve_observations(r: ReadState) -> None:
    """Every concept the Observations gave, resolved into ``r.facts`` (ka, vitals, labs, smoking, results)."""
    f = r.facts
    for code, values in r.ka_values.items():
        reading = resolve(code, values, r.now, windows.KA_WINDOWS.get(code, windows.KA_DEFAULT))
        if reading is not None:
            f.ka[code] = reading
            if not _NOTED.isdisjoint(reading.flags):
                _note_reading(r, f"ka:{code}", reading)
    for key, values in r.vital_values.items():
        reading = resolve(key, values, r.now, windows.VITALS)
        if reading is not None:
            f.vitals[key] = reading
            if not _NOTED.isdisjoint(reading.flags):
                _note_reading(r, key.replace("_", " "), reading)
    for key, values in r.lab_values.items():
        reading = resolve(key, values, r.now, windows.LABS[key])
        if reading is not None:
            f.labs[key] = reading
            if not _NOTED.isdisjoint(reading.flags):
                _note_reading(r, key.replace("_", " "), reading)
    smoking = resolve("smoking", r.smoking_values, r.now, windows.SMOKING)
    if smoking is not None:
        f.smoking = smoking
    f.ultrasounds = _result_list(r, "venous-ultrasound-result")
    f.radiographs = _result_list(r, "knee-radiograph-result")
    f.ddimers.sort(key=lambda d: (d.time or MIN_TIME), reverse=True)


def _result_list(r: ReadState, code: str) -> list[Value]:
    """ka results in their read window (§1.4), latest first; undated ones last (flag undated)."""
    window = windows.KA_WINDOWS[code]
    values = [v for v in r.ka_values.get(code, []) if v.time is None or within(v.time, r.now, window)]
    return sorted(values, key=_order_key, reverse=True)


def _note_reading(r: ReadState, name: str, reading: Reading) -> None:
    w = reading.winner
    if w is not None and "preliminary" in reading.flags:
        r.note("preliminary", f"{name}: {w.source.ref} is preliminary")
    if w is not None and "undated" in reading.flags:
        r.note("undated", f"{name}: {w.source.ref} has no date; used because it raises risk")
    elif w is None and "undated" in reading.flags:
        r.note("undated", f"{name}: only undated values on record; treated as unknown")
    if reading.conflicts:
        others = ", ".join(v.source.ref for v in reading.conflicts)
        r.note("conflict", f"{name}: {w.source.ref} and {others} at the same time disagree; "
                           f"the higher-risk value ({shown(reading.value)}) is used")
    for v in reading.superseded:
        when = v.time.strftime("%Y-%m-%d %H:%M UTC") if v.time else "undated"
        r.note("superseded", f"{name}: {v.source.ref} ({when}, {shown(v.value)}) superseded by "
                             f"{w.source.ref} ({shown(reading.value)})")
