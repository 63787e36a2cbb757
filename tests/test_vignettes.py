"""The clinical acceptance suite (contract §9): every file in ../shared/vignettes, discovered at run
time, through the real HTTP service — once with prefetch filled the way an EHR fills it, once with no
prefetch so the service fetches from a real FHIR server. Both ways must give the same cards."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from tests.support import vignettes as vg

PATHS = vg.vignette_paths()
KNOWLEDGE_VERSION = vg.spec_knowledge_version()


def _server_for(vignette, service_server_factory, cache={}):  # noqa: B006 - per-session server per config
    env = {k: str(v) for k, v in (vignette.get("config") or {}).items()}
    key = tuple(sorted(env.items()))
    if key not in cache:
        cache[key] = service_server_factory(env)
    return cache[key]


def _post(server, hook_service_id, body):
    resp = requests.post(server.url(f"/cds-services/{hook_service_id}"), json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _comparable(response):
    """The response without what is fresh per call: uuids and the 'now'-anchored order windows."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("uuid", "occurrencePeriod")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return strip(response)


def test_vignettes_are_discovered():
    assert len(PATHS) >= 20, "the shared acceptance folder should be found"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_vignette_with_prefetch_and_from_fhir_server(path, service_server_factory, fhir_base, fhir_id_prefix):
    vignette = vg.load_vignette(path)
    server = _server_for(vignette, service_server_factory)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    loaded = vg.prepare(vignette, now, prefix=f"{fhir_id_prefix}{vignette['id'].lower()}-")
    service_id = vg.service_for(loaded.hook).id

    with_prefetch = _post(server, service_id, vg.build_request(loaded))
    problems = vg.check_expect(vignette["expect"], with_prefetch) + vg.validate_cards(with_prefetch, KNOWLEDGE_VERSION)
    assert not problems, f"{vignette['id']} with prefetch: {problems}"

    fetched = _post(server, service_id, vg.build_server_request(loaded, fhir_base))
    problems = vg.check_expect(vignette["expect"], fetched) + vg.validate_cards(fetched, KNOWLEDGE_VERSION)
    assert not problems, f"{vignette['id']} fetched from the FHIR server: {problems}"

    assert _comparable(fetched) == _comparable(with_prefetch)
