"""`knee-cds triage`, `knee-cds vignettes` and `knee-cds check-config`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.tools import examples
from service.cli import main
from service.tools.local_request import build_request
from service.tools.vignettes import service_for
from tests.support.jwt_tools import KeyPair
from tests.support.vignettes import VIGNETTE_DIR

BUNDLE_TYPES = ("collection", "transaction", "searchset")
SITES = Path(__file__).resolve().parents[1] / "mappings" / "sites"


def _bundle(example: examples.Example, kind: str = "collection") -> dict:
    rendered = examples.example_chart(example)
    resources = rendered.chart.resources + rendered.draft_orders
    entries = [{"resource": r} for r in resources]
    if kind == "transaction":
        entries = [dict(e, request={"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"})
                   for e, r in zip(entries, resources)]
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def _knee_cds() -> list[str]:
    script = Path(sys.executable).parent / "knee-cds"
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


@pytest.fixture(scope="module")
def client(make_app):
    return make_app().test_client()


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("KNEE_CDS_"):
            monkeypatch.delenv(name)


# ---- knee-cds triage --------------------------------------------------------------------------------


@pytest.mark.parametrize("example", [e for e in examples.examples() if not e.config], ids=lambda e: e.id)
def test_triage_prints_the_tier_the_service_answers(tmp_path, capsys, clean_env, client, example):
    """The Bundle of each public case, through `knee-cds triage` and through the running service."""
    path = tmp_path / "chart.json"
    # the three Bundle types a user may hold a chart in, in turn over the cases
    kind = BUNDLE_TYPES[examples.examples().index(example) % len(BUNDLE_TYPES)]
    path.write_text(json.dumps(_bundle(example, kind)))
    assert main(["triage", str(path), "--hook", example.hook, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    rendered = examples.example_chart(example)
    body = build_request(rendered.chart, service_for(example.hook), rendered.draft_orders,
                         context_overrides=rendered.context)
    served = client.post(f"/cds-services/{service_for(example.hook).id}", json=body).json
    tiers = [[c["extension"]["example.knee-cds"]["tier"] for c in r["cards"]] for r in (printed, served)]
    assert tiers[0] == tiers[1]
    assert main(["triage", str(path), "--hook", example.hook]) == 0
    text = capsys.readouterr().out
    if served["cards"]:
        first = served["cards"][0]
        assert text.startswith(f"[{first['extension']['example.knee-cds']['tier']}] {first['summary']}")
    else:
        assert text.startswith("No cards")


def test_triage_of_a_request_prints_the_exact_json(tmp_path, capsys, clean_env):
    example = examples.examples()[0]
    rendered = examples.example_chart(example)
    body = build_request(rendered.chart, service_for(example.hook), rendered.draft_orders,
                         context_overrides=rendered.context)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body))
    assert main(["triage", str(path), "--json", "--now", "2026-01-05T10:00:00Z"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert isinstance(answer["cards"], list)
    starts = {a["resource"]["occurrencePeriod"]["start"] for c in answer["cards"] for s in c.get("suggestions", [])
              for a in s["actions"] if a.get("resource", {}).get("occurrencePeriod")}
    assert starts <= {"2026-01-05T10:00:00Z"}  # --now is the clock of the request


@pytest.mark.parametrize("content, args, reason", [
    (None, [], "cannot read"),
    ("not json", [], "is not JSON"),
    ('{"resourceType": "Bundle", "type": "collection", "entry": []}', [], "holds no Patient"),
    ('{"resourceType": "Patient", "id": "p"}', ["--now", "yesterday"], "not an ISO 8601"),
    ('{"resourceType": "Patient", "id": "p"}', ["--hook", "order-sign"], "needs a draft order"),
    ('{"resourceType": "Patient", "id": "p"}', ["--hook", "order-sign", "--draft", "x-ray"], "unknown orderable"),
    ('{"hook": "patient-view", "context": {}}', ["--hook", "order-sign"], "not 'order-sign'"),
    ('{"hook": "patient-view", "hookInstance": "a", "context": {"userId": "Practitioner/x"}}', [],
     "refuses this request (HTTP 400)"),
])
def test_triage_unreadable_input_exits_2_with_one_line(tmp_path, capsys, clean_env, content, args, reason):
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content)
    assert main(["triage", str(path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert reason in err and "\n" not in err and "Traceback" not in err


def test_triage_as_installed_command_reads_stdin(clean_env):
    example = examples.examples()[0]
    result = subprocess.run(_knee_cds() + ["triage", "-"], input=json.dumps(_bundle(example)), text=True,
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[") or result.stdout.startswith("No cards")
    assert "\x1b[" not in result.stdout  # no colour when stdout is not a terminal


# ---- knee-cds vignettes -----------------------------------------------------------------------------


def test_vignettes_in_process_pass(capsys, clean_env):
    assert main(["vignettes", str(VIGNETTE_DIR)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    count = len(list(VIGNETTE_DIR.glob("*.json")))
    assert lines[-1] == f"{count} passed, 0 failed"
    assert all(line.startswith("PASS ") for line in lines[:-1])


def test_vignettes_against_a_running_service_both_modes(capsys, clean_env, service_server, fhir_base):
    code = main(["vignettes", str(VIGNETTE_DIR), "--service", service_server.base_url, "--mode", "both",
                 "--fhir-server", fhir_base])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0, "\n".join(out)
    with_config = sum(1 for p in VIGNETTE_DIR.glob("*.json") if json.loads(p.read_text()).get("config"))
    total = len(list(VIGNETTE_DIR.glob("*.json"))) * 2
    skipped = with_config * 2
    assert out[-1] == f"{total - skipped} passed, 0 failed" + (f", {skipped} skipped" if skipped else "")


def test_a_failing_vignette_is_reported_and_exits_1(tmp_path, capsys, clean_env):
    source = next(p for p in sorted(VIGNETTE_DIR.glob("*.json")) if "tier" in json.loads(p.read_text())["expect"])
    vignette = json.loads(source.read_text())
    vignette["expect"]["tier"] = "self-care" if vignette["expect"]["tier"] != "self-care" else "routine"
    (tmp_path / source.name).write_text(json.dumps(vignette))
    assert main(["vignettes", str(tmp_path)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith(f"FAIL {vignette['id']} [prefetch]") and "tier: expected" in out[0]
    assert out[-1] == "0 passed, 1 failed"


def test_vignettes_fetch_mode_without_a_fhir_server_is_skipped(capsys, clean_env):
    assert main(["vignettes", str(VIGNETTE_DIR), "--mode", "fetch", "--only", "V01"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "0 passed, 0 failed, 1 skipped"


# ---- knee-cds check-config --------------------------------------------------------------------------


def _check(monkeypatch, capsys, env: dict[str, str], *args: str) -> tuple[int, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["check-config", *args])
    return code, capsys.readouterr().out


def test_check_config_passes_on_loopback_defaults(monkeypatch, capsys, clean_env):
    code, out = _check(monkeypatch, capsys, {}, "--host", "127.0.0.1")
    assert code == 0, out
    assert "KNEE_CDS_AUTH=off" in out and "ERROR" not in out


def test_check_config_reports_every_problem_by_name(monkeypatch, capsys, clean_env, tmp_path):
    bad_map = tmp_path / "bad-site.json"
    bad_map.write_text('{"site": "x"}')
    code, out = _check(monkeypatch, capsys, {
        "KNEE_CDS_AUTH": "required", "KNEE_CDS_CLIENTS": str(tmp_path / "missing.json"),
        "KNEE_CDS_DATABASE_URL": "postgresql://knee:s3cret@127.0.0.1:1/knee",
        "KNEE_CDS_SITE_MAPS": str(bad_map)})
    assert code == 2
    lines = {line.split(":")[0]: line for line in out.strip().splitlines()}
    assert lines["ERROR KNEE_CDS_CLIENTS"] and lines["ERROR KNEE_CDS_SITE_MAPS"]
    assert "ERROR KNEE_CDS_DATABASE_URL" in lines
    assert "s3cret" not in out and "***" in out


def test_check_config_stops_at_a_bad_variable(monkeypatch, capsys, clean_env):
    code, out = _check(monkeypatch, capsys, {"KNEE_CDS_FHIR_TIMEOUT": "soon"})
    assert code == 2 and "KNEE_CDS_FHIR_TIMEOUT" in out
    code, out = _check(monkeypatch, capsys, {"KNEE_CDS_FHIR_TIMEOUT": "3", "KNEE_CDS_WORKERS": "many"})
    assert code == 2 and "KNEE_CDS_WORKERS" in out  # a gunicorn variable, checked as under gunicorn


def test_check_config_reads_a_good_clients_file_database_and_site_map(monkeypatch, capsys, clean_env, tmp_path):
    clients = tmp_path / "clients.json"
    key = KeyPair("ec", "k1")
    clients.write_text(json.dumps([{"iss": "https://ehr.example", "jwks": {"keys": [key.jwk]}}]))
    site_map = next(SITES.glob("*.json"))
    code, out = _check(monkeypatch, capsys, {
        "KNEE_CDS_AUTH": "required", "KNEE_CDS_CLIENTS": str(clients),
        "KNEE_CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}", "KNEE_CDS_SITE_MAPS": str(site_map)})
    assert code == 0, out
    assert "1 client(s)" in out and "reachable" in out and "entries" in out
