"""Feedback and audit store (contract §11) on SQLAlchemy Core.

Holds identifiers and decisions only: never FHIR resources, tokens or chart free text. The schema
is versioned: ``schema_version`` lists the migrations applied, and ``MIGRATIONS`` is the ordered
list of functions that bring an empty (or older) database up to date at start.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from sqlalchemy import (JSON, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer,
                        MetaData, String, Table, Text, UniqueConstraint, create_engine, delete,
                        event, func, insert, select)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

log = logging.getLogger(__name__)

SALT_KEY = "patient-hash-salt"

metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime, nullable=False),
)

store_meta = Table(
    "store_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hook_instance", String(256)),
    Column("service_id", String(256), nullable=False),
    Column("hook", String(256)),
    Column("received_at", DateTime, nullable=False, index=True),   # naive UTC
    Column("duration_ms", Float, nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("client_iss", Text),
    Column("fhir_server", Text),
    Column("patient_hash", String(64)),
    Column("overall_tier", String(64)),
    Column("knowledge_version", String(64)),
    Column("site_map_versions", JSON, nullable=False),
    Column("unreadable_keys", JSON, nullable=False),
)

audit_card = Table(
    "audit_card", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("audit_id", Integer, ForeignKey("audit.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("service_id", String(256), nullable=False),
    Column("card_uuid", String(256), nullable=False),
    Column("topic", String(128)),
    Column("tier", String(64)),
    Column("rules", JSON, nullable=False),
    Column("flags", JSON, nullable=False),
    Column("suggestion_uuids", JSON, nullable=False),
    Index("ix_audit_card_service_card", "service_id", "card_uuid"),
)

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", String(256), nullable=False),
    Column("card_uuid", String(256), nullable=False),
    # No foreign key on purpose: audit and feedback rows are purged independently (§11 retention),
    # and a feedback row must survive its audit row. linked=False marks "no audit row issued it".
    Column("audit_card_id", Integer),
    Column("linked", Boolean, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("accepted_suggestions", JSON, nullable=False),
    Column("override_system", Text),
    Column("override_code", Text),
    Column("override_display", Text),
    Column("user_comment", Text),          # stored, never logged (§11)
    Column("outcome_timestamp", DateTime, nullable=False),   # naive UTC
    Column("received_at", DateTime, nullable=False, index=True),
    Column("client_iss", Text),
)

jwt_replay = Table(
    "jwt_replay", metadata,
    Column("iss", String(512), nullable=False),
    Column("jti", String(512), nullable=False),
    Column("expires_at", DateTime, nullable=False, index=True),
    # the unique constraint is the replay check: it holds across workers and replicas
    UniqueConstraint("iss", "jti", name="uq_jwt_replay_iss_jti"),
)


def _v1_initial(conn: Connection) -> None:
    for table in (store_meta, audit, audit_card, feedback, jwt_replay):
        table.create(conn)
    # 32 random bytes, created with the store and kept in it, so every worker and replica hashes
    # patient ids the same way (§11)
    conn.execute(insert(store_meta).values(key=SALT_KEY, value=secrets.token_hex(32)))


# Ordered: MIGRATIONS[n - 1] brings the schema from version n - 1 to n. Append, never edit.
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_v1_initial,)


class StoreUnavailable(Exception):
    """The database could not be read or written."""


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


def utc_naive(moment: datetime) -> datetime:
    """Stored times are naive UTC: SQLite keeps no zone, and mixing aware/naive breaks comparisons."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Store:
    def __init__(self, url: str):
        self.engine = _make_engine(url)
        self._salt: bytes | None = None
        self._ready = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def ensure_ready(self) -> None:
        """Migrate the schema and load the salt, once. Raises StoreUnavailable on failure."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            try:
                migrate(self.engine)
                with self.engine.connect() as conn:
                    value = conn.execute(select(store_meta.c.value).where(store_meta.c.key == SALT_KEY)).scalar_one()
                self._salt = bytes.fromhex(value)
            except SQLAlchemyError as err:
                raise StoreUnavailable(f"store not ready: {type(err).__name__}") from err
            self._ready = True

    def schema_version(self) -> int:
        self.ensure_ready()
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(schema_version.c.version))).scalar() or 0

    # ------------------------------------------------------------------ patient hash

    def hash_patient(self, fhir_server: str | None, patient_id: str | None) -> str | None:
        """HMAC-SHA-256 of "<fhirServer base without trailing slash>|<patientId>", hex (§11)."""
        if not patient_id:
            return None
        self.ensure_ready()
        message = f"{(fhir_server or '').rstrip('/')}|{patient_id}".encode("utf-8")
        return hmac.new(self._salt, message, hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ audit

    def record_audit(self, record: AuditRecord) -> int:
        self.ensure_ready()
        try:
            with self.engine.begin() as conn:
                audit_id = conn.execute(insert(audit).values(
                    hook_instance=record.hook_instance, service_id=record.service_id, hook=record.hook,
                    received_at=utc_naive(record.received_at), duration_ms=record.duration_ms,
                    http_status=record.http_status, client_iss=record.client_iss,
                    fhir_server=record.fhir_server, patient_hash=record.patient_hash,
                    overall_tier=record.overall_tier, knowledge_version=record.knowledge_version,
                    site_map_versions=list(record.site_map_versions),
                    unreadable_keys=list(record.unreadable_keys),
                )).inserted_primary_key[0]
                if record.cards:
                    conn.execute(insert(audit_card), [
                        dict(audit_id=audit_id, service_id=record.service_id, card_uuid=c.uuid,
                             topic=c.topic, tier=c.tier, rules=list(c.rules), flags=list(c.flags),
                             suggestion_uuids=list(c.suggestion_uuids))
                        for c in record.cards
                    ])
            return audit_id
        except SQLAlchemyError as err:
            raise StoreUnavailable(f"audit not written: {type(err).__name__}") from err

    # ------------------------------------------------------------------ feedback

    def record_feedback(self, service_id: str, items: Iterable[dict[str, Any]], client_iss: str | None,
                        received_at: datetime) -> list[bool]:
        """Store validated feedback items in one transaction; returns each row's ``linked``."""
        self.ensure_ready()
        received = utc_naive(received_at)
        linked: list[bool] = []
        try:
            with self.engine.begin() as conn:
                for item in items:
                    card_id = self._issuing_card(conn, service_id, item["card"])
                    reason = (item.get("overrideReason") or {}).get("reason") or {}
                    conn.execute(insert(feedback).values(
                        service_id=service_id, card_uuid=item["card"], audit_card_id=card_id,
                        linked=card_id is not None, outcome=item["outcome"],
                        accepted_suggestions=[s["id"] for s in item.get("acceptedSuggestions", [])],
                        override_system=reason.get("system"), override_code=reason.get("code"),
                        override_display=reason.get("display"),
                        user_comment=(item.get("overrideReason") or {}).get("userComment"),
                        outcome_timestamp=utc_naive(item["outcomeTimestamp"]),
                        received_at=received, client_iss=client_iss,
                    ))
                    linked.append(card_id is not None)
            return linked
        except SQLAlchemyError as err:
            raise StoreUnavailable(f"feedback not stored: {type(err).__name__}") from err

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
        self.ensure_ready()
        now = _utcnow()
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(jwt_replay).where(jwt_replay.c.iss == iss, jwt_replay.c.jti == jti,
                                                      jwt_replay.c.expires_at < now))
                conn.execute(insert(jwt_replay).values(iss=iss, jti=jti, expires_at=utc_naive(expires_at)))
            return True
        except IntegrityError:
            return False
        except SQLAlchemyError as err:
            raise StoreUnavailable(f"replay record not written: {type(err).__name__}") from err

    # ------------------------------------------------------------------ retention

    def purge(self, retention_days: int, now: datetime | None = None) -> dict[str, int]:
        """Delete audit and feedback rows older than the retention, and expired jti records."""
        self.ensure_ready()
        now = utc_naive(now) if now else _utcnow()
        cutoff = now - timedelta(days=retention_days)
        old_audit = select(audit.c.id).where(audit.c.received_at < cutoff)
        with self.engine.begin() as conn:
            counts = {
                "audit_card": conn.execute(delete(audit_card).where(audit_card.c.audit_id.in_(old_audit))).rowcount,
                "audit": conn.execute(delete(audit).where(audit.c.received_at < cutoff)).rowcount,
                "feedback": conn.execute(delete(feedback).where(feedback.c.received_at < cutoff)).rowcount,
                "jwt_replay": conn.execute(delete(jwt_replay).where(jwt_replay.c.expires_at < now)).rowcount,
            }
        return counts


