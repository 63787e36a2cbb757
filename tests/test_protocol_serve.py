"""`knee-cds serve` with the real knee engine (skipped until service.engine exists)."""
from __future__ import annotations

import pytest
import requests

from tests.support.protocol_requests import hook_body
from tests.support.service_server import engine_available

pytestmark = pytest.mark.skipif(not engine_available(), reason="service.engine is not written yet")


def test_knee_cds_serve_answers_discovery_and_every_hook(service_server_factory):
    server = service_server_factory(fake_domain=False)
    services = requests.get(server.url("/cds-services"), timeout=10).json()["services"]
    assert len(services) == 4
    for service in services:
        resp = requests.post(server.url(f"/cds-services/{service['id']}"), json=hook_body(service["hook"]), timeout=30)
        assert resp.status_code == 200, resp.text
        assert isinstance(resp.json()["cards"], list)
    server.stop()
