"""A campaign contact's own words in the call's opening, end to end over real HTTP on both databases: the list's
`name` and other columns reach the disclosure and the AI's greeting the fake Telnyx receives through the real SDK
(scheduler -> outbox -> dispatcher -> fake Telnyx), escaped where the text is SSML; a contact without them hears
the text with the placeholders dropped; the values are never logged; the keypad intro says them too, and so
does the re-dial that continues a breakoff."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from campaign_helpers import add_campaign, attempts, contacts, human, wait_until_finished

from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.simulator import AIStep, Scenario
from survey_bot.simulator.scenario import KeypadHangup

REPO = Path(__file__).resolve().parent.parent
A, B = "+12125550301", "+12125550302"
DISCLOSURE = "Hello {name}, this is Acme Stores calling about your {plan} membership."
GREETING = "<speak>Thanks {name}! Three quick questions about your {plan} plan.</speak>"
INTRO = "{name}, let's finish on your keypad."


def greeting_forms() -> Path:
    """A forms folder whose satisfaction survey greets the contact by name and plan, in its disclosure (plain
    text) and its English greeting (SSML)."""
    folder = Path(tempfile.mkdtemp(prefix="greeting-forms-"))
    for path in (REPO / "forms").glob("*.json"):
        document = json.loads(path.read_text())
        if path.stem == "customer_satisfaction":
            document["x-disclosure"] = DISCLOSURE
            document["x-voice"]["greeting"]["en-US"] = GREETING
            document["x-dtmf"]["intro"]["en-US"] = INTRO
        (folder / path.name).write_text(json.dumps(document))
    return folder


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url, {"forms_dir": greeting_forms(), "call_silence_timeout": 5.0}) as running:
        yield running


def opening(stack: Stack, call_control_id: str | None) -> tuple[str, str]:
    """What the call's disclosure said and the AI's greeting, as the fake Telnyx received them."""
    sent = stack.fake.accepted(call_control_id)
    disclosure = next(r.body["payload"] for r in sent if r.action == "gather_using_speak")
    greeting = next(r.body["greeting"] for r in sent if r.action == "gather_using_ai")
    return str(disclosure), str(greeting)


async def test_the_contacts_name_and_variables_open_the_call(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stack.fake.expect_dial(human(A))
    stack.fake.expect_dial(human(B))
    injected = 'Zoë </speak><audio src="https://evil.example/x.mp3"/>'
    campaign_id = await add_campaign(stack, [A, B], concurrency=1,
                                     columns={"name": [injected, ""], "plan": ["  gold\t& silver ", ""]})
    await wait_until_finished(stack, campaign_id)
    found = await contacts(stack, campaign_id)
    assert {p: c.disposition for p, c in found.items()} == {A: "complete", B: "complete"}
    calls = {r.body["to"]: r.call_control_id for r in stack.fake.accepted() if r.action == "dial"}

    disclosure, greeting = opening(stack, calls[A])
    assert disclosure.startswith('Hello Zoë /speakaudio src="https://evil.example/x.mp3"/, this is Acme Stores '
                                 "calling about your gold & silver membership. If you do not want us to call")
    assert greeting == ("<speak>Thanks Zoë &lt;/speak&gt;&lt;audio src=&quot;https://evil.example/x.mp3&quot;/&gt;! "
                        "Three quick questions about your gold &amp; silver plan.</speak>")

    disclosure, greeting = opening(stack, calls[B])  # no name, no plan: the words close up around them
    assert disclosure.startswith("Hello, this is Acme Stores calling about your membership. If you do not want")
    assert greeting == "<speak>Thanks! Three quick questions about your plan.</speak>"

    # survey-bot's own lines, at DEBUG, never say them (the SDK's request dumps are held at WARNING by logs.py)
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("survey_bot"))
    assert "command gather_using_ai sent" in logged
    assert "Zoë" not in logged and "silver" not in logged


async def test_the_keypad_intro_and_a_resumed_call_say_the_contacts_name(stack: Stack) -> None:
    """The AI gets one answer, the keypad takes over (its intro names the contact) and the contact hangs up; the
    re-dial that continues the response says the disclosure with the name again."""
    stack.fake.expect_dial(Scenario("outgoing", to_number=A, ai_steps=[AIStep({"nps": 3}, "From 0 to 10?", "Three.")],
                                    ai_result={"nps": 3}, keypad=[KeypadHangup()]))
    stack.fake.expect_dial(human(A))
    campaign_id = await add_campaign(stack, [A], retry_after_seconds=2, columns={"name": ["Ann"]})
    await wait_until_finished(stack, campaign_id)
    first, second = await attempts(stack, campaign_id)
    assert (first.outcome, second.outcome) == ("break_off", "complete")
    said = [str(r.body["payload"]) for r in stack.fake.accepted(first.call_control_id)
            if r.action == "gather_using_speak"]
    assert said[0].startswith("Hello Ann, this is Acme Stores")
    assert said[1].startswith("Ann, let's finish on your keypad. ")  # the first keypad question, after its intro
    disclosure = next(str(r.body["payload"]) for r in stack.fake.accepted(second.call_control_id)
                      if r.action == "gather_using_speak")
    assert disclosure.startswith("Hello Ann, this is Acme Stores calling about your membership.")
