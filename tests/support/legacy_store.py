"""A store as the earlier hand-written migration runner left it (schema_version = 1, no Alembic),
rebuilt here from that release's DDL so that the upgrade path stays tested."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import (JSON, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, MetaData, String,
                        Table, Text, UniqueConstraint, create_engine, insert)

_md = MetaData()
_schema_version = Table("schema_version", _md, Column("version", Integer, primary_key=True),
                        Column("applied_at", DateTime, nullable=False))
_store_meta = Table("store_meta", _md, Column("key", String(64), primary_key=True),
                    Column("value", Text, nullable=False))
_audit = Table(
    "audit", _md, Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hook_instance", String(256)), Column("service_id", String(256), nullable=False),
    Column("hook", String(256)), Column("received_at", DateTime, nullable=False, index=True),
    Column("duration_ms", Float, nullable=False), Column("http_status", Integer, nullable=False),
    Column("client_iss", Text), Column("fhir_server", Text), Column("patient_hash", String(64)),
    Column("overall_tier", String(64)), Column("knowledge_version", String(64)),
    Column("site_map_versions", JSON, nullable=False), Column("unreadable_keys", JSON, nullable=False))
_audit_card = Table(
    "audit_card", _md, Column("id", Integer, primary_key=True, autoincrement=True),
    Column("audit_id", Integer, ForeignKey("audit.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("service_id", String(256), nullable=False), Column("card_uuid", String(256), nullable=False),
    Column("topic", String(128)), Column("tier", String(64)), Column("rules", JSON, nullable=False),
    Column("flags", JSON, nullable=False), Column("suggestion_uuids", JSON, nullable=False),
    Index("ix_audit_card_service_card", "service_id", "card_uuid"))
_feedback = Table(
    "feedback", _md, Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", String(256), nullable=False), Column("card_uuid", String(256), nullable=False),
    Column("audit_card_id", Integer), Column("linked", Boolean, nullable=False),
    Column("outcome", String(32), nullable=False), Column("accepted_suggestions", JSON, nullable=False),
    Column("override_system", Text), Column("override_code", Text), Column("override_display", Text),
    Column("user_comment", Text), Column("outcome_timestamp", DateTime, nullable=False),
    Column("received_at", DateTime, nullable=False, index=True), Column("client_iss", Text))
_jwt_replay = Table(
    "jwt_replay", _md, Column("iss", String(512), nullable=False), Column("jti", String(512), nullable=False),
    Column("expires_at", DateTime, nullable=False, index=True),
    UniqueConstraint("iss", "jti", name="uq_jwt_replay_iss_jti"))

WHEN = datetime(2026, 1, 5, 9, 0)


def create_v1(url: str, salt: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        _md.create_all(conn)
        conn.execute(insert(_store_meta).values(key="patient-hash-salt", value=salt))
        conn.execute(insert(_schema_version).values(version=1, applied_at=WHEN))
    engine.dispose()


def insert_sample_rows(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        audit_id = conn.execute(insert(_audit).values(
            hook_instance="legacy-hook-instance", service_id="knee-pain-triage", hook="patient-view",
            received_at=WHEN, duration_ms=3.0, http_status=200, site_map_versions=[], unreadable_keys=[],
        )).inserted_primary_key[0]
        card_id = conn.execute(insert(_audit_card).values(
            audit_id=audit_id, service_id="knee-pain-triage", card_uuid="legacy-card", rules=[], flags=[],
            suggestion_uuids=[])).inserted_primary_key[0]
        conn.execute(insert(_feedback).values(
            service_id="knee-pain-triage", card_uuid="legacy-card", audit_card_id=card_id, linked=True,
            outcome="overridden", accepted_suggestions=[], outcome_timestamp=WHEN, received_at=WHEN))
    engine.dispose()


def expected_hash(fhir_server: str, patient_id: str, salt: str) -> str:
    return hmac.new(bytes.fromhex(salt), f"{fhir_server}|{patient_id}".encode(), hashlib.sha256).hexdigest()
