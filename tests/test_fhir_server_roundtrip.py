"""Every vignette loaded into a real FHIR R4 server reads back the same chart as its prefetch (issue 4 item 5).

The server is sekmet-fhir started by the suite, or KNEE_CDS_TEST_FHIR_BASE (tests/support/fhir_server.py).
"""
from __future__ import annotations

import json

import pytest

from cds_hooks.prefetch import FetchSettings, gather_chart
from tests.support.vignettes import (build_request, build_server_request, hook_request, load_vignette, make_now,
                                     prepare, service_for, vignette_paths)

pytestmark = pytest.mark.fhir_server

SETTINGS = FetchSettings(timeout=10.0, max_pages=50)
NOW = make_now()


def canonical(resource: dict) -> str:
    """A resource without what servers add (meta, text), as sortable JSON."""
    stripped = {k: v for k, v in resource.items() if k not in ("meta", "text")}
    return json.dumps(stripped, sort_keys=True)


def per_key(chart) -> dict[str, list[str]]:
    out = {key: sorted(canonical(r) for r in items) for key, items in chart.resources.items()}
    out["patient"] = [canonical(chart.patient)]
    return out


@pytest.mark.parametrize("path", vignette_paths(), ids=lambda p: p.stem)
def test_server_chart_equals_prefetch_chart(path, fhir_base, fhir_id_prefix):
    loaded = prepare(load_vignette(path), NOW, prefix=fhir_id_prefix)
    service = service_for(loaded.hook)
    prefetched = gather_chart(hook_request(build_request(loaded, service=service), service), SETTINGS)
    fetched = gather_chart(hook_request(build_server_request(loaded, fhir_base), service), SETTINGS)
    assert fetched.unreadable == [] and fetched.skipped == []
    assert prefetched.unreadable == [] and prefetched.skipped == []
    assert per_key(fetched) == per_key(prefetched)
    assert fetched.medications == prefetched.medications


def test_server_pages_and_sorts_like_the_loader_assumes(fhir_base, fhir_id_prefix):
    """The quirks the harness relies on: patient= search, _sort=-date, _count paging with next links."""
    from tests.support.fhir_server import put_resources
    import requests

    pid = f"{fhir_id_prefix}paging"
    observations = [{"resourceType": "Observation", "id": f"{pid}-o{i}", "status": "final", "code": {"text": "x"},
                     "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": f"2026-01-{i + 1:02d}T00:00:00Z"}
                    for i in range(25)]
    put_resources(fhir_base, [{"resourceType": "Patient", "id": pid}, *observations])
    first = requests.get(f"{fhir_base}/Observation", params={"patient": pid, "_sort": "-date", "_count": 10},
                         timeout=10).json()
    assert [e["resource"]["id"] for e in first["entry"] if e["search"]["mode"] == "match"][:2] == [
        f"{pid}-o24", f"{pid}-o23"]
    assert any(link["relation"] == "next" for link in first["link"])
    chart = gather_chart(hook_request({"hook": "patient-view", "hookInstance": "x",
                                       "context": {"patientId": pid, "userId": "Practitioner/example"},
                                       "fhirServer": fhir_base}, service_for("patient-view")), SETTINGS)
    assert len(chart.resources["observations"]) == 25 and chart.unreadable == []
