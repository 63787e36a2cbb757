"""gunicorn settings for knee-cds in production.

    gunicorn -c deploy/gunicorn.conf.py 'service.app:create_app()'

Binds from KNEE_CDS_BIND (default 0.0.0.0:8080). The app factory is called without a bind host,
so an unset KNEE_CDS_AUTH means "required" here, whatever the address (contract §8): turning
authentication off needs an explicit KNEE_CDS_AUTH=off.
"""
import glob
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile

# ---- start-up check, metrics directory, logs ------------------------------------------------------
# The master imports nothing of the service: workers are forked from it and patched (gevent) after
# the fork, so requests, SQLAlchemy or prometheus_client imported here would reach every worker
# unpatched, with whatever state they had made.
#
# Every variable, the clients file, the site maps and the database URL are checked in a process of
# their own, before any worker is forked: a bad one stops gunicorn once, with one message naming it.
_check = subprocess.run([sys.executable, "-c",
                         "from service.config import startup_check_main; raise SystemExit(startup_check_main())"],
                        check=False)
if _check.returncode != 0:
    sys.exit(2)

# Every worker writes its metric values to files in PROMETHEUS_MULTIPROC_DIR, and /metrics adds
# them up (whichever worker answers the scrape). Unset, a private directory is made (and removed
# at exit); on Kubernetes it is an emptyDir. It must exist before a worker imports prometheus_client.
_OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="knee-cds-metrics-")
_METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]
os.makedirs(_METRICS_DIR, mode=0o700, exist_ok=True)

from cds_hooks.jsonlog import gunicorn_logconfig  # noqa: E402  (json and logging only)

# validated by the start-up check above
logconfig_dict = gunicorn_logconfig(os.environ.get("KNEE_CDS_LOG_FORMAT", "json").strip().lower() or "json",
                                    os.environ.get("KNEE_CDS_LOG_LEVEL", "info").strip().lower() or "info")

# No control socket: it would let any local process of this user resize or stop the server, and
# its default place ($HOME/.gunicorn) is not writable on a read-only root filesystem.
control_socket_disable = True


def on_starting(server):
    """Values of an earlier run would be added to this run's: start from an empty directory."""
    for path in glob.glob(os.path.join(_METRICS_DIR, "*.db")):
        os.remove(path)


def child_exit(server, worker):
    """A worker is gone: its live gauges (audit queue depth) no longer count; counters stay.
    What prometheus_client.multiprocess.mark_process_dead does, without importing it here."""
    for mode in ("liveall", "livesum", "livemax", "livemin", "livemostrecent"):
        for path in glob.glob(os.path.join(_METRICS_DIR, f"gauge_{mode}_{worker.pid}.db")):
            os.remove(path)


def worker_exit(server, worker):
    """A worker stops (restart, scale-down, SIGTERM): write the audit rows it has queued first.
    Their hook calls were answered already; contract §11 still wants every row. (In the worker.)"""
    from cds_hooks.store import close_all  # noqa: PLC0415
    close_all(timeout=10.0)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(_METRICS_DIR, ignore_errors=True)


# ---- server ---------------------------------------------------------------------------------------
wsgi_app = os.environ.get("KNEE_CDS_WSGI_APP", "service.app:create_app()")
bind = [b.strip() for b in os.environ.get("KNEE_CDS_BIND", "0.0.0.0:8080").split(",") if b.strip()]

# Connections are served by gevent (each one a greenlet: clients that send slowly cost memory, not
# a thread; 40 clients trickling a body left gthread workers answering nothing). A request received
# in full runs in one of `threads` real threads, where the app is not monkey-patched: a blocking
# store call (SQLite waiting for a lock) holds only its own thread. The worker class adds a deadline
# for receiving a body (KNEE_CDS_BODY_TIMEOUT_S, 408 then close) and answers gunicorn's own errors
# (request line too long, bad headers) with an OperationOutcome. The jti replay records and the
# patient-hash salt live in the store, so workers need no shared memory.
#
# A worker runs Python on one core at a time (one GIL), so workers give CPU parallelism and one per
# core uses them all; threads only cover waits (FHIR fetches, the store). More workers than cores,
# or more threads than the waits need, only add switching: on 2 cores 5 workers x 8 threads cost
# about 15 % more CPU per call than 2 x 4 (bench/http_load.py) and spread the latency. At least 2,
# so that one restarting worker never leaves the pod without one.
workers = int(os.environ.get("KNEE_CDS_WORKERS", max(2, min(multiprocessing.cpu_count(), 8))))
worker_class = os.environ.get("KNEE_CDS_WORKER_CLASS", "cds_hooks.gunicorn_worker.KneeCdsWorker")
worker_connections = int(os.environ.get("KNEE_CDS_WORKER_CONNECTIONS", 500))
threads = int(os.environ.get("KNEE_CDS_THREADS", 4))
# gunicorn's control socket defaults to one path per user; several servers on one host (tests,
# replicas) would share it. knee-cds uses none of its commands.
control_socket_disable = True

# A hook call must answer well within what an EHR waits (typically 5-10 s); a worker stuck longer
# than this is restarted.
timeout = int(os.environ.get("KNEE_CDS_WORKER_TIMEOUT", 30))
graceful_timeout = 30
# Also the time allowed for a request line and headers on the gevent worker (then the connection
# is closed): a client that sends headers slower than this is cut off.
keepalive = 5

# Request line/header limits (the body limit is KNEE_CDS_MAX_BODY_BYTES, enforced by the app).
# 8190 is gunicorn's maximum; a longer line gets 414 with an OperationOutcome from the worker.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 16384

# Forwarded headers are not trusted for the JWT aud: set KNEE_CDS_PUBLIC_URL behind a proxy.
forwarded_allow_ips = ""

accesslog = os.environ.get("KNEE_CDS_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("KNEE_CDS_LOG_LEVEL", "info").strip().lower() or "info"
# Paths and status only: no query strings (there are none in CDS Hooks), no bodies, no tokens.
# (The JSON log format writes method, path, status, duration and bytes as fields instead.)
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
# builds only the atoms of that format (and of the JSON access fields), not every header
logger_class = "cds_hooks.access_log.AccessLogger"
