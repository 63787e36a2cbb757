"""The gunicorn worker of knee-cds (``worker_class`` in deploy/gunicorn.conf.py).

- **Slow clients cost a greenlet, not a thread**: connections are served by gevent, which receives
  the request line, the headers and the whole body cooperatively; only a request received in full
  is handed to a thread of a real thread pool (``threads``), where the app runs. A client that
  trickles its body holds no thread, so discovery and hook calls keep being answered.
- **The app is not monkey-patched**: it runs in ordinary OS threads exactly as under gthread. A
  blocking call (SQLite waiting for a lock, a psycopg call) holds only its own thread, never the
  event loop that serves every other connection of the worker.
- **A deadline for receiving a request body** (``KNEE_CDS_BODY_TIMEOUT_S``, in total: one byte every
  2 s never trips a per-read timeout): 408 with an OperationOutcome, then the connection is closed.
  Request line and headers must arrive within ``keepalive`` seconds, else the connection is closed.
- **OperationOutcome for gunicorn's own answers**: a request line over ``limit_request_line``,
  too many or too large headers, malformed HTTP get a FHIR OperationOutcome (contract §7) instead
  of gunicorn's HTML page. The texts never quote the request.
"""
from __future__ import annotations

import collections
import io
import os
import queue
import re
import threading
import time

from gevent import socket as gsocket
from gevent.hub import Waiter, get_hub
from gunicorn.workers.ggevent import GeventWorker

DEFAULT_BODY_TIMEOUT_S = 10.0
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ")


def body_timeout_s(environ=os.environ) -> float:
    value = float(environ.get("KNEE_CDS_BODY_TIMEOUT_S", DEFAULT_BODY_TIMEOUT_S))
    if not value > 0:
        raise ValueError("KNEE_CDS_BODY_TIMEOUT_S must be > 0")
    return value


