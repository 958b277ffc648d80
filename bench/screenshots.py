"""Regenerate the dashboard screenshots in docs/: forms, a form's page, live calls.

    .venv/bin/python bench/screenshots.py [--out docs]

Runs the app and the Telnyx simulator on loopback with a temporary SQLite database, plays a mix of calls
through the real webhook path (the demo's callers, sample callers, unanswered outbound calls), then opens
the pages in headless Chromium and saves docs/dashboard-forms.png, dashboard-form.png, dashboard-live.png.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright

from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.sandbox.try_it import attach_simulator, sample_scenario
from survey_bot.simulator import Scenario
from survey_bot.simulator.examples import DEMO_SCENARIOS
from survey_bot.storage.migrate import upgrade
from survey_bot.web.state import state

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "screenshot-token"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


async def seed(stack: Stack) -> None:
    """Play finished calls of every kind, so the charts have something to show."""
    forms = state(stack.app).catalog.forms
    calls = [make() for _ in range(3) for make in DEMO_SCENARIOS.values()]
    calls += [sample_scenario(form, form.numbers[0], 0) for form in forms.values() for _ in range(2)]
    for scenario in calls:
        await stack.fake.wait_call_done(stack.fake.start_call(scenario), timeout=30)
    async with httpx.AsyncClient(base_url=stack.app_url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        for i, cause in enumerate(["no_answer", "user_busy", "no_answer"]):
            to = f"+1555020000{i}"
            stack.fake.expect_dial(Scenario("outgoing", to_number=to, answers=False, no_answer_cause=cause))
            reply = await api.post("/api/calls", json={"to": to, "form": "customer_satisfaction"})
            reply.raise_for_status()
    await stack.settle()


async def sign_in(page: Page) -> None:
    await page.goto("/dashboard/login")
    await page.get_by_label("Admin token").fill(TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/dashboard/")


async def live_call_half_done(stack: Stack) -> None:
    """Start a slow call and return once a few answers are in but the call is still going."""
    stack.app.config["DASHBOARD_SIMULATOR_DELAY_S"] = 0.7
    form = state(stack.app).catalog.forms["appointment_intake"]
    call = stack.fake.start_call(sample_scenario(form, form.numbers[0], 0.7))
    for _ in range(200):
        response = await stack.response_for_call(call)
        if response is not None and len(response.sources) >= 3 and len(response.message_history) >= 4:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("the live call did not get going")


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    database = Path(tempfile.mkdtemp(prefix="survey-bot-shots-")) / "shots.db"
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade(url)
    async with running_stack(url, {"admin_token": TOKEN, "forms_dir": ROOT / "forms"}) as stack:
        attach_simulator(stack)
        stack.app.config["DASHBOARD_LIVE_POLL_SECONDS"] = 0.3
        await seed(stack)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = await browser.new_context(base_url=stack.app_url, viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            await sign_in(page)
            await page.screenshot(path=out / "dashboard-forms.png", full_page=True)
            await page.goto("/dashboard/forms/appointment_intake")
            await page.screenshot(path=out / "dashboard-form.png", full_page=True)
            await page.goto("/dashboard/live")
            await page.wait_for_selector('main[data-stream-state="open"]')
            await live_call_half_done(stack)
            await page.wait_for_selector("#live-calls article .badge")
            await asyncio.sleep(0.8)  # let the stream deliver the newest snapshot
            await page.screenshot(path=out / "dashboard-live.png", full_page=True)
            await context.close()
            await browser.close()
        await stack.fake.wait_idle(30)  # let the live call finish before the servers stop
    print(f"wrote {', '.join(str(out / n) for n in SHOTS)}")


SHOTS = ("dashboard-forms.png", "dashboard-form.png", "dashboard-live.png")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    asyncio.run(main(parser.parse_args().out))
