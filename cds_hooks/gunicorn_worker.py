"""The gunicorn worker of knee-cds (``worker_class`` in deploy/gunicorn.conf.py).

- **gevent**: every connection is a greenlet, so clients that send slowly cost memory, not one of a
  few threads; discovery and hook calls keep being answered while they trickle.
- **A deadline for receiving a request body** (``KNEE_CDS_BODY_TIMEOUT_S``): the socket refuses to
  wait past it, the app answers 408 and the connection is closed. Request line and headers are
  bounded by gunicorn's keep-alive timeout on this worker class (the connection is closed).
- **OperationOutcome for gunicorn's own answers**: a request line over ``limit_request_line``,
  too many or too large headers, malformed HTTP get a FHIR OperationOutcome (contract §7) instead
  of gunicorn's HTML page. The texts never quote the request.
"""
from __future__ import annotations

import os
import re
import time

from gunicorn.workers.ggevent import GeventWorker

DEFAULT_BODY_TIMEOUT_S = 10.0
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ")


def body_timeout_s(environ: dict[str, str] = os.environ) -> float:
    value = float(environ.get("KNEE_CDS_BODY_TIMEOUT_S", DEFAULT_BODY_TIMEOUT_S))
    if not value > 0:
        raise ValueError("KNEE_CDS_BODY_TIMEOUT_S must be > 0")
    return value


class _DeadlineSocket:
    """The client socket, whose ``recv`` fails with TimeoutError once ``deadline`` has passed.

    A per-read timeout alone would not do: one byte every two seconds never trips it.
    """

    def __init__(self, sock):
        self._sock = sock
        self.deadline: float | None = None
        self.expired = False

    def recv(self, size: int, *flags: int) -> bytes:
        if self.deadline is None:
            return self._sock.recv(size, *flags)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.expired = True
            raise TimeoutError("request body not received in time")
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv(size, *flags)
        except TimeoutError:
            self.expired = True
            raise
        finally:
            self._sock.settimeout(None)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class _OutcomeErrorSocket:
    """Stands in for the client while gunicorn writes one of its own error pages, and sends an
    OperationOutcome with the same status instead."""

    def __init__(self, sock):
        self._sock = sock

    def sendall(self, data: bytes) -> None:
        # imported here: the arbiter loads this module before gevent patches the worker, and
        # should not import Flask on the way
        from .errors import FHIR_JSON, HTTP_SERVER_TEXT, Issue, issue_code, operation_outcome_json

        match = _STATUS_LINE.match(data)
        status = int(match.group(1)) if match else 500
        text = HTTP_SERVER_TEXT.get(status, "The request could not be processed.")
        body = operation_outcome_json([Issue(text, issue_code(status))]).encode("utf-8")
        reason = data.split(b"\r\n", 1)[0].split(b" ", 2)[2] if match else b"Internal Server Error"
        head = (b"HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (status, reason, FHIR_JSON.encode(), len(body)))
        self._sock.sendall(head + body)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class KneeCdsWorker(GeventWorker):
    def init_process(self) -> None:
        self.body_timeout_s = body_timeout_s()
        super().init_process()

    def handle(self, listener, client, addr) -> None:
        super().handle(listener, _DeadlineSocket(client), addr)

    def handle_request(self, listener_name, req, sock, addr) -> None:
        sock.deadline = time.monotonic() + self.body_timeout_s
        try:
            super().handle_request(listener_name, req, sock, addr)
        finally:
            sock.deadline = None
        if sock.expired:
            # the rest of the body may still be trickling in: do not wait for it
            raise StopIteration()

    def handle_error(self, req, client, addr, exc) -> None:
        super().handle_error(req, _OutcomeErrorSocket(client), addr, exc)
