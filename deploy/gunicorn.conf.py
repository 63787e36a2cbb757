"""gunicorn settings for knee-cds in production.

    gunicorn -c deploy/gunicorn.conf.py 'service.app:create_app()'

Binds from KNEE_CDS_BIND (default 0.0.0.0:8080). The app factory is called without a bind host,
so an unset KNEE_CDS_AUTH means "required" here, whatever the address (contract §8): turning
authentication off needs an explicit KNEE_CDS_AUTH=off.
"""
import multiprocessing
import os

wsgi_app = os.environ.get("KNEE_CDS_WSGI_APP", "service.app:create_app()")
bind = [b.strip() for b in os.environ.get("KNEE_CDS_BIND", "0.0.0.0:8080").split(",") if b.strip()]

# Connections are served by gevent (each one a greenlet: clients that send slowly cost memory, not
# a thread; 40 clients trickling a body left gthread workers answering nothing). A request received
# in full runs in one of `threads` real threads, where the app is not monkey-patched: a blocking
# store call (SQLite waiting for a lock) holds only its own thread. The worker class adds a deadline
# for receiving a body (KNEE_CDS_BODY_TIMEOUT_S, 408 then close) and answers gunicorn's own errors
# (request line too long, bad headers) with an OperationOutcome. Hook calls wait on FHIR fetches,
# so threads keep a worker busy-but-responsive; workers give CPU parallelism. The jti replay
# records and the patient-hash salt live in the store, so workers need no shared memory.
workers = int(os.environ.get("KNEE_CDS_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8)))
worker_class = os.environ.get("KNEE_CDS_WORKER_CLASS", "cds_hooks.gunicorn_worker.KneeCdsWorker")
worker_connections = int(os.environ.get("KNEE_CDS_WORKER_CONNECTIONS", 500))
threads = int(os.environ.get("KNEE_CDS_THREADS", 8))
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
loglevel = os.environ.get("KNEE_CDS_LOG_LEVEL", "info")
# Paths and status only: no query strings (there are none in CDS Hooks), no bodies, no tokens.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
