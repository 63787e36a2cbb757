"""The wheel carries everything the service reads at run time, and what users install starts and answers.

- the bundled example patients (service.mappings/examples) are the shared vignettes, byte for byte;
- the built wheel holds every module of cds_hooks/ and service/, every data file of mappings/ (as the
  package service.mappings), the ``knee-cds`` entry point, and no upper Python bound;
- ``pip install .`` (non-editable) and ``pip install <wheel>`` each give a service that starts outside
  the checkout and answers a hook call written by ``knee-cds example-request``.

scripts/test.sh passes the wheel it built and installed as KNEE_CDS_TEST_WHEEL; without it the wheel
is built here from a copy of the checkout (so no build/ or egg-info is left in the source tree).
"""
from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from importlib import resources
from pathlib import Path

import pytest
import requests

from tests.support.service_server import REPO, free_port, server_env
from tests.support.vignettes import VIGNETTE_DIR

SOURCE_PACKAGES = ("cds_hooks", "service")
SKIP_IN_COPY = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__",
                                      ".pytest_cache", ".hypothesis", "instance", "*.pyc")
PIP_TIMEOUT_S = 600


def _pip(*args: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    assert proc.returncode == 0, f"pip {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory) -> Path:
    """The checkout's files (no virtual environment, caches or build output) in a temporary folder."""
    target = tmp_path_factory.mktemp("source") / "knee-cds"
    shutil.copytree(REPO, target, ignore=SKIP_IN_COPY)
    return target


@pytest.fixture(scope="module")
def wheel(source_copy, tmp_path_factory) -> Path:
    given = os.environ.get("KNEE_CDS_TEST_WHEEL")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", "--no-deps", "-q", "-w", str(out), ".", cwd=source_copy)
    (found,) = out.glob("knee_cds-*.whl")
    return found


# ---- bundled example patients ---------------------------------------------------------------------

def _bundled_examples() -> dict[str, bytes]:
    folder = resources.files("service.mappings") / "examples"
    return {item.name: item.read_bytes() for item in folder.iterdir() if item.name.endswith(".json")}


def test_every_shared_vignette_is_bundled_unchanged():
    shared = {p.name: p.read_bytes() for p in sorted(VIGNETTE_DIR.glob("*.json"))}
    assert shared, f"no shared vignettes found in {VIGNETTE_DIR}"
    bundled = _bundled_examples()
    missing = sorted(set(shared) - set(bundled))
    differ = sorted(n for n in set(shared) & set(bundled) if shared[n] != bundled[n])
    extra = sorted(set(bundled) - set(shared))
    assert not (missing or differ or extra), (
        f"mappings/examples is out of date with {VIGNETTE_DIR} (missing {missing}, different {differ}, "
        f"no longer shared {extra}): copy them (mappings/README.md)")


# ---- the wheel ---------------------------------------------------------------------------------------

def _checkout_files() -> tuple[set[str], set[str]]:
    """(every file of cds_hooks/ and service/ — modules, templates, static files —, data files of
    mappings/) of the checkout, as wheel paths."""
    modules = {p.relative_to(REPO).as_posix() for pkg in SOURCE_PACKAGES for p in (REPO / pkg).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    data = {"service/mappings/" + p.relative_to(REPO / "mappings").as_posix()
            for p in (REPO / "mappings").rglob("*") if p.is_file() and "__pycache__" not in p.parts
            and p.suffix != ".pyc"}
    return modules, data


def test_wheel_holds_every_module_and_data_file(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(f"{dist_info}/METADATA").decode()
        entry_points = configparser.ConfigParser()
        entry_points.read_string(zf.read(f"{dist_info}/entry_points.txt").decode())
    modules, data = _checkout_files()
    assert "service/mappings/codesets.json" in data and "service/mappings/sites/st-example-hospital.json" in data
    assert any(n.startswith("service/mappings/examples/") for n in data)
    assert modules - names == set(), "files missing from the wheel (pyproject.toml packages / package-data)"
    assert data - names == set(), "mappings/ files missing from the wheel (pyproject.toml package-data)"
    assert not any(n.startswith(("tests/", "mappings/", "deploy/")) for n in names)
    assert entry_points["console_scripts"]["knee-cds"] == "service.cli:main"
    requires_python = [line for line in metadata.splitlines() if line.startswith("Requires-Python:")]
    assert requires_python == ["Requires-Python: >=3.11"]


def test_data_is_read_through_the_package():
    from service.terminology import code_sets, site_maps

    package_dir = Path(str(resources.files("service.mappings")))
    assert Path(str(code_sets.CODESETS_PATH)) == package_dir / "codesets.json"
    assert json.loads(code_sets.CODESETS_PATH.read_text(encoding="utf-8"))
    assert site_maps.resolve_site_map_path("st-example-hospital").name == "st-example-hospital.json"


# ---- what users install starts and answers ----------------------------------------------------------

def _serve_and_call(target: Path, workdir: Path) -> dict:
    """Run `knee-cds` from ``target`` (a pip --target folder; dependencies from this environment) in
    ``workdir``: write V01's request, start the service, send it; returns the response JSON."""
    env = server_env({"KNEE_CDS_DATABASE_URL": f"sqlite:///{workdir / 'store.sqlite3'}"})
    env["PYTHONPATH"] = str(target)   # the installed copy first, never the checkout
    probe = subprocess.run([sys.executable, "-c", "import service, cds_hooks; print(service.__file__); "
                            "print(cds_hooks.__file__)"], cwd=workdir, env=env, capture_output=True,
                           text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert all(Path(line).is_relative_to(target) for line in probe.stdout.split()), probe.stdout
    request = subprocess.run([sys.executable, "-m", "service.cli", "example-request", "V01"], cwd=workdir,
                             env=env, capture_output=True, text=True, timeout=60)
    assert request.returncode == 0, request.stderr
    body = json.loads(request.stdout)
    port = free_port()
    log = open(workdir / "serve.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1",
                               "--port", str(port)], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):   # up to ~60 s on a busy machine
            if server.poll() is not None:
                pytest.fail(f"knee-cds exited: {(workdir / 'serve.log').read_text()[-3000:]}")
            try:
                requests.get(f"{base}/cds-services", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.1)
        answer = requests.post(f"{base}/cds-services/knee-pain-triage", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        return answer.json()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


@pytest.mark.parametrize("how", ["pip install .", "pip install wheel"])
def test_non_editable_install_starts_and_answers_a_hook(how, source_copy, wheel, tmp_path):
    target = tmp_path / "site"
    what = "." if how == "pip install ." else str(wheel)
    _pip("install", "--no-deps", "-q", "--target", str(target), what, cwd=source_copy)
    assert (target / "service" / "mappings" / "codesets.json").is_file()
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    response = _serve_and_call(target, workdir)
    cards = response["cards"]
    assert cards and cards[0]["indicator"] == "critical"
