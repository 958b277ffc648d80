"""Form versions in the database: each form's schema stored once per version, and a version read back as a Form.

Responses name the version they were collected with, so a changed form file never changes what old answers
mean; version ids are cached per database URL, parsed versions in the FormCatalog.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.forms.load import parse_form
from survey_bot.forms.model import Form, FormCatalog
from survey_bot.storage.engine import upsert_insert
from survey_bot.storage.models import FormVersion

__all__ = ["form_of_version", "form_version_id", "newest_form"]


_version_ids: dict[tuple[str, str, str], int] = {}


async def form_version_id(session: AsyncSession, form: Form, now: datetime) -> int:
    """The id of this exact form version, stored on first use (cached per database)."""
    key = (str(getattr(session.bind, "url", "")), form.form_id, form.version)
    if key in _version_ids:
        return _version_ids[key]
    statement = upsert_insert(session)(FormVersion).values(
        form_id=form.form_id, version=form.version, document=dict(form.document), created_at=now
    ).on_conflict_do_nothing(index_elements=["form_id", "version"])
    await session.execute(statement)
    found = await session.scalar(
        select(FormVersion.id).where(FormVersion.form_id == form.form_id, FormVersion.version == form.version)
    )
    assert found is not None
    _version_ids[key] = found
    return found


async def form_of_version(session: AsyncSession, catalog: FormCatalog, form_id: str, form_version_id: int) -> Form:
    """The form stored as `form_version_id` (today's file when it is the same version)."""
    cached = catalog.by_version_id.get(form_version_id)
    if cached is not None:
        return cached
    current = catalog.forms.get(form_id)
    stored = await session.get(FormVersion, form_version_id)
    assert stored is not None
    if current is not None and current.version == stored.version:
        form = current
    else:
        form = parse_form(stored.document, stored.form_id, f"<stored version {stored.version[:12]}>")
    catalog.by_version_id[form_version_id] = form
    return form


async def newest_form(session: AsyncSession, catalog: FormCatalog, form_id: str) -> Form | None:
    """Today's form by that id, else its newest stored version (None when the form is nowhere)."""
    if form_id in catalog.forms:
        return catalog.forms[form_id]
    stored = await session.scalar(select(FormVersion.id).where(FormVersion.form_id == form_id)
                                  .order_by(FormVersion.created_at.desc(), FormVersion.id.desc()).limit(1))
    return None if stored is None else await form_of_version(session, catalog, form_id, stored)
