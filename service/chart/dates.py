"""FHIR R4 ``date``, ``dateTime`` and ``instant`` values -> UTC times, and calendar-month arithmetic.

The one place where the service reads a FHIR time (clinical-rules §1.1). Every precision FHIR allows is
read: ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, a dateTime with or without seconds, fractions or offset, and
instants. Leniencies real systems need: a time without an offset is read as UTC; a space instead of ``T``;
an offset without a colon; a leap second (``:60``) is read as ``:59``.

A :class:`FhirTime` keeps the span the value allows (``earliest`` .. ``latest``) besides the point the
rules use (§1.1 item 3: a date means 00:00 UTC; ``YYYY`` -> 1 July, ``YYYY-MM`` -> the 15th, flag
``partial-date``), so that an age known only to the year or month can be read as a range.

Anything else (wrong type, garbage, impossible dates such as ``1974-02-30``, year 0000, a time that
leaves the datetime range once moved to UTC) is ``None``: unknown, never "now" or "long ago".
"""
from __future__ import annotations

import calendar
import functools
import re
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any, NamedTuple

from service.chart.fhir_json import as_dict, as_text

UTC = timezone.utc

_FHIR_TIME = re.compile(
    r"^(?P<year>\d{4})"
    r"(?:-(?P<month>\d{2})"
    r"(?:-(?P<day>\d{2})"
    r"(?:[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?"
    r")?)?)?$",
    re.ASCII,       # \d is 0-9 only, never other scripts' digits
)
_MAX_TEXT = 64          # longer strings are not dates (and are not worth a regex)
_MAX_OFFSET = timedelta(hours=14)   # FHIR offsets run from -14:00 to +14:00


class Precision(StrEnum):
    """How much of a FHIR time was recorded."""

    YEAR = "year"          # read as 1 July (§1.1 item 3), flag partial-date
    MONTH = "month"        # read as the 15th, flag partial-date
    DAY = "day"            # read as 00:00 UTC
    TIME = "time"


class FhirTime(NamedTuple):
    """A FHIR time read as UTC: the point the rules use and the span the recorded precision allows.
    (A NamedTuple: read for every time in every chart, it must be cheap to build.)"""

    point: datetime         # §1.1 item 3
    earliest: datetime      # first instant the value allows
    latest: datetime        # last instant the value allows
    precision: Precision

    @property
    def partial(self) -> bool:
        """Only the year or the month is known (§1.1 item 3, flag ``partial-date``)."""
        return self.precision in (Precision.YEAR, Precision.MONTH)


def parse_fhir_time(value: Any) -> FhirTime | None:
    """Read a FHIR date / dateTime / instant; None when it is not one (see module doc)."""
    if not isinstance(value, str):
        return None
    if len(value) > _MAX_TEXT:
        return _parse(value)
    return _parse_short(value)


def _parse(value: str) -> FhirTime | None:
    text = value.strip()
    if not text or len(text) > _MAX_TEXT:
        return None
    if len(text) > 16 and text[4] == "-" and text[10] == "T":
        fast = _full_datetime(text)
        if fast is not None:
            return fast
    m = _FHIR_TIME.match(text)
    if m is None:
        return None
    try:
        return _from_match(m)
    except (ValueError, OverflowError):
        return None


# a pure function of a short string, and a chart repeats its times (effective, issued, onset): the
# strings a chart can hold are memoised, bounded (a FhirTime is immutable)
_parse_short = functools.lru_cache(maxsize=4096)(_parse)


def _full_datetime(text: str) -> FhirTime | None:
    """The common case, a full dateTime or instant, read by the standard library (ten times faster
    than the pattern); anything it refuses goes through the pattern (leap seconds, odd offsets)."""
    try:
        dt = datetime.fromisoformat(text)
        offset = dt.utcoffset()
        if offset is not None and abs(offset) > _MAX_OFFSET:
            return None
        point = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return FhirTime(point, point, point, Precision.TIME)


