"""Chart gathering: prefetch first, fetch the rest (contract §2, issue 4). See docs/fetching.md.

``gather_chart`` turns a validated :class:`HookRequest` into a :class:`Chart`:

1. every prefetch template of the service (``request.service.prefetch``; never hard-coded here) is
   resolved from the request's ``prefetch`` when its key is present, else fetched from ``fhirServer``
   with the same query; all keys are resolved concurrently;
2. Bundles are read in full (``next`` links followed on fhirServer, up to ``max_pages`` pages per key);
3. ``medicationReference``s that are not contained are resolved from the prefetch, else read;
4. anything that cannot be read becomes an :class:`Unreadable`; malformed resources are skipped and listed
   in ``Chart.skipped``. Only an unreadable Patient stops the call (:class:`PatientUnavailable` -> 412).

Resources stay plain JSON dicts: they are never parsed into models (speed, and leniency towards the
non-conformant payloads real EHRs send).
"""
from __future__ import annotations

import functools
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar
from urllib.parse import quote, urljoin, urlsplit

from . import telemetry
from .domain import Chart, HookRequest, Unreadable
from .fhir_client import FetchError, FetchSettings, FhirClient, InvalidFhirServer, check_fhir_server

__all__ = ["FetchSettings", "InvalidFhirServer", "PatientUnavailable", "gather_chart"]

PATIENT_KEY = "patient"
_TOKEN = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")
_MED_SOURCES = ("MedicationRequest", "MedicationStatement")
_NOT_FOUND = (404, 410)
_MAX_WORKERS = 16
T = TypeVar("T")
R = TypeVar("R")


class PatientUnavailable(Exception):
    """The Patient (the one required prefetch key) could be read neither from prefetch nor fhirServer."""

    def __init__(self, detail: str):
        super().__init__(f"The patient could not be read: {detail}")
        self.detail = detail


# ---- templates ----------------------------------------------------------------------------------


class Query:
    """One prefetch template for this request. Its URL is rendered on first use only: a key that
    the prefetch answers never needs it, and most calls come with every key prefetched."""

    __slots__ = ("key", "resource_type", "is_read", "_template", "_tokens", "_rendered")

    def __init__(self, key: str, template: str, tokens: Callable[[], dict[str, str]]):
        """``tokens``: the request's URL-encoded token values (asked for only when rendering)."""
        self.key = key
        _, self.resource_type, self.is_read = _compiled(template)  # is_read: "Type/id" vs "Type?..."
        self._template = template
        self._tokens = tokens
        self._rendered: tuple[str | None, str] | None = None

    @property
    def relative_url(self) -> str | None:
        """The query relative to fhirServer; None when a token could not be filled from the context."""
        return self._render()[0]

    @property
    def problem(self) -> str:
        """Why relative_url is None ("" when it is not)."""
        return self._render()[1]

    def _render(self) -> tuple[str | None, str]:
        if self._rendered is None:
            self._rendered = _render(self._template, self._tokens())
        return self._rendered


def _token_values(request: HookRequest) -> dict[str, str]:
    """CDS Hooks 2.0 prefetch tokens: context.* plus the user* tokens derived from context.userId."""
    context = request.context if isinstance(request.context, dict) else {}
    values = {f"context.{k}": v for k, v in context.items() if isinstance(v, str) and v}
    user = context.get("userId")
    if isinstance(user, str) and "/" in user:
        user_type, user_id = user.split("/", 1)
        values[f"user{user_type}Id"] = user_id
    return values


@functools.lru_cache(maxsize=256)
def _compiled(template: str) -> tuple[tuple[str, ...], str, bool]:
    """A template split once into literal text and token names (odd positions), its type and kind."""
    parts = tuple(_TOKEN.split(template))
    path = template.split("?", 1)[0].strip("/")
    return parts, path.split("/", 1)[0], "/" in path


def _quoted_values(request: HookRequest) -> dict[str, str]:
    # ids are URL-encoded so a crafted context value cannot add query parameters or path segments
    return {name: value if _UNRESERVED.fullmatch(value) else quote(value, safe="")
            for name, value in _token_values(request).items()}


