"""A small configurable FHIR stub on 127.0.0.1 for fault tests (not a FHIR server: it answers what it is told).

    with FhirStub() as stub:
        stub.add_resource({"resourceType": "Patient", "id": "p1"})
        stub.add_search("Observation", [obs1, obs2], page_size=1)        # paged searchset, next links
        stub.route("/Condition", status=500)                             # any query on /Condition
        stub.route("/Procedure", delay=1.0)                              # slow
        stub.route("/Encounter", raw=b"{not json")                       # garbage
        stub.fail_first("/MedicationRequest", times=1, status=503)       # then the normal answer
        stub.base  -> "http://127.0.0.1:<port>/fhir"
        stub.requests -> [RecordedRequest(method, path, query, headers)]

Paths are relative to the base and matched without the query string (searches) — a route registered for
"/Observation" answers every Observation search; a route for "/Patient/p1" answers that read.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/fhir"


@dataclass
class Route:
    status: int = 200
    body: Any = None               # JSON-encoded when raw is None
    raw: bytes | None = None       # sent as is (invalid JSON, huge bodies)
    delay: float = 0.0             # seconds before the answer
    headers: dict[str, str] = field(default_factory=dict)
    fail_times: int = 0            # answer fail_status this many times first (retry tests)
    fail_status: int = 500
    omit_length: bool = False      # no Content-Length, close after the body (tests the streaming size cap)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


def searchset(resources: list[Any], next_url: str | None = None, extra_entries: list[Any] | None = None) -> dict:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                              "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources]}
    bundle["entry"] += list(extra_entries or [])
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


class FhirStub:
    def __init__(self, default_delay: float = 0.0):
        self.default_delay = default_delay
        self.routes: dict[str, Route] = {}
        self.pages: dict[str, list[dict]] = {}   # "/Type" -> pages (searchset Bundles), served by ?_page=N
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fhir-stub", daemon=True)

    # ---- lifecycle ----

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"{self.origin}{PREFIX}"

    def start(self) -> "FhirStub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FhirStub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- configuration ----

    def route(self, path: str, **kwargs: Any) -> Route:
        """Set (or replace) the answer for ``path``; keyword arguments are Route fields."""
        existing = self.routes.get(path)
        route = Route(**{**(existing.__dict__ if existing else {}), **kwargs})
        self.routes[path] = route
        return route

    def add_resource(self, resource: dict, **kwargs: Any) -> None:
        self.route(f"/{resource['resourceType']}/{resource['id']}", body=resource, **kwargs)

    def add_search(self, resource_type: str, resources: list[Any], page_size: int | None = None,
                   extra_entries: list[Any] | None = None, **kwargs: Any) -> None:
        """Serve ``resources`` on every search of ``resource_type``, in pages of ``page_size``."""
        size = page_size or max(len(resources), 1)
        chunks = [resources[i:i + size] for i in range(0, len(resources), size)] or [[]]
        path = f"/{resource_type}"
        pages = []
        for n, chunk in enumerate(chunks):
            next_url = f"{self.base}{path}?_page={n + 1}" if n + 1 < len(chunks) else None
            pages.append(searchset(chunk, next_url, extra_entries if n == 0 else None))
        self.pages[path] = pages
        self.route(path, body=pages[0], **kwargs)

    def fail_first(self, path: str, times: int = 1, status: int = 500) -> None:
        self.route(path, fail_times=times, fail_status=status)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    # ---- serving ----

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes, dict[str, str], float, bool]:
        with self._lock:
            route = self.routes.get(path)
            if route is None:
                outcome = {"resourceType": "OperationOutcome",
                           "issue": [{"severity": "error", "code": "not-found", "diagnostics": f"{path} not found"}]}
                return 404, json.dumps(outcome).encode(), {}, self.default_delay, False
            delay = route.delay or self.default_delay
            if route.fail_times > 0:
                route.fail_times -= 1
                return route.fail_status, b'{"resourceType":"OperationOutcome"}', {}, delay, False
            body = route.body
            if path in self.pages and "_page" in query:
                body = self.pages[path][int(query["_page"][0])]
            payload = route.raw if route.raw is not None else json.dumps(body).encode()
            return route.status, payload, dict(route.headers), delay, route.omit_length

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                parts = urlsplit(self.path)
                path = parts.path[len(PREFIX):] if parts.path.startswith(PREFIX) else parts.path
                query = parse_qs(parts.query)
                with stub._lock:
                    stub.requests.append(RecordedRequest("GET", path, query, dict(self.headers)))
                status, payload, headers, delay, omit_length = stub._answer(path, query)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/fhir+json")
                    if omit_length:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    else:
                        self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout, size cap): expected in fault tests

            def log_message(self, *args: Any) -> None:
                pass  # keep test output clean

        return Handler
