"""Settings -> the parts every entry point runs on: engine and sessions, the form catalog, the Telnyx client.

The web app, the dispatcher child and every CLI command build these here, the same way: forms are checked
with the provider's own rules, the database must be at the migrations' head, secrets stay in Settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from survey_bot.config import Settings
from survey_bot.errors import ConfigError, FormProblem
from survey_bot.forms.load import check_paths, load_form, load_forms
from survey_bot.forms.model import Form, FormCatalog
from survey_bot.storage import sealing
from survey_bot.storage.engine import make_engine, make_sessionmaker
from survey_bot.storage.migrate import ensure_at_head
from survey_bot.telephony.client import Client, build_client
from survey_bot.telephony.form_rules import speech_problems

__all__ = ["Runtime", "check_form_files", "load_catalog", "load_form_file", "running"]


def load_catalog(settings: Settings) -> FormCatalog:
    """Every form in the forms folder, checked (raises FormError), and which one answers unknown numbers."""
    forms = load_forms(settings.forms_path, speech_problems)
    if settings.default_form and settings.default_form not in forms:
        raise ConfigError(f"SURVEY_BOT_DEFAULT_FORM={settings.default_form!r} names no form in {settings.forms_path}")
    return FormCatalog(forms, settings.default_form)


def load_form_file(path: Path) -> Form:
    """One form file, checked as the server would check it (raises FormError)."""
    return load_form(path, speech_problems)


def check_form_files(paths: Iterable[Path]) -> list[FormProblem]:
    """Every problem of these form files, as the server would find them."""
    return check_paths(paths, speech_problems)


@dataclass
class Runtime:
    """What a running survey-bot process works with."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalog: FormCatalog
    client: Client

    @classmethod
    def build(cls, settings: Settings, catalog: FormCatalog | None = None) -> Runtime:
        """Load the forms (unless given), create the engine and the client; nothing connects yet."""
        catalog = catalog if catalog is not None else load_catalog(settings)
        _install_keys(settings, catalog)
        engine = make_engine(settings.database_url)
        return cls(settings, engine, make_sessionmaker(engine), catalog, build_client(settings))

    async def check_database(self) -> None:
        """Refuse to run on a database that is not at the migrations' head (DatabaseNotReady says how to fix it)."""
        await ensure_at_head(self.engine, self.settings.database_url)

    async def close(self) -> None:
        """Close the client's connections and the engine's pool."""
        await self.client.close()
        await self.engine.dispose()


def _install_keys(settings: Settings, catalog: FormCatalog) -> None:
    """Install SURVEY_BOT_DATA_KEY for this process (every reader and writer seals and opens with it); refuse
    forms with sensitive fields without it, rather than store their answers in the clear."""
    if settings.data_key:
        sealing.install(settings.data_key)
        return
    sensitive = sorted(form.form_id for form in catalog.forms.values() if form.sensitive_names)
    if sensitive:
        raise ConfigError(f"SURVEY_BOT_DATA_KEY is not set and form(s) {', '.join(sensitive)} have sensitive fields "
                          "(x-sensitive), whose answers are stored encrypted: make a key with `survey-bot keys "
                          "generate` and set SURVEY_BOT_DATA_KEY to it")


@contextlib.asynccontextmanager
async def running(settings: Settings | None = None, catalog: FormCatalog | None = None) -> AsyncIterator[Runtime]:
    """A Runtime on a database checked to be at head, closed on exit (for CLI commands and the child).

    `catalog` replaces loading the forms folder (a command that reads one form file need not load them all).
    """
    runtime = Runtime.build(settings or Settings.load(), catalog)
    try:
        await runtime.check_database()
        yield runtime
    finally:
        await runtime.close()
