"""Bundled example patients and the hook request an EHR would send for one (``knee-cds example-request``,
the preview page).

The examples are the public acceptance vignettes (contract §9), shipped in the package as
``service.mappings/examples/<id>.json``: a chart whose times are written relative to the run, the hook
it is meant for, draft orders for the order hooks and, optionally, context keys and the service
configuration it needs. Times: every value that is exactly ``@now``, ``@now±Nu`` (u = y, w, d, h, m for
minutes) becomes a UTC time relative to ``now`` (``YYYY-MM-DDThh:mm:ssZ``); ``:date`` keeps the UTC
date only. The request is built by :mod:`service.tools.local_request`, the way contract §9 says a test
runner builds it.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from importlib.resources.abc import Traversable
from typing import Any

from cds_hooks.domain import ServiceDefinition

from service.tools.local_request import ChartInput, build_request
from service.catalog import knee_services
from service.terminology.mapping_files import MAPPINGS_DIR, read_json_file

EXAMPLES_DIR: Traversable = MAPPINGS_DIR / "examples"

_TIME = re.compile(r"^@now(?:([+-])(\d+)([ywdhm]))?(:date)?$")


class UnknownExample(LookupError):
    """No bundled example has this id."""

    def __init__(self, example_id: str):
        self.example_id = example_id
        super().__init__(f"no bundled example {example_id!r}; available: {', '.join(example_ids())}")


@dataclass(frozen=True)
class Example:
    id: str
    title: str
    hook: str
    document: dict[str, Any]

    @property
    def config(self) -> dict[str, str]:
        config = self.document.get("config")
        return {str(k): str(v) for k, v in config.items()} if isinstance(config, dict) else {}


@dataclass(frozen=True)
class RenderedExample:
    """An example as of one moment: its chart, its draft orders and its context keys."""

    example: Example
    chart: ChartInput
    draft_orders: tuple[dict[str, Any], ...]
    context: dict[str, Any]


def example_ids() -> list[str]:
    """Ids of the bundled examples (file names without .json), sorted."""
    names = (item.name for item in EXAMPLES_DIR.iterdir() if item.name.endswith(".json"))
    return sorted(name.removesuffix(".json") for name in names)


def load_example(example_id: str) -> dict[str, Any]:
    item = EXAMPLES_DIR / f"{example_id}.json"
    if "/" in example_id or "\\" in example_id or not item.is_file():
        raise UnknownExample(example_id)
    return read_json_file(item)


@lru_cache(maxsize=1)
def examples() -> tuple[Example, ...]:
    """Every bundled example, in id order."""
    found = []
    for example_id in example_ids():
        doc = load_example(example_id)
        found.append(Example(id=str(doc.get("id") or example_id), title=str(doc.get("title") or ""),
                             hook=str(doc.get("hook") or "patient-view"), document=doc))
    return tuple(found)


def find(example_id: str) -> Example | None:
    return next((e for e in examples() if e.id == example_id), None)


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
            try:
                moment = moment.replace(year=moment.year + n)
            except ValueError:   # 29 February in a year without one
                moment = moment.replace(year=moment.year + n, day=28)
        else:
            moment += {"w": timedelta(weeks=n), "d": timedelta(days=n), "h": timedelta(hours=n),
                       "m": timedelta(minutes=n)}[unit]
    return moment.strftime("%Y-%m-%d" if date_only else "%Y-%m-%dT%H:%M:%SZ")


def render_times(value: Any, now: datetime) -> Any:
    """A copy of ``value`` with every time token rendered as of ``now``."""
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
    chart = tuple(r for r in doc.get("resources") or [] if isinstance(r, dict))
    drafts = tuple(r for r in doc.get("draftOrders") or [] if isinstance(r, dict))
    context = doc.get("context") if isinstance(doc.get("context"), dict) else {}
    return RenderedExample(example, ChartInput(resources=chart), drafts, dict(context))


def service_for_hook(hook: str) -> ServiceDefinition:
    for service in knee_services():
        if service.hook == hook:
            return service
    raise LookupError(f"no knee-cds service for hook {hook!r}")


def example_request(example: dict[str, Any], now: datetime | None = None) -> tuple[ServiceDefinition, dict[str, Any]]:
    """(the service to call, the hook request body) for one example, times rendered as of ``now``."""
    hook = str(example.get("hook") or "patient-view")
    rendered = example_chart(Example(str(example.get("id", "")), "", hook, example), now)
    service = service_for_hook(hook)
    return service, build_request(rendered.chart, service, rendered.draft_orders,
                                  context_overrides=rendered.context)
