#!/usr/bin/env bash
# Install knee-cds with its test extras into ./.venv and run the whole suite. The suite starts every
# server it uses itself (knee-cds processes and a sekmet-fhir FHIR server, all on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-packages.sh
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test]"
exec .venv/bin/python -m pytest -q "$@"
