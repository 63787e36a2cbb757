"""Benchmark (not a test): one whole hook call through the Flask app, in process.

Body bytes in -> JSON bytes out through ``service.app:create_app()``, called as a WSGI server calls
it (one environ per request, as gunicorn builds it; the body in a fresh stream): JSON decoding and
shape check, request schema, prefetch gathering, triage, card rendering and the audit row,
everything but the socket and the HTTP parsing. ``--test-client`` goes through Flask's test client
instead, which builds each request with werkzeug's EnvironBuilder and wraps each answer in a test
response: that costs about as much again as the empty endpoint itself, and no server does it. Every vignette of ../shared/vignettes (prefetch-filled, found
at run time) is called in turn; p50/p99 are over all calls. Each call alternates with the same body
posted to the empty endpoint of bench/ceiling_app.py (JSON parsed, ``{"cards": []}`` answered), so
that on a shared machine the ratio to that floor stays readable when absolute times are not.

    .venv/bin/python bench/call_inprocess.py [--repeat 200] [--vignette V01] [--profile]
        [--database-url URL]

``--profile`` prints a pyinstrument profile of the timed calls (pip install pyinstrument) or, when
that is not installed, the top of a cProfile. Exit status 1 when a call does not answer 200.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ceiling_app import create_app as create_ceiling_app  # noqa: E402
from service.app import create_app  # noqa: E402
from service.config import load_settings  # noqa: E402
from service.engine import KneeDomain  # noqa: E402
from service.tools import vignettes as vg  # noqa: E402

TARGET_P50_MS = 1.0


class RecordedDomain:
    """The knee domain, except that once ``replaying`` each request gets the result the real domain
    gave to the same body in the warm-up (keyed by hookInstance): what remains is the protocol."""

    def __init__(self, real: KneeDomain):
        self.real = real
        self.results: dict[str, object] = {}
        self.replaying = False

    def evaluate(self, request, chart):
        if self.replaying:
            return self.results[request.hook_instance]
        result = self.results[request.hook_instance] = self.real.evaluate(request, chart)
        return result

    def __getattr__(self, name: str):
        return getattr(self.real, name)


def request_bodies(only: str | None) -> list[tuple[str, str, bytes]]:
    """(vignette id, service id, body) for every vignette whose config is the default one."""
    from service.catalog import knee_services  # noqa: PLC0415

    service_ids = {s.hook: s.id for s in knee_services()}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    bodies = []
    for path in vg.vignette_paths(vg.public_vignette_dir(REPO)):
        vignette = vg.load_vignette(path)
        if vignette.get("config") or (only and vignette["id"] != only):
            continue  # a vignette with its own configuration needs its own app
        loaded = vg.prepare(vignette, now)
        body = json.dumps(vg.build_request(loaded)).encode()
        bodies.append((vignette["id"], service_ids[loaded.hook], body))
    return bodies


# what gunicorn puts in every environ besides the request's own headers
SERVER_ENVIRON = {
    "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000",
    "HTTP_HOST": "127.0.0.1:8080", "CONTENT_TYPE": "application/json", "HTTP_CONNECTION": "keep-alive",
    "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": True,
    "wsgi.multiprocess": True, "wsgi.run_once": False,
}


def wsgi_post(app, path: str, body: bytes) -> int:
    """POST ``body`` to ``app`` as a WSGI server does; the answer is read in full. Returns the status."""
    environ = dict(SERVER_ENVIRON, PATH_INFO=path, CONTENT_LENGTH=str(len(body)), **{"wsgi.input": io.BytesIO(body)})
    status: list[str] = []
    result = app(environ, lambda s, headers, exc_info=None: status.append(s))
    try:
        b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return int(status[0].split(" ", 1)[0])


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per vignette")
    parser.add_argument("--vignette", help="only this vignette id (e.g. V01)")
    parser.add_argument("--profile", action="store_true", help="profile the timed calls")
    parser.add_argument("--database-url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--test-client", action="store_true",
                        help="call through Flask's test client instead of the WSGI callable")
    parser.add_argument("--protocol-only", action="store_true",
                        help="the knee domain answers each body with the result it computed in the warm-up: "
                             "what the call costs besides the triage")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="knee-cds-bench-") as tmp:
        environ = {"KNEE_CDS_AUTH": "off",
                   "KNEE_CDS_DATABASE_URL": args.database_url or f"sqlite:///{tmp}/store.sqlite3"}
        domain = RecordedDomain(KneeDomain(load_settings(environ, bind_host="127.0.0.1"))) \
            if args.protocol_only else None
        app = create_app({"ENVIRON": environ, "BIND_HOST": "127.0.0.1", "RETENTION_THREAD": False,
                          "INSTANCE_PATH": tmp}, domain=domain)
        ceiling = create_ceiling_app()
        bodies = request_bodies(args.vignette)
        if not bodies:
            print("no vignette to call", file=sys.stderr)
            return 1
        if args.test_client:
            client, floor = app.test_client(), ceiling.test_client()
            headers = {"Content-Type": "application/json"}

            def call(service_id: str, body: bytes, target=client) -> int:
                return target.post(f"/cds-services/{service_id}", data=body, headers=headers).status_code
        else:
            def call(service_id: str, body: bytes, target=app) -> int:
                return wsgi_post(target, f"/cds-services/{service_id}", body)
            floor = ceiling

        for vid, service_id, body in bodies:  # warm-up, and every call must succeed
            status = call(service_id, body)
            if status != 200:
                print(f"{vid}: HTTP {status}", file=sys.stderr)
                return 1

        if domain is not None:
            domain.replaying = True
        profiler = _start_profiler() if args.profile else None
        timings: dict[str, list[float]] = {vid: [] for vid, _, _ in bodies}
        cpu: list[float] = []
        empty: list[float] = []
        for _ in range(args.repeat):
            for vid, service_id, body in bodies:
                t0 = time.perf_counter()
                call(service_id, body, floor)
                empty.append((time.perf_counter() - t0) * 1000)
                t0, c0 = time.perf_counter(), time.thread_time()
                call(service_id, body)
                cpu.append((time.thread_time() - c0) * 1000)
                timings[vid].append((time.perf_counter() - t0) * 1000)
        if profiler is not None:
            _print_profile(profiler)
        _close_store(app)

    everything = sorted(t for values in timings.values() for t in values)
    for vid, _, body in bodies:
        values = sorted(timings[vid])
        print(f"{vid:8} {len(body) / 1024:6.1f} KB  p50 {statistics.median(values):6.2f} ms  "
              f"p99 {percentile(values, 0.99):6.2f} ms")
    p50 = statistics.median(everything)
    verdict = "OK" if p50 <= TARGET_P50_MS else "ABOVE TARGET"
    what = "protocol path (domain replayed)" if args.protocol_only else "whole call"
    print(f"\n{what} in process: {len(everything)} calls over {len(bodies)} vignettes, "
          f"p50 {p50:.2f} ms, p99 {percentile(everything, 0.99):.2f} ms "
          f"(target p50 <= {TARGET_P50_MS} ms: {verdict})")
    cpu.sort()
    empty.sort()
    print(f"empty endpoint, same bodies, alternating: p50 {statistics.median(empty):.2f} ms "
          f"(knee-cds / empty = {p50 / statistics.median(empty):.1f})")
    # CPU time of the calling thread: what a call costs on a machine shared with other work
    print(f"CPU time of the calling thread: p50 {statistics.median(cpu):.2f} ms, "
          f"p99 {percentile(cpu, 0.99):.2f} ms")
    return 0


def _close_store(app) -> None:
    # the store may run a background audit writer: let it finish before the temporary file goes
    store = app.extensions["cds_hooks"].store
    for name in ("close", "dispose"):
        if callable(getattr(store, name, None)):
            getattr(store, name)()
            return


def _start_profiler():
    try:
        from pyinstrument import Profiler  # noqa: PLC0415
    except ImportError:
        import cProfile  # noqa: PLC0415

        profiler = cProfile.Profile()
        profiler.enable()
        return profiler
    profiler = Profiler(interval=0.0002)
    profiler.start()
    return profiler


def _print_profile(profiler) -> None:
    if hasattr(profiler, "output_text"):
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return
    import pstats  # noqa: PLC0415

    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    sys.exit(main())
