"""service/chart/windows.py: the one test "within a window" (clinical-rules §1.1 item 2, §1.4)."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from service.chart.facts import Anticoagulation, Pregnancy
from service.chart.windows import FUTURE_TOLERANCE, CalendarMonths, window_start, within
from service.vocabulary import AnticoagulationState, PregnancyState

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.utc)


def test_inclusive_at_both_ends_with_five_minutes_of_clock_skew():
    week = timedelta(days=7)
    assert within(NOW - week, NOW, week)
    assert not within(NOW - week - timedelta(microseconds=1), NOW, week)
    assert within(NOW + FUTURE_TOLERANCE, NOW, week)
    assert not within(NOW + FUTURE_TOLERANCE + timedelta(microseconds=1), NOW, week)


def test_unknown_time_is_never_within():
    assert not within(None, NOW, timedelta(days=36500))


def test_calendar_months_clamp_to_the_end_of_a_shorter_month():
    assert window_start(NOW, CalendarMonths(1)) == datetime(2026, 2, 28, 12, 0, tzinfo=timezone.utc)
    assert within(datetime(2026, 2, 28, 12, 0, tzinfo=timezone.utc), NOW, CalendarMonths(1))
    assert not within(datetime(2026, 2, 28, 11, 59, tzinfo=timezone.utc), NOW, CalendarMonths(1))


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
       st.integers(min_value=0, max_value=240))
def test_a_calendar_month_window_starts_no_later_than_whole_days_would(now, months):
    now = now.replace(tzinfo=timezone.utc)
    start = window_start(now, CalendarMonths(months))
    assert start <= now and within(start, now, CalendarMonths(months))
    assert now - start >= timedelta(days=28 * months)


def test_states_are_the_vocabulary_enums_and_refuse_other_values():
    assert Pregnancy("pregnant").state is PregnancyState.PREGNANT
    assert Anticoagulation("current").state is AnticoagulationState.CURRENT
    with pytest.raises(ValueError):
        Pregnancy("probably")
