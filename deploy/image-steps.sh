#!/usr/bin/env bash
# The container image's steps without a container engine (no registry is reachable from CI):
# the same three scripts deploy/Dockerfile runs, the same wheel, a fresh virtual environment, and
# the server started from a directory that is not the checkout, with the image's defaults.
#
#   deploy/image-steps.sh WORK_DIR PORT
#
# 1. copies the build context (the files git sees, as `COPY . .` does with the .dockerignore) to
#    WORK_DIR/src and builds the wheel into WORK_DIR/dist   (deploy/image/build-wheel.sh)
# 2. installs it into a new venv WORK_DIR/opt               (deploy/image/install.sh)
# 3. starts it from WORK_DIR/run, bound to 127.0.0.1:PORT   (deploy/image/entrypoint.sh, exec'd:
#    stop it with SIGTERM to this script's process)
# The image's ENV applies unless the caller sets a variable (as `docker run -e` would).
set -euo pipefail
work=$(mkdir -p "$1" && cd "$1" && pwd)
port=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
export PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

rm -rf "$work/src" "$work/dist" "$work/opt" "$work/run"
mkdir -p "$work/src" "$work/run"
(cd "$repo" && git ls-files --cached --others --exclude-standard -z \
    | grep -zv -E '^(tests|bench|docs)/' \
    | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
    | tar --null -T - -cf -) | tar -xf - -C "$work/src"

sh "$repo/deploy/image/build-wheel.sh" "$work/src" "$work/dist"
sh "$repo/deploy/image/install.sh" "$work/dist" "$work/opt" "$repo/deploy/gunicorn.conf.py" \
    "$repo/deploy/image/entrypoint.sh"

# the image's ENV (deploy/Dockerfile), the bind moved to loopback and a free port
export PATH="$work/opt/bin:$PATH"
export KNEE_CDS_AUTH=${KNEE_CDS_AUTH:-required}
export KNEE_CDS_BIND="127.0.0.1:$port"
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$work/run/prometheus}
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
unset PYTHONPATH VIRTUAL_ENV
cd "$work/run"
exec "$work/opt/bin/knee-cds-entrypoint"
