"""`survey-bot demo`: example calls on the built-in Telnyx simulator, then what each call collected.

No Telnyx account and no set-up: a temporary SQLite database is migrated, the fake Telnyx and the app run on
loopback over real HTTP, the scripted callers ring in, and a summary per call says how it ended, each answer
and whether the AI or the keypad got it, and where the data is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import tempfile
from pathlib import Path
from typing import TextIO

from survey_bot.config import default_forms_dir
from survey_bot.sandbox.stack import running_stack
from survey_bot.simulator.examples import DEMO_SCENARIOS
from survey_bot.storage.migrate import upgrade
from survey_bot.storage.models import Response
from survey_bot.vocabulary import SOURCE_NAMES

__all__ = ["run_demo"]



async def run_demo(keep: Path | None = None, out: TextIO | None = None, serve_port: int | None = None) -> int:
    """Run every demo scenario; print a summary; return 0 when each call ended as scripted.

    With `serve_port`, keep the app and simulator running afterwards so the dashboard can be opened.
    """
    import sys

    out = out or sys.stdout
    folder = Path(tempfile.mkdtemp(prefix="survey-bot-demo-"))
    database = keep or folder / "demo.db"
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade(url)
    print(f"survey-bot demo: simulator + app on 127.0.0.1, database {database}", file=out)
    summaries: list[tuple[str, Response | None]] = []
    token = secrets.token_urlsafe(12)
    overrides = {"forms_dir": default_forms_dir(), "admin_token": token}
    async with running_stack(url, overrides, app_port=serve_port or 0) as stack:
        for title, make in DEMO_SCENARIOS.items():
            call_id = stack.fake.start_call(make())
            await stack.fake.wait_call_done(call_id, timeout=30)
            await stack.settle()
            summaries.append((title, await stack.response_for_call(call_id)))
        commands = len(stack.fake.accepted())
        for title, response in summaries:
            _print_call(out, title, response)
        print(f"\n{len(summaries)} calls, {commands} commands accepted by the simulated Telnyx.", file=out)
        print(f"The responses are in {database}; export them with:\n"
              f"  SURVEY_BOT_DATABASE_URL={url} survey-bot export customer_satisfaction", file=out)
        if serve_port is not None:
            print(f"\nDashboard: {stack.app_url}/dashboard/  (admin token: {token})\n"
                  "Try the forms there with the simulator; press Ctrl-C to stop.", file=out, flush=True)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
    return 0 if all(r is not None and r.status != "in_progress" for _, r in summaries) else 1


def _print_call(out: TextIO, title: str, response: Response | None) -> None:
    print(f"\n== {title}", file=out)
    if response is None:
        print("   no response was stored for this call", file=out)
        return
    print(f"   form {response.form_id}, from {response.from_number}, status {response.status.upper()}"
          + (f", hang-up cause {response.hangup_cause}" if response.hangup_cause else ""), file=out)
    for name, value in response.answers.items():
        source = SOURCE_NAMES.get(response.sources.get(name, ""), "?")
        print(f"   {name:<24} {json.dumps(value, ensure_ascii=False):<40} ({source})", file=out)
    for attempt in response.keypad_attempts:
        note = f" - {attempt['error']}" if attempt.get("error") else ""
        print(f"   keypad: {attempt['field']} -> {attempt['status']} {attempt['digits']!r}{note}", file=out)
    if response.message_history:
        print(f"   transcript: {len(response.message_history)} turns", file=out)


