#!/usr/bin/env bash
# The README's test command (CI runs it through .ci/run). It tests what users install:
#   1. builds the wheel from a copy of the checkout and installs it, with the test extras, into a fresh
#      virtual environment outside the checkout;
#   2. runs the pytest suite against that installed package (KNEE_CDS_TEST_INSTALLED=1: tests/conftest.py
#      stops the run if `service` or `cds_hooks` would be imported from the checkout);
#   3. starts the installed `knee-cds serve` from a folder outside the checkout and runs the independent
#      tools of ../shared/tools against it: the EHR simulator on every ../shared/vignettes case, with
#      prefetch and fetched from a real FHIR server, answers required identical (vignettes that name a
#      `config` run against a service started with that environment), and the HTTP probe, plain and
#      with client JWTs against a service started with KNEE_CDS_AUTH=required.
# Every step runs even when an earlier one failed. The last line is "N passed, M failed" (pytest tests
# plus the tools' checks); the exit status is 1 when anything failed or a step could not run.
#
#   scripts/test.sh [pytest args]          everything, as CI runs it
#   scripts/test.sh --dev [pytest args]    quick loop: editable install into ./.venv, pytest only
#
# Environment: PYTHON (interpreter, default python3.11 or python3), KNEE_CDS_VIGNETTES (default
# ../shared/vignettes), KNEE_CDS_SHARED_TOOLS (default ../shared/tools), KNEE_CDS_TEST_KEEP=1 keeps the
# work folder (logs, venv) for inspection.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
bash scripts/install-system-packages.sh || exit 1

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

if [ "${1:-}" = "--dev" ]; then
  shift
  set -e
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test]"
  exec .venv/bin/python -m pytest -q "$@"
fi

VIGNETTES=${KNEE_CDS_VIGNETTES:-$REPO/../shared/vignettes}
TOOLS=${KNEE_CDS_SHARED_TOOLS:-$REPO/../shared/tools}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/knee-cds-test.XXXXXX")
# readable by other users: one store test runs the installed service as an unprivileged user
chmod 755 "$WORK"
VENV=$WORK/venv
PASSED=0
FAILED=0
SERVER_PIDS=()

cleanup() {
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  if [ "${KNEE_CDS_TEST_KEEP:-0}" = 1 ]; then echo "work folder kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo; echo "== $*"; }

# A step that could not run at all counts as one failure.
broken() { echo "FAILED STEP: $*"; FAILED=$((FAILED + 1)); }

# "... 12 passed, 3 failed, 2 skipped ..." in the last matching line of a log -> PASSED/FAILED.
# pytest's "N error(s)" count as failures; a log without a summary line is one failure.
count() {
  local log=$1 what=$2 line p f e
  line=$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -n 1)
  if [ -z "$line" ]; then broken "$what gave no summary (see above)"; return; fi
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  e=$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  PASSED=$((PASSED + ${p:-0}))
  FAILED=$((FAILED + ${f:-0} + ${e:-0}))
}

