"""The store as first released: feedback, audit and its cards, jti replay records, the salt.

Identical to the schema the store's own runner created as its version 1, so a database made by
that runner is adopted at this revision (see cds_hooks.store.migrate) and upgraded from here.

Revision ID: 0001
Revises:
"""
import secrets
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema_version = op.create_table(
        "schema_version",
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("applied_at", sa.DateTime, nullable=False),
    )
    store_meta = op.create_table(
        "store_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hook_instance", sa.String(256)),
        sa.Column("service_id", sa.String(256), nullable=False),
        sa.Column("hook", sa.String(256)),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("http_status", sa.Integer, nullable=False),
        sa.Column("client_iss", sa.Text),
        sa.Column("fhir_server", sa.Text),
        sa.Column("patient_hash", sa.String(64)),
        sa.Column("overall_tier", sa.String(64)),
        sa.Column("knowledge_version", sa.String(64)),
        sa.Column("site_map_versions", sa.JSON, nullable=False),
        sa.Column("unreadable_keys", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_received_at", "audit", ["received_at"])
    op.create_table(
        "audit_card",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("audit_id", sa.Integer, sa.ForeignKey("audit.id", ondelete="CASCADE"), nullable=False),
        sa.Column("service_id", sa.String(256), nullable=False),
        sa.Column("card_uuid", sa.String(256), nullable=False),
        sa.Column("topic", sa.String(128)),
        sa.Column("tier", sa.String(64)),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("flags", sa.JSON, nullable=False),
        sa.Column("suggestion_uuids", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_card_audit_id", "audit_card", ["audit_id"])
    op.create_index("ix_audit_card_service_card", "audit_card", ["service_id", "card_uuid"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.String(256), nullable=False),
        sa.Column("card_uuid", sa.String(256), nullable=False),
        sa.Column("audit_card_id", sa.Integer),
        sa.Column("linked", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON, nullable=False),
        sa.Column("override_system", sa.Text),
        sa.Column("override_code", sa.Text),
        sa.Column("override_display", sa.Text),
        sa.Column("user_comment", sa.Text),
        sa.Column("outcome_timestamp", sa.DateTime, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("client_iss", sa.Text),
    )
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])
    op.create_table(
        "jwt_replay",
        sa.Column("iss", sa.String(512), nullable=False),
        sa.Column("jti", sa.String(512), nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("iss", "jti", name="uq_jwt_replay_iss_jti"),
    )
    op.create_index("ix_jwt_replay_expires_at", "jwt_replay", ["expires_at"])
    # 32 random bytes, created with the store and kept in it, so every worker and replica hashes
    # patient ids the same way (contract §11)
    op.bulk_insert(store_meta, [{"key": "patient-hash-salt", "value": secrets.token_hex(32)}])
    op.bulk_insert(schema_version, [{"version": 1,
                                     "applied_at": datetime.now(timezone.utc).replace(tzinfo=None)}])


def downgrade() -> None:
    for table in ("jwt_replay", "feedback", "audit_card", "audit", "store_meta", "schema_version"):
        op.drop_table(table)
