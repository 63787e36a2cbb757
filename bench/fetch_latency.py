"""Benchmark (not a test): one gather_chart with every template fetched costs about its slowest query.

Starts the FHIR stub (tests/support/fhir_stub.py) on 127.0.0.1 with a fixed delay per query, times a single
query on its own, then a gather with nothing prefetched (9 queries on encounter-start), and checks
gather <= 1.5 x slowest single query. Prints the timings; exit status 1 when the bound is missed.

    .venv/bin/python bench/fetch_latency.py [--delay 0.25] [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cds_hooks.domain import HookRequest  # noqa: E402
from cds_hooks.fhir_client import FhirClient  # noqa: E402
from cds_hooks.prefetch import FetchSettings, gather_chart  # noqa: E402
from service.tools.vignettes import service_for  # noqa: E402
from tests.support.fhir_stub import FhirStub  # noqa: E402

SEARCH_TYPES = ["Encounter", "Condition", "Observation", "MedicationRequest", "MedicationStatement",
                "Procedure", "ServiceRequest"]
BOUND = 1.5


def start_stub(delay: float) -> FhirStub:
    stub = FhirStub(default_delay=delay).start()
    stub.add_resource({"resourceType": "Patient", "id": "p1"})
    stub.add_resource({"resourceType": "Encounter", "id": "e1", "status": "in-progress"})
    for rtype in SEARCH_TYPES:
        stub.add_search(rtype, [{"resourceType": rtype, "id": f"{rtype.lower()}-{i}"} for i in range(10)])
    return stub


def single_query(stub: FhirStub, settings: FetchSettings) -> float:
    with FhirClient(stub.base, "bench", settings) as client:
        start = time.perf_counter()
        client.get_json(f"{stub.base}/Observation?patient=p1&_sort=-date")
        return time.perf_counter() - start


def one_gather(stub: FhirStub, settings: FetchSettings) -> tuple[float, int]:
    service = service_for("encounter-start")
    request = HookRequest(service=service, hook=service.hook, hook_instance="bench",
                          context={"patientId": "p1", "encounterId": "e1", "userId": "Practitioner/example"},
                          fhir_server=stub.base, fhir_authorization={"access_token": "bench"}, prefetch=None)
    start = time.perf_counter()
    chart = gather_chart(request, settings)
    elapsed = time.perf_counter() - start
    if chart.unreadable:
        raise SystemExit(f"unexpected unreadable keys: {chart.unreadable}")
    return elapsed, len(service.prefetch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.25, help="seconds the stub waits before each answer")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings = FetchSettings(timeout=max(3.0, args.delay * 4))
    stub = start_stub(args.delay)
    try:
        singles = [single_query(stub, settings) for _ in range(args.runs)]
        gathers = [one_gather(stub, settings) for _ in range(args.runs)]
    finally:
        stub.stop()
    slowest_single = max(singles)
    queries = gathers[0][1]
    times = [t for t, _ in gathers]
    print(f"stub delay per query        {args.delay:.3f} s")
    print(f"single query (max of {args.runs})    {slowest_single:.3f} s   runs: {', '.join(f'{t:.3f}' for t in singles)}")
    print(f"gather of {queries} queries        median {statistics.median(times):.3f} s, "
          f"max {max(times):.3f} s   runs: {', '.join(f'{t:.3f}' for t in times)}")
    print(f"sequential would be         {queries * args.delay:.3f} s")
    ratio = max(times) / slowest_single
    verdict = "OK" if ratio <= BOUND else "TOO SLOW"
    print(f"gather / slowest single     {ratio:.2f} (bound {BOUND})  {verdict}")
    return 0 if ratio <= BOUND else 1


if __name__ == "__main__":
    sys.exit(main())
