"""Units, conversions and Quantity comparators: terminology.md §13 as data (clinical-rules §1.5).

Everything measured is converted here to the canonical unit of its concept before any rule sees it.
Three outcomes for a value (§13, last column of the table):

- **used**: the unit is accepted, the value is converted;
- **assumed** (flag ``unit-assumed``): the unit is missing or not accepted, but the table lets the service
  assume one (temperature by range, SpO2 by range, an SpO2 fraction sent with ``%``);
- **not used** (flag ``unit``): the value is unknown for every rule and is shown as recorded.

Comparators (§13 "Comparators"): a Quantity with a comparator stands for a range; :func:`compare` tests the
whole range against a threshold and answers True/False only when the range settles it, else None.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple

from service.chart.facts import Quantity

UCUM = "http://unitsofmeasure.org"

# Flags (clinical-rules §1.5 items 1 and 2)
FLAG_UNIT = "unit"
FLAG_UNIT_ASSUMED = "unit-assumed"


@dataclass(frozen=True)
class UnitRule:
    """One row of the §13 table."""

    canonical: str | None                       # None: "as reported" (no conversion)
    factors: Mapping[str, float]                # accepted unit -> factor to canonical
    # a special reader for rows whose conversion is not a factor (temperature, SpO2)
    special: str | None = None
    as_reported: bool = False                   # rheumatoid factor, anti-CCP: no conversion at all


def _rule(canonical: str | None, factors: dict[str, float], special: str | None = None,
          as_reported: bool = False) -> UnitRule:
    return UnitRule(canonical, MappingProxyType(dict(factors)), special, as_reported)


_DDIMER = {"ug/L": 1.0, "ng/mL": 1.0, "mg/L": 1000.0, "ug/mL": 1000.0}
_RATE = {"/min": 1.0, "{beats}/min": 1.0, "{breaths}/min": 1.0}

# terminology §13 table: concept -> rule. Concepts are named after the sets of codesets.json (the
# measurement sets) or the knee-assessment code (contract §3) that the row names.
RULES: Mapping[str, UnitRule] = MappingProxyType({
    "d-dimer-feu": _rule("ug/L", _DDIMER),
    "d-dimer-ddu": _rule("ug/L", _DDIMER),
    "body-temperature": _rule("Cel", {"Cel": 1.0, "[degF]": 1.0}, special="temperature"),
    "oxygen-saturation": _rule("%", {"%": 1.0, "1": 100.0, "{fraction}": 100.0}, special="spo2"),
    "heart-rate": _rule("/min", _RATE),
    "respiratory-rate": _rule("/min", _RATE),
    "systolic-blood-pressure": _rule("mm[Hg]", {"mm[Hg]": 1.0}),
    "wbc": _rule("10*9/L", {"10*9/L": 1.0, "10*3/uL": 1.0, "10*3/mm3": 1.0,
                            "/uL": 0.001, "/mm3": 0.001, "{cells}/uL": 0.001}),
    "crp": _rule("mg/L", {"mg/L": 1.0, "mg/dL": 10.0}),
    "crp-high-sensitivity": _rule("mg/L", {"mg/L": 1.0, "mg/dL": 10.0}),
    "esr": _rule("mm/h", {"mm/h": 1.0}),
    "urate": _rule("umol/L", {"umol/L": 1.0, "mmol/L": 1000.0, "mg/dL": 59.48}),
    "rheumatoid-factor": _rule(None, {}, as_reported=True),
    "anti-ccp": _rule(None, {}, as_reported=True),
    "calf-circumference-difference": _rule("cm", {"cm": 1.0, "mm": 0.1}),
    "morning-stiffness": _rule("min", {"min": 1.0, "h": 60.0}),
    "gestational-age": _rule("d", {"d": 1.0, "wk": 7.0}),
})

# §13 normalisation of unit strings: spellings read as a UCUM unit (compared case-insensitively).
_SPELLINGS = {
    "°c": "Cel", "c": "Cel", "degc": "Cel", "cel": "Cel",
    "°f": "[degF]", "f": "[degF]", "degf": "[degF]", "[degf]": "[degF]",
    "mm/hr": "mm/h", "mmhg": "mm[Hg]", "bpm": "{beats}/min", "beats/min": "{beats}/min",
    "hr": "h", "hour": "h", "hours": "h", "mins": "min", "minutes": "min", "weeks": "wk",
}
# FEU/DDU word on a D-dimer unit (§13 D-dimer item 1): stripped before the unit is read.
_ASSAY_WORD = re.compile(r"\b(FEU|DDU)\b", re.IGNORECASE)
_TEN_TO_9 = re.compile(r"(?i)x?10\^9|x10e9")
_TEN_TO_3 = re.compile(r"(?i)x?10\^3|x10e3")
_KILO_PREFIX = re.compile(r"^[kK](?=/)")          # "K/uL" -> "10*3/uL"
# concept -> lower-cased accepted unit -> accepted unit (§13 units are compared case-insensitively)
_ACCEPTED_BY_LOWER: dict[str, dict[str, str]] = {}
for _concept, _rule_row in RULES.items():
    for _unit in _rule_row.factors:
        _ACCEPTED_BY_LOWER.setdefault(_concept, {}).setdefault(_unit.lower(), _unit)

# Temperature assumption ranges (§13: "a value from 25 to 45 is Cel, from 77 to 113 is [degF]").
TEMP_ASSUME_CEL = (25.0, 45.0)
TEMP_ASSUME_DEGF = (77.0, 113.0)


def normalise_unit(text: str | None) -> str | None:
    """Normalise a unit string per §13 (trim, µ/μ -> u, 10^9 -> 10*9, K -> 10*3, named spellings).

    The result is the canonical UCUM spelling when recognised, else the cleaned string (callers then
    compare it case-insensitively with a rule's accepted units)."""
    return _normalised(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=1024)
def _normalised(text: str) -> str | None:
    # a pure function of a short string; a chart repeats a handful of unit spellings
    s = text.strip().replace("\u00b5", "u").replace("\u03bc", "u")
    if not s:
        return None
    s = _TEN_TO_9.sub("10*9", s)
    s = _TEN_TO_3.sub("10*3", s)
    s = _KILO_PREFIX.sub("10*3", s)
    return _SPELLINGS.get(s.lower(), s)


@functools.lru_cache(maxsize=1024)
def _without_assay_word(text: str) -> tuple[str, str | None]:
    """('mg/L FEU') -> ('mg/L', 'FEU'): §13 D-dimer item 1."""
    m = _ASSAY_WORD.search(text)
    if not m:
        return text, None
    return _ASSAY_WORD.sub("", text).strip(), m.group(1).upper()


def accepted_units(concept: str) -> frozenset[str]:
    """The accepted units of a §13 row (empty when the concept has no units row)."""
    rule = RULES.get(concept)
    return frozenset(rule.factors) if rule else frozenset()


def match_accepted(concept: str, unit: str | None) -> str | None:
    """The accepted unit of ``concept`` that ``unit`` normalises to (case-insensitive), else None."""
    norm = normalise_unit(unit)
    if norm is None:
        return None
    accepted = _ACCEPTED_BY_LOWER.get(concept)
    return accepted.get(norm.lower()) if accepted else None


class UnitResult(NamedTuple):
    """What :func:`read_quantity` made of one valueQuantity (a NamedTuple: built for every measured
    value and read once)."""

    quantity: Quantity | None          # canonical; None = not used (unknown) or no number
    flags: frozenset[str] = frozenset()
    note: str = ""                     # human text for the flag ("unit 'mmol' not recognised ...")
    assay_word: str | None = None      # FEU / DDU word found on a D-dimer unit
    as_recorded: str = ""
    raw_value: float | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _fmt(v: float) -> str:
    return f"{v:g}"


def quantity_unit_text(vq: Mapping[str, Any]) -> str | None:
    """§13: the unit is ``Quantity.code`` when ``Quantity.system`` is UCUM, otherwise ``Quantity.unit``."""
    code, unit, system = vq.get("code"), vq.get("unit"), vq.get("system")
    if isinstance(system, str) and system.strip() == UCUM and isinstance(code, str) and code.strip():
        return code
    if isinstance(unit, str) and unit.strip():
        return unit
    if isinstance(code, str) and code.strip():
        return code
    return None


def read_quantity(concept: str, vq: Any, *, default_unit: str | None = None,
                  unit_aliases: Mapping[str, str] | None = None) -> UnitResult:
    """Read a FHIR Quantity for ``concept`` into its canonical unit (terminology §13).

    ``default_unit`` and ``unit_aliases`` come from a site map entry (contract §10 "unit", "units"):
    the unit to use when the value has none, and local unit strings -> accepted units."""
    if not isinstance(vq, dict):      # plain dict: typing.Mapping checks are slow on the hot path
        return UnitResult(None, frozenset({FLAG_UNIT}), "value is not a Quantity")
    value = _number(vq.get("value"))
    comparator = vq.get("comparator")
    if not isinstance(comparator, str):
        comparator = None
    raw_unit, raw_code = vq.get("unit"), vq.get("code")
    unit_text = quantity_unit_text(vq)
    # the FEU/DDU word may be on the code or on the human unit (V24: code "mg/L", unit "mg/L FEU")
    assay_word = _without_assay_word(raw_unit)[1] if isinstance(raw_unit, str) else None
    if assay_word is None and isinstance(raw_code, str):
        assay_word = _without_assay_word(raw_code)[1]
    if unit_text is not None:
        unit_text = _without_assay_word(unit_text)[0]
    if unit_aliases and isinstance(unit_text, str):
        for local, accepted in unit_aliases.items():
            if local.strip().lower() == unit_text.strip().lower():
                unit_text = accepted
                break
    if unit_text is None and default_unit:
        unit_text = default_unit
    number_text = _fmt(value) if value is not None else str(vq.get("value"))
    recorded = " ".join([x for x in (number_text, raw_unit or raw_code or "") if x])
    if comparator:
        recorded = comparator + recorded
    if value is None:
        return UnitResult(None, frozenset({FLAG_UNIT}), "no numeric value", assay_word, recorded)
    rule = RULES.get(concept)
    if rule is None or rule.as_reported:
        # no §13 row, or "as reported": the number is kept with the unit as sent
        q = Quantity(value, normalise_unit(unit_text), comparator, recorded)
        return UnitResult(q, frozenset(), "", assay_word, recorded, value)
    if rule.special == "temperature":
        return _temperature(value, unit_text, comparator, recorded)
    if rule.special == "spo2":
        return _spo2(value, unit_text, comparator, recorded)
    accepted = match_accepted(concept, unit_text)
    if accepted is None:
        shown = unit_text if unit_text else "no unit"
        return UnitResult(None, frozenset({FLAG_UNIT}),
                          f"unit '{shown}' not recognised for {concept}; value {recorded} not used",
                          assay_word, recorded, value)
    q = Quantity(value * rule.factors[accepted], rule.canonical, comparator, recorded)
    return UnitResult(q, frozenset(), "", assay_word, recorded, value)


def _temperature(value: float, unit_text: str | None, comparator: str | None, recorded: str) -> UnitResult:
    """§13 body temperature: Cel; [degF] -> (v-32)*5/9; no/unknown unit assumed by range."""
    accepted = match_accepted("body-temperature", unit_text)
    if accepted == "Cel":
        return UnitResult(Quantity(value, "Cel", comparator, recorded), frozenset(), "", None, recorded, value)
    if accepted == "[degF]":
        return UnitResult(Quantity(_f_to_c(value), "Cel", comparator, recorded), frozenset(), "", None,
                          recorded, value)
    lo, hi = TEMP_ASSUME_CEL
    if lo <= value <= hi:
        return UnitResult(Quantity(value, "Cel", comparator, recorded), frozenset({FLAG_UNIT_ASSUMED}),
                          f"temperature {recorded or _fmt(value)}: unit assumed to be °C", None, recorded, value)
    lo, hi = TEMP_ASSUME_DEGF
    if lo <= value <= hi:
        return UnitResult(Quantity(_f_to_c(value), "Cel", comparator, recorded), frozenset({FLAG_UNIT_ASSUMED}),
                          f"temperature {recorded or _fmt(value)}: unit assumed to be °F", None, recorded, value)
    return UnitResult(None, frozenset({FLAG_UNIT}),
                      f"temperature {recorded or _fmt(value)}: unit not recognised; value not used",
                      None, recorded, value)


def _f_to_c(v: float) -> float:
    return (v - 32.0) * 5.0 / 9.0


def _spo2(value: float, unit_text: str | None, comparator: str | None, recorded: str) -> UnitResult:
    """§13 oxygen saturation: a value 0..1 is a fraction (x100) whatever the unit (flag unit-assumed
    when sent with %, or with no/unknown unit); >1..100 is %; >100 not used."""
    accepted = match_accepted("oxygen-saturation", unit_text)
    if 0.0 <= value <= 1.0:
        flags = frozenset() if accepted in ("1", "{fraction}") else frozenset({FLAG_UNIT_ASSUMED})
        note = "" if not flags else f"SpO2 {recorded or _fmt(value)}: read as a fraction ({_fmt(value * 100)} %)"
        return UnitResult(Quantity(value * 100.0, "%", comparator, recorded), flags, note, None, recorded, value)
    if 1.0 < value <= 100.0:
        if accepted == "%":
            return UnitResult(Quantity(value, "%", comparator, recorded), frozenset(), "", None, recorded, value)
        if accepted in ("1", "{fraction}"):
            # a "fraction" above 1 cannot be a fraction: read as % and say so
            pass
        return UnitResult(Quantity(value, "%", comparator, recorded), frozenset({FLAG_UNIT_ASSUMED}),
                          f"SpO2 {recorded or _fmt(value)}: unit assumed to be %", None, recorded, value)
    return UnitResult(None, frozenset({FLAG_UNIT}),
                      f"SpO2 {recorded or _fmt(value)}: not a possible saturation; value not used",
                      None, recorded, value)


# ---- comparators (§13 "Comparators") -------------------------------------------------------------

@dataclass(frozen=True)
class _Interval:
    lo: float
    lo_incl: bool
    hi: float
    hi_incl: bool

    def empty_with(self, other: "_Interval") -> bool:
        lo, lo_incl = max((self.lo, self.lo_incl), (other.lo, other.lo_incl),
                          key=lambda t: (t[0], not t[1]))
        hi, hi_incl = min((self.hi, self.hi_incl), (other.hi, other.hi_incl),
                          key=lambda t: (t[0], t[1]))
        if lo < hi:
            return False
        return not (lo == hi and lo_incl and hi_incl)

    def within(self, other: "_Interval") -> bool:
        lo_ok = self.lo > other.lo or (self.lo == other.lo and (other.lo_incl or not self.lo_incl))
        hi_ok = self.hi < other.hi or (self.hi == other.hi and (other.hi_incl or not self.hi_incl))
        return lo_ok and hi_ok


_INF = math.inf
_RANGE_OF: Mapping[str, Callable[[float], _Interval]] = MappingProxyType({
    "<": lambda v: _Interval(-_INF, False, v, False),
    "<=": lambda v: _Interval(-_INF, False, v, True),
    ">": lambda v: _Interval(v, False, _INF, False),
    ">=": lambda v: _Interval(v, True, _INF, False),
})
COMPARATORS = frozenset(_RANGE_OF)


def _point(v: float) -> _Interval:
    return _Interval(v, True, v, True)


def compare(q: Quantity | None, op: str, threshold: float) -> bool | None:
    """Does ``q`` satisfy ``q <op> threshold``? True/False when settled, None when unsettled (§13).

    ``q.comparator`` makes q a range; ``ad`` or any unknown comparator settles nothing (None)."""
    if q is None or not isinstance(q.value, (int, float)) or op not in _RANGE_OF:
        return None
    if q.comparator in (None, ""):
        rng = _point(float(q.value))
    elif q.comparator in _RANGE_OF:
        rng = _RANGE_OF[q.comparator](float(q.value))
    else:
        return None
    test = _RANGE_OF[op](float(threshold))
    if rng.within(test):
        return True
    if rng.empty_with(test):
        return False
    return None


# -- display (cards) ----------------------------------------------------------------------------
# UCUM codes as a clinician reads them (clinical-rules §7.5: "WBC 15.2 × 10⁹/L", "CRP 180 mg/L").
DISPLAY_UNITS: Mapping[str, str] = MappingProxyType({
    "10*9/L": "× 10⁹/L", "10*3/uL": "× 10³/µL", "10*3/mm3": "× 10³/mm³", "10*12/L": "× 10¹²/L",
    "{cells}/uL": "cells/µL", "/uL": "/µL", "/mm3": "/mm³",
    "ug/L": "µg/L", "ug/mL": "µg/mL", "umol/L": "µmol/L", "mm[Hg]": "mmHg", "Cel": "°C", "[degF]": "°F",
    "{beats}/min": "/min", "{breaths}/min": "/min", "{fraction}": "(fraction)", "wk": "weeks", "d": "days",
})
# only the codes that never occur as ordinary words are replaced inside free text
_TEXT_UNITS = ("10*9/L", "10*3/uL", "10*3/mm3", "10*12/L", "{cells}/uL", "ug/L", "ug/mL", "umol/L",
               "mm[Hg]", "[degF]", "{beats}/min", "{breaths}/min", "Cel")
_TEXT_UNIT_RE = re.compile(
    r"(?<![\w*/{\[])(" + "|".join(re.escape(u) for u in sorted(_TEXT_UNITS, key=len, reverse=True)) + r")(?![\w*])")
# the same codes as a bare alternation: the engine skips ahead to their first characters, so card text
# without any unit (most of it) is ruled out at a fraction of the cost of the boundary checks above
_TEXT_UNIT_ANYWHERE = re.compile("|".join(re.escape(u) for u in _TEXT_UNITS))


def display_unit(unit: str | None) -> str:
    """A UCUM code as a clinician reads it ('10*9/L' -> '× 10⁹/L'); unknown codes are shown as they are."""
    if not unit:
        return ""
    return DISPLAY_UNITS.get(unit, unit)


def humanise_units(text: str) -> str:
    """Replace raw UCUM codes inside card text ('wbc 15.2 10*9/L' -> 'wbc 15.2 × 10⁹/L')."""
    if _TEXT_UNIT_ANYWHERE.search(text) is None:
        return text
    return _TEXT_UNIT_RE.sub(lambda m: DISPLAY_UNITS[m.group(1)], text)
