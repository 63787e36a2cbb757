"""Retention (contract §11): purge at start and then at least daily."""
from __future__ import annotations

import logging
import threading

from .database import Store, StoreUnavailable

log = logging.getLogger(__name__)


class RetentionTimer:
    """Purges old rows at start and then every ``interval_s`` (contract §11: at least daily)."""

    def __init__(self, store: Store, retention_days: int, interval_s: float = 6 * 3600):
        self._store = store
        self._days = retention_days
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="knee-cds-retention", daemon=True)

    def purge_now(self) -> None:
        try:
            counts = self._store.purge(self._days)
            if any(counts.values()):
                log.info("retention: deleted %s", counts)
        except StoreUnavailable as err:
            log.error("retention purge failed: %s", err)

    def start(self) -> "RetentionTimer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.purge_now()
