"""The bundled example patients: the public acceptance cases (contract §9), shipped in the package.

Each example is a vignette: a chart whose times are written relative to the run (``@now-55y:date``),
the hook it is meant for, draft orders for the order hooks and, optionally, context keys and the
service configuration it needs. ``example_chart`` renders the times as of ``now``.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from typing import Any

from service.local_request import ChartInput

EXAMPLES_PACKAGE = "mappings"
EXAMPLES_FOLDER = "examples"
_TIME = re.compile(r"^@now(?:([+-])(\d+)([ywdhm]))?(:date)?$")


@dataclass(frozen=True)
class Example:
    id: str
    title: str
    hook: str
    document: dict[str, Any]

    @property
    def config(self) -> dict[str, str]:
        config = self.document.get("config")
        return dict(config) if isinstance(config, dict) else {}


@dataclass(frozen=True)
class RenderedExample:
    """An example as of one moment: the chart, its draft orders and context keys."""

    example: Example
    chart: ChartInput
    draft_orders: tuple[dict[str, Any], ...]
    context: dict[str, Any]


@lru_cache(maxsize=1)
def examples() -> tuple[Example, ...]:
    folder = resources.files(EXAMPLES_PACKAGE).joinpath(EXAMPLES_FOLDER)
    found = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".json"):
            continue
        doc = json.loads(item.read_text(encoding="utf-8"))
        found.append(Example(id=str(doc.get("id") or item.name[:-5]), title=str(doc.get("title") or ""),
                             hook=str(doc.get("hook") or "patient-view"), document=doc))
    return tuple(found)


def find(example_id: str) -> Example | None:
    return next((e for e in examples() if e.id == example_id), None)


def _shift_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a year without one
        return moment.replace(year=moment.year + years, day=28)


def render_time(text: str, now: datetime) -> str | None:
    """'@now-55y:date' -> the UTC date 55 years before ``now``; None when ``text`` is no time token."""
    match = _TIME.match(text)
    if not match:
        return None
    sign, amount, unit, date_only = match.groups()
    moment = now.astimezone(timezone.utc).replace(microsecond=0)
    if unit:
        n = int(amount) * (1 if sign == "+" else -1)
        if unit == "y":
            moment = _shift_years(moment, n)
        else:
            moment += {"w": timedelta(weeks=n), "d": timedelta(days=n), "h": timedelta(hours=n),
                       "m": timedelta(minutes=n)}[unit]
    return moment.strftime("%Y-%m-%d" if date_only else "%Y-%m-%dT%H:%M:%SZ")


def render_times(value: Any, now: datetime) -> Any:
    """A copy of ``value`` with every time token rendered (contract §9 "Times")."""
    if isinstance(value, dict):
        return {k: render_times(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [render_times(v, now) for v in value]
    if isinstance(value, str):
        rendered = render_time(value, now)
        return value if rendered is None else rendered
    return value


def example_chart(example: Example, now: datetime | None = None) -> RenderedExample:
    doc = render_times(copy.deepcopy(example.document), now or datetime.now(timezone.utc))
    resources_ = tuple(r for r in doc.get("resources") or [] if isinstance(r, dict))
    drafts = tuple(r for r in doc.get("draftOrders") or [] if isinstance(r, dict))
    context = doc.get("context") if isinstance(doc.get("context"), dict) else {}
    return RenderedExample(example, ChartInput(resources=resources_), drafts, dict(context))
