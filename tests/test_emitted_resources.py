"""Every FHIR resource the service emits is valid FHIR R4 (checked with fhir.resources R4B models).

The service builds its ServiceRequests from fixed templates and does not validate them per call
(service/cards.py); this suite validates what actually goes on the wire, through the Flask app, for
every vignette of ../shared/vignettes (found at run time) with prefetch filled.
"""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.app import create_app
from service.cards.render import CardRenderer
from service.cards.draft import Suggest
from service.catalog import knee_services
from service.terminology.code_sets import default_terminology
from tests.support import vignettes as vg
from tests.support.order_factory import NOW
from tests.support.order_factory import facts as order_facts

PATHS = vg.vignette_paths()
SERVICE_IDS = {s.hook: s.id for s in knee_services()}


def emitted_resources(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources of every suggestion action (create/update) of every card."""
    return [action["resource"]
            for card in response.get("cards", [])
            for suggestion in card.get("suggestions", [])
            for action in suggestion.get("actions", [])
            if "resource" in action]


def validate_r4(resource: dict[str, Any]) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


@pytest.fixture(scope="module")
def app_for(tmp_path_factory):
    apps: dict[tuple, Any] = {}

    def get(config: dict[str, Any]):
        env = {"KNEE_CDS_AUTH": "off", **{k: str(v) for k, v in config.items()}}
        key = tuple(sorted(env.items()))
        if key not in apps:
            tmp = tmp_path_factory.mktemp("emitted")
            env["KNEE_CDS_DATABASE_URL"] = f"sqlite:///{tmp}/store.sqlite3"
            apps[key] = create_app({"ENVIRON": env, "BIND_HOST": "127.0.0.1", "RETENTION_THREAD": False,
                                    "INSTANCE_PATH": str(tmp)})
        return apps[key]
    return get


def _call(app, vignette: dict[str, Any]) -> dict[str, Any]:
    loaded = vg.prepare(vignette, datetime.now(timezone.utc).replace(microsecond=0))
    resp = app.test_client().post(f"/cds-services/{SERVICE_IDS[loaded.hook]}", json=vg.build_request(loaded))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_every_emitted_resource_is_valid_r4(app_for, path):
    vignette = vg.load_vignette(path)
    response = _call(app_for(vignette.get("config") or {}), vignette)
    for resource in emitted_resources(response):
        validate_r4(resource)


def test_the_vignettes_emit_service_requests(app_for):
    # guards the suite above against passing on nothing: some vignettes suggest orders
    count = sum(len(emitted_resources(_call(app_for(v.get("config") or {}), v)))
                for v in map(vg.load_vignette, PATHS))
    assert count > 0


def test_the_validator_refuses_a_broken_service_request(app_for):
    for path in PATHS:
        vignette = vg.load_vignette(path)
        resources = emitted_resources(_call(app_for(vignette.get("config") or {}), vignette))
        if resources:
            broken = copy.deepcopy(resources[0])
            del broken["subject"]             # required (1..1) in R4
            broken["priority"] = {"code": 1}  # a code is a string
            with pytest.raises(ValidationError):
                validate_r4(broken)
            return
    pytest.skip("no vignette emits a resource")


TIERS = ["emergency-immediate", "emergency-same-day", "urgent", "routine", "self-care"]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_orderable_renders_a_valid_service_request(data):
    # beyond the vignettes: any orderable of the catalog, any tier, with or without window, note, side
    terminology = default_terminology()
    orderable = data.draw(st.sampled_from(sorted(terminology.orderable_ids)))
    tier = data.draw(st.sampled_from(TIERS))
    hours = data.draw(st.none() | st.integers(min_value=1, max_value=24 * 14))
    period = (NOW, NOW + timedelta(hours=hours)) if hours else None
    note = data.draw(st.sampled_from(["", "repeat in 1 week if still symptomatic"]))
    side = data.draw(st.sampled_from([None, "left", "right"]))
    suggestion = Suggest(orderable, "R1", f"{orderable} wanted", note=note, period=period)
    chart_facts = order_facts(ka={"symptom-side": side} if side else None)
    validate_r4(CardRenderer(terminology).service_request(suggestion, tier, chart_facts))