def _from_match(m: re.Match[str]) -> FhirTime:
    year = int(m["year"])
    if m["month"] is None:
        first, last = date(year, 1, 1), date(year, 12, 31)
        return _span(datetime(year, 7, 1, tzinfo=UTC), first, last, Precision.YEAR)
    month = int(m["month"])
    if m["day"] is None:
        first = date(year, month, 1)
        last = date(year, month, calendar.monthrange(year, month)[1])
        return _span(datetime(year, month, 15, tzinfo=UTC), first, last, Precision.MONTH)
    day = date(year, month, int(m["day"]))
    if m["hour"] is None:
        return _span(datetime.combine(day, time(), UTC), day, day, Precision.DAY)
    second = min(int(m["second"] or 0), 59)            # a leap second is read as :59
    micro = int((m["fraction"] or "0")[:6].ljust(6, "0"))
    local = datetime(year, month, day.day, int(m["hour"]), int(m["minute"]), second, micro,
                     tzinfo=_zone(m["zone"]))
    point = local.astimezone(UTC)
    return FhirTime(point, point, point, Precision.TIME)


def _zone(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC            # FHIR needs an offset with a time; a missing one is read as UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 14 or minutes > 59:
        raise ValueError(f"offset {text}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _span(point: datetime, first: date, last: date, precision: Precision) -> FhirTime:
    earliest = datetime.combine(first, time(), UTC)
    latest = datetime.combine(last, time.max, UTC)
    return FhirTime(point, earliest, latest, precision)


def parse_time(value: Any) -> tuple[datetime | None, bool]:
    """(UTC point, partial) of a FHIR time; (None, False) when unreadable."""
    t = parse_fhir_time(value)
    return (t.point, t.partial) if t else (None, False)


def utc_day(value: Any) -> str | None:
    """UTC calendar day ("YYYY-MM-DD") of a FHIR time's point; None if absent or unreadable."""
    t = parse_fhir_time(value)
    return t.point.date().isoformat() if t else None


# the fields as ``strftime("%Y-%m-%d")`` prints them on glibc (the year unpadded, month and day two
# digits); printf-style on the fields costs a fraction of strftime, which every dated line paid
DAY_FORMAT = "%d-%02d-%02d"


def day_text(t: date) -> str:
    """``t`` (a date, or a datetime's own calendar day) as ``%Y-%m-%d``: '2026-03-02'."""
    return DAY_FORMAT % (t.year, t.month, t.day)


def months_before(dt: datetime, months: int) -> datetime:
    """Calendar months (§1.1 item 2); a day that does not exist in the target month clamps to its end
    (31 March - 1 month = 28/29 February)."""
    if dt.tzinfo is UTC:
        # every window of a read asks this with the same clock: memoised, bounded. Only UTC times:
        # equal times in other zones hash alike but fall on other calendar days
        return _months_before_utc(dt, months)
    return _months_before(dt, months)


def _months_before(dt: datetime, months: int) -> datetime:
    year, month = divmod(dt.year * 12 + dt.month - 1 - months, 12)
    day = min(dt.day, calendar.monthrange(year, month + 1)[1])
    return dt.replace(year=year, month=month + 1, day=day)


_months_before_utc = functools.lru_cache(maxsize=256)(_months_before)


def completed_years(birth: date, on: date) -> int:
    """Age in completed years on ``on`` (§1.6); never negative."""
    return max(on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day)), 0)


def after_age(birth: datetime | None, age: Any) -> datetime | None:
    """birthDate + a FHIR Age (``onsetAge``, ``abatementAge``: a / mo / wk / d / h); None when either
    is unknown or the unit is not one of those."""
    a = as_dict(age)
    value = a.get("value")
    if birth is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    unit = (as_text(a.get("code")) or as_text(a.get("unit")) or "a").lower()
    if unit in ("a", "y", "yr", "year", "years"):
        return birth + timedelta(days=365.25 * value)
    if unit in ("mo", "month", "months"):
        return birth + timedelta(days=30.44 * value)
    days = {"wk": 7, "d": 1, "h": 1 / 24}.get(unit)
    return birth + timedelta(days=days * value) if days else None

