"""What the campaign tests share: running the CLI's entry function in-process (stdout, stderr, exit code),
contact lists, and attempts and dispositions written as the scheduler would leave them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from survey_bot.cli.main import main
from survey_bot.storage.campaign_models import CampaignContact, ContactAttempt
from survey_bot.storage.engine import make_engine, make_sessionmaker

REPO = Path(__file__).resolve().parent.parent
DISCLOSURE = "Hello, this is Acme Stores calling for a short survey about your visit."


@functools.cache
def campaign_forms() -> Path:
    """A forms folder with the bundled forms, the satisfaction survey made campaign-ready: with the x-disclosure
    campaign forms require (the bundled form, called by its own numbers, has none)."""
    folder = Path(tempfile.mkdtemp(prefix="campaign-forms-"))
    for path in (REPO / "forms").glob("*.json"):
        document = json.loads(path.read_text())
        if path.stem == "customer_satisfaction":
            document["x-disclosure"] = DISCLOSURE
        (folder / path.name).write_text(json.dumps(document))
    return folder

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
LIST = ("phone,name,timezone,locale,plan\n"
        "+1 212 555 0101,Ann,,,gold\n"            # 2: New York, derived
        "+12125550102,Bob,America/Chicago,es,=1+2\n"  # 3: given zone, locale, a formula-like variable
        "+1 212 555 0101,Ann again,,,\n"          # 4: duplicate of line 2
        "555-0103,Nat,,,\n"                       # 5: national number, no --default-region
        "+12125550104,Sup,,,\n"                   # 6: on the suppression list
        "+44 20 7946 0958,Uma,,,silver\n"         # 7: London
        "+12125550105,Ext,,,x,extra\n")           # 8: one cell too many


@dataclass
class Ran:
    code: int
    out: str
    err: str


async def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, *argv: str, forms: Path | None = None) -> Ran:
    """`survey-bot ARGV` through the CLI's entry function (in a thread: it runs its own event loop); `forms`: the
    forms folder (the campaign-ready one by default)."""
    monkeypatch.setenv("SURVEY_BOT_DATABASE_URL", database_url)
    monkeypatch.setenv("SURVEY_BOT_FORMS_DIR", str(forms or campaign_forms()))
    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                return main(list(argv))
            except SystemExit as exc:  # argparse's own usage errors
                return int(exc.code or 0)

    code = await asyncio.to_thread(run)
    return Ran(code, out.getvalue(), err.getvalue())


async def contacts_of(database_url: str, campaign_id: str) -> list[CampaignContact]:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return list(await session.scalars(select(CampaignContact).where(CampaignContact.campaign_id == campaign_id)
                                              .order_by(CampaignContact.id)))
    finally:
        await engine.dispose()


async def dial(database_url: str, campaign_id: str, phone: str, *outcomes: str | None) -> None:
    """Attempts of one contact as the scheduler records them (None: in flight; the contact then dialing)."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            contact = await session.scalar(select(CampaignContact).where(
                CampaignContact.campaign_id == campaign_id, CampaignContact.phone == phone))
            assert contact is not None
            for n, outcome in enumerate(outcomes, start=1):
                at = T0 + timedelta(hours=n)
                session.add(ContactAttempt(campaign_id=campaign_id, contact_id=contact.id, number=n, dialed_at=at,
                                           ended_at=at if outcome else None, outcome=outcome))
            contact.attempts, contact.last_attempt_at = len(outcomes), T0 + timedelta(hours=len(outcomes))
            contact.last_outcome = outcomes[-1] if outcomes else None
            contact.state = "dialing" if outcomes and outcomes[-1] is None else "pending"
    finally:
        await engine.dispose()


async def dispose(database_url: str, campaign_id: str, counts: dict[tuple[str, str], int]) -> None:
    """Give the campaign's contacts final dispositions: counts[(slug, code)] contacts each, in order."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            ids = list(await session.scalars(select(CampaignContact.id).where(
                CampaignContact.campaign_id == campaign_id).order_by(CampaignContact.id)))
            assert len(ids) >= sum(counts.values())
            for (slug, code), n in counts.items():
                chosen, ids = ids[:n], ids[n:]
                await session.execute(update(CampaignContact).where(CampaignContact.id.in_(chosen)).values(
                    state="done", disposition=slug, disposition_code=code))
    finally:
        await engine.dispose()


def numbered_list(n: int) -> str:
    """A list of n valid New York numbers (+1 212 555 ....: 10,000 of them at most)."""
    return "phone,name\n" + "".join(f"+1212{2000000 + i:07d},P{i}\n" for i in range(n))
