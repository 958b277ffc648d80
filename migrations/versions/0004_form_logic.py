"""responses follow the form's logic: per-answer provenance, the keypad fields whose turn is over, the AI
re-asks issued and the AI gathers ended, a keypad answer awaiting its read-back, and when the form ran to its
end (which tells `partial` from `abandoned`)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provenance", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("keypad_done", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("reasks", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("ai_ended", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("readback", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    # Responses stored before: a gather whose status is known has ended; a completed or partial response
    # ran to its end when it was completed.
    op.execute("UPDATE responses SET ai_ended = 1 WHERE ai_status IS NOT NULL")
    op.execute("UPDATE responses SET finished_at = completed_at WHERE completed_at IS NOT NULL")
    # The server defaults stay: an instance still running the previous release during a rolling upgrade
    # inserts responses without these columns.


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        for name in ("finished_at", "readback", "ai_ended", "reasks", "keypad_done", "provenance"):
            batch_op.drop_column(name)
