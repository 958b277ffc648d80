"""the campaign's send clock (the rate enforced when dials are sent, by every dispatcher) and an index to find a
dial's campaign (and a call's attempt) by its response

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_send_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_contact_attempts_response_id"), "contact_attempts", ["response_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_contact_attempts_response_id"), table_name="contact_attempts")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("next_send_at")
