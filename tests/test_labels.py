"""Labels for choices (x-labels, oneOf const/title): what the keypad menu says, the digit that stores the value,
what the voice AI is told, what `forms check` refuses (with pointers), and a call played end to end."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from survey_bot.config import Settings
from survey_bot.forms.check import check_document
from survey_bot.forms.digits import parse_digits
from survey_bot.forms.keypad import Keypad
from survey_bot.forms.load import parse_form
from survey_bot.forms.voice_schema import voice_parameters
from survey_bot.runtime import load_catalog
from survey_bot.sandbox.scenario_file import load_scenario_document
from survey_bot.sandbox.simulate import simulate
from survey_bot.telephony.arguments import confirm_arguments, speak_gather_arguments
from survey_bot.telephony.form_rules import speech_problems

MOOD: dict[str, Any] = {
    "title": "Moods",
    "type": "object",
    "properties": {
        "mood": {"type": "string", "enum": ["very_satisfied", "ok", "meh-ish"],
                 "x-labels": {"very_satisfied": "really happy", "ok": "all right"}},
        "size": {"type": "string", "title": "Size",
                 "oneOf": [{"const": "s", "title": "small"}, {"const": "m", "title": "medium"},
                           {"const": "l", "title": "large", "description": "the big one"}]},
        "tier": {"type": "integer", "x-confirm": True,
                 "oneOf": [{"const": 1, "title": "bronze"}, {"const": 2, "title": "gold"}],
                 "x-dtmf": {"choices": {"5": 2, "6": 1}}},
        "lang": {"type": "string", "enum": ["yes_please", "no"],
                 "x-labels": {"es-US": {"yes_please": "sí, por favor"}, "en-US": {"yes_please": "yes please"}}},
        "colors": {"type": "array", "items": {"type": "string", "enum": ["red", "dark_blue"],
                                              "x-labels": {"red": "crimson"}}},
    },
    "required": ["mood", "size"],
    "x-dtmf": {"decline_key": ""},
}


@pytest.fixture(scope="module")
def form() -> Any:
    return parse_form(MOOD, "moods")


def payload(form: Any, name: str) -> str:
    return str(speak_gather_arguments(form, form.field(name))["payload"])


def test_menus_speak_labels_and_humanise_values_without_one(form: Any) -> None:
    assert payload(form, "mood") == "Mood. Press 1 for really happy. Press 2 for all right. Press 3 for meh ish."
    assert payload(form, "size") == "Size. Press 1 for small. Press 2 for medium. Press 3 for large."
    assert payload(form, "tier") == "Tier. Press 5 for gold. Press 6 for bronze."
    assert payload(form, "lang") == "Lang. Press 1 for yes please. Press 2 for no."  # the en-US entry


def test_the_keypad_locale_picks_the_per_locale_entry() -> None:
    spanish = parse_form(MOOD | {"x-dtmf": {"decline_key": "", "language": "es-US"}}, "moods")
    # the keypad's locale also picks the shipped Spanish phrases (forms.catalogue)
    assert payload(spanish, "lang") == "Lang. Oprima 1 para sí, por favor. Oprima 2 para no."
    assert payload(spanish, "mood").startswith("Mood. Oprima 1 para really happy.")  # the plain map for every locale


def test_one_of_consts_get_a_menu_and_a_digit_stores_the_const(form: Any) -> None:
    assert form.field("size").keypad == Keypad("menu", {"1": "s", "2": "m", "3": "l"}, 1, 1, "")
    assert parse_digits(form.field("size"), "2") == "m"
    assert form.field("tier").keypad == Keypad("menu", {"5": 2, "6": 1}, 1, 1, "")
    assert parse_digits(form.field("tier"), "6") == 1


def test_a_read_back_says_the_label(form: Any) -> None:
    spoken = confirm_arguments(form, form.field("tier"), 2)["payload"]
    assert spoken == "You entered gold. Press 1 if that is right, 2 to enter it again."


def test_the_voice_ai_gets_titles_as_written_and_labels_in_the_description(form: Any) -> None:
    properties = voice_parameters(form)["properties"]
    assert properties["size"]["oneOf"][2] == {"const": "l", "title": "large", "description": "the big one"}
    assert properties["mood"]["description"] == ("Choices: very_satisfied (really happy), ok (all right), "
                                                 "meh-ish.")
    assert "x-labels" not in json.dumps(properties)
    assert "description" not in properties["lang"]  # yes_please -> "yes please" says nothing new


def test_the_example_survey_labels_its_satisfaction_menu() -> None:
    form = load_catalog(Settings(forms_dir=Path(__file__).resolve().parent.parent / "forms")).forms[
        "customer_satisfaction"]
    assert "Press 1 for very satisfied. Press 2 for satisfied." in payload(form, "satisfaction")


def broken(path: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(MOOD)
    *parents, last = path.split("/")
    node = document
    for key in parents:
        node = node[key]
    node[last] = value
    return document


BROKEN = [
    ("unknown-value", broken("properties/mood/x-labels", {"very_satisfied": "happy", "sad": "unhappy"}),
     "/properties/mood/x-labels/sad", "'sad' is not one of the field's values"),
    ("unknown-const", broken("properties/size/x-labels", {"xl": "extra large"}),
     "/properties/size/x-labels/xl", "'xl' is not one of the field's values"),
    ("empty-label", broken("properties/mood/x-labels", {"ok": ""}), "/properties/mood/x-labels/ok", "non-empty"),
    ("blank-label", broken("properties/mood/x-labels", {"ok": "  "}), "/properties/mood/x-labels/ok", "non-empty"),
    ("number-label", broken("properties/mood/x-labels", {"ok": 3}), "/properties/mood/x-labels/ok", "non-empty"),
    ("locale-label", broken("properties/lang/x-labels", {"es-US": {"no": ""}}),
     "/properties/lang/x-labels/es-US/no", "non-empty"),
    ("locale-unknown-value", broken("properties/lang/x-labels", {"es-US": {"maybe": "quizás"}}),
     "/properties/lang/x-labels/es-US/maybe", "'maybe' is not one of the field's values"),
    ("not-a-choice", broken("properties/note", {"type": "string", "x-labels": {"a": "b"}}),
     "/properties/note/x-labels", "only an enum or a oneOf of consts"),
    ("array-field", broken("properties/colors/x-labels", {"red": "crimson"}),
     "/properties/colors/x-labels", "only an enum or a oneOf of consts"),
    ("mixed", broken("properties/lang/x-labels", {"es-US": {"no": "no"}, "yes_please": "yes"}),
     "/properties/lang/x-labels/yes_please", "mixes"),
    ("not-a-locale", broken("properties/lang/x-labels", {"spanish": {"no": "no"}}),
     "/properties/lang/x-labels/spanish", "not a locale"),
    ("not-an-object", broken("properties/mood/x-labels", ["ok"]), "/properties/mood/x-labels", "not of type 'object'"),
]


@pytest.mark.parametrize(("case", "document", "pointer", "fragment"), BROKEN, ids=[c[0] for c in BROKEN])
def test_bad_labels_are_errors_at_their_pointer(case: str, document: Any, pointer: str, fragment: str) -> None:
    problems = check_document(document, "forms/moods.json", speech_problems)
    assert [(p.pointer, p.severity) for p in problems] == [(pointer, "error")], problems
    assert fragment in problems[0].message


def test_labels_of_a_ref_target_are_checked_where_they_are_written() -> None:
    document = MOOD | {"$defs": {"kind": {"type": "string", "enum": ["a", "b"], "x-labels": {"c": "see"}}},
                       "properties": {**MOOD["properties"], "kind": {"$ref": "#/$defs/kind"}}}
    assert [p.pointer for p in check_document(document, "f.json")] == ["/$defs/kind/x-labels/c"]
    sibling = MOOD | {"$defs": {"kind": {"type": "string", "enum": ["a", "b"]}},
                      "properties": {**MOOD["properties"], "kind": {"$ref": "#/$defs/kind", "x-labels": {"a": "A"}}}}
    assert check_document(sibling, "f.json") == []


def test_odd_label_documents_never_raise() -> None:
    for labels in (None, 3, "x", [], {"": ""}, {"es-US": []}, {"es-US": {"a": {"b": "c"}}}, {"a": None}):
        for schema in ({"enum": ["a"], "x-labels": labels}, {"oneOf": [{"const": "a"}, 5], "x-labels": labels},
                       {"oneOf": "x", "x-labels": labels}, {"type": "array", "items": {"x-labels": labels}}):
            check_document({"type": "object", "properties": {"f": schema}}, "g.json")


async def test_a_one_of_menu_end_to_end(tmp_path: Path, sqlite_url: str) -> None:
    (tmp_path / "moods.json").write_text(json.dumps(MOOD | {"x-numbers": ["+15550100077"]}))
    catalog = load_catalog(Settings(forms_dir=tmp_path))
    scenario = {"form": "moods", "calls": [{
        "name": "the AI hears the mood; size and tier come on the keypad, the tier read back by its title",
        "ai": [{"end": "valid", "result": {"mood": "ok", "lang": "no", "colors": ["red"]}}],
        "keypad": {"size": ["3"], "tier": ["5", "1"]},
        "expect": {"status": "completed", "answers": {"mood": "ok", "size": "l", "tier": 2},
                   "sources": {"size": "dtmf", "tier": "dtmf"}, "asked_on_keypad": ["size", "tier"]}}]}
    loaded = load_scenario_document(scenario, "<test>", catalog.forms)
    overrides = {"forms_dir": tmp_path, "admin_token": "scenario-admin-token"}
    [outcome] = await simulate([loaded], sqlite_url, overrides, check=True)
    assert outcome.passed, (outcome.error, outcome.mismatches)
