"""Benchmark (not a test): machine instructions per whole hook call, the one figure a shared or
virtual machine repeats exactly (wall and CPU times there vary by tens of percent from minute to minute).

Runs the same in-process calls as bench/call_inprocess.py (every default-configured vignette, body
bytes in -> JSON out through the WSGI app) under ``valgrind --tool=callgrind`` twice, once with only
the warm-up and once with ``--repeat`` more rounds, and prints the difference per call: start-up and
warm-up cancel out.

    .venv/bin/python bench/call_instructions.py [--repeat 5]

Needs valgrind (Debian package). Takes a few minutes: callgrind runs Python about 50 times slower.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def calls(rounds: int) -> None:
    """In the process valgrind watches: the warm-up, then ``rounds`` rounds over every vignette."""
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    from call_inprocess import request_bodies, wsgi_post  # noqa: PLC0415

    from service.app import create_app  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="knee-cds-instr-") as tmp:
        app = create_app({"ENVIRON": {"KNEE_CDS_AUTH": "off", "KNEE_CDS_DATABASE_URL": f"sqlite:///{tmp}/s.sqlite3"},
                          "BIND_HOST": "127.0.0.1", "RETENTION_THREAD": False, "INSTANCE_PATH": tmp})
        bodies = request_bodies(None)
        for _ in range(1 + rounds):
            for vid, service_id, body in bodies:
                if wsgi_post(app, f"/cds-services/{service_id}", body) != 200:
                    raise SystemExit(f"{vid}: the call did not answer 200")
        print(f"calls per round: {len(bodies)}")
        sys.stdout.flush()
        os._exit(0)  # the audit writer's thread would only add instructions after the last call


def count(rounds: int) -> tuple[int, int]:
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                          __file__, "--child", str(rounds)], capture_output=True, text=True, check=True)
    collected = re.search(r"Collected : (\d+)", out.stderr)
    per_round = re.search(r"calls per round: (\d+)", out.stdout)
    if not (collected and per_round):
        raise SystemExit(f"valgrind gave no count:\n{out.stderr[-2000:]}")
    return int(collected.group(1)), int(per_round.group(1))


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        calls(int(sys.argv[2]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="counted rounds over every vignette")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 1
    base, per_round = count(0)
    more, _ = count(args.repeat)
    n = args.repeat * per_round
    print(f"whole call in process: {(more - base) / n / 1e6:.2f} M instructions per call "
          f"({n} calls over {per_round} vignettes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
