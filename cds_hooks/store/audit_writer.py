"""The audit row of a hook call is written off the response path (contract §11: the advice is never
withheld, and never waits, for the store).

A request thread only puts the record on a bounded in-process queue (no I/O, no lock held for
long); one background thread per process drains it in batches, one transaction per batch. The
writer lingers briefly after the first record of a batch so that a busy worker writes several rows
per transaction: a transaction costs about as much CPU for one row as for twenty, and that CPU is
taken from the hook calls of the same process. While the
store is down or locked the writer keeps its batch and retries with back-off; the queue absorbs the
calls meanwhile, and what does not fit is counted and logged as dropped. ``close()`` drains what is
left at exit; anything it cannot write in time is counted and logged, never silently lost.

The thread starts on first use in the process that uses it, so an app built before gunicorn forks
its workers still gets one writer per worker.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Callable, Sequence

from .engine import is_transient as _is_transient
from .records import AuditRecord, StoreStats

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_BATCH_SIZE = 200
# how long a batch waits for company: rows land at most this much later, and a busy worker writes
# one transaction per this interval instead of one per call
DEFAULT_LINGER_S = 0.05
RETRY_MIN_S = 0.2
RETRY_MAX_S = 5.0
DROP_LOG_EVERY_S = 10.0
IDLE_EXIT_S = 60.0          # an idle writer thread ends; the next record starts another


class AuditWriter:
    def __init__(self, write_batch: Callable[[Sequence[AuditRecord]], None], stats: StoreStats, *,
                 queue_size: int = DEFAULT_QUEUE_SIZE, batch_size: int = DEFAULT_BATCH_SIZE,
                 linger_s: float = DEFAULT_LINGER_S, is_transient: Callable[[BaseException], bool] = _is_transient):
        self._write_batch = write_batch
        self._stats = stats
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._linger_s = linger_s
        self._is_transient = is_transient
        self._start_lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.Queue[AuditRecord] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._last_drop_log = 0.0
        self._dropped_since_log = 0

    # ------------------------------------------------------------------ request side

    def submit(self, record: AuditRecord) -> bool:
        """Queue a record; never blocks. False (counted, logged) when the queue is full or closed."""
        if self._closed:
            self._drop(1, "the audit writer is closed")
            return False
        with self._start_lock:
            self._adopt_process()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._drop(1, f"the audit queue is full ({self._queue_size})")
            return False
        self._ensure_thread()
        return True

    def depth(self) -> int:
        """Records queued or being written, not yet committed."""
        return self._queue.qsize() + self._in_flight

    # ------------------------------------------------------------------ shutdown

    def flush(self, timeout: float) -> bool:
        """Wait until every record submitted so far is written (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self.depth() > 0:
                if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                    return self.depth() == 0
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.1))
        return True

    def close(self, timeout: float = 10.0) -> bool:
        """Stop accepting records, write what is queued within ``timeout``; True when nothing was
        left behind. What is left is counted as dropped and logged."""
        self._closed = True
        drained = self.flush(timeout)
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            thread.join(timeout=max(0.1, min(1.0, timeout)))
        left = self.depth() if self._pid == os.getpid() else 0
        if left:
            self._stats.add("audit_dropped", left)
            log.error("audit: %d row(s) could not be written before shutdown and are lost", left)
        return drained and not left

    # ------------------------------------------------------------------ writer thread

    def _adopt_process(self) -> None:
        """After a fork the parent's queue and thread are not ours (the parent writes its own)."""
        pid = os.getpid()
        if self._pid != pid:
            self._queue = queue.Queue(maxsize=self._queue_size)
            self._idle = threading.Condition()
            self._in_flight = 0
            self._stop = threading.Event()
            self._thread = None
            self._pid = pid

    def _ensure_thread(self) -> None:
        # always under the lock: an idle writer decides to exit under it too, so a record put
        # while it exits is seen either by that writer or by the one started here
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="knee-cds-audit-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        idle_since = time.monotonic()
        while not self._stop.is_set():
            batch = self._take_batch()
            if batch is None:
                if time.monotonic() - idle_since > IDLE_EXIT_S and self._exit_if_idle():
                    return
                continue
            if not self._write_with_retry(batch):
                return      # stopping while the store fails: close() counts the batch as lost
            with self._idle:
                self._in_flight = 0
                self._idle.notify_all()
            self._stats.set_gauge("audit_queue_depth", self.depth())
            idle_since = time.monotonic()

    def _exit_if_idle(self) -> bool:
        with self._start_lock:
            if self._queue.empty() and self._thread is threading.current_thread():
                self._thread = None
                return True
        return False

    def _take_batch(self) -> list[AuditRecord] | None:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return None
        with self._idle:
            self._in_flight = 1
        if self._linger_s > 0 and self._queue.qsize() < self._batch_size - 1:
            self._stop.wait(self._linger_s)
        batch = [first]
        with self._idle:  # flush() reads the depth under this lock: no record is ever uncounted
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._in_flight = len(batch)
        return batch

    def _write_with_retry(self, batch: list[AuditRecord]) -> bool:
        """True once the batch is settled (written, or refused row by row); False when the writer
        is stopped while the store still fails."""
        delay = RETRY_MIN_S
        while True:
            try:
                self._write_batch(batch)
                self._stats.add("audit_written", len(batch))
                return True
            except Exception as err:  # noqa: BLE001  the writer must outlive any store fault
                self._stats.add("store_error", 1, operation="audit")
                if not self._is_transient(err):
                    self._write_one_by_one(batch)
                    return True
                log.warning("audit: %d row(s) waiting, store unavailable (%s); retrying in %.1f s",
                            len(batch), type(err).__name__, delay)
                if self._stop.wait(delay):
                    return False
                delay = min(delay * 2, RETRY_MAX_S)

    def _write_one_by_one(self, batch: list[AuditRecord]) -> None:
        """A permanent error in a batch: keep every row the database accepts, count the others."""
        for record in batch:
            try:
                self._write_batch([record])
                self._stats.add("audit_written", 1)
            except Exception as err:  # noqa: BLE001
                self._stats.add("store_error", 1, operation="audit")
                self._stats.add("audit_dropped", 1)
                log.error("audit: a row for service %r was refused by the store (%s) and is lost",
                          _printable(record.service_id), type(err).__name__)

    def _drop(self, count: int, reason: str) -> None:
        self._stats.add("audit_dropped", count)
        self._dropped_since_log += count
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_EVERY_S:
            log.error("audit: %d row(s) dropped: %s", self._dropped_since_log, reason)
            self._dropped_since_log = 0
            self._last_drop_log = now


def _printable(value: str | None) -> str:
    from .escaping import log_safe  # noqa: PLC0415
    return log_safe(value)
