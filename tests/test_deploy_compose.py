"""deploy/compose.yaml, checked offline: the Compose schema, Compose itself when installed, structure."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "deploy" / "compose.yaml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


def _schema_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_compose_file_matches_the_compose_specification_schema():
    result = _schema_check(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_does_catch_a_broken_file(tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  app:\n    depends_on:\n      db:\n        condition: sometimes\n")
    assert _schema_check(broken).returncode != 0


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose (Debian package, scripts/system-packages.txt) not installed")
def test_compose_itself_accepts_the_file():
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "--quiet"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_postgresql_is_the_official_image_with_a_health_check(compose):
    db = compose["services"]["db"]
    assert re.fullmatch(r"postgres:\d+[\w.-]*", db["image"])
    test = " ".join(db["healthcheck"]["test"])
    assert "pg_isready" in test and "--host=127.0.0.1" in test
    assert "POSTGRES_PASSWORD" not in db["environment"] and db["environment"]["POSTGRES_PASSWORD_FILE"]


def test_the_service_waits_for_a_healthy_database(compose):
    assert compose["services"]["knee-cds"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_secrets_come_from_files_and_every_file_variable_points_at_a_mounted_secret(compose):
    declared = compose["secrets"]
    assert all(set(spec) == {"file"} for spec in declared.values())
    for name, service in compose["services"].items():
        mounted = set(service.get("secrets", []))
        assert mounted <= set(declared), name
        for var, value in service.get("environment", {}).items():
            if var.endswith("_FILE") or var == "KNEE_CDS_CLIENTS":
                assert value.startswith("/run/secrets/") and value.rsplit("/", 1)[1] in mounted, var
    env = compose["services"]["knee-cds"]["environment"]
    assert "KNEE_CDS_DATABASE_URL" not in env and "KNEE_CDS_METRICS_TOKEN" not in env
    assert env["KNEE_CDS_AUTH"] == "required"


def test_the_service_runs_non_root_on_a_read_only_filesystem_from_the_dockerfile(compose):
    app = compose["services"]["knee-cds"]
    assert app["user"].split(":")[0] not in ("0", "root") and app["read_only"] is True
    assert "/tmp" in app["tmpfs"] and app["cap_drop"] == ["ALL"]
    context = (COMPOSE.parent / app["build"]["context"]).resolve()
    assert (context / app["build"]["dockerfile"]).resolve() == (REPO / "deploy" / "Dockerfile")


def test_the_database_is_not_reachable_from_outside(compose):
    db = compose["services"]["db"]
    assert "ports" not in db
    assert all(compose["networks"][n].get("internal") for n in db["networks"])
