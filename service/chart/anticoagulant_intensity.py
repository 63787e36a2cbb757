"""Anticoagulant intensity (terminology §4.1): therapeutic, prophylactic or unknown, by the first rule
that applies — warfarin is therapeutic (rule 1); a dose per kg, an intravenous dose or a dose above the
prophylactic regimen is therapeutic, one at or below it prophylactic (rule 2); else the set the code is
in (rule 3). Pharmacist sign-off required before release (terminology §4.1)."""
from __future__ import annotations

import re
from typing import Any, Mapping

from service.chart import units
from service.chart.fhir_json import as_dict, as_list, as_text, concept_label
from service.chart.read_state import ReadState
from service.chart.windows import APIXABAN_SURGERY, within
from service.vocabulary import AnticoagulantIntensity

# terminology §4.1: prophylactic regimens (upper bounds): ingredient -> ((dose, unit, per day), ...)
PROPHYLACTIC_REGIMENS: Mapping[str, tuple[tuple[float, str, float], ...]] = {
    "enoxaparin": ((40.0, "mg", 1.0), (30.0, "mg", 2.0)),
    "dalteparin": ((5000.0, "[iU]", 1.0),),
    "heparin": ((5000.0, "[iU]", 3.0),),
    "fondaparinux": ((2.5, "mg", 1.0),),
    "rivaroxaban": ((10.0, "mg", 1.0),),
    "apixaban": ((2.5, "mg", 2.0),),                  # only with the rule-2 condition
    "dabigatran etexilate": ((220.0, "mg", 1.0),),
    "edoxaban": (),                                   # none: always therapeutic
}
WARFARIN = "warfarin"
APIXABAN = "apixaban"
_PERIOD_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0, "a": 365.0}
_DOSE_FORM_UNITS = frozenset({"tablet", "tablets", "tab", "tabs", "{tbl}", "{tablet}", "{tablets}", "capsule",
                              "capsules", "cap", "caps", "{capsule}", "{caps}", "syringe", "syringes",
                              "{syringe}", "vial", "vials", "{vial}", "{each}", "each", "ea", "1"})
_IU_UNITS = frozenset({"[iu]", "iu", "u", "[u]", "unit", "units", "[iu]/dose"})
_VOLUME_UNITS = frozenset({"ml", "milliliter", "millilitre"})
_IV_WORD = re.compile(r"\bIV\b")


def classify_intensity(r: ReadState, codings: list[dict], sets: frozenset[str], dosage: dict | None,
                       res: dict) -> AnticoagulantIntensity:
    """terminology §4.1: therapeutic | prophylactic | unknown, first rule that applies."""
    metas = [m for m in (r.terminology.anticoagulant_info(c) for c in codings) if m]
    ingredients = {m.get("ingredient") for m in metas if m.get("ingredient")}
    if WARFARIN in ingredients:
        return AnticoagulantIntensity.THERAPEUTIC                   # rule 1
    if isinstance(dosage, dict):                                    # rule 2
        by_dose = _by_dose(r, dosage, metas, ingredients, res)
        if by_dose is not None:
            return by_dose
    if "anticoagulants-therapeutic" in sets:                         # rule 3
        return AnticoagulantIntensity.THERAPEUTIC
    if "anticoagulants-prophylactic" in sets:
        return AnticoagulantIntensity.PROPHYLACTIC
    return AnticoagulantIntensity.UNKNOWN


def _by_dose(r: ReadState, dosage: dict, metas: list[Mapping[str, Any]], ingredients: set[str],
             res: dict) -> AnticoagulantIntensity | None:
    """Rule 2, or None when the dosage does not settle it."""
    amount, unit, per_kg = _dose(dosage, metas)
    per_day = _per_day(dosage)
    if per_kg or (_intravenous(dosage) and amount is not None):
        return AnticoagulantIntensity.THERAPEUTIC
    if amount is None or not unit or per_day is None or len(ingredients) != 1:
        return None
    ingredient = next(iter(ingredients))
    regimens = PROPHYLACTIC_REGIMENS.get(ingredient)
    if regimens is None:
        return None
    at_or_below = any(amount <= dose + 1e-9 and unit == dunit and per_day <= freq + 1e-9
                      for dose, dunit, freq in regimens)
    if at_or_below and ingredient == APIXABAN and not (_prophylaxis_reason(res) or _recent_joint_replacement(r)):
        return AnticoagulantIntensity.THERAPEUTIC
    return AnticoagulantIntensity.PROPHYLACTIC if at_or_below else AnticoagulantIntensity.THERAPEUTIC


