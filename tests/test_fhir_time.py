"""service/chart/dates.py: every FHIR date precision, the §1.1 points, spans, and what is not a date."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from service.chart.dates import (
    Precision,
    completed_years,
    months_before,
    parse_fhir_time,
    parse_time,
    utc_day,
)

UTC = timezone.utc


def at(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("text,point,precision", [
    ("1974", at(1974, 7, 1), Precision.YEAR),                              # §1.1 item 3: 1 July
    ("1974-12", at(1974, 12, 15), Precision.MONTH),                        # the 15th
    ("1974-12-25", at(1974, 12, 25), Precision.DAY),                       # 00:00 UTC
    ("2026-03-02T09:00:00Z", at(2026, 3, 2, 9), Precision.TIME),
    ("2026-03-02T09:00:00.123Z", at(2026, 3, 2, 9, 0, 0, 123000), Precision.TIME),
    ("2026-03-02T09:00:00.123456789+00:00", at(2026, 3, 2, 9, 0, 0, 123456), Precision.TIME),
    ("2026-03-02T09:00:00+05:30", at(2026, 3, 2, 3, 30), Precision.TIME),
    ("2026-03-02T01:00:00-05:00", at(2026, 3, 2, 6), Precision.TIME),
    ("2026-03-02T09:00Z", at(2026, 3, 2, 9), Precision.TIME),              # no seconds
    ("2026-03-02T09:00", at(2026, 3, 2, 9), Precision.TIME),               # no offset: read as UTC
    ("2026-03-02T09:00:00", at(2026, 3, 2, 9), Precision.TIME),
    ("2026-03-02 09:00:00Z", at(2026, 3, 2, 9), Precision.TIME),
    ("2026-03-02T09:00:00+0530", at(2026, 3, 2, 3, 30), Precision.TIME),
    ("2016-12-31T23:59:60Z", at(2016, 12, 31, 23, 59, 59), Precision.TIME),  # leap second
    ("  2026-03-02  ", at(2026, 3, 2), Precision.DAY),
])
def test_every_precision(text, point, precision):
    t = parse_fhir_time(text)
    assert t is not None and t.point == point and t.precision == precision
    assert t.partial is (precision in (Precision.YEAR, Precision.MONTH))
    assert t.earliest <= t.point <= t.latest


def test_spans_of_partial_dates():
    year = parse_fhir_time("1974")
    assert (year.earliest, year.latest.date().isoformat()) == (at(1974, 1, 1), "1974-12-31")
    feb = parse_fhir_time("2024-02")
    assert (feb.earliest, feb.latest.date().isoformat()) == (at(2024, 2, 1), "2024-02-29")
    day = parse_fhir_time("2026-03-02")
    assert day.earliest == at(2026, 3, 2) and day.latest < at(2026, 3, 3)


@pytest.mark.parametrize("value", [
    None, 1974, 1974.5, True, False, [], ["1974"], {"value": "1974"}, "", " ", "garbage", "74", "19740",
    "1974-13", "1974-00", "1974-02-30", "0000", "0000-01-01", "1974-1-1", "1974/12/25", "25/12/1974",
    "1974-12-25T25:00:00Z", "1974-12-25T10:61:00Z", "2026-03-02T09:00:00+15:30", "2026-03-02T09",
    "9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00", "\x00", "19\n74", "١٩٧٤", "1" * 5000,
])
def test_not_a_date_is_none_never_an_error(value):
    assert parse_fhir_time(value) is None
    assert parse_time(value) == (None, False)
    assert utc_day(value) is None


def test_utc_day_and_months_before():
    assert utc_day("2026-03-02T23:30:00-02:00") == "2026-03-03"
    assert utc_day("1974") == "1974-07-01" and utc_day("1974-12") == "1974-12-15"
    assert months_before(at(2026, 3, 31), 1) == at(2026, 2, 28)
    assert months_before(at(2024, 3, 31), 1) == at(2024, 2, 29)
    assert months_before(at(2026, 1, 15), 13) == at(2024, 12, 15)


def test_completed_years():
    born = datetime(1974, 12, 25).date()
    assert completed_years(born, datetime(2026, 12, 24).date()) == 51
    assert completed_years(born, datetime(2026, 12, 25).date()) == 52
    assert completed_years(born, datetime(1970, 1, 1).date()) == 0


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_round_trip_of_any_instant(moment):
    text = moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    assert parse_fhir_time(text).point == moment


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(st.text(max_size=40), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(),
                 st.lists(st.text(max_size=5), max_size=3)))
def test_any_value_is_a_time_or_none(value):
    t = parse_fhir_time(value)
    assert t is None or (t.point.tzinfo is not None and t.earliest <= t.point <= t.latest)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(min_value=1, max_value=9999), st.integers(min_value=1, max_value=12),
       st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_offsets_never_raise(year, month, offset_minutes):
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = f"{year:04d}-{month:02d}-01T00:00:00{sign}{hours:02d}:{minutes:02d}"
    t = parse_fhir_time(text)
    if t is not None:
        assert t.point == datetime(year, month, 1, tzinfo=timezone(timedelta(minutes=offset_minutes))).astimezone(UTC)