# run_sim LOG WHAT IDS [ehr_sim args]: the EHR simulator on the vignettes IDS, counted. The cards carry times of the request
# (ServiceRequest.occurrencePeriod, to the minute), which ehr_sim's --require-identical compares
# although its README says times are set aside; so a case whose ONLY failure is "prefetch and fetch
# answers differ" is run once more (its two calls may have fallen either side of a minute), and the
# second verdict stands. Any other failure, or a second difference, counts as it is.
run_sim() {
  local log=$1 what=$2 ids=$3 p f retry retry_count fails; shift 3
  "$VENV/bin/python" "$TOOLS/ehr_sim.py" --only "$ids" "$@" 2>&1 | tee "$log"
  retry=$(grep -E '^FAIL [^ ]+ \[fetch\] clinical: prefetch and fetch answers differ \(cards compared without uuids\)$' "$log" \
          | awk '{print $2}' | paste -sd, -)
  if [ -z "$retry" ]; then count "$log" "$what"; return; fi
  echo "RETRY $retry: prefetch and fetch answers differed only (request times); running once more"
  "$VENV/bin/python" "$TOOLS/ehr_sim.py" --only "$retry" "$@" 2>&1 | tee "$log.retry"
  p=$(tail -n 1 "$log" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
  f=$(tail -n 1 "$log" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0)
  retry_count=$(tr ',' '\n' <<<"$retry" | wc -l)
  fails=$(grep -c '^FAIL' "$log.retry" || true)
  if ! tail -n 1 "$log.retry" | grep -qE '[0-9]+ passed'; then broken "$what retry gave no summary"; fi
  PASSED=$((PASSED + p + (retry_count > fails ? retry_count - fails : 0)))
  FAILED=$((FAILED + f - retry_count + fails))
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_service NAME [K=V ...]: the installed knee-cds, started from its own folder outside the
# checkout with a clean KNEE_CDS_* environment plus K=V; sets SERVICE_URL and SERVICE_PID. Returns 1
# if it does not answer within 60 s (any HTTP status counts as an answer: with auth on, discovery is 401).
start_service() {
  local name=$1; shift
  local dir=$WORK/run-$name port
  mkdir -p "$dir"
  port=$(free_port)
  (
    cd "$dir" || exit 1
    for var in $(env | grep -oE '^KNEE_CDS_[A-Z0-9_]+'); do unset "$var"; done
    unset PYTHONPATH
    exec env KNEE_CDS_DATABASE_URL="sqlite:///$dir/store.sqlite3" "$@" \
      "$VENV/bin/knee-cds" serve --host 127.0.0.1 --port "$port"
  ) >"$dir/serve.log" 2>&1 &
  SERVICE_PID=$!
  SERVER_PIDS+=("$SERVICE_PID")
  SERVICE_URL=http://127.0.0.1:$port
  if "$VENV/bin/python" - "$SERVICE_URL/cds-services" "$SERVICE_PID" <<'EOF_PY'
import os, sys, time, urllib.error, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)                      # the service exited
    try:
        urllib.request.urlopen(url, timeout=5)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)                      # it answers (401 with auth on)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF_PY
  then
    echo "knee-cds ($name) at $SERVICE_URL, started in $dir"
    return 0
  fi
  echo "knee-cds ($name) did not start:"; tail -n 40 "$dir/serve.log"
  return 1
}

stop_service() {
  kill "$SERVICE_PID" 2>/dev/null && wait "$SERVICE_PID" 2>/dev/null
  return 0
}

# ---- 1. wheel, fresh environment --------------------------------------------------------------------
step "build the wheel and install it into a fresh virtual environment ($VENV)"
mkdir -p "$WORK/src" "$WORK/dist"
tar -C "$REPO" --exclude=./.venv --exclude=./.git --exclude=./build --exclude=./dist --exclude='*.egg-info' \
    --exclude=__pycache__ --exclude=.pytest_cache --exclude=.hypothesis --exclude=./instance -cf - . \
  | tar -C "$WORK/src" -xf -