def _dose(dosage: dict, metas: list[Mapping[str, Any]]) -> tuple[float | None, str | None, bool]:
    """terminology §4.1 rule 2: dose per administration in mg or IU -> (amount, "mg"|"[iU]", per_kg)."""
    for dr in as_list(dosage.get("doseAndRate")):
        dq = as_dict(as_dict(dr).get("doseQuantity"))
        value = dq.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        low = (units.quantity_unit_text(dq) or "").strip().lower()
        if "/kg" in low:
            return float(value), None, True
        if low == "mg":
            return float(value), "mg", False
        if low == "g":
            return float(value) * 1000, "mg", False
        if low in _IU_UNITS:
            return float(value), "[iU]", False
        strength = next((m for m in metas if m.get("unitDose")), None)
        if strength is None:
            return None, None, False
        through_strength = _dose_from_strength(float(value), low, strength)
        if through_strength is not None:
            return through_strength
    return None, None, False


def _dose_from_strength(value: float, low: str,
                        strength: Mapping[str, Any]) -> tuple[float | None, str | None, bool] | None:
    """A dose in millilitres or dose forms (tablets, syringes), through the product's strength; None
    when this dose says nothing (the next doseAndRate is read)."""
    if low in _VOLUME_UNITS:
        conc = as_dict(strength.get("concentration"))
        cval, cunit = conc.get("value"), as_text(conc.get("unit")) or ""
        if isinstance(cval, (int, float)) and "/" in cunit:
            return value * cval, _dose_unit(cunit.split("/")[0]), False
        return None, None, False
    if low in _DOSE_FORM_UNITS:
        ud = as_dict(strength.get("unitDose"))
        uval = ud.get("value")
        if isinstance(uval, (int, float)):
            return value * uval, _dose_unit(as_text(ud.get("unit")) or ""), False
    return None


def _dose_unit(u: str) -> str | None:
    u = u.strip().lower()
    return "mg" if u == "mg" else ("[iU]" if u in _IU_UNITS else None)


def _per_day(dosage: dict) -> float | None:
    rep = as_dict(as_dict(dosage.get("timing")).get("repeat"))
    freq, period, unit = rep.get("frequency"), rep.get("period"), as_text(rep.get("periodUnit"))
    if period is None and freq is None:
        return None
    freq = freq if isinstance(freq, (int, float)) and not isinstance(freq, bool) else 1
    if not isinstance(period, (int, float)) or isinstance(period, bool) or period <= 0 or unit not in _PERIOD_DAYS:
        return None
    return freq / (period * _PERIOD_DAYS[unit])


def _intravenous(dosage: dict) -> bool:
    route = dosage.get("route")
    words = " ".join([concept_label(route)] + [str(as_dict(c).get("display", ""))
                                               for c in as_list(as_dict(route).get("coding"))])
    return "intravenous" in words.lower() or _IV_WORD.search(words) is not None


def _prophylaxis_reason(res: dict) -> bool:
    """terminology §4.1 rule 2 (apixaban): the order's reason states VTE prophylaxis (read from text)."""
    texts = [concept_label(cc) for cc in as_list(res.get("reasonCode"))]
    texts += [str(as_dict(c).get("display", "")) for cc in as_list(res.get("reasonCode"))
              for c in as_list(as_dict(cc).get("coding"))]
    return any("prophyla" in t.lower() for t in texts)


def _recent_joint_replacement(r: ReadState) -> bool:
    """terminology §4.1 rule 2: a major-surgery (hip/knee replacement) Procedure in the previous 6 weeks."""
    return any("major-surgery" in p.sets and within(p.time, r.now, APIXABAN_SURGERY)
               for p in r.facts.procedures)
