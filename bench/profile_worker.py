"""Benchmark helper (not a test): where a gunicorn worker spends its CPU under load.

Starts knee-cds (or the empty-endpoint ceiling) under deploy/gunicorn.conf.py on 127.0.0.1, drives it
with ``wrk`` using the prefetch-filled requests of every ../shared/vignettes case (as
bench/http_load.py does), records every worker with py-spy while the load runs, and prints:

- the server CPU per request over the whole run (all workers and the master, from /proc);
- the share of the worker's Python CPU by part: the HTTP server (gunicorn, gevent, the worker class,
  the access log), the web framework (Flask, Werkzeug), the protocol (``cds_hooks``: body checks,
  validation, prefetch reading, card plumbing, telemetry), the domain (``service``: the triage and
  the cards), and the audit writer thread; each also as milliseconds per request;
- the functions with the most samples (inclusive and self), and the same for the domain alone.

py-spy samples the thread holding the GIL (``--gil``): Python CPU, not time spent waiting. Time in C
code that releases the GIL (socket writes, SQLite) is not in the shares, so the parts add up to a
little less than the CPU per request.

    .venv/bin/python bench/profile_worker.py                       # knee-cds, 2 workers, 16 clients, 15 s
    .venv/bin/python bench/profile_worker.py --app ceiling --workers 1
    .venv/bin/python bench/profile_worker.py --raw /tmp/knee.txt   # also keep py-spy's collapsed stacks

Needs ``wrk`` (Debian) and ``py-spy`` (``pip install py-spy``), with the right to trace the worker
(root, or ptrace allowed for the user).
"""
from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import http_load as hl  # noqa: E402

SERVER, FRAMEWORK, PROTOCOL, DOMAIN, AUDIT_WRITER = "server", "framework", "protocol", "domain", "audit writer"
PART_TEXT = {
    SERVER: "HTTP server (gunicorn, gevent, worker class, access log)",
    FRAMEWORK: "web framework (Flask, Werkzeug)",
    PROTOCOL: "protocol (cds_hooks: body, validation, prefetch, cards, telemetry)",
    DOMAIN: "domain (service: chart, triage, cards)",
    AUDIT_WRITER: "audit writer thread (store)",
}
# files of cds_hooks that belong to the HTTP server, and the log formatter that both the access log
# and the hook.call event pass through (the caller decides the part)
SERVER_FILES = ("cds_hooks/gunicorn_worker.py", "cds_hooks/access_log.py")
NEUTRAL_FILES = ("cds_hooks/jsonlog.py",)


@dataclass(frozen=True)
class Frame:
    function: str
    file: str

    @staticmethod
    def parse(text: str) -> "Frame":
        # py-spy's raw format: "function (path/to/file.py:line)"
        function, _, where = text.rpartition(" (")
        return Frame(function or text, where.rsplit(":", 1)[0] if where else "")

    @property
    def label(self) -> str:
        return f"{self.function} ({self.file})"


def part_of(stack: list[Frame]) -> str:
    """The part a sample belongs to: the innermost frame that names one decides."""
    if any(f.function == "AuditWriter._run" for f in stack):
        return AUDIT_WRITER
    for frame in reversed(stack):
        if frame.file.startswith("service/"):
            return DOMAIN
        if frame.file in NEUTRAL_FILES:
            continue
        if frame.file in SERVER_FILES:
            return SERVER
        if frame.file.startswith("cds_hooks/"):
            return PROTOCOL
        if frame.file.startswith(("flask/", "werkzeug/")):
            return FRAMEWORK
    return SERVER


@dataclass
class Profile:
    total: int
    parts: collections.Counter
    inclusive: collections.Counter
    own: collections.Counter
    domain_inclusive: collections.Counter
    domain_total: int


def read_profile(path: Path) -> Profile:
    parts: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    domain_inclusive: collections.Counter = collections.Counter()
    total = domain_total = 0
    for line in path.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not stack_text or not count.isdigit():
            continue
        n = int(count)
        stack = [Frame.parse(f) for f in stack_text.split(";")]
        total += n
        part = part_of(stack)
        parts[part] += n
        labels = list(dict.fromkeys(f.label for f in stack))
        for label in labels:
            inclusive[label] += n
        own[stack[-1].label] += n
        if part == DOMAIN:
            domain_total += n
            for label in dict.fromkeys(f.label for f in stack if f.file.startswith("service/")):
                domain_inclusive[label] += n
    return Profile(total, parts, inclusive, own, domain_inclusive, domain_total)


