"""`knee-cds example-request`: a ready hook request from a bundled example patient (README "first call")."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from service import cli
from service.tools import examples
from service.tools.local_request import clinical_date
from service.catalog import knee_services
from tests.support.vignettes import validate_cards

NOW = datetime(2026, 3, 1, 12, 30, 45, tzinfo=timezone.utc)
TOKEN = re.compile(r"@now")


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


@pytest.mark.parametrize("text,expected", [
    ("@now", "2026-03-01T12:30:45Z"),
    ("@now-55y:date", "1971-03-01"),
    ("@now+2h", "2026-03-01T14:30:45Z"),
    ("@now-3d", "2026-02-26T12:30:45Z"),
    ("@now-2w:date", "2026-02-15"),
    ("@now-90m", "2026-03-01T11:00:45Z"),
    ("@now-1d:date", "2026-02-28"),
])
def test_time_tokens_render_in_utc(text, expected):
    assert examples.render_time(text, NOW) == expected


def test_only_exact_tokens_are_times_and_leap_days_fall_back_to_28_february():
    assert examples.render_time("seen @now", NOW) is None
    assert examples.render_time("@now-5x", NOW) is None
    leap = datetime(2024, 2, 29, tzinfo=timezone.utc)
    assert examples.render_time("@now-1y:date", leap) == "2023-02-28"


def test_every_bundled_example_gives_a_complete_request():
    ids = examples.example_ids()
    assert "V01" in ids and len(ids) >= 20
    for example_id in ids:
        example = examples.load_example(example_id)
        service, body = examples.example_request(example, NOW)
        assert service.hook == example["hook"] == body["hook"]
        assert set(body["prefetch"]) == set(service.prefetch), example_id   # contract §9: no key left out
        assert not [s for s in _strings(body) if TOKEN.search(s)], example_id
        patient = body["prefetch"]["patient"]
        assert patient["resourceType"] == "Patient" and patient["id"] == body["context"]["patientId"]
        for key, value in body["prefetch"].items():
            if "?" in service.prefetch[key]:
                assert value["resourceType"] == "Bundle" and value["type"] == "searchset"
                assert all(e["resource"]["resourceType"] == service.prefetch[key].split("?")[0]
                           for e in value["entry"])
        if example["hook"] in ("order-select", "order-sign"):
            assert body["context"]["draftOrders"]["entry"]


def test_observations_come_newest_first():
    _service, body = examples.example_request(examples.load_example("V01"), NOW)
    dates = [clinical_date(e["resource"]) for e in body["prefetch"]["observations"]["entry"]]
    assert dates == sorted(dates, reverse=True) and len(dates) >= 2


def test_cli_prints_the_request_and_names_the_service(capsys):
    assert cli.main(["example-request", "V30"]) == 0
    out, err = capsys.readouterr()
    body = json.loads(out)
    assert body["hook"] == "encounter-start" and body["context"]["encounterId"]
    assert "/cds-services/knee-pain-encounter-triage" in err and "curl" in err


def test_cli_unknown_example_is_a_clear_error(capsys):
    assert cli.main(["example-request", "../codesets"]) == 2
    assert cli.main(["example-request", "V999"]) == 2
    _out, err = capsys.readouterr()
    assert "no bundled example 'V999'" in err and "V01" in err


def test_cli_lists_the_examples(capsys):
    assert cli.main(["example-request", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == examples.example_ids()


def test_every_example_request_is_answered_by_the_service(client):
    by_hook = {s.hook: s.id for s in knee_services()}
    for example_id in examples.example_ids():
        service, body = examples.example_request(examples.load_example(example_id))
        assert by_hook[body["hook"]] == service.id
        answer = client.post(f"/cds-services/{service.id}", json=body)
        assert answer.status_code == 200, (example_id, answer.text[:500])
        assert validate_cards(answer.json) == [], example_id
