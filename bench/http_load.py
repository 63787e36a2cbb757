"""Benchmark (not a test): knee-cds over HTTP under gunicorn, against the empty-endpoint ceiling.

Starts knee-cds and the ceiling (bench/ceiling_app.py: parses the same JSON, answers
``{"cards": []}``) under the same deploy/gunicorn.conf.py on 127.0.0.1, and drives both in
alternating turns with ``wrk`` (Debian package; bench/wrk_post.lua POSTs the bodies) using real
requests built from ../shared/vignettes:

- prefetch mode: every prefetch key filled, the way an EHR sends it;
- fetch mode: no prefetch; knee-cds reads the chart from a local sekmet-fhir server
  (tests/support/fhir_server.py) loaded with the vignettes.

For each store (SQLite file; PostgreSQL started from tests/support/postgres.py, or the server of
``KNEE_CDS_DATABASE_URL``), worker count and number of concurrent connections, it prints req/s,
p50/p95/p99 latency, errors (non-2xx answers, socket errors, timeouts), the largest worker RSS,
and knee-cds as a ratio of the ceiling, then checks the targets at 16 connections in prefetch
mode. Every server it starts is stopped at the end (also on Ctrl-C).

    .venv/bin/python bench/http_load.py                          # everything, 8 s per turn
    .venv/bin/python bench/http_load.py --duration 5 --clients 16 --stores sqlite --modes prefetch
    .venv/bin/python bench/http_load.py --workers 1,2,3 --clients 16,64 --modes prefetch  # scale-out
    .venv/bin/python bench/http_load.py --vignette V01 --rounds 3  # one case, three rounds

Exit status: 0 when every target checked is met, 1 otherwise, 2 when the benchmark could not run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.tools import vignettes as vg  # noqa: E402

GUNICORN_CONF = REPO / "deploy" / "gunicorn.conf.py"
LUA_SCRIPT = REPO / "bench" / "wrk_post.lua"
CEILING_APP = "ceiling_app:create_app()"
KNEE_APP = "service.app:create_app()"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30

# the service's throughput and latency targets (prefetch mode, 16 connections)
TARGET_CLIENTS = 16
TARGET_RATIO = 0.5
TARGET_P99_MS = 40.0
TARGET_RSS_MB = 150.0
TARGET_FETCH_FACTOR = 1.5   # checked by bench/fetch_latency.py


def free_port() -> int:
    """A port nothing listens on now (127.0.0.1, chosen by the kernel)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------- servers


