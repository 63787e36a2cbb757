"""The feedback and audit store (contract §11).

- ``database``: :class:`Store` (feedback written synchronously, audit rows queued), ``close_all``.
- ``audit_writer``: the bounded queue and background thread that write audit rows in batches.
- ``engine``: SQLite / PostgreSQL engines whose faulty connections never outlive the fault.
- ``schema`` + ``migrations/`` + ``migrate``: the tables, their Alembic migrations, the locked upgrade.
- ``escaping``: client strings made safe for logs and columns.
- ``retention``: the purge timer.

Shutdown: call ``close_all(timeout)`` (or ``store.close(timeout)``) at process exit, e.g. from
gunicorn's ``worker_exit`` hook, so queued audit rows are written; ``atexit`` does it too.
"""
from .database import InvalidValue, Store, StoreUnavailable, close_all, flush_all, utc_naive
from .escaping import log_safe
from .migrate import SchemaTooNew, head_revision
from .records import AuditCard, AuditRecord, StoreStats
from .retention import RetentionTimer
from .schema import SALT_KEY, audit, audit_card, feedback, jwt_replay, metadata, store_meta

__all__ = [
    "AuditCard", "AuditRecord", "InvalidValue", "RetentionTimer", "SALT_KEY", "SchemaTooNew", "Store",
    "StoreStats", "StoreUnavailable", "audit", "audit_card", "close_all", "feedback", "flush_all", "head_revision",
    "jwt_replay", "log_safe", "metadata", "store_meta", "utc_naive",
]
