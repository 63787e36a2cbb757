"""Error answers: every non-2xx carries a FHIR OperationOutcome (contract §7), except 401.

Handlers are installed on the whole app so that no route, not even an unknown one, can answer
with Flask's HTML error pages or a stack trace.
"""
from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass, field

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"

# HTTP status -> FHIR issue type (http://hl7.org/fhir/issue-type) for errors raised by werkzeug
_ISSUE_CODE = {
    400: "invalid",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    408: "timeout",
    412: "not-found",
    413: "too-long",
    414: "too-long",
    415: "not-supported",
    431: "too-long",
    503: "transient",
}

# Texts of the answers the HTTP server itself gives before the app sees a request (gunicorn's
# request-line/header limits, malformed HTTP). They never quote the request.
HTTP_SERVER_TEXT = {
    400: "Malformed HTTP request (request line, headers or transfer coding).",
    403: "Request forbidden.",
    408: "Request not received in time.",
    414: "Request line too long.",
    417: "Expectation not supported.",
    431: "Request header fields too large.",
}


@dataclass(frozen=True)
class Issue:
    diagnostics: str
    code: str = "invalid"
    expression: str | None = None   # the field, e.g. "context.patientId"

    def json(self) -> dict:
        out = {"severity": "error", "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            out["expression"] = [self.expression]
        return out


@dataclass
class ProtocolError(Exception):
    """A request the service answers with ``status`` and an OperationOutcome."""

    status: int
    issues: list[Issue] = field(default_factory=list)

    @classmethod
    def single(cls, status: int, diagnostics: str, code: str | None = None,
               expression: str | None = None) -> "ProtocolError":
        return cls(status, [Issue(diagnostics, code or _ISSUE_CODE.get(status, "processing"), expression)])

    def __str__(self) -> str:  # never includes request content beyond field names
        return f"{self.status}: " + "; ".join(i.diagnostics for i in self.issues)


class Unauthorized(Exception):
    """401 with an empty body: an invalid JWT gets no details (contract §7)."""


def operation_outcome_json(issues: list[Issue]) -> str:
    return json.dumps({"resourceType": "OperationOutcome", "issue": [i.json() for i in issues]})


def operation_outcome(status: int, issues: list[Issue], headers: dict | None = None) -> Response:
    return Response(operation_outcome_json(issues), status=status, mimetype=FHIR_JSON, headers=headers)


def issue_code(status: int) -> str:
    return _ISSUE_CODE.get(status, "processing")


def unauthorized_response() -> Response:
    # CDS Hooks 2.0 clients authenticate with a bearer JWT
    return Response(b"", status=401, headers={"WWW-Authenticate": "Bearer"})


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ProtocolError)
    def _protocol(err: ProtocolError):
        return operation_outcome(err.status, err.issues)

    @app.errorhandler(Unauthorized)
    def _unauthorized(_err: Unauthorized):
        return unauthorized_response()

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        status = err.code or 500
        if status == 401:
            return unauthorized_response()
        headers = {}
        if status == 405 and getattr(err, "valid_methods", None):
            headers["Allow"] = ", ".join(err.valid_methods)
        text = {
            404: "No such endpoint or service.",
            405: "Method not allowed for this endpoint.",
            413: "Request body too large.",
        }.get(status, err.name)
        return operation_outcome(status, [Issue(text, _ISSUE_CODE.get(status, "processing"))], headers)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        # The server log gets the exception type and the frames, not the message: a message may
        # quote chart text or tokens. The client gets a generic OperationOutcome.
        frames = "".join(traceback.format_tb(err.__traceback__))
        log.error("unhandled %s while answering a request:\n%s", type(err).__name__, frames)
        return operation_outcome(500, [Issue("Internal error; the request was not processed.", "exception")])
