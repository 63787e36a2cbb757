"""terminology §13: unit normalisation, conversion, assumptions, comparators (clinical-rules §1.5)."""
import pytest

from service.chart.facts import Quantity
from service.chart.units import UCUM, compare, normalise_unit, read_quantity


def q(value, unit=None, code=None, comparator=None):
    out = {"value": value}
    if unit is not None:
        out["unit"] = unit
    if code is not None:
        out.update(system=UCUM, code=code)
    if comparator:
        out["comparator"] = comparator
    return out


@pytest.mark.parametrize("raw, norm", [
    (" mg/L ", "mg/L"), ("µg/L", "ug/L"), ("μg/L", "ug/L"), ("10^9/L", "10*9/L"), ("x10E9/L", "10*9/L"),
    ("K/uL", "10*3/uL"), ("°C", "Cel"), ("degF", "[degF]"), ("F", "[degF]"), ("mm/hr", "mm/h"),
    ("mmHg", "mm[Hg]"), ("bpm", "{beats}/min"), ("hours", "h"), ("minutes", "min"), ("weeks", "wk"),
])
def test_normalise_unit(raw, norm):
    assert normalise_unit(raw) == norm


def test_calf_mm_to_cm():
    r = read_quantity("calf-circumference-difference", q(35, code="mm"))
    assert r.quantity.value == pytest.approx(3.5) and r.quantity.unit == "cm" and not r.flags


def test_morning_stiffness_hours_to_minutes():
    r = read_quantity("morning-stiffness", q(1.5, unit="hours"))
    assert r.quantity.value == pytest.approx(90) and r.quantity.unit == "min"


def test_temperature_degf_converted():
    r = read_quantity("body-temperature", q(101.3, code="[degF]"))
    assert r.quantity.value == pytest.approx(38.5) and not r.flags


@pytest.mark.parametrize("value, expected", [(38.2, 38.2), (25, 25), (45, 45), (100.4, 38.0), (77, 25.0), (113, 45.0)])
def test_temperature_without_unit_assumed_by_range(value, expected):
    r = read_quantity("body-temperature", q(value))
    assert r.quantity.value == pytest.approx(expected) and r.flags == {"unit-assumed"}


@pytest.mark.parametrize("value", [24.9, 46, 76.9, 113.1, 300])
def test_temperature_outside_assumption_ranges_not_used(value):
    r = read_quantity("body-temperature", q(value, unit="K"))
    assert r.quantity is None and r.flags == {"unit"}


def test_spo2_fraction_with_unit_one_is_converted_silently():
    r = read_quantity("oxygen-saturation", q(0.95, code="1"))
    assert r.quantity.value == pytest.approx(95) and not r.flags


def test_spo2_fraction_with_percent_is_assumed():
    r = read_quantity("oxygen-saturation", q(0.91, code="%"))
    assert r.quantity.value == pytest.approx(91) and r.flags == {"unit-assumed"}


def test_spo2_percent_and_over_100():
    assert read_quantity("oxygen-saturation", q(97, code="%")).quantity.value == 97
    assert read_quantity("oxygen-saturation", q(97)).flags == {"unit-assumed"}
    r = read_quantity("oxygen-saturation", q(101, code="%"))
    assert r.quantity is None and r.flags == {"unit"}


def test_ddimer_feu_word_stripped_and_converted():
    r = read_quantity("d-dimer-feu", {"value": 0.65, "unit": "mg/L FEU", "system": UCUM, "code": "mg/L"})
    assert r.quantity.value == pytest.approx(650) and r.quantity.unit == "ug/L" and r.assay_word == "FEU"
    r = read_quantity("d-dimer-ddu", q(500, unit="ng/mL DDU"))
    assert r.quantity.value == 500 and r.assay_word == "DDU"


def test_unknown_or_missing_unit_not_used():
    assert read_quantity("crp", q(12)).flags == {"unit"}
    assert read_quantity("crp", q(12, unit="furlongs")).quantity is None


@pytest.mark.parametrize("concept, value, unit, expected", [
    ("crp", 2.0, "mg/dL", 20), ("urate", 0.36, "mmol/L", 360), ("urate", 6.0, "mg/dL", 356.88),
    ("wbc", 12000, "/mm3", 12), ("wbc", 12, "10*3/uL", 12), ("gestational-age", 10, "wk", 70),
])
def test_factor_conversions(concept, value, unit, expected):
    assert read_quantity(concept, q(value, unit=unit)).quantity.value == pytest.approx(expected)


def test_site_map_default_unit_and_alias():
    r = read_quantity("calf-circumference-difference", q(30, unit="millimetres"), unit_aliases={"millimetres": "mm"})
    assert r.quantity.value == pytest.approx(3.0)
    r = read_quantity("calf-circumference-difference", q(3.1), default_unit="cm")
    assert r.quantity.value == pytest.approx(3.1)


def test_comparator_kept_after_conversion():
    r = read_quantity("d-dimer-feu", q(0.27, code="mg/L", comparator="<"))
    assert r.quantity.comparator == "<" and r.quantity.value == pytest.approx(270)


# §13 worked examples: heart rate > 100
@pytest.mark.parametrize("comparator, expected", [(">", True), ("<=", False), (">=", None), ("<", False),
                                                  (None, False), ("ad", None), ("~", None)])
def test_compare_hr_gt_100(comparator, expected):
    assert compare(Quantity(100, "/min", comparator), ">", 100) is expected


# §13 worked examples: D-dimer positive at >= 0.50 (cut-off counts as positive)
@pytest.mark.parametrize("comparator, value, expected", [
    ("<", 0.27, False), ("<", 0.50, False), ("<=", 0.49, False), (">=", 0.50, True), (">", 4.0, True),
    ("<", 1.0, None), ("<=", 0.50, None), (">", 0.20, None), (">=", 0.20, None), (None, 0.50, True),
])
def test_compare_ddimer_cutoff(comparator, value, expected):
    assert compare(Quantity(value, "mg/L", comparator), ">=", 0.50) is expected


def test_compare_lower_thresholds():
    assert compare(Quantity(92, "%", ">="), "<", 92) is False
    assert compare(Quantity(90, "%", "<"), "<", 92) is True
    assert compare(Quantity(90, "mm[Hg]", "<="), "<=", 90) is True
    assert compare(None, ">", 1) is None
