"""The tables of the feedback and audit store (contract §11), as the code reads and writes them.

The database itself is created and upgraded by the Alembic migrations in ``migrations/versions``;
these definitions describe the schema at the newest revision and must agree with it (a test
compares them).
"""
from __future__ import annotations

from sqlalchemy import (JSON, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, MetaData,
                        String, Table, Text, UniqueConstraint)

SALT_KEY = "patient-hash-salt"

metadata = MetaData()

# Written by the store's own migration runner before Alembic; kept (version 1) so that an older
# release running beside a newer one during a rolling upgrade finds the schema it knows.
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
    # audit rows are written after the response: a feedback item can arrive before the audit row
    # of its card, and the audit writer links it then (by service and card uuid)
    Index("ix_feedback_card_service", "card_uuid", "service_id"),
)

jwt_replay = Table(
    "jwt_replay", metadata,
    Column("iss", String(512), nullable=False),
    Column("jti", String(512), nullable=False),
    Column("expires_at", DateTime, nullable=False, index=True),
    # the unique constraint is the replay check: it holds across workers and replicas
    UniqueConstraint("iss", "jti", name="uq_jwt_replay_iss_jti"),
)
