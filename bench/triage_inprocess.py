"""In-process triage benchmark and vignette smoke run (parsed JSON in -> cards out, HTTP excluded).

Usage: python bench/triage_inprocess.py [--repeat N]
Prints per-vignette result vs expect, then p50/p99 latency per call with the chart size, and the
chart layer alone (FHIR JSON -> facts, ``build_facts``), whose budget is 5 ms per call on a
shared CI machine (about 0.5 ms on a quiet one).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cds_hooks.prefetch import FetchSettings, gather_chart  # noqa: E402
from service.chart.reader import build_facts  # noqa: E402
from service.config import load_settings  # noqa: E402
from service.engine import KneeDomain  # noqa: E402
from service.tools import vignettes as vg  # noqa: E402


CHART_BUDGET_MS = 5.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    domains = {}
    failures = 0
    timings: list[float] = []
    chart_timings: list[float] = []
    for path in vg.vignette_paths(vg.public_vignette_dir(REPO)):
        v = vg.load_vignette(path)
        env = {"KNEE_CDS_AUTH": "off", **(v.get("config") or {})}
        key = tuple(sorted(env.items()))
        if key not in domains:
            domains[key] = KneeDomain(load_settings(env, bind_host="127.0.0.1"))
        domain = domains[key]
        loaded = vg.prepare(v, now)
        service = vg.service_for(loaded.hook)
        body = vg.build_request(loaded)
        request = vg.hook_request(body, service)
        request.received_at = now
        chart = gather_chart(request, FetchSettings())
        result = domain.evaluate(request, chart)
        response = {"cards": result.cards}
        problems = vg.check_expect(v["expect"], response) + vg.validate_cards(response)
        topics = [c["source"]["topic"]["code"] for c in result.cards]
        status = "ok  " if not problems else "FAIL"
        failures += bool(problems)
        print(f"{status} {v['id']:8} {result.overall_tier} {topics}")
        for p in problems:
            print(f"       - {p}")
        n = len(chart.all_resources())
        for _ in range(args.repeat if not problems else 0):
            t0 = time.perf_counter()
            domain.evaluate(request, chart)
            timings.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            build_facts(chart, now, domain.terminology, request.context, request.hook)
            chart_timings.append((time.perf_counter() - t0) * 1000)
    if timings:
        timings.sort()
        p50 = statistics.median(timings)
        p99 = timings[int(len(timings) * 0.99) - 1]
        print(f"\nin-process triage: {len(timings)} calls, p50 {p50:.2f} ms, p99 {p99:.2f} ms "
              f"(vignette charts of about {n} resources)")
        chart_timings.sort()
        slowest = chart_timings[-1]
        print(f"chart layer (build_facts): p50 {statistics.median(chart_timings):.2f} ms, "
              f"p99 {chart_timings[int(len(chart_timings) * 0.99) - 1]:.2f} ms, max {slowest:.2f} ms "
              f"(budget {CHART_BUDGET_MS:.0f} ms: {'OK' if statistics.median(chart_timings) < CHART_BUDGET_MS else 'TOO SLOW'})")
    print(f"{failures} vignette(s) failing")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
