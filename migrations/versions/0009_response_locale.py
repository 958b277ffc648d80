"""the locale a response spoke (one form, several languages): existing responses get their form's keypad locale

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_LOCALE = "en-US"


def _locale(document: Any) -> str:
    """A stored form version's locale: its first x-locales entry, else its x-dtmf.language, else en-US."""
    if isinstance(document, str):
        document = json.loads(document)
    if not isinstance(document, dict):
        return DEFAULT_LOCALE
    locales, dtmf = document.get("x-locales"), document.get("x-dtmf")
    if isinstance(locales, list) and locales and isinstance(locales[0], str):
        return locales[0]
    language = dtmf.get("language") if isinstance(dtmf, dict) else None
    return language if isinstance(language, str) else DEFAULT_LOCALE


def upgrade() -> None:
    # (the server default keeps rows inserted by a not yet upgraded worker valid during a rolling upgrade)
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=35), nullable=False, server_default=DEFAULT_LOCALE))
    connection = op.get_bind()
    versions = connection.execute(sa.text("SELECT id, document FROM form_versions")).all()
    for version_id, document in versions:
        locale = _locale(document)
        if locale != DEFAULT_LOCALE:
            connection.execute(sa.text("UPDATE responses SET locale = :locale WHERE form_version_id = :version"),
                               {"locale": locale[:35], "version": version_id})


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("locale")
