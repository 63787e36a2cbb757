"""Calendar-month arithmetic (clinical-rules §1.1: months are calendar months)."""
from __future__ import annotations

import calendar
from datetime import datetime


def months_before(dt: datetime, months: int) -> datetime:
    year, month = divmod(dt.year * 12 + dt.month - 1 - months, 12)
    day = min(dt.day, calendar.monthrange(year, month + 1)[1])
    return dt.replace(year=year, month=month + 1, day=day)