@dataclass
class Server:
    """One gunicorn master (and its workers) on 127.0.0.1, stopped by PID."""

    name: str
    app: str
    env: dict[str, str]
    log_path: Path
    workers: int | None = None
    threads: int | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        command = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(GUNICORN_CONF),
                   "--bind", f"127.0.0.1:{self.port}", "--pythonpath", str(REPO / "bench")]
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        if self.threads is not None:
            command += ["--threads", str(self.threads)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command + [self.app], cwd=REPO, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            try:
                if requests.get(f"{self.base}/cds-services", timeout=5).status_code == 200 and \
                        len(self.worker_pids()) >= (self.workers or 1):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {START_TIMEOUT_S} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        return [pid for pid in _all_pids() if _parent_pid(pid) == self.process.pid]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its workers."""
        pids = self.worker_pids() + ([self.process.pid] if self.process else [])
        return sum(_cpu_ticks(pid) for pid in pids) / os.sysconf("SC_CLK_TCK")

    def worker_rss_mb(self) -> float:
        sizes = [_rss_kb(pid) for pid in self.worker_pids()]
        return max((s for s in sizes if s is not None), default=0) / 1024

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # gunicorn: graceful stop of the workers, then the master exits
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the command name may hold spaces


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def server_env(database_url: str | None) -> dict[str, str]:
    """A clean environment: no KNEE_CDS_* inherited; auth off explicitly (gunicorn has no loopback default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNEE_CDS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["KNEE_CDS_AUTH"] = "off"
    if database_url:
        env["KNEE_CDS_DATABASE_URL"] = database_url
    return env


# ---------------------------------------------------------------------------------------- requests


@dataclass
class Workload:
    mode: str                          # "prefetch" | "fetch"
    index_file: Path                   # the wrk script's list of (path, body file)
    count: int
    mean_kb: float
    slowest_query_s: float | None = None   # fetch mode: mean over bodies of the slowest single query
    sequential_s: float | None = None      # fetch mode: mean over bodies of all queries one after another


def _vignettes(only: list[str] | None) -> list[dict[str, Any]]:
    chosen = []
    for path in vg.vignette_paths(vg.public_vignette_dir(REPO)):
        vignette = vg.load_vignette(path)
        if vignette.get("config"):
            continue  # a vignette with its own configuration needs its own server
        if only and vignette["id"] not in only:
            continue
        chosen.append(vignette)
    return chosen


def _write_workload(mode: str, workdir: Path, bodies: list[tuple[str, dict[str, Any]]]) -> Workload:
    lines, sizes = [], []
    for i, (path, body) in enumerate(bodies):
        raw = json.dumps(body).encode()
        body_file = workdir / f"{mode}-{i:03d}.json"
        body_file.write_bytes(raw)
        lines.append(f"{path}\t{body_file}")
        sizes.append(len(raw))
    index = workdir / f"{mode}.index"
    index.write_text("\n".join(lines) + "\n")
    return Workload(mode, index, len(bodies), statistics.mean(sizes) / 1024)


def _service_paths() -> dict[str, str]:
    from service.catalog import knee_services  # noqa: PLC0415

    return {s.hook: f"/cds-services/{s.id}" for s in knee_services()}


def prefetch_workload(workdir: Path, only: list[str] | None) -> Workload:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    paths = _service_paths()
    bodies = []
    for vignette in _vignettes(only):
        loaded = vg.prepare(vignette, now)
        bodies.append((paths[loaded.hook], vg.build_request(loaded)))
    return _write_workload("prefetch", workdir, bodies)


def fetch_workload(workdir: Path, only: list[str] | None, fhir_base: str) -> Workload:
    from cds_hooks.prefetch import render_query  # noqa: PLC0415

    now = datetime.now(timezone.utc).replace(microsecond=0)
    paths = _service_paths()
    bodies, slowest, sums = [], [], []
    session = requests.Session()
    for n, vignette in enumerate(_vignettes(only)):
        loaded = vg.prepare(vignette, now, prefix=f"b{n}-")
        body = vg.build_server_request(loaded, fhir_base)
        bodies.append((paths[loaded.hook], body))
        service = vg.service_for(loaded.hook)
        hook_request = vg.hook_request(body, service)
        times = []
        for key, template in service.prefetch.items():
            query = render_query(key, template, hook_request)
            if query.relative_url is None:
                continue
            samples = []
            for _ in range(3):
                t0 = time.perf_counter()
                session.get(f"{fhir_base}/{query.relative_url}", timeout=30)
                samples.append(time.perf_counter() - t0)
            times.append(statistics.median(samples))
        slowest.append(max(times))
        sums.append(sum(times))
    workload = _write_workload("fetch", workdir, bodies)
    workload.slowest_query_s = statistics.mean(slowest)
    workload.sequential_s = statistics.mean(sums)
    return workload


# ---------------------------------------------------------------------------------------- wrk


@dataclass
class Turn:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    rss_mb: float
    cpu_ms: float       # server CPU time per request (all workers): robust on a shared machine

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(server: Server, workload: Workload, clients: int, duration: float) -> Turn:
    command = ["wrk", "-t", str(min(clients, 2)), "-c", str(clients), "-d", f"{duration:g}s",
               "--timeout", "5s", "--latency", "-s", str(LUA_SCRIPT), server.base, "--",
               str(workload.index_file)]
    cpu_before = server.cpu_seconds()
    out = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    cpu = server.cpu_seconds() - cpu_before
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")
    r = json.loads(line.split(" ", 1)[1])
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return Turn(requests=r["requests"], seconds=r["duration_us"] / 1e6, p50_ms=r["p50_us"] / 1000,
                p95_ms=r["p95_us"] / 1000, p99_ms=r["p99_us"] / 1000, errors=errors,
                rss_mb=server.worker_rss_mb(), cpu_ms=cpu * 1000 / max(1, r["requests"]))


# ---------------------------------------------------------------------------------------- report


@dataclass
class Row:
    store: str
    mode: str
    workers: str
    clients: int
    ceiling: list[Turn]
    knee: list[Turn]

    @staticmethod
    def _median(turns: list[Turn], attr: str) -> float:
        return statistics.median(getattr(t, attr) for t in turns)

    @property
    def ratio(self) -> float:
        # turns are paired (ceiling then knee-cds, back to back): the median of the pair ratios
        return statistics.median(k.rps / c.rps if c.rps else 0.0 for c, k in zip(self.ceiling, self.knee))

    @property
    def cpu_ratio(self) -> float:
        """Ceiling CPU per request / knee-cds CPU per request: the throughput ratio to expect when
        the servers alone are CPU-bound, whatever else runs on the machine."""
        k, c = self._median(self.knee, "cpu_ms"), self._median(self.ceiling, "cpu_ms")
        return c / k if k else 0.0

    def summary(self, which: str) -> dict[str, float]:
        turns = self.knee if which == "knee" else self.ceiling
        return {"rps": self._median(turns, "rps"), "cpu_ms": self._median(turns, "cpu_ms"),
                "p50_ms": self._median(turns, "p50_ms"),
                "p95_ms": self._median(turns, "p95_ms"), "p99_ms": self._median(turns, "p99_ms"),
                "errors": sum(t.errors for t in turns), "rss_mb": max(t.rss_mb for t in turns)}

    def as_dict(self) -> dict[str, Any]:
        return {"store": self.store, "mode": self.mode, "workers": self.workers, "clients": self.clients,
                "ceiling": self.summary("ceiling"), "knee": self.summary("knee"), "ratio": self.ratio,
                "cpu_ratio": self.cpu_ratio}


HEADER = ("| store | mode | workers | clients | ceiling req/s | knee-cds req/s | ratio | "
          "p50 / p95 / p99 ms (knee-cds) | p99 ms (ceiling) | errors | worker RSS MB | "
          "server CPU ms/req (ceiling, knee-cds) | CPU ratio |")


def format_row(row: Row) -> str:
    k, c = row.summary("knee"), row.summary("ceiling")
    return (f"| {row.store} | {row.mode} | {row.workers} | {row.clients} | {c['rps']:,.0f} | {k['rps']:,.0f} | "
            f"{row.ratio:.2f} | {k['p50_ms']:.1f} / {k['p95_ms']:.1f} / {k['p99_ms']:.1f} | "
            f"{c['p99_ms']:.1f} | {int(k['errors'])} (ceiling {int(c['errors'])}) | {k['rss_mb']:.0f} | "
            f"{c['cpu_ms']:.2f}, {k['cpu_ms']:.2f} | {row.cpu_ratio:.2f} |")


def check_targets(rows: list[Row], workloads: dict[str, Workload]) -> list[str]:
    failures = []
    for row in rows:
        k = row.summary("knee")
        where = f"{row.store}, {row.mode}, {row.workers} workers, {row.clients} clients"
        if k["errors"]:
            failures.append(f"{where}: {int(k['errors'])} errors")
        if k["rss_mb"] > TARGET_RSS_MB:
            failures.append(f"{where}: worker RSS {k['rss_mb']:.0f} MB > {TARGET_RSS_MB:.0f} MB")
        if row.mode == "prefetch" and row.clients == TARGET_CLIENTS:
            if row.ratio < TARGET_RATIO:
                failures.append(f"{where}: ratio {row.ratio:.2f} < {TARGET_RATIO}")
            if k["p99_ms"] > TARGET_P99_MS:
                failures.append(f"{where}: p99 {k['p99_ms']:.1f} ms > {TARGET_P99_MS:.0f} ms")
        if row.mode == "fetch" and row.clients == 1 and workloads["fetch"].slowest_query_s:
            # informative only: the local FHIR server answers the concurrent queries of one call
            # partly in turn, so it, not knee-cds, sets this factor. The bound itself is checked
            # by bench/fetch_latency.py against a server with a fixed delay per query.
            w = workloads["fetch"]
            factor = (k["p50_ms"] / 1000) / w.slowest_query_s
            print(f"fetch mode, {row.store}, {row.workers} workers, 1 client: one call p50 {k['p50_ms']:.1f} ms = "
                  f"{factor:.2f} x the slowest single FHIR query ({w.slowest_query_s * 1000:.1f} ms); "
                  f"the same queries one after another take {w.sequential_s * 1000:.1f} ms "
                  f"(bound {TARGET_FETCH_FACTOR} x: see bench/fetch_latency.py)")
    return failures


# ---------------------------------------------------------------------------------------- main


class Cleanup:
    """Stops every server started, in reverse order, also on SIGTERM/SIGINT."""

    def __init__(self) -> None:
        self.stops: list[Callable[[], None]] = []

    def add(self, stop: Callable[[], None]) -> None:
        self.stops.append(stop)

    def run(self) -> None:
        while self.stops:
            stop = self.stops.pop()
            try:
                stop()
            except Exception as err:  # noqa: BLE001  keep stopping the others
                print(f"stopping: {type(err).__name__}: {err}", file=sys.stderr)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--duration", type=float, default=8.0, help="seconds per wrk turn (default 8)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load per server start")
    ap.add_argument("--rounds", type=int, default=1, help="alternating ceiling/knee-cds turns per level")
    ap.add_argument("--clients", type=_ints, default=[1, 4, 16, 64], help="concurrent connections, e.g. 1,4,16,64")
    ap.add_argument("--workers", default="", help="gunicorn worker counts to compare, e.g. 1,2,3 "
                                                  "(default: the configuration's)")
    ap.add_argument("--threads", type=int, help="gunicorn --threads override (gthread workers)")
    ap.add_argument("--stores", default="sqlite,postgresql", help="sqlite, postgresql or both")
    ap.add_argument("--modes", default="prefetch,fetch", help="prefetch, fetch or both")
    ap.add_argument("--vignette", default="", help="only these vignette ids, e.g. V01 (default: all)")
    ap.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    ap.add_argument("--app", default=KNEE_APP, help=f"knee-cds WSGI app for gunicorn (default {KNEE_APP})")
    return ap.parse_args()


def start_database(store: str, workdir: Path, cleanup: Cleanup) -> Callable[[str], str]:
    """A function giving a fresh database URL per server for ``store``."""
    if store == "sqlite":
        counter = iter(range(10_000))
        return lambda name: f"sqlite:///{workdir}/{name}-{next(counter)}.sqlite3"
    external = os.environ.get("KNEE_CDS_DATABASE_URL")
    if external:
        print(f"PostgreSQL: KNEE_CDS_DATABASE_URL ({external.split('@')[-1]}), shared by every run")
        return lambda name: external
    try:
        from tests.support.postgres import start_postgres  # noqa: PLC0415
    except ImportError as err:
        raise RuntimeError(f"PostgreSQL: tests/support/postgres.py not usable ({err}); "
                           "set KNEE_CDS_DATABASE_URL") from None
    server = start_postgres()
    cleanup.add(server.stop)
    print(f"PostgreSQL: started on 127.0.0.1:{server.port} ({server.bindir})")
    return lambda name: server.create_database("bench")


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk; see scripts/system-packages.txt)",
              file=sys.stderr)
        return 2
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    worker_counts: list[int | None] = _ints(args.workers) if args.workers else [None]
    only = [v.strip() for v in args.vignette.split(",") if v.strip()] or None

    cleanup = Cleanup()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="knee-cds-http-load-"))
    rows: list[Row] = []
    try:
        workloads: dict[str, Workload] = {}
        if "prefetch" in modes:
            workloads["prefetch"] = prefetch_workload(workdir, only)
        if "fetch" in modes:
            from tests.support.fhir_server import SekmetServer  # noqa: PLC0415

            (workdir / "fhir").mkdir()
            fhir = SekmetServer(workdir / "fhir").start()
            cleanup.add(fhir.stop)
            workloads["fetch"] = fetch_workload(workdir, only, fhir.base)
        for w in workloads.values():
            extra = f", slowest single FHIR query {w.slowest_query_s * 1000:.1f} ms" if w.slowest_query_s else ""
            print(f"{w.mode} mode: {w.count} requests from ../shared/vignettes, mean body {w.mean_kb:.1f} KB{extra}")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
              f"{args.duration:g} s per turn, {args.rounds} round(s); "
              f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
        databases = {store: start_database(store, workdir, cleanup) for store in stores}
        print()
        print(HEADER)
        print("|" + "---|" * (HEADER.count("|") - 1))
        for store, database in databases.items():
            for workers in worker_counts:
                label = str(workers) if workers else "config"
                for mode, workload in workloads.items():
                    ceiling = Server("ceiling", CEILING_APP, server_env(None), workdir / "ceiling.log",
                                     workers=workers, threads=args.threads).start()
                    cleanup.add(ceiling.stop)
                    knee = Server("knee-cds", args.app, server_env(database("knee")), workdir / "knee-cds.log",
                                  workers=workers, threads=args.threads).start()
                    cleanup.add(knee.stop)
                    if args.warmup > 0:
                        for server in (ceiling, knee):
                            run_wrk(server, workload, max(args.clients), args.warmup)
                    for clients in args.clients:
                        turns: dict[str, list[Turn]] = {"ceiling": [], "knee": []}
                        for _ in range(args.rounds):
                            turns["ceiling"].append(run_wrk(ceiling, workload, clients, args.duration))
                            turns["knee"].append(run_wrk(knee, workload, clients, args.duration))
                        row = Row(store, mode, label, clients, turns["ceiling"], turns["knee"])
                        rows.append(row)
                        print(format_row(row), flush=True)
                    knee.stop()
                    ceiling.stop()
        print()
        failures = check_targets(rows, workloads)
        if args.json:
            args.json.write_text(json.dumps({"rows": [r.as_dict() for r in rows]}, indent=1))
        for failure in failures:
            print(f"TARGET MISSED  {failure}")
        if not failures:
            print("every target checked is met")
        return 1 if failures else 0
    except (RuntimeError, OSError, subprocess.SubprocessError) as err:
        print(f"benchmark could not run: {err}", file=sys.stderr)
        return 2
    finally:
        cleanup.run()
        print(f"logs: {workdir}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
