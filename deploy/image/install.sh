#!/bin/sh
# Image step 2 (deploy/Dockerfile, runtime stage): a fresh virtual environment at PREFIX holding the
# wheel (with the PostgreSQL driver), the gunicorn config and the entrypoint.
#   install.sh WHEEL_DIR PREFIX GUNICORN_CONF ENTRYPOINT
set -eu
dist=$1
prefix=$2
conf=$3
entrypoint=$4
set -- "$dist"/knee_cds-*.whl
if [ "$#" -ne 1 ] || [ ! -f "$1" ]; then
    echo "install.sh: expected exactly one knee_cds wheel in $dist" >&2
    exit 1
fi
wheel=$1
"${PYTHON:-python3}" -m venv "$prefix"
"$prefix/bin/python" -m pip install --no-cache-dir --disable-pip-version-check "${wheel}[postgres]"
mkdir -p "$prefix/etc"
cp "$conf" "$prefix/etc/gunicorn.conf.py"
cp "$entrypoint" "$prefix/bin/knee-cds-entrypoint"
chmod 0644 "$prefix/etc/gunicorn.conf.py"
chmod 0755 "$prefix/bin/knee-cds-entrypoint"