def outcome_response(status: int, reason: bytes) -> bytes:
    """A complete HTTP/1.1 response carrying an OperationOutcome; the connection is then closed."""
    # imported here: the arbiter loads this module and should not import Flask on the way
    from .errors import FHIR_JSON, HTTP_SERVER_TEXT, Issue, issue_code, operation_outcome_json

    text = HTTP_SERVER_TEXT.get(status, "The request could not be processed.")
    body = operation_outcome_json([Issue(text, issue_code(status))]).encode("utf-8")
    return (b"HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (status, reason, FHIR_JSON.encode(), len(body))) + body


class _DeadlineSocket:
    """The client socket, whose ``recv`` fails with TimeoutError once ``deadline`` has passed."""

    def __init__(self, sock):
        self._sock = sock
        self.deadline: float | None = None

    def recv(self, size: int, *flags: int) -> bytes:
        if self.deadline is None:
            return self._sock.recv(size, *flags)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request body not received in time")
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv(size, *flags)
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
        match = _STATUS_LINE.match(data)
        if match:
            status, reason = int(match.group(1)), data.split(b"\r\n", 1)[0].split(b" ", 2)[2]
        else:
            status, reason = 500, b"Internal Server Error"
        if status == 501:
            # an unsupported Transfer-Encoding is the client's doing: 400, never a 5xx (contract §7)
            status, reason = 400, b"Bad Request"
        self._sock.sendall(outcome_response(status, reason))

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class AppThreads:
    """Runs the WSGI app in ``size`` real threads for the greenlets of the event loop.

    A greenlet puts its request on a queue and sleeps on a hub ``Waiter``; a thread takes it, runs
    the app, and hands the answer back through one async watcher that wakes the event loop (the
    only call gevent allows from another thread). Compared with gevent's ``ThreadPool``, which makes
    an async watcher per call and wakes a thread hub of its own, a hand-off costs a few microseconds
    under load instead of tens: answers that finish together are delivered in one wake-up.
    """

    def __init__(self, size: int):
        self._hub = get_hub()
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._answers: collections.deque = collections.deque()
        self._wake = self._hub.loop.async_()
        self._wake.start(self._deliver)
        self._threads = [threading.Thread(target=self._serve, name=f"knee-cds-app-{n}", daemon=True)
                         for n in range(max(1, size))]
        for thread in self._threads:
            thread.start()

    def apply(self, fn, *args):
        """``fn(*args)`` in one of the threads; the calling greenlet waits, the event loop does not."""
        waiter = Waiter(self._hub)
        self._requests.put((waiter, fn, args))
        return waiter.get()

    def _serve(self) -> None:
        while True:
            waiter, fn, args = self._requests.get()
            try:
                answer = (waiter, True, fn(*args))
            except BaseException as err:  # noqa: BLE001  re-raised in the waiting greenlet
                answer = (waiter, False, err)
            self._answers.append(answer)
            self._wake.send()

    def _deliver(self) -> None:
        # in the event loop: every answer finished since the last wake-up
        while self._answers:
            waiter, ok, value = self._answers.popleft()
            if ok:
                waiter.switch(value)
            else:
                waiter.throw(value)


class _InThreads:
    """The WSGI app run in a real thread; the answer is collected there and written by the
    greenlet (a gevent socket belongs to the event loop's thread)."""

    def __init__(self, app, threads: AppThreads):
        self.app = app
        self.threads = threads

    def __call__(self, environ, start_response):
        status, headers, exc_info, body = self.threads.apply(self._run, environ)
        start_response(status, headers, exc_info)
        return [body]

    def _run(self, environ):
        answer: dict = {}

        def record(status, headers, exc_info=None):
            answer.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: answer.setdefault("early", []).append(data)

        result = self.app(environ, record)
        try:
            body = b"".join([*answer.get("early", []), *result])
        finally:
            if hasattr(result, "close"):
                result.close()
        return answer["status"], answer["headers"], answer.get("exc_info"), body


class KneeCdsWorker(GeventWorker):
    def init_process(self) -> None:
        self.body_timeout_s = body_timeout_s()
        self.max_body_bytes = int(os.environ.get("KNEE_CDS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
        super().init_process()

    def patch(self) -> None:
        # gevent sockets for the listeners, and nothing monkey-patched: the app keeps real threads
        self.sockets = [gsocket.socket(s.FAMILY, gsocket.SOCK_STREAM, fileno=s.sock.detach())
                        for s in self.sockets]

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = _InThreads(self.wsgi, AppThreads(self.cfg.threads))

    def handle(self, listener, client, addr) -> None:
        super().handle(listener, _DeadlineSocket(client), addr)

    def handle_request(self, listener_name, req, sock, addr) -> None:
        declared = req.body.reader.length if hasattr(req.body.reader, "length") else None
        expects_continue, req._expected_100_continue = getattr(req, "_expected_100_continue", False), False
        if declared is not None and declared > self.max_body_bytes:
            body = b""  # the app answers 413 from Content-Length without reading; then close
        else:
            if expects_continue:
                # the body is read here, before the app runs: the client must be told to send it
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            sock.deadline = time.monotonic() + self.body_timeout_s
            try:
                body = self._receive(req)
            except OSError:
                sock.sendall(outcome_response(408, b"Request Timeout"))
                self.log.info("request body not received within %gs: 408", self.body_timeout_s)
                raise StopIteration() from None
            finally:
                sock.deadline = None
        received_in_full = len(body) <= self.max_body_bytes and declared in (None, len(body))
        req.body = io.BytesIO(body)
        super().handle_request(listener_name, req, sock, addr)
        if not received_in_full:
            raise StopIteration()  # the rest of an oversized body is not worth waiting for

    def _receive(self, req) -> bytes:
        """The whole body, or its first max_body_bytes + 1 bytes (the app answers 413 then)."""
        limit = self.max_body_bytes + 1
        parts, size = [], 0
        while size < limit:
            part = req.body.read(min(64 * 1024, limit - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
        return b"".join(parts)

    def handle_error(self, req, client, addr, exc) -> None:
        super().handle_error(req, _OutcomeErrorSocket(client), addr, exc)
