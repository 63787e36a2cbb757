"""Index feedback by card uuid (and service).

Audit rows are written after the hook response, in batches; a feedback item can therefore arrive
before the audit row of its card, and the audit writer then links the waiting feedback rows by
(card_uuid, service_id). The index keeps that lookup cheap.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_feedback_card_service", "feedback", ["card_uuid", "service_id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_card_service", table_name="feedback")
