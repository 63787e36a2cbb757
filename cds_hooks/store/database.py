"""Feedback and audit store (contract §11) on SQLAlchemy Core, SQLite or PostgreSQL.

Holds identifiers and decisions only: never FHIR resources, tokens or chart free text. The schema
comes from the Alembic migrations (``migrate.upgrade``), applied once per process at first use.

- Feedback is synchronous: ``record_feedback`` returns only after its transaction committed.
- Audit rows go through :class:`AuditWriter` (``submit_audit``): the hook call never waits for the
  database, not even to hash the patient id.
"""
from __future__ import annotations

import atexit
import hashlib
import hmac
import logging
import sqlite3
import threading
import weakref
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

from sqlalchemy import String, and_, bindparam, delete, exists, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from .audit_writer import AuditWriter
from .engine import (FEEDBACK_LOCK_WAIT_MS, JTI_LOCK_WAIT_MS, WRITE, bound_postgres_waits, bounded_write,
                     is_data_error, is_transient, make_engine)
from .escaping import NUL, storable
from .migrate import SchemaTooNew, current_revision, upgrade
from .records import AuditCard, AuditRecord, StoreStats
from .schema import SALT_KEY, audit, audit_card, feedback, jwt_replay, store_meta

log = logging.getLogger(__name__)

LINK_CHUNK = 400   # card uuids per late-link statement (well below SQLite's bound-parameter limit)
# Feedback and audit-card writes take this PostgreSQL transaction lock, so that one of two
# concurrent transactions always sees the other's rows: otherwise a feedback item and the audit row
# of its card, committed at the same moment, would each miss the other and stay unlinked. (SQLite
# serialises writers already: BEGIN IMMEDIATE.) Key: "kneelink".
LINK_LOCK_KEY = 0x6B6E6565_6C696E6B - (1 << 63)

# The statements of every audit batch, built once: building them costs more than running them.
INSERT_AUDIT = insert(audit).returning(audit.c.id, sort_by_parameter_order=True)
INSERT_AUDIT_CARD = insert(audit_card)
# Feedback that arrived before its card's audit row: linked to the card that issued it
_ISSUING_CARD = (select(func.max(audit_card.c.id))
                 .where(audit_card.c.service_id == feedback.c.service_id,
                        audit_card.c.card_uuid == feedback.c.card_uuid)
                 .scalar_subquery())
LINK_WAITING_FEEDBACK = (
    update(feedback)
    .where(feedback.c.card_uuid.in_(bindparam("card_uuids", expanding=True)), feedback.c.audit_card_id.is_(None),
           exists().where(and_(audit_card.c.service_id == feedback.c.service_id,
                               audit_card.c.card_uuid == feedback.c.card_uuid)))
    .values(audit_card_id=_ISSUING_CARD, linked=True))
SERIALIZE_LINKS = select(func.pg_advisory_xact_lock(LINK_LOCK_KEY))


class StoreUnavailable(Exception):
    """The database could not be read or written (transient: the same request may succeed later)."""


class InvalidValue(ValueError):
    """A value the store refuses for what it is (permanent: answer 400 naming ``expression``)."""

    def __init__(self, message: str, expression: str | None = None):
        super().__init__(message)
        self.expression = expression


def utc_naive(moment: datetime) -> datetime:
    """Stored times are naive UTC: SQLite keeps no zone, and mixing aware/naive breaks comparisons.
    Raises OverflowError when the instant, in UTC, falls outside years 1-9999."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


_open_stores: "weakref.WeakSet[Store]" = weakref.WeakSet()


def close_all(timeout: float = 10.0) -> bool:
    """Write every queued audit row of every store of this process (within ``timeout`` in all);
    for gunicorn's ``worker_exit`` hook and ``atexit``. True when nothing was lost."""
    return _each_store("close", timeout)


def flush_all(timeout: float = 10.0) -> bool:
    """Write every queued audit row of every open store of this process, keeping the stores open
    (within ``timeout`` in all). True when every queue was written."""
    return _each_store("flush", timeout)


def _each_store(method: str, timeout: float) -> bool:
    """``store.<method>(seconds left)`` on every open store, within ``timeout`` in all."""
    deadline = _monotonic() + timeout
    ok = True
    for store in list(_open_stores):
        ok = getattr(store, method)(max(0.1, deadline - _monotonic())) and ok
    return ok


def _monotonic() -> float:
    import time  # noqa: PLC0415
    return time.monotonic()


atexit.register(close_all, 5.0)


