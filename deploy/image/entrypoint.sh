#!/bin/sh
# Image step 3 (deploy/Dockerfile CMD): gunicorn with the deploy config installed beside this script.
# Extra arguments go to gunicorn. Configuration comes from the environment (deploy/README.md).
set -eu
prefix=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
exec "$prefix/bin/gunicorn" -c "$prefix/etc/gunicorn.conf.py" "$@"