def print_report(profile: Profile, cpu_ms: float, top: int) -> None:
    if not profile.total:
        print("py-spy recorded no sample")
        return
    print(f"\nworkers' Python CPU by part ({profile.total} samples; ms per request = share x {cpu_ms:.2f} ms):")
    for part in (SERVER, FRAMEWORK, PROTOCOL, DOMAIN, AUDIT_WRITER):
        share = profile.parts[part] / profile.total
        print(f"  {share * 100:5.1f} %  {share * cpu_ms:5.2f} ms  {PART_TEXT[part]}")
    for title, counter in (("inclusive", profile.inclusive), ("self", profile.own)):
        print(f"\ntop functions, {title} (% of the workers' samples):")
        for label, n in counter.most_common(top):
            print(f"  {n * 100 / profile.total:5.1f} %  {label}")
    if profile.domain_total:
        print(f"\ndomain hot spots, inclusive (% of the workers' samples; the domain is "
              f"{profile.domain_total * 100 / profile.total:.1f} %):")
        for label, n in profile.domain_inclusive.most_common(top):
            print(f"  {n * 100 / profile.total:5.1f} %  {label}")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--app", choices=("knee", "ceiling"), default="knee")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    ap.add_argument("--clients", type=int, default=16, help="concurrent wrk connections (default 16)")
    ap.add_argument("--duration", type=float, default=15.0, help="seconds of recorded load (default 15)")
    ap.add_argument("--rate", type=int, default=200, help="py-spy samples per second (default 200)")
    ap.add_argument("--top", type=int, default=30, help="functions listed per table (default 30)")
    ap.add_argument("--vignette", default="", help="only these vignette ids, e.g. V01 (default: all)")
    ap.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks in this file")
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    missing = [name for name, path in (("wrk", shutil.which("wrk")), ("py-spy", spy)) if not path or not Path(path).exists()]
    if missing:
        print(f"missing: {', '.join(missing)} (wrk: apt-get install wrk; py-spy: pip install py-spy)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="knee-cds-profile-"))
    only = [v.strip() for v in args.vignette.split(",") if v.strip()] or None
    workload = hl.prefetch_workload(workdir, only)
    database = f"sqlite:///{workdir}/store.sqlite3" if args.app == "knee" else None
    app = hl.KNEE_APP if args.app == "knee" else hl.CEILING_APP
    server = hl.Server(args.app, app, hl.server_env(database), workdir / "server.log", workers=args.workers)
    raw = args.raw or workdir / "py-spy.txt"
    try:
        server.start()
        hl.run_wrk(server, workload, args.clients, 3)  # warm-up: imports, caches, connections
        # every worker: connections are not spread evenly (a worker's event loop accepts what it can)
        recorders = {pid: subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--duration", str(max(1, round(args.duration))),
             "--rate", str(args.rate), "--gil", "--nonblocking", "--format", "raw",
             "--output", str(workdir / f"py-spy-{pid}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for pid in server.worker_pids()}
        turn = hl.run_wrk(server, workload, args.clients, args.duration)
        for pid, recorder in recorders.items():
            _, err = recorder.communicate(timeout=args.duration + 60)
            if recorder.returncode != 0:
                print(f"py-spy failed on worker {pid} ({recorder.returncode}): {err.strip()[-400:]}", file=sys.stderr)
                return 2
        raw.write_text("".join(path.read_text() for path in sorted(workdir.glob("py-spy-*.txt"))))
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        print(f"profile could not run: {error}", file=sys.stderr)
        return 2
    finally:
        server.stop()
    print(f"{args.app}: {args.workers} workers, {args.clients} clients, {workload.count} requests "
          f"(mean {workload.mean_kb:.1f} KB): {turn.rps:,.0f} req/s, p50 {turn.p50_ms:.1f} ms, "
          f"p99 {turn.p99_ms:.1f} ms, errors {turn.errors}, server CPU {turn.cpu_ms:.2f} ms per request")
    print_report(read_profile(raw), turn.cpu_ms, args.top)
    print(f"\nstacks: {raw}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
