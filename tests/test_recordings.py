"""Recorded prompts: a field's keypad question as a recording (x-audio, gather_using_audio), recorded intro and
closing words (x-dtmf.audio, playback_start), what stays spoken (a retry's reason), what `forms check` refuses,
and a call played end to end through the real SDK and the fake Telnyx, which validates every body."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from survey_bot.config import Settings
from survey_bot.flow.keypad import ask_next
from survey_bot.flow.state import CallState, Command
from survey_bot.forms.check import check_document
from survey_bot.forms.load import parse_form
from survey_bot.runtime import load_catalog
from survey_bot.sandbox.scenario_file import load_scenario_document
from survey_bot.sandbox.simulate import play_call
from survey_bot.sandbox.stack import running_stack
from survey_bot.simulator import FakeTelnyx
from survey_bot.simulator.contract import ApiError, validate_request
from survey_bot.telephony.arguments import telnyx_request

CDN = "https://cdn.example.com"
RECORDED: dict[str, Any] = {
    "title": "Recorded",
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 0, "maximum": 10,
                  "x-audio": {"prompt": f"{CDN}/score.mp3", "invalid": f"{CDN}/invalid.mp3"}},
        "visit": {"type": "string", "enum": ["yes", "no"]},
    },
    "required": ["score", "visit"],
    "x-dtmf": {"audio": {"intro": f"{CDN}/intro.mp3", "closing": f"{CDN}/bye.mp3"}},
}
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def keypad_command(name: str, **details: Any) -> Command:
    return Command("ask_keypad", f"keypad:{name}:1", {"r": "r1", "s": "keypad", "f": name, "n": 1},
                   {"field": name, "intro": False, "retry": None, "declinable": False, **details})


def test_a_recorded_field_is_asked_with_gather_using_audio_and_the_spoken_digit_settings() -> None:
    form = parse_form(RECORDED, "recorded")
    action, arguments = telnyx_request(keypad_command("score"), form)
    spoken = parse_form({**RECORDED, "properties": {
        **RECORDED["properties"], "score": {k: v for k, v in RECORDED["properties"]["score"].items()
                                            if k != "x-audio"}}}, "spoken")
    spoken_action, spoken_arguments = telnyx_request(keypad_command("score"), spoken)
    assert (action, spoken_action) == ("gather_using_audio", "gather_using_speak")
    assert arguments.pop("audio_url") == f"{CDN}/score.mp3"
    assert arguments.pop("invalid_audio_url") == f"{CDN}/invalid.mp3"
    shared = ("valid_digits", "minimum_digits", "maximum_digits", "maximum_tries", "timeout_millis",
              "terminating_digit", "client_state")
    assert arguments == {k: spoken_arguments[k] for k in shared}
    assert arguments["terminating_digit"] == "#" and arguments["maximum_digits"] == 2
    validate_request(action, arguments)  # the SDK's own type for the body


def test_the_fake_telnyx_checks_recorded_commands_against_the_sdk_types() -> None:
    validate_request("playback_start", {"audio_url": f"{CDN}/intro.mp3"})
    with pytest.raises(ApiError) as caught:
        validate_request("gather_using_audio", {"audio_url": f"{CDN}/a.mp3", "maximum_digits": "3"})
    assert caught.value.errors[0]["source"] == {"pointer": "/maximum_digits"}


def test_a_recorded_intro_plays_before_the_first_question_and_a_spoken_one_is_spoken_first() -> None:
    form = parse_form(RECORDED, "recorded")
    commands = ask_next(CallState("r1", "incoming"), form, NOW)
    assert [(c.action, c.step) for c in commands] == [("play", "keypad-intro"), ("ask_keypad", "keypad:score:1")]
    assert telnyx_request(commands[0], form) == ("playback_start", {
        "audio_url": f"{CDN}/intro.mp3", "client_state": telnyx_request(commands[0], form)[1]["client_state"]})
    assert commands[1].details["intro"] is False
    spoken_intro = parse_form({**RECORDED, "x-dtmf": {"intro": "Now the keypad."}}, "spoken_intro")
    commands = ask_next(CallState("r1", "incoming"), spoken_intro, NOW)
    assert [(c.action, c.details.get("text")) for c in commands] == [("speak", "Now the keypad."),
                                                                     ("ask_keypad", None)]


def broken(pointer_path: list[str], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(RECORDED)
    node = document
    for key in pointer_path[:-1]:
        node = node[key]
    node[pointer_path[-1]] = value
    return document


SCORE = ["properties", "score", "x-audio"]


@pytest.mark.parametrize(("document", "pointer", "fragment"), [
    (broken(SCORE, {"prompt": "http://cdn.example.com/a.mp3"}), "/properties/score/x-audio/prompt", "https"),
    (broken(SCORE, {"prompt": "score.mp3"}), "/properties/score/x-audio/prompt", "https"),
    (broken(SCORE, {"prompt": f"{CDN}/a.mp3", "invalid": "ftp://x/y.mp3"}), "/properties/score/x-audio/invalid",
     "https"),
    (broken(SCORE, {"invalid": f"{CDN}/a.mp3"}), "/properties/score/x-audio", "prompt"),
    (broken(SCORE, {"prompt": 3}), "/properties/score/x-audio/prompt", "string"),
    (broken(SCORE, "https://cdn.example.com/a.mp3"), "/properties/score/x-audio", "object"),
    (broken(SCORE, {"prompt": f"{CDN}/a.mp3", "loud": True}), "/properties/score/x-audio", "loud"),
    (broken(SCORE, {"es-US": {"prompt": f"{CDN}/a.mp3"}}), "/properties/score/x-audio", "en-US"),
    (broken(SCORE, {"en-US": {"prompt": f"{CDN}/a.mp3"}, "english": {"prompt": f"{CDN}/b.mp3"}}),
     "/properties/score/x-audio/english", "locale"),
    (broken(SCORE, {"en-US": {"invalid": f"{CDN}/a.mp3"}}), "/properties/score/x-audio/en-US", "prompt"),
    (broken(["properties", "note"], {"type": "string", "x-audio": {"prompt": f"{CDN}/a.mp3"}}),
     "/properties/note/x-audio", "keypad"),
    (broken(["x-dtmf", "audio"], {"intro": 5}), "/x-dtmf/audio/intro", "string"),
    (broken(["x-dtmf", "audio"], {"closing": "http://cdn.example.com/bye.mp3"}), "/x-dtmf/audio/closing", "https"),
    (broken(["x-dtmf", "audio"], {"outro": f"{CDN}/x.mp3"}), "/x-dtmf/audio", "outro"),
])
def test_bad_recordings_are_errors_at_their_pointer(document: dict[str, Any], pointer: str, fragment: str) -> None:
    problems = [p for p in check_document(document, "f.json") if p.severity == "error"]
    assert any(p.pointer == pointer and fragment in p.message for p in problems), \
        [(p.pointer, p.message) for p in problems]


def test_good_recordings_pass_including_per_locale_and_local_simulator_urls() -> None:
    assert check_document(RECORDED, "f.json") == []
    local = broken(SCORE, {"en-US": {"prompt": "http://127.0.0.1:8080/s.mp3"},
                           "es-US": {"prompt": "http://localhost/s-es.mp3", "invalid": f"{CDN}/i.mp3"}})
    assert check_document(local, "f.json") == []
    form = parse_form(local | {"x-dtmf": {"language": "es-US"}}, "es")
    assert telnyx_request(keypad_command("score"), form)[1]["audio_url"] == "http://localhost/s-es.mp3"


async def test_a_recorded_survey_end_to_end(tmp_path: Path, sqlite_url: str) -> None:
    (tmp_path / "recorded.json").write_text(json.dumps(RECORDED | {"x-numbers": ["+15550100078"]}))
    catalog = load_catalog(Settings(forms_dir=tmp_path))
    scenario = {"form": "recorded", "calls": [{
        "name": "the AI hears nothing; 42 is refused (the reason spoken), 7 kept; visit spoken as ever",
        "ai": [{"end": "invalid"}],
        "keypad": {"score": ["42#", "7#"], "visit": ["1"]},
        "expect": {"status": "completed", "answers": {"score": 7, "visit": "yes"},
                   "sources": {"score": "dtmf", "visit": "dtmf"}, "asked_on_keypad": ["score", "visit"]}}]}
    loaded = load_scenario_document(scenario, "<test>", catalog.forms)
    fake = FakeTelnyx()
    settings = {"forms_dir": tmp_path, "admin_token": "scenario-admin-token", "default_form": "recorded"}
    async with running_stack(sqlite_url, settings, fake=fake) as stack:
        outcome = await play_call(stack, "<test>", "recorded", loaded.calls[0], check=True)
    assert outcome.passed, (outcome.error, outcome.mismatches)
    sent = [(r.action, r.body.get("audio_url") or r.body.get("payload")) for r in fake.accepted()]
    assert [a for a, _ in sent] == ["answer", "gather_using_ai", "playback_start", "gather_using_audio", "speak",
                                    "gather_using_audio", "gather_using_speak", "playback_start", "hangup"]
    assert sent[2][1] == f"{CDN}/intro.mp3" and sent[7][1] == f"{CDN}/bye.mp3"
    assert sent[3][1] == sent[5][1] == f"{CDN}/score.mp3"
    assert str(sent[4][1]).startswith("Sorry, that was not accepted:") and "10" in str(sent[4][1])
    assert outcome.hangup_cause == "normal_clearing"
    assert not any(r.status_code != 200 for r in fake.requests)
