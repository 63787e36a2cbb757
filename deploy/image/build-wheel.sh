#!/bin/sh
# Image step 1 (deploy/Dockerfile, stage "wheel"): build the knee-cds wheel.
#   build-wheel.sh SOURCE_DIR WHEEL_DIR
set -eu
src=$1
dist=$2
mkdir -p "$dist"
"${PYTHON:-python3}" -m pip wheel --no-deps --no-cache-dir --wheel-dir "$dist" "$src"
