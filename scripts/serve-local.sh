#!/usr/bin/env bash
# Install knee-cds into ./.venv and start it on loopback (SQLite store in ./instance, auth off on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
exec .venv/bin/knee-cds serve --host "${KNEE_CDS_HOST:-127.0.0.1}" --port "${KNEE_CDS_PORT:-8080}"