class Store:
    def __init__(self, url: str, *, audit_queue_size: int | None = None, audit_batch_size: int | None = None):
        self.url = url
        self.engine = make_engine(url)
        self._writer_engine = self.engine.execution_options(**WRITE)
        self._jti_engine = self.engine.execution_options(**bounded_write(JTI_LOCK_WAIT_MS))
        self._feedback_engine = self.engine.execution_options(**bounded_write(FEEDBACK_LOCK_WAIT_MS))
        self._salt: bytes | None = None
        self._ready = False
        self._lock = threading.Lock()
        self.stats = StoreStats()
        self.audit_writer = AuditWriter(
            self._write_audit_batch, self.stats, is_transient=_is_transient,
            **{k: v for k, v in (("queue_size", audit_queue_size), ("batch_size", audit_batch_size)) if v})
        self._string_limits = {table.name: {c.name: c.type.length for c in table.columns
                                            if isinstance(c.type, String) and c.type.length}
                               for table in (audit, audit_card)}
        _open_stores.add(self)

    # ------------------------------------------------------------------ lifecycle

    def ensure_ready(self) -> None:
        """Migrate the schema and load the salt, once. Raises StoreUnavailable on failure."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            try:
                upgrade(self.engine)
                with self.engine.connect() as conn:
                    value = conn.execute(select(store_meta.c.value).where(store_meta.c.key == SALT_KEY)).scalar_one()
                self._salt = bytes.fromhex(value)
            except (SQLAlchemyError, SchemaTooNew) as err:
                self._reset_connections(err)
                raise StoreUnavailable(f"store not ready: {type(err).__name__}: {_first_line(err)}") from err
            self._ready = True

    def schema_revision(self) -> str | None:
        self.ensure_ready()
        with self.engine.connect() as conn:
            return current_revision(conn)

    def check_reachable(self) -> str | None:
        """None when the store is migrated and answers a query; else what is wrong (for /readyz;
        names no host, path or credential)."""
        try:
            self.ensure_ready()
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return None
        except (StoreUnavailable, SQLAlchemyError) as err:
            return f"feedback/audit store not reachable ({type(err).__name__})"

    def close(self, timeout: float = 10.0) -> bool:
        """Write the queued audit rows (within ``timeout``), then release the connections. True
        when nothing was lost."""
        ok = self.audit_writer.close(timeout)
        self.engine.dispose()
        return ok

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the audit rows queued so far are written; False on timeout."""
        return self.audit_writer.flush(timeout)

    def audit_queue_depth(self) -> int:
        return self.audit_writer.depth()

    # ------------------------------------------------------------------ patient hash

    def hash_patient(self, fhir_server: str | None, patient_id: str | None) -> str | None:
        """HMAC-SHA-256 of "<fhirServer base without trailing slash>|<patientId>", hex (§11)."""
        if not patient_id:
            return None
        self.ensure_ready()
        message = f"{(fhir_server or '').rstrip('/')}|{patient_id}".encode("utf-8", "surrogatepass")
        return hmac.new(self._salt, message, hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ audit

    def submit_audit(self, record: AuditRecord) -> bool:
        """Queue the audit row of a hook call; never blocks, never touches the database."""
        return self.audit_writer.submit(record)

    def record_audit(self, record: AuditRecord) -> None:
        """Write one audit row now (operators, tests). Raises StoreUnavailable."""
        try:
            self._write_audit_batch([record])
        except SQLAlchemyError as err:
            self._error("audit", err)
            raise StoreUnavailable(f"audit not written: {type(err).__name__}") from err

    def _write_audit_batch(self, records: Sequence[AuditRecord]) -> None:
        """One transaction: the audit rows, their cards, and the links of feedback that arrived
        before them."""
        self.ensure_ready()
        rows = [self._audit_row(r) for r in records]
        try:
            self._insert_audit(rows, records)
        except SQLAlchemyError as err:
            self._reset_connections(err)
            raise

    def _insert_audit(self, rows: list[dict[str, Any]], records: Sequence[AuditRecord]) -> None:
        with self._writer_engine.begin() as conn:
            ids = conn.execute(INSERT_AUDIT, rows).scalars().all()
            cards = [self._card_row(audit_id, record, card)
                     for audit_id, record in zip(ids, records) for card in record.cards]
            if cards:
                _serialize_links(conn)
                conn.execute(INSERT_AUDIT_CARD, cards)
                self._link_waiting_feedback(conn, sorted({c["card_uuid"] for c in cards}))

    def _audit_row(self, r: AuditRecord) -> dict[str, Any]:
        if r.patient is not None and r.patient_hash is None:
            r.patient_hash = self.hash_patient(*r.patient)
        r.patient = None
        s = self._string_limits["audit"]
        return dict(
            hook_instance=storable(r.hook_instance, s["hook_instance"]),
            service_id=storable(r.service_id, s["service_id"]), hook=storable(r.hook, s["hook"]),
            received_at=utc_naive(r.received_at), duration_ms=r.duration_ms, http_status=r.http_status,
            client_iss=storable(r.client_iss), fhir_server=storable(r.fhir_server),
            patient_hash=r.patient_hash,
            overall_tier=storable(r.overall_tier, s["overall_tier"]),
            knowledge_version=storable(r.knowledge_version, s["knowledge_version"]),
            site_map_versions=[storable(v) for v in r.site_map_versions],
            unreadable_keys=[storable(v) for v in r.unreadable_keys],
        )

    def _card_row(self, audit_id: int, r: AuditRecord, c: AuditCard) -> dict[str, Any]:
        s = self._string_limits["audit_card"]
        return dict(audit_id=audit_id, service_id=storable(r.service_id, s["service_id"]),
                    card_uuid=storable(c.uuid, s["card_uuid"]), topic=storable(c.topic, s["topic"]),
                    tier=storable(c.tier, s["tier"]), rules=[storable(x) for x in c.rules],
                    flags=[storable(x) for x in c.flags],
                    suggestion_uuids=[storable(x) for x in c.suggestion_uuids])

    @staticmethod
    def _link_waiting_feedback(conn: Connection, card_uuids: list[str]) -> None:
        for start in range(0, len(card_uuids), LINK_CHUNK):
            conn.execute(LINK_WAITING_FEEDBACK, {"card_uuids": card_uuids[start:start + LINK_CHUNK]})

    # ------------------------------------------------------------------ feedback

    def record_feedback(self, service_id: str, items: Iterable[dict[str, Any]], client_iss: str | None,
                        received_at: datetime) -> list[bool]:
        """Store validated feedback items in one transaction; returns each row's ``linked``.
        Raises InvalidValue (nothing stored; the request can never succeed as sent) or
        StoreUnavailable (nothing stored; it may succeed later)."""
        rows = [self._feedback_row(service_id, i, item, client_iss, received_at) for i, item in enumerate(items)]
        self._ready_or_unavailable("feedback")
        for attempt in (1, 2):
            try:
                return self._insert_feedback(service_id, rows)
            except SQLAlchemyError as err:
                self._error("feedback", err)
                if is_data_error(err):
                    # checked above for what we know; anything else the database refuses for its
                    # value is still the request's content, and a retry would fail the same way
                    raise InvalidValue("A feedback value could not be stored as sent.") from err
                if attempt == 1 and _sqlite_file_fault(err):
                    # a repaired file fault: the connections were just closed, and the stale
                    # read-only state goes with the last of them; the next connection may succeed
                    continue
                raise StoreUnavailable(f"feedback not stored: {type(err).__name__}") from err
        raise AssertionError("unreachable")

    def _insert_feedback(self, service_id: str, rows: list[dict[str, Any]]) -> list[bool]:
        linked: list[bool] = []
        with self._feedback_engine.begin() as conn:
            bound_postgres_waits(conn, FEEDBACK_LOCK_WAIT_MS)
            _serialize_links(conn)
            for row in rows:
                card_id = self._issuing_card(conn, service_id, row["card_uuid"])
                conn.execute(insert(feedback).values(**row, audit_card_id=card_id, linked=card_id is not None))
                linked.append(card_id is not None)
        return linked

    @staticmethod
    def _feedback_row(service_id: str, index: int, item: dict[str, Any], client_iss: str | None,
                      received_at: datetime) -> dict[str, Any]:
        where = f"feedback[{index}]"
        override = item.get("overrideReason") or {}
        reason = override.get("reason") or {}
        values = {
            f"{where}.card": item["card"],
            f"{where}.outcome": item["outcome"],
            f"{where}.overrideReason.reason.system": reason.get("system"),
            f"{where}.overrideReason.reason.code": reason.get("code"),
            f"{where}.overrideReason.reason.display": reason.get("display"),
            f"{where}.overrideReason.userComment": override.get("userComment"),
        }
        accepted = [s["id"] for s in item.get("acceptedSuggestions", [])]
        values.update({f"{where}.acceptedSuggestions[{n}].id": v for n, v in enumerate(accepted)})
        for expression, value in values.items():
            if isinstance(value, str) and NUL in value:
                raise InvalidValue("Text must not contain the character U+0000 (NUL).", expression)
        try:
            outcome_at = utc_naive(item["outcomeTimestamp"])
        except (OverflowError, ValueError):
            raise InvalidValue("outcomeTimestamp is outside the years 0001-9999 once converted to UTC.",
                               f"{where}.outcomeTimestamp") from None
        return dict(service_id=service_id, card_uuid=item["card"], outcome=item["outcome"],
                    accepted_suggestions=accepted, override_system=reason.get("system"),
                    override_code=reason.get("code"), override_display=reason.get("display"),
                    user_comment=override.get("userComment"), outcome_timestamp=outcome_at,
                    received_at=utc_naive(received_at), client_iss=client_iss)

    @staticmethod
    def _issuing_card(conn: Connection, service_id: str, card_uuid: str) -> int | None:
        return conn.execute(
            select(audit_card.c.id)
            .where(audit_card.c.service_id == service_id, audit_card.c.card_uuid == card_uuid)
            .order_by(audit_card.c.id.desc()).limit(1)
        ).scalar()

    def feedback_rows(self, service_id: str | None = None) -> list[dict[str, Any]]:
        """For tests and operators: feedback rows with the audit data they are linked to."""
        self.ensure_ready()
        query = (select(feedback, audit_card.c.topic, audit_card.c.tier, audit_card.c.rules,
                        audit.c.hook_instance)
                 .outerjoin(audit_card, feedback.c.audit_card_id == audit_card.c.id)
                 .outerjoin(audit, audit_card.c.audit_id == audit.c.id)
                 .order_by(feedback.c.id))
        if service_id:
            query = query.where(feedback.c.service_id == service_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def audit_rows(self, service_id: str | None = None) -> list[dict[str, Any]]:
        """For tests and operators: audit rows, each with its cards."""
        self.ensure_ready()
        with self.engine.connect() as conn:
            query = select(audit).order_by(audit.c.id)
            if service_id:
                query = query.where(audit.c.service_id == service_id)
            rows = [dict(r._mapping) for r in conn.execute(query)]
            for row in rows:
                row["cards"] = [dict(c._mapping) for c in conn.execute(
                    select(audit_card).where(audit_card.c.audit_id == row["id"]).order_by(audit_card.c.id))]
        return rows

    # ------------------------------------------------------------------ JWT replay

    def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """Record a token id; False when it was already seen and its token still lives."""
        self._ready_or_unavailable("jti")
        now = _utcnow()
        try:
            with self._jti_engine.begin() as conn:
                bound_postgres_waits(conn, JTI_LOCK_WAIT_MS)
                conn.execute(delete(jwt_replay).where(jwt_replay.c.iss == iss, jwt_replay.c.jti == jti,
                                                      jwt_replay.c.expires_at < now))
                conn.execute(insert(jwt_replay).values(iss=storable(iss), jti=storable(jti),
                                                       expires_at=utc_naive(expires_at)))
            return True
        except IntegrityError:
            return False
        except SQLAlchemyError as err:
            self._error("jti", err)
            raise StoreUnavailable(f"replay record not written: {type(err).__name__}") from err

    # ------------------------------------------------------------------ retention

    def purge(self, retention_days: int, now: datetime | None = None) -> dict[str, int]:
        """Delete audit and feedback rows older than the retention, and expired jti records."""
        self._ready_or_unavailable("retention")
        now = utc_naive(now) if now else _utcnow()
        cutoff = now - timedelta(days=retention_days)
        old_audit = select(audit.c.id).where(audit.c.received_at < cutoff)
        try:
            with self._writer_engine.begin() as conn:
                return {
                    "audit_card": conn.execute(delete(audit_card).where(audit_card.c.audit_id.in_(old_audit))).rowcount,
                    "audit": conn.execute(delete(audit).where(audit.c.received_at < cutoff)).rowcount,
                    "feedback": conn.execute(delete(feedback).where(feedback.c.received_at < cutoff)).rowcount,
                    "jwt_replay": conn.execute(delete(jwt_replay).where(jwt_replay.c.expires_at < now)).rowcount,
                }
        except SQLAlchemyError as err:
            self._error("retention", err)
            raise StoreUnavailable(f"retention purge failed: {type(err).__name__}") from err

    # ------------------------------------------------------------------ helpers

    def _ready_or_unavailable(self, operation: str) -> None:
        try:
            self.ensure_ready()
        except StoreUnavailable:
            self._error(operation)
            raise

    def _error(self, operation: str, err: BaseException | None = None) -> None:
        self.stats.add("store_error", 1, operation=operation)
        if err is not None:
            self._reset_connections(err)

    def _reset_connections(self, err: BaseException) -> None:
        """After a store fault, close every pooled connection: one opened while the fault lasted
        (e.g. a SQLite file opened read-only, whose shared memory index every later connection of
        the process would share) must not outlive the repair."""
        if is_transient(err):
            self.engine.dispose()


def _serialize_links(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(SERIALIZE_LINKS)


def _sqlite_file_fault(err: SQLAlchemyError) -> bool:
    """A SQLite error about the file itself (read-only, cannot open, I/O), not a lock: worth one
    immediate retry on fresh connections. Never on a lock (it already waited the busy timeout), and
    never on PostgreSQL (a connection lost during COMMIT may have committed)."""
    if not isinstance(err, OperationalError) or not isinstance(err.orig, sqlite3.OperationalError):
        return False
    return "locked" not in str(err.orig) and "busy" not in str(err.orig)


def _is_transient(err: BaseException) -> bool:
    return isinstance(err, StoreUnavailable) or is_transient(err)


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0][:200] if str(err) else ""
