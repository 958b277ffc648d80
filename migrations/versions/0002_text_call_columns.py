"""call ids and numbers as text: columns hold whatever Telnyx may send (SIP URIs as caller ids, long ids)

PostgreSQL refused a `from` over 64 characters and a call_control_id over 255 (500 on every delivery, the call
never answered) where SQLite stored them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    "responses": {"call_control_id": 255, "call_session_id": 255, "call_leg_id": 255, "from_number": 64,
                  "to_number": 64},
    "webhook_events": {"call_control_id": 255},
    "commands": {"call_control_id": 255},
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, length in columns.items():
                batch_op.alter_column(name, existing_type=sa.String(length=length), type_=sa.Text(),
                                      existing_nullable=True)


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, length in columns.items():
                batch_op.alter_column(name, existing_type=sa.Text(), type_=sa.String(length=length),
                                      existing_nullable=True)
