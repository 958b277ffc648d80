"""The dashboard in Debian's Chromium (headless, Playwright) against the app served for real on 127.0.0.1,
with calls played by the Telnyx simulator through the app's real webhook path. SQLite only, to stay fast."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import func, select

from survey_bot.reports import metrics
from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.sandbox.try_it import attach_simulator
from survey_bot.simulator.examples import DEMO_SCENARIOS
from survey_bot.storage.models import Response
from survey_bot.web.state import state

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"
TOKEN = "browser-test-token"
T = TypeVar("T")
CLINIC = "appointment_intake"


@pytest.fixture
def backend() -> str:
    """These tests run on SQLite only (they test the browser side, not the database)."""
    return "sqlite"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url, {"admin_token": TOKEN, "forms_dir": FORMS_DIR}) as running:
        running.app.config.update(DASHBOARD_LIVE_POLL_SECONDS=0.2, DASHBOARD_SIMULATOR_DELAY_S=0.25)
        attach_simulator(running)
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def signed_in_page(browser: Browser, base_url: str) -> Page:
    """A new page signed in through the login form (after being redirected to it)."""
    context = await browser.new_context(base_url=base_url, accept_downloads=True)
    page = await context.new_page()
    await page.goto("/dashboard/forms/appointment_intake")
    assert "/dashboard/login" in page.url
    await page.get_by_label("Admin token").fill(TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/dashboard/forms/appointment_intake$"))
    return page


async def play_demo_calls(stack: Stack) -> None:
    for make in DEMO_SCENARIOS.values():
        call = stack.fake.start_call(make())
        await stack.fake.wait_call_done(call, timeout=30)
    await stack.settle()


async def test_sign_in_and_funnel_numbers_match_the_database(stack: Stack, browser: Browser) -> None:
    await play_demo_calls(stack)
    page = await signed_in_page(browser, stack.app_url)
    assert await page.get_by_role("heading", level=1).inner_text() == "Appointment intake"
    async with state(stack.app).sessions() as db:
        rows = (await db.execute(select(Response).where(Response.form_id == CLINIC))).scalars().all()
    form = state(stack.app).catalog.forms[CLINIC]
    expected = metrics.funnel([metrics.ResponseRecord.of(r) for r in rows], form.fields, form.relevance)
    for row in expected.rows:
        shown = page.locator(f'#funnel-table tr[data-field="{row.name}"]')
        for column, value in (("reached", row.reached), ("ai", row.by_ai), ("keypad", row.by_keypad),
                              ("unanswered", row.unanswered), ("breakoffs", row.breakoffs),
                              ("not-applicable", row.not_applicable)):
            assert await shown.locator(f'[data-col="{column}"]').inner_text() == str(value), (row.name, column)
    # The two clinic calls, worked out by hand: the AI's impossible birth date was rescued on the keypad,
    # and the caller who hung up during the AI conversation left at the date of birth.
    dob = page.locator('#funnel-table tr[data-field="date_of_birth"]')
    assert await dob.locator('[data-col="keypad"]').inner_text() == "1"
    assert await dob.locator('[data-col="breakoffs"]').inner_text() == "1"
    assert await page.locator('[data-metric="ended"]').inner_text() == "2"
    await page.context.close()


async def test_simulated_call_fills_in_on_the_live_page_without_reload(stack: Stack, browser: Browser) -> None:
    watcher = await signed_in_page(browser, stack.app_url)
    await watcher.goto("/dashboard/live")
    await watcher.wait_for_selector('main[data-stream-state="open"]')
    await watcher.evaluate("window.__notReloaded = true")
    assert await watcher.locator("#live-calls article").count() == 0

    starter = await watcher.context.new_page()
    await starter.goto("/dashboard/")
    await starter.locator("#form-customer_satisfaction").get_by_role("button", name="Try it in the simulator").click()
    await starter.wait_for_url(re.compile(r"/dashboard/live\?started="))

    card = watcher.locator("#live-calls article").first
    await card.wait_for(timeout=10_000)
    response_id = await card.get_attribute("data-id")
    nps = card.locator('[data-field="nps"] .value')
    await asyncio.wait_for(_until(lambda: nps.inner_text(), lambda text: text not in ("…", "")), 15)
    turns_first = await card.locator("li.turn").count()
    await asyncio.wait_for(_until(lambda: card.locator("li.turn").count(), lambda n: n > turns_first), 15)
    # The call ends: it leaves the live list and shows up first in the table of ended calls.
    ended_row = watcher.locator(f'#ended-rows tr[data-id="{response_id}"]')
    await ended_row.wait_for(timeout=20_000)
    assert await watcher.locator(f"#call-{response_id}").count() == 0
    assert "Completed" in await ended_row.inner_text()
    assert await watcher.evaluate("window.__notReloaded === true")
    async with state(stack.app).sessions() as db:
        stored = await db.get(Response, response_id)
    assert stored is not None and stored.status == "completed"
    assert set(stored.sources.values()) == {"ai", "dtmf"}  # the AI and a keypad rescue
    await watcher.context.close()


async def _until(read: Callable[[], Awaitable[T]], ok: Callable[[T], bool], every: float = 0.1) -> None:
    while not ok(await read()):
        await asyncio.sleep(every)


async def test_csv_download_from_the_form_page(stack: Stack, browser: Browser) -> None:
    await play_demo_calls(stack)
    page = await signed_in_page(browser, stack.app_url)
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download CSV").click()
    download = await info.value
    assert download.suggested_filename.startswith(f"{CLINIC}-") and download.suggested_filename.endswith(".csv")
    content = Path(await download.path()).read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(content)))
    async with state(stack.app).sessions() as db:
        count = await db.scalar(select(func.count()).select_from(Response).where(Response.form_id == CLINIC))
        ids = set((await db.execute(select(Response.id).where(Response.form_id == CLINIC))).scalars())
    assert len(table) == count == 2
    assert {row["response_id"] for row in table} == ids
    assert "date_of_birth" in table[0] and "preferred_slot.date" in table[0]
    await page.context.close()
