"""How cards cite evidence: one format everywhere (contract §4 example)."""
from __future__ import annotations

from datetime import datetime, timezone

from service.chart.dates import DAY_FORMAT, day_text
from service.chart.facts import Source


# as ``strftime("%Y-%m-%d %H:%M UTC")`` prints it, written from the fields (see chart.dates.DAY_FORMAT)
MINUTE_FORMAT = DAY_FORMAT + " %02d:%02d UTC"


def fmt_time(dt: datetime | None) -> str:
    """'2026-03-02 09:00 UTC'; a date at midnight prints as the date only."""
    if dt is None:
        return "undated"
    dt = dt.astimezone(timezone.utc)
    if dt.hour == 0 and dt.minute == 0 and dt.second == 0:
        return day_text(dt)
    return MINUTE_FORMAT % (dt.year, dt.month, dt.day, dt.hour, dt.minute)


def fmt_date(dt: datetime | None) -> str:
    return "undated" if dt is None else day_text(dt.astimezone(timezone.utc))


def cite(source: Source, with_time: bool = True) -> str:
    """'Observation/v01-obs-hr (2026-03-02 09:00 UTC, final)' plus the site-map note if any."""
    parts = []
    if with_time:
        parts.append(fmt_time(source.time))
    if source.status:
        parts.append(source.status)
    if source.via_site_map:
        parts.append(source.via_site_map)
    return f"{source.ref} ({', '.join(parts)})" if parts else source.ref


def cite_all(sources: list[Source], with_time: bool = True) -> str:
    return ", ".join(cite(s, with_time) for s in sources)


def ago(now: datetime, then: datetime | None) -> str:
    """'1 h ago', '3 days ago' — for 'already on record' lines (§7.5, §7.7)."""
    if then is None:
        return "undated"
    secs = (now - then).total_seconds()
    if secs < 0:
        return "in the future"
    if secs < 3600:
        return f"{int(secs // 60)} min ago"
    if secs < 48 * 3600:
        return f"{int(secs // 3600)} h ago"
    return f"{int(secs // 86400)} days ago"