# what quote(value, safe="") leaves as it is (RFC 3986 unreserved): FHIR ids always are
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def render_query(key: str, template: str, request: HookRequest,
                 quoted_values: dict[str, str] | None = None) -> Query:
    """``quoted_values``: the request's URL-encoded tokens when already computed for another key."""
    values = _quoted_values(request) if quoted_values is None else quoted_values
    return Query(key, template, lambda: values)


def _render(template: str, values: dict[str, str]) -> tuple[str | None, str]:
    """The template filled with ``values``: (relative URL, "") or (None, what is missing)."""
    parts = _compiled(template)[0]
    missing = [name for name in parts[1::2] if name not in values]
    if missing:
        return None, f"context has no {', '.join(missing)}"
    return "".join(values[part] if i % 2 else part for i, part in enumerate(parts)), ""


# ---- per-key results ----------------------------------------------------------------------------


@dataclass(slots=True)
class KeyResult:
    resources: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Medication resources seen along the way (_include'd entries), "Medication/<id>" -> resource
    medications: dict[str, dict[str, Any]] = field(default_factory=dict)
    readable: bool = True       # False: nothing usable was read for this key


def _unreadable(query: Query, reason: str, detail: str, **extra: Any) -> Unreadable:
    return Unreadable(key=query.key, resource_type=query.resource_type, reason=reason, detail=detail, **extra)


def _failed(query: Query, reason: str, detail: str) -> KeyResult:
    return KeyResult(unreadable=[_unreadable(query, reason, detail)], readable=False)


def _is_error_outcome(resource: Any) -> bool:
    """An OperationOutcome that reports an error (or says nothing): the data behind it is missing."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "OperationOutcome":
        return False
    issues = resource.get("issue")
    if not isinstance(issues, list) or not issues:
        return True
    return any(not isinstance(i, dict) or i.get("severity") in ("error", "fatal", None) for i in issues)


def _outcome_text(resource: dict[str, Any]) -> str:
    for item in resource.get("issue") or []:
        if isinstance(item, dict) and isinstance(item.get("diagnostics"), str):
            return item["diagnostics"][:200]
    return "OperationOutcome"


def _entries(bundle: dict[str, Any]) -> list[Any]:
    entries = bundle.get("entry")
    return entries if isinstance(entries, list) else []


def _bundle_reports_error(bundle: dict[str, Any]) -> str | None:
    for entry in _entries(bundle):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        # the type first: this runs on every entry of every prefetched Bundle
        if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome" \
                and _is_error_outcome(resource):
            return _outcome_text(resource)
    return None


def _next_link(bundle: dict[str, Any]) -> str | None:
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None


def _next_url(base: str, next_link: str) -> str | None:
    """The absolute URL of a ``next`` link (relative ones are relative to fhirServer), or None when the
    link is not a URL at all (``http://[::1``, a port out of range): urllib raises on those."""
    try:
        url = urljoin(base + "/", next_link)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is out of range or not a number
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _malformed(resource: Any, expected_type: str, need_id: bool = True) -> str | None:
    """Why a resource cannot be used, or None. Unknown elements are fine (leniency)."""
    if not isinstance(resource, dict):
        return f"not a JSON object ({type(resource).__name__})"
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        return "no resourceType"
    if rtype != expected_type:
        return f"{rtype[:40]} where {expected_type} was expected"
    rid = resource.get("id")
    if need_id and (not isinstance(rid, str) or not rid.strip()):
        return f"{rtype} without a string id"
    return None


# A search result may come as a searchset, or (some EHRs) as a collection; any other Bundle type
# (transaction, history, document, message ...) does not answer a search (contract §2 "wrong shape").
SEARCH_BUNDLE_TYPES = frozenset({"searchset", "collection"})


def _type_label(value: dict[str, Any]) -> str:
    rtype = value.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        return "an object without resourceType"
    return f"{'an' if rtype[0] in 'AEIOU' else 'a'} {rtype[:40]}"


def _shape_problem(query: Query, value: Any) -> str | None:
    """Why a prefetch value cannot stand for its template (contract §2: not a JSON object, another
    resourceType than the read's, not a Bundle for a search, a Bundle of a non-search type), or None."""
    if not isinstance(value, dict):
        return f"not a JSON object but a JSON {_json_kind(value)}"
    rtype = value.get("resourceType")
    if query.is_read:
        if rtype == query.resource_type:
            return None
        if rtype == "Bundle" and _bundled(query, value):
            return None     # leniency: a Bundle holding the resource read
        return f"{_type_label(value)} where a {query.resource_type} was expected"
    if rtype != "Bundle":
        return f"{_type_label(value)} where a Bundle was expected"
    btype = value.get("type")
    if btype is not None and (not isinstance(btype, str) or btype not in SEARCH_BUNDLE_TYPES):  # "type": {} is unhashable
        return f"a Bundle of type {str(btype)[:40]!r} where a searchset was expected"
    return None


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array"}.get(type(value), type(value).__name__)


def _bundled(query: Query, bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources of the read's type inside a Bundle (a read sent as a Bundle, leniently)."""
    candidates = [e.get("resource") for e in _entries(bundle) if isinstance(e, dict)]
    return [c for c in candidates if isinstance(c, dict) and c.get("resourceType") == query.resource_type]


def _describe(resource: Any) -> str:
    if isinstance(resource, dict):
        return f"{resource.get('resourceType', '?')}/{resource.get('id', '?')}"
    return "entry"


def _add_page(query: Query, bundle: dict[str, Any], result: KeyResult, seen: set[str]) -> None:
    """Unwrap one searchset page into ``result`` (only the searched type; _include'd Medications kept)."""
    wanted = query.resource_type
    for position, entry in enumerate(_entries(bundle)):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        # an OperationOutcome is never data, even were it the searched type
        rid = resource.get("id") if rtype == wanted and rtype != "OperationOutcome" else None
        if not (isinstance(rid, str) and rid.strip()):  # not the plain case of a well-formed match
            if rtype == "OperationOutcome":
                continue  # warnings about the search itself (errors were handled before)
            if rtype == "Medication" and wanted != "Medication" and _malformed(resource, "Medication") is None:
                result.medications[f"Medication/{resource['id']}"] = resource
                continue
            if _included(entry) and isinstance(rtype, str) and rtype != wanted:
                continue  # other _include'd types are not what this key is about
            problem = _malformed(resource, wanted)
            if problem:
                result.skipped.append((query.key, f"entry {position}: {problem} ({_describe(resource)})"))
                continue
        if rid in seen:
            continue  # the same resource on two pages (server paging by offset while data changed)
        seen.add(rid)
        result.resources.append(resource)


def _included(entry: Any) -> bool:
    search = entry.get("search") if isinstance(entry, dict) else None
    return isinstance(search, dict) and search.get("mode") == "include"   # "search": "match" is seen too


# ---- resolving one key --------------------------------------------------------------------------


def _read_pages(query: Query, first: dict[str, Any], client: FhirClient | None,
                settings: FetchSettings) -> KeyResult:
    """Read a searchset Bundle and its next pages (on fhirServer; ``client`` None: no fhirServer)."""
    result, seen, bundle, pages = KeyResult(), set(), first, 1
    while True:
        _add_page(query, bundle, result, seen)
        next_url = _next_link(bundle)
        if not next_url:
            return result
        if pages >= settings.max_pages:
            result.unreadable.append(_unreadable(
                query, "page-cap",
                f"Only the first {pages} pages of {query.resource_type} were read (page cap reached)",
                truncated_pages=pages))
            return result
        if client is None or client.base is None:
            result.unreadable.append(_unreadable(
                query, "not-prefetched-no-fhir-server",
                f"page {pages + 1} of {query.resource_type} not prefetched and no fhirServer"))
            return result
        url = _next_url(client.base, next_url)
        if url is None:
            result.unreadable.append(_unreadable(
                query, "invalid-response", f"page {pages + 1}: the Bundle's next link is not a valid URL"))
            return result
        try:
            # absolute next links must stay on fhirServer's origin (FhirClient refuses others)
            bundle = _expect_bundle(client.get_json(url))
        except FetchError as err:
            # what was read so far stays usable; the key is flagged incomplete
            result.unreadable.append(_unreadable(query, err.reason, f"page {pages + 1}: {err.detail}"))
            return result
        pages += 1


def _expect_bundle(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise FetchError("invalid-response", "response is not a JSON object")
    if body.get("resourceType") == "OperationOutcome":
        raise FetchError("invalid-response", f"server answered with an OperationOutcome: {_outcome_text(body)}")
    if body.get("resourceType") != "Bundle":
        raise FetchError("invalid-response", f"expected a Bundle, got {str(body.get('resourceType'))[:40]}")
    error = _bundle_reports_error(body)
    if error:
        raise FetchError("invalid-response", f"server reported an error: {error}")
    return body


def _single(query: Query, value: Any) -> KeyResult:
    """An instance read's value (a resource, or leniently a Bundle holding it)."""
    candidates = [value]
    if isinstance(value, dict) and value.get("resourceType") == "Bundle" and query.resource_type != "Bundle":
        candidates = _bundled(query, value)
        if not candidates:
            return KeyResult()
    # contract §2: a Patient without an id is still the context's patient (gather_chart names it)
    problem = _malformed(candidates[0], query.resource_type, need_id=query.key != PATIENT_KEY)
    if problem:
        return KeyResult(skipped=[(query.key, f"{problem} ({_describe(candidates[0])})")], readable=False)
    return KeyResult(resources=[candidates[0]])


def _from_value(query: Query, value: Any, client: FhirClient | None, settings: FetchSettings) -> KeyResult:
    """A prefetch value that passed :func:`_shape_problem`."""
    if query.is_read:
        return _single(query, value)
    return _read_pages(query, value, client, settings)


def _fetch(query: Query, client: FhirClient | None, settings: FetchSettings) -> KeyResult:
    """One key read from the fhirServer, with its latency and failure counted (when one was asked)."""
    started = time.monotonic()
    result = _fetch_unobserved(query, client, settings)
    if client is not None and client.base is not None and query.relative_url is not None:
        failure = next((u.reason for u in result.unreadable), None)
        telemetry.fhir_read(query.resource_type, time.monotonic() - started, failure)
    return result


def _fetch_unobserved(query: Query, client: FhirClient | None, settings: FetchSettings) -> KeyResult:
    if query.relative_url is None:
        return _failed(query, "invalid-request", f"cannot build the query: {query.problem}")
    if client is None or client.base is None:
        return _failed(query, "not-prefetched-no-fhir-server", "not prefetched and no fhirServer")
    try:
        body = client.get_json(client.url_for(query.relative_url))
        if query.is_read:
            if not isinstance(body, dict) or body.get("resourceType") != query.resource_type:
                raise FetchError("invalid-response", f"expected a {query.resource_type}, got {_describe(body)}")
            return _single(query, body)
        return _read_pages(query, _expect_bundle(body), client, settings)
    except FetchError as err:
        if query.is_read and err.status in _NOT_FOUND:
            return KeyResult()  # a read that finds nothing is "no data", like a null prefetch value
        return _failed(query, err.reason, err.detail)


def _resolve_key(query: Query, prefetch: dict[str, Any], client: FhirClient | None,
                 settings: FetchSettings) -> KeyResult:
    if query.key not in prefetch:
        return _fetch(query, client, settings)
    value = prefetch[query.key]
    if value is None:
        return KeyResult()  # null: the client says there is no data
    if _is_outcome_value(value):
        # an OperationOutcome means the client could not prefetch: treat as absent and fetch
        return _fetch(query, client, settings)
    problem = _shape_problem(query, value)
    if problem is None:
        return _from_value(query, value, client, settings)
    # contract §2: a value of the wrong shape is treated as absent: fetched from fhirServer when one is
    # given, else the key is unreadable and DATA-FETCH-INCOMPLETE names it (with what was wrong)
    note = (query.key, f"prefetch value unusable: {problem}")
    if client is None or client.base is None:
        return KeyResult(unreadable=[_unreadable(
            query, "prefetch-malformed", f"prefetch value {query.key!r} is {problem}; no fhirServer to fetch it from")],
            skipped=[note], readable=False)
    result = _fetch(query, client, settings)
    result.skipped.insert(0, note)
    return result


def _must_fetch(query: Query, prefetch: dict[str, Any], base: str | None) -> bool:
    """True when resolving ``query`` may send a request to fhirServer (see _resolve_key)."""
    if base is None:
        return False  # nothing can be fetched: absent keys are reported unreadable without a request
    if query.key not in prefetch:
        return True
    value = prefetch[query.key]
    if value is None:
        return False
    if _is_outcome_value(value) or _shape_problem(query, value) is not None:
        return True
    # a prefetched searchset with a next link: the following pages are read from fhirServer
    return not query.is_read and _next_link(value) is not None


def _is_outcome_value(value: Any) -> bool:
    """An OperationOutcome, or a Bundle holding an error one: the client could not prefetch this key.

    Informational/warning outcomes inside a searchset (search.mode "outcome", e.g. "parameter ignored")
    do not make the data absent; they are dropped when the entries are read.
    """
    if not isinstance(value, dict):
        return False
    if value.get("resourceType") == "OperationOutcome":
        return True
    return value.get("resourceType") == "Bundle" and _bundle_reports_error(value) is not None


# ---- medication references ----------------------------------------------------------------------


def _medication_ref(resource: dict[str, Any], base: str | None) -> str | None:
    """The Medication id named by a non-contained medicationReference, or None."""
    ref = resource.get("medicationReference")
    value = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(value, str) or not value or value.startswith("#"):
        return None
    if base and value.startswith(base + "/"):
        value = value[len(base) + 1:]
    return value


def _prefetched_medications(prefetch: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every well-formed Medication anywhere in the prefetch (a value or a Bundle entry)."""
    found: dict[str, dict[str, Any]] = {}
    for value in prefetch.values():
        items = [value]
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            items = [e.get("resource") for e in _entries(value) if isinstance(e, dict)]
        for item in items:
            if _malformed(item, "Medication") is None:
                found[f"Medication/{item['id']}"] = item
    return found


def _read_medication(ref: str, client: FhirClient) -> dict[str, Any] | FetchError:
    started = time.monotonic()
    outcome = _read_medication_once(ref, client)
    telemetry.fhir_read("Medication", time.monotonic() - started,
                        outcome.reason if isinstance(outcome, FetchError) else None)
    return outcome


def _read_medication_once(ref: str, client: FhirClient) -> dict[str, Any] | FetchError:
    rid = ref.split("/", 1)[1]
    try:
        body = client.get_json(client.url_for(f"Medication/{quote(rid, safe='')}"))
    except FetchError as err:
        return err
    problem = _malformed(body, "Medication")
    if problem:
        return FetchError("invalid-response", problem)
    return body


def _resolve_medications(chart: Chart, medications_seen: Callable[[], dict[str, dict[str, Any]]],
                         network: "_Network") -> None:
    """``medications_seen()``: the Medications read so far, collected only when a reference needs them."""
    holders: dict[str, list[str]] = {}  # "Medication/<id>" -> referencing resources
    failures: dict[str, FetchError] = {}
    for items in chart.resources.values():
        for resource in items:
            if resource.get("resourceType") not in _MED_SOURCES:
                continue
            ref = _medication_ref(resource, network.base)
            if ref is None:
                continue
            holder = f"{resource['resourceType']}/{resource['id']}"
            parts = ref.split("/")
            if len(parts) != 2 or parts[0] != "Medication" or not parts[1]:
                failures.setdefault(ref, FetchError("invalid-request", f"unsupported medication reference {ref[:100]!r}"))
            holders.setdefault(ref, []).append(holder)
    if not holders:
        return  # no medicationReference to resolve (the usual case): nothing to collect or fetch
    known = medications_seen()
    wanted = [ref for ref in holders if ref not in known and ref not in failures]
    if network.base is None:
        failures.update({ref: FetchError("not-prefetched-no-fhir-server", "not prefetched and no fhirServer")
                         for ref in wanted})
        wanted = []
    for ref, outcome in zip(wanted, network.map(_read_medication, wanted)):
        if isinstance(outcome, FetchError):
            failures[ref] = outcome
        else:
            known[ref] = outcome
    for ref, refs_holders in holders.items():
        if ref in failures:
            err = failures[ref]
            chart.unreadable.extend(
                Unreadable(key="medication", resource_type="Medication", reason=err.reason,
                           detail=f"{ref}: {err.detail}", reference=holder) for holder in refs_holders)
        elif ref in known:
            chart.medications[ref] = known[ref]


# ---- the whole chart ----------------------------------------------------------------------------


class _Network:
    """The fhirServer client and thread pool of one gather, opened on first use only.

    A request whose prefetch holds every key never opens a connection pool or starts a thread:
    its keys are read inline. When something must be fetched, the keys (and later the Medications)
    go to the pool concurrently, so one call costs about its slowest query, not the sum.
    """

    def __init__(self, request: HookRequest, settings: FetchSettings, width: int):
        self.base = check_fhir_server(request.fhir_server)  # 400-worthy before any work is done
        self._request = request
        self._settings = settings
        self._width = width
        self._client: FhirClient | None = None
        self._pool: ThreadPoolExecutor | None = None

    def map(self, fn: Callable[[T, FhirClient], R], items: list[T]) -> list[R]:
        if not items:
            return []
        if self._client is None:
            self._client = FhirClient(self.base, self._request.access_token, self._settings,
                                      pool_size=self._width)
            self._pool = ThreadPoolExecutor(max_workers=self._width, thread_name_prefix="fhir-fetch")
        client = self._client
        return list(self._pool.map(lambda item: fn(item, client), items))

    def __enter__(self) -> "_Network":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._client is not None:
            self._client.close()


def gather_chart(request: HookRequest, settings: FetchSettings) -> Chart:
    """Read the chart for ``request`` (see module doc). Raises PatientUnavailable, InvalidFhirServer."""
    prefetch = request.prefetch if isinstance(request.prefetch, dict) else {}
    tokens = functools.cache(lambda: _quoted_values(request))  # once, and only when a URL is needed
    queries = [Query(key, template, tokens) for key, template in request.service.prefetch.items()]
    with _Network(request, settings, width=max(1, min(_MAX_WORKERS, len(queries)))) as network:
        remote = [q for q in queries if _must_fetch(q, prefetch, network.base)]
        fetched = dict(zip((q.key for q in remote),
                           network.map(lambda q, client: _resolve_key(q, prefetch, client, settings), remote)))
        # in template order, so that the Medications seen along the way are merged as before
        results = {q.key: fetched[q.key] if q.key in fetched else _resolve_key(q, prefetch, None, settings)
                   for q in queries}
        chart = _assemble(queries, results)
        chart.patient = _with_context_id(chart.patient, request)

        def medications_seen() -> dict[str, dict[str, Any]]:
            known = _prefetched_medications(prefetch)
            for result in results.values():
                known.update(result.medications)
            return known
        _resolve_medications(chart, medications_seen, network)
    return chart


def _assemble(queries: list[Query], results: dict[str, KeyResult]) -> Chart:
    patient = _patient(results.get(PATIENT_KEY))
    chart = Chart(patient=patient)
    for query in queries:
        result = results[query.key]
        chart.skipped.extend(result.skipped)
        chart.unreadable.extend(result.unreadable)
        if query.key == PATIENT_KEY:
            continue
        if result.readable:
            chart.resources[query.key] = result.resources
        elif not result.unreadable:
            # a malformed prefetch value: nothing read, and the domain must know the key is missing
            chart.unreadable.append(_unreadable(query, "invalid-response", "the prefetched value is malformed"))
    return chart


def _with_context_id(patient: dict[str, Any], request: HookRequest) -> dict[str, Any]:
    """Contract §2: a Patient without an id is the context's patient, cited as Patient/<patientId>."""
    rid = patient.get("id")
    if isinstance(rid, str) and rid.strip():
        return patient
    context = request.context if isinstance(request.context, dict) else {}
    pid = context.get("patientId")
    return {**patient, "id": pid} if isinstance(pid, str) and pid else patient


def _patient(result: KeyResult | None) -> dict[str, Any]:
    if result is None:
        raise PatientUnavailable("the service has no 'patient' prefetch template")
    if result.resources:
        return result.resources[0]
    if result.unreadable:
        first = result.unreadable[0]
        raise PatientUnavailable(first.detail or first.reason)
    if result.skipped:
        raise PatientUnavailable(f"the Patient resource is malformed: {result.skipped[0][1]}")
    raise PatientUnavailable("no Patient resource (prefetch null or not found on fhirServer)")
