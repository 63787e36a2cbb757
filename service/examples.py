"""Bundled example patients and the hook request an EHR would send for one (``knee-cds example-request``).

The examples are the public acceptance vignettes (contract §9), shipped in the package as
``service.mappings/examples/<id>.json``. A request is built the way contract §9 says a test runner
builds it, so that a newcomer's first call looks like a real EHR's:

- times: every value that is exactly ``@now``, ``@now±Nu`` (u = y, w, d, h, m for minutes) becomes a UTC
  time relative to ``now`` (``YYYY-MM-DDThh:mm:ssZ``), ``:date`` keeps the UTC date only;
- context: ``userId`` Practitioner/example, ``patientId`` the Patient, ``encounterId`` the active
  Encounter (else the first one), ``draftOrders`` (and ``selections`` = the first draft for
  order-select) for the order hooks; the vignette's own ``context`` adds or replaces keys;
- prefetch: every key of the service's templates (contract §2), evaluated against the example's
  resources: a search gives a searchset Bundle (possibly empty), a read that finds nothing ``null``.
"""
from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import parse_qsl

from cds_hooks.domain import ServiceDefinition

from .services import knee_services

EXAMPLES_DIR: Traversable = resources.files("service.mappings") / "examples"
PRACTITIONER = "Practitioner/example"
ACTIVE_ENCOUNTER = ("in-progress", "arrived", "triaged", "planned")
ORDER_HOOKS = ("order-select", "order-sign")

_TIME = re.compile(r"^@now(?:([+-])(\d+)([ywdhm]))?(:date)?$")
_TEMPLATE_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z0-9_]+)\s*\}\}")
# what "_sort=-date" orders by, per resource type's usual clinical date (first one present wins)
_DATE_ELEMENTS = ("effectiveDateTime", "effectiveInstant", "issued", "authoredOn", "performedDateTime",
                  "recordedDate", "onsetDateTime")


class UnknownExample(LookupError):
    def __init__(self, example_id: str):
        self.example_id = example_id
        super().__init__(f"no bundled example {example_id!r}; available: {', '.join(example_ids())}")


def example_ids() -> list[str]:
    """Ids of the bundled examples (file names without .json), sorted."""
    names = (item.name for item in EXAMPLES_DIR.iterdir() if item.name.endswith(".json"))
    return sorted(name.removesuffix(".json") for name in names)


def load_example(example_id: str) -> dict[str, Any]:
    item = EXAMPLES_DIR / f"{example_id}.json"
    if "/" in example_id or "\\" in example_id or not item.is_file():
        raise UnknownExample(example_id)
    return json.loads(item.read_text(encoding="utf-8"))


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


def service_for_hook(hook: str) -> ServiceDefinition:
    for service in knee_services():
        if service.hook == hook:
            return service
    raise LookupError(f"no knee-cds service for hook {hook!r}")


def example_request(example: dict[str, Any], now: datetime | None = None) -> tuple[ServiceDefinition, dict[str, Any]]:
    """(the service to call, the hook request body) for one example, times rendered as of ``now``."""
    now = now or datetime.now(timezone.utc)
    rendered = render_times(copy.deepcopy(example), now)
    service = service_for_hook(rendered["hook"])
    resources_ = [r for r in rendered.get("resources") or [] if isinstance(r, dict)]
    context = _context(rendered, resources_)
    body = {"hook": service.hook, "hookInstance": str(uuid.uuid4()), "context": context,
            "prefetch": {key: _evaluate(template, context, resources_)
                         for key, template in service.prefetch.items()}}
    return service, body


def _context(rendered: dict[str, Any], resources_: list[dict[str, Any]]) -> dict[str, Any]:
    patient = next(r for r in resources_ if r.get("resourceType") == "Patient")
    context: dict[str, Any] = {"userId": PRACTITIONER, "patientId": patient["id"]}
    encounters = [r for r in resources_ if r.get("resourceType") == "Encounter"]
    active = [e for e in encounters if e.get("status") in ACTIVE_ENCOUNTER]
    if encounters:
        context["encounterId"] = (active or encounters)[0]["id"]
    if rendered["hook"] in ORDER_HOOKS:
        drafts = rendered.get("draftOrders") or []
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": d} for d in drafts]}
        if rendered["hook"] == "order-select" and drafts:
            context["selections"] = [f"{drafts[0]['resourceType']}/{drafts[0]['id']}"]
    context.update({k: v for k, v in (rendered.get("context") or {}).items() if k != "draftOrders"})
    return context


def _evaluate(template: str, context: dict[str, Any], resources_: list[dict[str, Any]]) -> Any:
    """One prefetch template against the example's resources (read, patient search, _sort=-date)."""
    missing = [name for name in _TEMPLATE_TOKEN.findall(template) if not isinstance(context.get(name), str)]
    if missing:
        return None   # e.g. an Encounter read without an encounterId: nothing to read
    query = _TEMPLATE_TOKEN.sub(lambda m: context[m.group(1)], template)
    path, _, params = query.partition("?")
    resource_type, _, resource_id = path.strip("/").partition("/")
    if resource_id:
        return next((r for r in resources_ if r.get("resourceType") == resource_type
                     and r.get("id") == resource_id), None)
    matches = [r for r in resources_ if r.get("resourceType") == resource_type]
    for name, value in parse_qsl(params, keep_blank_values=True):
        if name == "patient":
            wanted = "Patient/" + value.removeprefix("Patient/")
            matches = [r for r in matches if any(isinstance(r.get(e), dict) and r[e].get("reference") == wanted
                                                 for e in ("subject", "patient"))]
        elif name == "_sort" and value in ("date", "-date"):
            matches.sort(key=_clinical_date, reverse=value.startswith("-"))
        else:
            raise ValueError(f"prefetch template {template!r}: {name}={value} is not supported here")
    return {"resourceType": "Bundle", "type": "searchset", "total": len(matches),
            "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                      for r in matches]}


def _clinical_date(resource: dict[str, Any]) -> str:
    for element in _DATE_ELEMENTS:
        if isinstance(resource.get(element), str):
            return resource[element]
    period = resource.get("effectivePeriod") or resource.get("performedPeriod") or resource.get("period")
    return period.get("start", "") if isinstance(period, dict) else ""
