"""Outbound callees end to end, on both databases: answering machine detection on the dial, the voicemail
spoken only after a machine's greeting ended, the disclosure before the voice AI, the opt-out by key and by
voice (suppressed in the same transaction, the call ended politely), and each call's attempt outcome."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from survey_bot.config import Settings
from survey_bot.forms.check import check_document
from survey_bot.runtime import load_catalog
from survey_bot.sandbox.scenario_file import ScenarioCall, load_scenario_document, load_scenario_file
from survey_bot.sandbox.simulate import play_call, simulate
from survey_bot.sandbox.stack import running_stack

DATA = Path(__file__).parent / "data" / "callees"
CATALOG = load_catalog(Settings(forms_dir=DATA))
OVERRIDES = {"forms_dir": DATA, "admin_token": "scenario-admin-token"}


async def test_callees_machines_disclosure_and_opt_outs_play_as_the_scenario_file_expects(database_url: str) -> None:
    outcomes = await simulate([load_scenario_file(DATA / "outreach.yaml", CATALOG.forms)], database_url, OVERRIDES,
                              check=True)
    assert outcomes and all(o.checked for o in outcomes)
    failed = {o.name: o.error or [m.as_json() for m in o.mismatches] for o in outcomes if not o.passed}
    assert not failed, failed


def _call(name: str, **keys: Any) -> ScenarioCall:
    document = {"form": "outreach", "calls": [{"name": name, **keys}]}
    return load_scenario_document(document, "<test>", CATALOG.forms).calls[0]


def _payload(body: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(body["client_state"])) if "client_state" in body else None


async def test_the_voicemail_is_spoken_only_after_the_greeting_ended_and_the_dial_asks_for_amd(
        database_url: str) -> None:
    async with running_stack(database_url, {**OVERRIDES, "default_form": "outreach"}) as stack:
        outcome = await play_call(stack, "<test>", "outreach", _call(
            "beep", direction="outbound", to="+15557651111", voicemail="Acme calling, we will try again.",
            callee="machine_beep"))
        assert outcome.error is None and outcome.outcome == "machine_voicemail"
        (dial,) = [r for r in stack.fake.accepted() if r.action == "dial"]
        assert dial.body["answering_machine_detection"] == "premium"
        assert _payload(dial.body) == {"r": outcome.response_id}
        call_id = next(r.call_control_id for r in stack.fake.accepted() if r.action != "dial")
        emitted = stack.fake.events_emitted(str(call_id))
        greeting = next(e for e in emitted if e["data"]["event_type"] == "call.machine.premium.greeting.ended")
        ended_at = datetime.fromisoformat(greeting["data"]["occurred_at"].replace("Z", "+00:00")).timestamp()
        said = [r for r in stack.fake.accepted(call_id) if r.action != "dial"]
        assert [r.action for r in said] == ["speak", "hangup"]  # no survey for a machine, only the message
        assert said[0].body["payload"] == "Acme calling, we will try again." and said[0].received_at >= ended_at

        single = await play_call(stack, "<test>", "outreach", _call("no amd", direction="outbound",
                                                                    to="+15557652222", callee="human"))
        (plain,) = [r for r in stack.fake.accepted() if r.action == "dial" and r.body["to"] == "+15557652222"]
        assert "answering_machine_detection" not in plain.body  # single calls dial as they always did
        assert single.error is None and single.status == "partial"  # the survey ran with no detection to wait for


async def test_the_disclosure_comes_first_and_the_opt_out_key_is_taken_only_where_no_digits_are_typed(
        database_url: str) -> None:
    async with running_stack(database_url, {**OVERRIDES, "default_form": "outreach"}) as stack:
        outcome = await play_call(stack, "<test>", "outreach", _call(
            "keypad", direction="outbound", to="+15557653333", ai=[{"end": "invalid"}],
            keypad={"nps": ["9#"], "satisfaction": ["2"], "would_return": ["1"]}, expect={"status": "completed"}))
        assert outcome.status == "completed" and outcome.outcome == "complete" and not outcome.suppressed
        assert outcome.answers["nps"] == 9  # typed digits: a 9 is a 9, not an opt-out
        call_id = next(r.call_control_id for r in stack.fake.accepted() if r.action != "dial")
        gathers = [r.body for r in stack.fake.accepted(call_id) if r.action.startswith("gather")]
        disclosure, ai, nps, satisfaction, would_return = gathers
        assert _payload(disclosure)["s"] == "disclosure" and "gather_using_ai" not in str(disclosure)
        assert disclosure["payload"].startswith(str(CATALOG.forms["outreach"].disclosure))
        assert "press 9" in disclosure["payload"] and disclosure["valid_digits"] == "9"
        assert ai["parameters"]["properties"]["opt_out"]["type"] == "boolean"
        assert nps["valid_digits"] == "0123456789#" and satisfaction["valid_digits"] == "12349"
        assert would_return["valid_digits"].endswith("9")


@pytest.mark.parametrize(("extra", "pointer", "words"), [
    ({"x-opt-out": {"key": "2"}}, "/x-opt-out/key", "menu digit of 'satisfaction'"),
    ({"x-opt-out": {"key": "*"}}, "/x-opt-out/key", "decline key"),
    ({"x-dtmf": {"decline_key": "9"}}, "/x-disclosure", "decline key"),
    ({"x-opt-out": {"key": "99"}}, "/x-opt-out/key", "does not match"),
])
def test_forms_check_refuses_an_opt_out_key_that_means_something_else(extra: dict[str, Any], pointer: str,
                                                                      words: str) -> None:
    document = {**json.loads((DATA / "outreach.json").read_text()), **extra}
    problems = [p for p in check_document(document, "outreach.json") if p.severity == "error"]
    assert any(p.pointer == pointer and words in p.message for p in problems), problems


async def test_the_disclosure_and_the_opt_out_goodbye_speak_the_calls_language(database_url: str) -> None:
    data = Path(__file__).parent / "data" / "callees_locales"
    catalog = load_catalog(Settings(forms_dir=data))
    document = {"form": "encuesta", "calls": [{"name": "es", "direction": "outbound", "to": "+15557654444",
                                               "locale": "es-US", "disclosure_keys": "9"}]}
    call = load_scenario_document(document, "<test>", catalog.forms).calls[0]
    async with running_stack(database_url, {**OVERRIDES, "forms_dir": data, "default_form": "encuesta"}) as stack:
        outcome = await play_call(stack, "<test>", "encuesta", call)
        assert outcome.error is None and outcome.outcome == "opt_out" and outcome.suppressed
        call_id = next(r.call_control_id for r in stack.fake.accepted() if r.action != "dial")
        said = [r.body for r in stack.fake.accepted(call_id) if r.action in ("gather_using_speak", "speak")]
        disclosure, goodbye = said
        assert disclosure["payload"] == ("Hola, le llama Tiendas Acme para una encuesta de un minuto. Si no quiere "
                                         "que le volvamos a llamar, oprima 9 en cualquier momento, o simplemente "
                                         "díganoslo.")
        assert disclosure["voice"] == "AWS.Polly.Lupe-Neural"
        assert goodbye["payload"] == "No le volveremos a llamar. Gracias, adiós."


def test_a_localised_disclosure_needs_every_locale() -> None:
    document = json.loads((Path(__file__).parent / "data" / "callees_locales" / "encuesta.json").read_text())
    assert [p for p in check_document(document, "encuesta.json") if p.severity == "error"] == []
    document["x-disclosure"] = {"en-US": "Hello, this is Acme Stores."}
    problems = [p for p in check_document(document, "encuesta.json") if p.severity == "error"]
    assert [(p.pointer, p.message) for p in problems] == [("/x-disclosure", "no text for es-US (x-locales lists it)")]
