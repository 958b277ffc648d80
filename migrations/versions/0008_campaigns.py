"""campaigns: the campaign, its contacts, each dial attempt, and the suppression (do-not-call) list

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    # How an outbound call opened (answering machine detection, voicemail, disclosure, opt-out): flow.state.
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outreach", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("form_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("window_start", sa.String(length=5), nullable=False),
        sa.Column("window_end", sa.String(length=5), nullable=False),
        sa.Column("days", sa.String(length=40), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_after_seconds", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("amd", sa.Boolean(), nullable=False),
        sa.Column("voicemail", sa.Text(), nullable=True),
        sa.Column("quota", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(length=35), nullable=True),
        sa.Column("default_region", sa.String(length=2), nullable=True),
        sa.Column("caller_id", sa.String(length=40), nullable=True),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("last_dial_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index(op.f("ix_campaigns_form_id"), "campaigns", ["form_id"])
    op.create_table(
        "campaign_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("timezones", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=True),
        sa.Column("last_attempt_at", UTC, nullable=True),
        sa.Column("last_outcome", sa.String(length=20), nullable=True),
        sa.Column("disposition", sa.String(length=20), nullable=True),
        sa.Column("disposition_code", sa.String(length=8), nullable=True),
        sa.Column("response_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name=op.f("fk_campaign_contacts_campaign_id_campaigns")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_contacts")),
        sa.UniqueConstraint("campaign_id", "phone", name=op.f("uq_campaign_contacts_campaign_id")),
    )
    op.create_index("ix_campaign_contacts_due", "campaign_contacts", ["campaign_id", "state", "next_attempt_at"])
    op.create_table(
        "contact_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("call_control_id", sa.Text(), nullable=True),
        sa.Column("dialed_at", UTC, nullable=False),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("hangup_cause", sa.String(length=40), nullable=True),
        sa.Column("amd_result", sa.String(length=40), nullable=True),
        sa.Column("voicemail_left", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("response_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["campaign_contacts.id"],
                                name=op.f("fk_contact_attempts_contact_id_campaign_contacts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_attempts")),
        sa.UniqueConstraint("contact_id", "number", name=op.f("uq_contact_attempts_contact_id")),
    )
    op.create_index(op.f("ix_contact_attempts_campaign_id"), "contact_attempts", ["campaign_id"])
    op.create_index(op.f("ix_contact_attempts_contact_id"), "contact_attempts", ["contact_id"])
    op.create_index(op.f("ix_contact_attempts_call_control_id"), "contact_attempts", ["call_control_id"])
    op.create_table(
        "suppressions",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_suppressions")),
    )
    # How many calls a response has been on: a campaign contact re-dialled after a breakoff continues the same
    # response, and each call's commands are keyed apart (flow.resume).
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calls", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("outreach")
        batch_op.drop_column("calls")
    op.drop_table("suppressions")
    op.drop_table("contact_attempts")
    op.drop_table("campaign_contacts")
    op.drop_table("campaigns")
