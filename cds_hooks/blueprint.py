"""CDS Hooks 2.0 HTTP endpoints: discovery, invocation, feedback, CORS (contract §7, §8, §11).

Knows no clinical content: the services, their evaluation and their card identifiers come from a
:class:`cds_hooks.domain.Domain`. Everything the endpoints need lives in one :class:`CdsRuntime`
kept in ``app.extensions["cds_hooks"]`` (nothing module-global).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import ClientDisconnected

from . import telemetry
from .auth import AuthResult, Authenticator
from .cards_protocol import response_cards, suggestion_uuids
from .domain import Chart, Domain, DomainResult, HookRequest, ServiceDefinition
from .errors import ProtocolError, install_error_handlers
from .prefetch import PATIENT_KEY, FetchSettings, InvalidFhirServer, PatientUnavailable, gather_chart
from .schemas import decode_json_object, validate_feedback, validate_hook_request
from .store import AuditCard, AuditRecord, InvalidValue, Store, StoreUnavailable
from .store.escaping import log_safe

log = logging.getLogger(__name__)

bp = Blueprint("cds_hooks", __name__)

CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type"
CORS_MAX_AGE_S = "600"


@dataclass
class CdsRuntime:
    domain: Domain
    services: dict[str, ServiceDefinition]
    store: Store
    fetch_settings: FetchSettings
    max_body_bytes: int
    authenticator: Authenticator | None     # None = auth off
    cors_origins: tuple[str, ...] | None    # None = no CORS headers; ("*",) = any origin
    public_url: str | None                  # base of the JWT aud; None = the request's own


def init_app(app: Flask, runtime: CdsRuntime) -> None:
    app.extensions["cds_hooks"] = runtime
    # werkzeug's own guard, also for bodies read by anything but _read_limited (limit + 1 so that
    # _read_limited can see the byte that makes a body too large)
    app.config["MAX_CONTENT_LENGTH"] = runtime.max_body_bytes + 1
    # "/cds-services//x" is answered as the path it is (an OperationOutcome 404), not redirected
    # with a 308 HTML page: CDS clients do not follow redirects on POST, and must see the error
    app.url_map.merge_slashes = False
    install_error_handlers(app)
    app.register_blueprint(bp)


def _runtime() -> CdsRuntime:
    return current_app.extensions["cds_hooks"]


# --------------------------------------------------------------------------- request lifecycle

@bp.before_request
def _before() -> Response | None:
    if request.method == "OPTIONS":
        return _preflight()  # a CORS preflight never needs the JWT (contract §8)
    g.received_at = datetime.now(timezone.utc)
    g.started = time.monotonic()
    if request.endpoint == "cds_hooks.invoke":
        g.audit = AuditRecord(service_id=str(request.view_args.get("service_id", ""))[:256],
                              received_at=g.received_at)
    runtime = _runtime()
    if runtime.authenticator is not None:
        g.auth = runtime.authenticator.verify(request.headers.get("Authorization"), _expected_audience(runtime))
        if "audit" in g:
            g.audit.client_iss = g.auth.iss
    return None


@bp.after_request
def _after(response: Response) -> Response:
    _add_cors_headers(response)
    audit: AuditRecord | None = g.pop("audit", None)
    if audit is not None:
        audit.http_status = response.status_code
        audit.duration_ms = (time.monotonic() - g.started) * 1000.0
        telemetry.hook_call(audit, _runtime().services)
        _write_audit(audit)
    return response


def _expected_audience(runtime: CdsRuntime) -> str:
    # contract §8: KNEE_CDS_PUBLIC_URL, else scheme + host of the request as received (forwarded
    # headers are not trusted), + the path of the endpoint called
    base = runtime.public_url or request.host_url
    return base.rstrip("/") + request.path


def _write_audit(audit: AuditRecord) -> None:
    """Queue the audit row: the hook answers without waiting for the store, which may be locked or
    down (contract §11). The patient id is hashed by the writer, off the response path."""
    audit.patient = g.pop("audit_patient", None)
    _runtime().store.submit_audit(audit)


# --------------------------------------------------------------------------- CORS

def _allowed_origin(origin: str | None) -> str | None:
    origins = _runtime().cors_origins
    if not origin or origins is None:
        return None
    if origins == ("*",):
        return "*"
    return origin if origin.lower() in origins else None


def _add_cors_headers(response: Response) -> None:
    allowed = _allowed_origin(request.headers.get("Origin"))
    if allowed is not None:
        response.headers["Access-Control-Allow-Origin"] = allowed
    if _runtime().cors_origins not in (None, ("*",)):
        response.vary.add("Origin")


def _preflight() -> Response:
    response = Response(status=204)
    if _allowed_origin(request.headers.get("Origin")) is not None:
        response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE_S
    return response


# --------------------------------------------------------------------------- body

def _json_body() -> dict[str, Any]:
    """The request body as a JSON object: 413 before anything is read, then 415, then 400."""
    limit = _runtime().max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ProtocolError.single(413, f"Request body larger than {limit} bytes.")
    mimetype = request.mimetype
    if mimetype != "application/json" and not (mimetype.startswith("application/") and mimetype.endswith("+json")):
        raise ProtocolError.single(415, "Content-Type must be application/json.")
    return decode_json_object(_read_limited(limit))


def _read_limited(limit: int) -> bytes:
    """Read at most ``limit`` bytes; one byte more means 413. A chunked body has no
    Content-Length, so its size is only known while it is read."""
    stream = request.stream
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            part = stream.read(min(64 * 1024, limit + 1 - size))
        except (OSError, ClientDisconnected):
            # the HTTP server's body-read deadline passed (a client trickling its body) or the
            # client went away: nothing usable arrived, and the connection is closed after this
            log.info("request body not received in time (%d bytes read)", size)
            raise ProtocolError.single(408, "Request body not received in full in time.", "timeout")
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        raise ProtocolError.single(413, f"Request body larger than {limit} bytes.")
    return b"".join(parts)


def _service(service_id: str) -> ServiceDefinition:
    service = _runtime().services.get(service_id)
    if service is None:
        raise ProtocolError.single(404, f"Unknown service {service_id[:100]!r}.")
    return service


# --------------------------------------------------------------------------- endpoints

@bp.get("/cds-services")
def discovery():
    return jsonify({"services": [s.discovery_json() for s in _runtime().services.values()]})


@bp.post("/cds-services/<service_id>")
def invoke(service_id: str):
    runtime = _runtime()
    service = _service(service_id)
    g.audit.hook = service.hook
    data = validate_hook_request(_json_body(), service.hook)
    hook_request = _hook_request(service, data)
    g.audit.hook_instance = hook_request.hook_instance
    g.audit.fhir_server = hook_request.fhir_server
    g.audit_patient = (hook_request.fhir_server, hook_request.context["patientId"])
    auth: AuthResult | None = g.get("auth")
    if auth is not None:
        Authenticator.check_fhir_server(auth, hook_request.fhir_server)
    chart = _gather(hook_request, runtime.fetch_settings)
    g.audit.unreadable_keys = list(dict.fromkeys(u.key for u in chart.unreadable))
    for problem in chart.unreadable:
        # the why (refused, timed out, HTTP 404 …) is for the operator: the card only says that the
        # FHIR server could not be read, so it cannot be used to map which ports answer
        log.warning("chart part %s not read from fhirServer: %s (%s)", log_safe(problem.key),
                    log_safe(problem.reason), log_safe(problem.detail))
    result = runtime.domain.evaluate(hook_request, chart)
    cards = response_cards(result.cards)
    _audit_result(result, cards)
    return _json_response({"cards": cards})


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str):
    runtime = _runtime()
    service = _service(service_id)
    items = validate_feedback(_json_body())
    auth: AuthResult | None = g.get("auth")
    try:
        linked = runtime.store.record_feedback(service.id, items, auth.iss if auth else None, g.received_at)
    except InvalidValue as err:
        # permanent: the same request would fail again, so never "try again" (503)
        raise ProtocolError.single(400, str(err), "invalid", err.expression)
    except StoreUnavailable as err:
        telemetry.feedback_refused(service.id, err)
        raise ProtocolError.single(503, "Feedback store unavailable; nothing was stored. Try again.")
    telemetry.feedback_stored(service.id, items, linked)
    return jsonify({})


# app.extensions key of the app's compact JSON encoder (built on first use, from app.json's settings)
COMPACT_JSON = "cds_hooks.compact_json"


def _json_response(value: dict[str, Any]) -> Response:
    """What ``jsonify(value)`` answers, byte for byte, with the encoder built once per app instead of
    once per call (jsonify indents in debug mode, and answers then)."""
    app = current_app
    if app.debug:
        return jsonify(value)
    encode = app.extensions.get(COMPACT_JSON)
    if encode is None:
        provider = app.json
        encode = json.JSONEncoder(ensure_ascii=provider.ensure_ascii, sort_keys=provider.sort_keys,
                                  separators=(",", ":"), default=provider.default).encode
        app.extensions[COMPACT_JSON] = encode
    return app.response_class(f"{encode(value)}\n", mimetype=app.json.mimetype)


def _hook_request(service: ServiceDefinition, data: dict[str, Any]) -> HookRequest:
    return HookRequest(
        service=service,
        hook=data["hook"],
        hook_instance=data["hookInstance"],
        context=data["context"],
        fhir_server=data.get("fhirServer"),
        fhir_authorization=data.get("fhirAuthorization"),
        prefetch=data.get("prefetch"),
        received_at=g.received_at,
        client_iss=g.auth.iss if "auth" in g else None,
    )


def _gather(hook_request: HookRequest, settings: FetchSettings) -> Chart:
    try:
        return gather_chart(hook_request, settings)
    except PatientUnavailable as err:
        if _patient_fetched(hook_request):
            # Whether the server refused, timed out, answered 404 or spoke something else stays in
            # the log: the caller names the fhirServer, so telling them apart would let it map
            # which hosts and ports answer (a port scanner driven through this service).
            log.warning("patient not read from fhirServer %s: %s",
                        log_safe(hook_request.fhir_server), log_safe(err.detail))
            raise ProtocolError.single(412, PATIENT_NOT_READ, "not-found", "prefetch.patient")
        raise ProtocolError.single(412, str(err), "not-found", "prefetch.patient")
    except InvalidFhirServer as err:
        raise ProtocolError.single(400, str(err), "invalid", "fhirServer")


PATIENT_NOT_READ = ("The patient could not be read: the FHIR server could not be read "
                    "(prefetch the 'patient' key, or check fhirServer and fhirAuthorization).")


def _patient_fetched(hook_request: HookRequest) -> bool:
    """True when the Patient was to come from fhirServer: not prefetched, or prefetched as anything
    but a Patient or null (an OperationOutcome, a value of the wrong shape: contract §2)."""
    if not hook_request.fhir_server:
        return False
    prefetch = hook_request.prefetch if isinstance(hook_request.prefetch, dict) else {}
    if PATIENT_KEY not in prefetch:
        return True
    value = prefetch[PATIENT_KEY]
    return value is not None and not (isinstance(value, dict) and value.get("resourceType") == "Patient")


def _audit_result(result: DomainResult, cards: list[dict[str, Any]]) -> None:
    audit: AuditRecord = g.audit
    audit.overall_tier = result.overall_tier
    audit.knowledge_version = result.knowledge_version
    audit.site_map_versions = list(result.site_map_versions)
    domain = _runtime().domain
    for card in cards:
        try:
            ids = domain.card_audit(card) or {}
        except Exception as err:  # noqa: BLE001  an audit detail must never withhold the advice
            log.error("card_audit failed (%s); card %s audited by uuid only", type(err).__name__, card["uuid"])
            ids = {}
        audit.cards.append(AuditCard(
            uuid=card["uuid"], topic=ids.get("topic"), tier=ids.get("tier"),
            rules=list(ids.get("rules") or []), flags=list(ids.get("flags") or []),
            suggestion_uuids=suggestion_uuids(card)))
