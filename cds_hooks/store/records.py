"""What the store is given (audit records of hook calls) and what it counts about itself."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable


@dataclass
class AuditCard:
    uuid: str
    topic: str | None = None
    tier: str | None = None
    rules: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    suggestion_uuids: list[str] = field(default_factory=list)


@dataclass
class AuditRecord:
    service_id: str
    received_at: datetime
    hook: str | None = None
    hook_instance: str | None = None
    duration_ms: float = 0.0
    http_status: int = 0
    client_iss: str | None = None
    fhir_server: str | None = None
    patient_hash: str | None = None
    overall_tier: str | None = None
    knowledge_version: str | None = None
    site_map_versions: list[str] = field(default_factory=list)
    unreadable_keys: list[str] = field(default_factory=list)
    cards: list[AuditCard] = field(default_factory=list)
    # (fhirServer, patientId) of the call, held in memory only until the writer hashes it into
    # patient_hash: hashing needs the salt from the database, which the request path never touches
    patient: tuple[str | None, str | None] | None = field(default=None, repr=False)


# Listener(name, value, labels): "audit_written", "audit_dropped", "store_error" (labels
# {"operation": "audit" | "feedback" | "jti" | "migrate" | ...}) are increments;
# "audit_queue_depth" is the current depth of the audit queue.
StatsListener = Callable[[str, float, dict[str, str]], None]


class StoreStats:
    """Counters of one process's store: read with :meth:`snapshot`, or follow with a listener (the
    metrics endpoint turns them into Prometheus series). Listeners must be quick and never raise."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {"audit_written": 0, "audit_dropped": 0, "store_error": 0}
        self._errors_by_operation: dict[str, int] = {}
        self._listeners: list[StatsListener] = []

    def add_listener(self, listener: StatsListener) -> None:
        self._listeners.append(listener)

    def add(self, name: str, amount: int = 1, **labels: str) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + amount
            if name == "store_error":
                op = labels.get("operation", "other")
                self._errors_by_operation[op] = self._errors_by_operation.get(op, 0) + amount
        self._notify(name, amount, labels)

    def set_gauge(self, name: str, value: float) -> None:
        self._notify(name, value, {})

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {**self._counts, "store_error_by_operation": dict(self._errors_by_operation)}

    def _notify(self, name: str, value: float, labels: dict[str, str]) -> None:
        for listener in list(self._listeners):
            try:
                listener(name, value, labels)
            except Exception:  # noqa: BLE001  metrics must never break the store
                pass