def migrate(engine: Engine, attempts: int = 5) -> None:
    """Apply the migrations not yet recorded in ``schema_version``, each in the same transaction
    as its version row. Several workers may start at once: the loser of the race fails on the
    version row's primary key (or a table that now exists), rolls back, and retries to find the
    schema current."""
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                schema_version.create(conn, checkfirst=True)
                current = conn.execute(select(func.max(schema_version.c.version))).scalar() or 0
                if current > len(MIGRATIONS):
                    raise RuntimeError(f"store schema version {current} is newer than this code "
                                       f"({len(MIGRATIONS)})")
                for version in range(current + 1, len(MIGRATIONS) + 1):
                    MIGRATIONS[version - 1](conn)
                    conn.execute(insert(schema_version).values(version=version, applied_at=_utcnow()))
                    log.info("store schema migrated to version %d", version)
            return
        except SQLAlchemyError:
            if attempt == attempts:
                raise
            time.sleep(0.1 * attempt)


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            # WAL lets readers and one writer work at once (threads, gunicorn workers);
            # synchronous=FULL so that a committed row survives a crash (200 {} means stored).
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


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
        except (StoreUnavailable, SQLAlchemyError) as err:
            log.error("retention purge failed: %s", type(err).__name__)

    def start(self) -> "RetentionTimer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.purge_now()
