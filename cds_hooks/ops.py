"""Operations endpoints for orchestrators and monitoring: ``/healthz``, ``/readyz``, ``/metrics``.

- ``GET /healthz``: the process answers; checks nothing else (a liveness probe must not restart
  a pod because its database is down).
- ``GET /readyz``: every readiness check passes (the app registers them: the store is reachable,
  the code sets and site maps are loaded); otherwise 503 with an OperationOutcome naming each
  check that fails. ``?exclude=<name>`` (repeatable) leaves a check out, as the Kubernetes API
  server's own ``/readyz`` does: the Deployment's readiness probe excludes ``store``, because
  advice is never held back by the store (an unreachable database must not take every pod out of
  the Service).
- ``GET /metrics``: Prometheus text format, when enabled; with a token configured it needs
  ``Authorization: Bearer <token>`` (401 otherwise); disabled it is 404 like any unknown path.

None of them needs the CDS client JWT, and none says anything about the configuration: check
names and fixed reasons only, no URL, path, host or version.
"""
from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from . import metrics
from .errors import Issue, ProtocolError, operation_outcome, unauthorized_response

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__)

# a probe answers within this even when a check hangs (a database that does not answer)
CHECK_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ReadinessCheck:
    """``probe`` returns None when ready, else a short fixed reason (no configuration in it)."""

    name: str
    probe: Callable[[], str | None]


@dataclass
class OpsRuntime:
    checks: list[ReadinessCheck] = field(default_factory=list)
    metrics_enabled: bool = False
    metrics_token: str | None = None
    check_timeout_s: float = CHECK_TIMEOUT_S
    # one probe of each check at a time: a hanging database does not pile up threads
    _pending: dict[str, Future] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor | None = None

    def run(self, check: ReadinessCheck) -> str | None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readiness")
            future = self._pending.get(check.name)
            if future is None or future.done():
                future = self._pool.submit(_safe_probe, check)
                self._pending[check.name] = future
        try:
            return future.result(timeout=self.check_timeout_s)
        except FutureTimeout:
            return f"no answer within {self.check_timeout_s:g} s"


def _safe_probe(check: ReadinessCheck) -> str | None:
    try:
        return check.probe()
    except Exception as err:  # noqa: BLE001  a failing probe means "not ready", never a 500
        log.warning("readiness check %s failed: %s", check.name, type(err).__name__)
        return "check failed"


def init_ops(app: Flask, runtime: OpsRuntime) -> None:
    app.extensions["cds_hooks_ops"] = runtime
    # every worker reports its audit queue from the start (0 until something waits)
    metrics.AUDIT_QUEUE_DEPTH.set(0)
    app.register_blueprint(bp)


def _runtime() -> OpsRuntime:
    return current_app.extensions["cds_hooks_ops"]


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz():
    return _no_store(jsonify({"status": "pass"}))


@bp.get("/readyz")
def readyz():
    runtime = _runtime()
    excluded = set(request.args.getlist("exclude"))
    unknown = excluded - {c.name for c in runtime.checks}
    if unknown:
        raise ProtocolError.single(400, f"Unknown readiness check to exclude: {sorted(unknown)[0][:50]!r}.",
                                   "invalid", "exclude")
    failures = [(check.name, reason) for check in runtime.checks if check.name not in excluded
                for reason in [runtime.run(check)] if reason is not None]
    if failures:
        issues = [Issue(f"{name}: {reason}", "transient", name) for name, reason in failures]
        return _no_store(operation_outcome(503, issues))
    return _no_store(jsonify({"status": "ready",
                              "checks": [c.name for c in runtime.checks if c.name not in excluded]}))


@bp.get("/metrics")
def prometheus_metrics():
    runtime = _runtime()
    if not runtime.metrics_enabled:
        raise ProtocolError.single(404, "No such endpoint or service.", "not-found")
    if runtime.metrics_token is not None and not _bearer_matches(runtime.metrics_token):
        return unauthorized_response()
    body, content_type = metrics.exposition()
    return _no_store(Response(body, mimetype=None, content_type=content_type))


def _bearer_matches(token: str) -> bool:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode("utf-8", "replace"), token.encode("utf-8"))