if ! { "$PY" -m venv "$VENV" \
       && "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null \
       && "$VENV/bin/python" -m pip wheel -q --no-deps -w "$WORK/dist" "$WORK/src"; }; then
  broken "could not build the wheel"; echo "$PASSED passed, $FAILED failed"; exit 1
fi
WHEEL=$(ls "$WORK"/dist/knee_cds-*.whl)
if ! "$VENV/bin/python" -m pip install -q "${WHEEL}[test]"; then
  broken "could not install $WHEEL"; echo "$PASSED passed, $FAILED failed"; exit 1
fi
echo "installed $(basename "$WHEEL")"

# ---- 2. the suite against the installed package ---------------------------------------------------
step "pytest against the installed package"
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# The tests import their helpers as `tests.support...`: the checkout goes on sys.path AFTER
# site-packages (a .pth file), so the installed `service` and `cds_hooks` always win. `python -P`
# keeps the current folder off sys.path; --import-mode=importlib keeps pytest from inserting it.
echo "$REPO" >"$SITE/knee_cds_checkout_tests.pth"
mkdir -p "$WORK/run-tests"
KNEE_CDS_TEST_INSTALLED=1 KNEE_CDS_TEST_RUN_DIR="$WORK/run-tests" KNEE_CDS_TEST_WHEEL="$WHEEL" KNEE_CDS_VIGNETTES="$VIGNETTES" \
  "$VENV/bin/python" -P -m pytest -q -p no:cacheprovider --import-mode=importlib "$@" 2>&1 \
  | tee "$WORK/pytest.log"
count "$WORK/pytest.log" pytest
rm -f "$SITE/knee_cds_checkout_tests.pth"

# ---- 3. the installed service under the shared EHR simulator and HTTP probe ------------------------
if [ ! -f "$TOOLS/ehr_sim.py" ] || [ ! -d "$VIGNETTES" ]; then
  broken "shared tools or vignettes not found ($TOOLS, $VIGNETTES)"
else
  # Vignettes grouped by the service configuration they need (contract §9 "config"): one line per
  # group, "<ids>\t<K=V ...>"; the group without a config first.
  "$VENV/bin/python" - "$VIGNETTES" >"$WORK/groups.tsv" <<'EOF'
import json, sys
from pathlib import Path
groups = {}
for path in sorted(Path(sys.argv[1]).glob("*.json")):
    vignette = json.loads(path.read_text())
    config = vignette.get("config") if isinstance(vignette.get("config"), dict) else {}
    key = " ".join(f"{k}={v}" for k, v in sorted(config.items()))
    groups.setdefault(key, []).append(vignette.get("id") or path.stem)
for key in sorted(groups, key=lambda k: (k != "", k)):
    print(",".join(groups[key]) + "\t" + key)
EOF
  n=0
  while IFS=$'\t' read -r ids config; do
    n=$((n + 1))
    # shellcheck disable=SC2206
    pairs=($config)
    step "EHR simulator: $ids${config:+ (service started with $config)}"
    if ! start_service "sim$n" "${pairs[@]}"; then broken "knee-cds for $ids did not start"; continue; fi
    sim_config=()
    for kv in "${pairs[@]}"; do sim_config+=(--service-config "$kv"); done
    run_sim "$WORK/ehr_sim-$n.log" "ehr_sim ($ids)" "$ids" --service "$SERVICE_URL" --vignettes "$VIGNETTES" \
      --mode both --require-identical --start-fhir "${sim_config[@]}"
    if [ -z "$config" ]; then
      step "HTTP probe"
      "$VENV/bin/python" "$TOOLS/http_probe.py" --service "$SERVICE_URL" 2>&1 | tee "$WORK/probe.log"
      count "$WORK/probe.log" http_probe
    fi
    stop_service
  done <"$WORK/groups.tsv"

  step "HTTP probe with client JWTs (KNEE_CDS_AUTH=required)"
  # The client may use exactly one FHIR server (the simulator's, on a port fixed here); CORS names the
  # probe's browser origin, as a browser-based EHR needs with auth on (contract §8).
  jwt_fhir_port=$(free_port)
  if "$VENV/bin/python" "$TOOLS/ehr_sim.py" --write-jwks "$WORK/clients.json" --jwt-key "$WORK/jwt.pem" \
        --fhir-port "$jwt_fhir_port" \
      && start_service jwt KNEE_CDS_AUTH=required "KNEE_CDS_CLIENTS=$WORK/clients.json" \
        KNEE_CDS_CORS_ORIGINS=http://localhost:3000; then
    "$VENV/bin/python" "$TOOLS/http_probe.py" --service "$SERVICE_URL" --jwt --jwt-key "$WORK/jwt.pem" 2>&1 \
      | tee "$WORK/probe-jwt.log"
    count "$WORK/probe-jwt.log" "http_probe --jwt"
    first=$(head -n 1 "$WORK/groups.tsv" | cut -f 1 | cut -d , -f 1)
    step "EHR simulator with client JWTs: $first"
    run_sim "$WORK/ehr_sim-jwt.log" "ehr_sim --jwt" "$first" --service "$SERVICE_URL" --vignettes "$VIGNETTES" \
      --mode both --require-identical --start-fhir --fhir-port "$jwt_fhir_port" \
      --jwt --jwt-key "$WORK/jwt.pem"
    stop_service
  else
    broken "could not start knee-cds with KNEE_CDS_AUTH=required"
  fi
fi

echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
