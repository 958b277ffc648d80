"""`forms import-fhir`, the mapping: names, types, choices, repeats and enableWhen become a form that passes
`forms check` and asks what the Questionnaire would; what cannot be mapped is a note naming its linkId; a file
that is not a Questionnaire is refused in one line with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from survey_bot.cli.main import main
from survey_bot.forms.check import check_document, errors_only
from survey_bot.forms.fhir_import import QuestionnaireError, import_questionnaire
from survey_bot.forms.load import parse_form
from survey_bot.forms.model import Form

QUESTIONNAIRE = Path(__file__).parent / "data" / "fhir" / "clinic_intake.questionnaire.json"


def questionnaire(*items: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Questionnaire", "id": "q", "status": "active", "item": list(items)}


def form_of(*items: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The imported form (checked: no errors) and its notes as printed."""
    result = import_questionnaire(questionnaire(*items))
    assert errors_only(check_document(result.document, "<import>")) == []
    return result.document, [str(note) for note in result.notes]


def asked(form: Form, answers: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(relevant, required) for these final answers."""
    relevance = form.relevance(answers, dict.fromkeys(answers, "ai"))
    return set(relevance.relevant), set(relevance.required)


def test_the_clinic_questionnaire_asks_what_its_enable_when_says() -> None:
    result = import_questionnaire(json.loads(QUESTIONNAIRE.read_text()))
    assert result.form_id == "ClinicIntake"
    form = parse_form(result.document, "clinic_intake")
    assert form.document["properties"]["q_1"]["properties"]["q_1_3"]["x-labels"]["unknown"] == "Prefer not to say"
    fields = [".".join(f.path) for f in form.fields]
    assert fields[:6] == ["q_1.q_1_1", "q_1.q_1_2", "q_1.q_1_3", "smoker", "smoker_per_day", "reason"]  # FHIR order
    base = {"q_1.q_1_1": "A", "q_1.q_1_2": "1990-01-01"}
    relevant, required = asked(form, {**base, "smoker": True, "reason": "checkup", "pain": 1})
    assert "smoker_per_day" in required and "symptoms" not in relevant  # = true; = coding
    assert "temperature" not in relevant and "pain_where" not in relevant  # != checkup; >= 2
    relevant, required = asked(form, {**base, "smoker": False, "reason": "new-symptoms", "pain": 2})
    assert "smoker_per_day" not in relevant and "symptoms" in required
    assert {"temperature", "pain_where"} <= relevant - required  # optional in FHIR, optional here
    relevant, _ = asked(form, {**base, "reason": "follow-up"})
    assert "temperature" not in relevant  # enableBehavior all: `smoker` exists too
    assert "pregnant" in relevant  # its enableWhen reads another group: noted, always asked


@pytest.mark.parametrize(("link_id", "name"), [("1.2", "q_1_2"), ("weight (kg)", "weight__kg_"), ("status",
                                                                                                  "status_answer")])
def test_link_ids_become_valid_names_and_are_kept(link_id: str, name: str) -> None:
    document, notes = form_of({"linkId": link_id, "type": "string", "text": "?"},
                              {"linkId": link_id.upper() if link_id != "1.2" else "1_2", "type": "string"})
    assert document["properties"][name]["x-fhir-linkId"] == link_id
    assert len(document["properties"]) == 2 and notes == []  # a clash is numbered, not lost


def test_types_repeats_limits_and_options() -> None:
    document, notes = form_of(
        {"linkId": "a", "type": "choice", "repeats": True, "required": True, "answerOption": [
            {"valueCoding": {"system": "s1", "code": "x", "display": "Ex"}}, {"valueCoding": {"system": "s2",
                                                                                             "code": "y"}}]},
        {"linkId": "b", "type": "string", "maxLength": 20, "repeats": True},
        {"linkId": "c", "type": "choice", "answerOption": [{"valueInteger": 1}, {"valueInteger": 5}]},
        {"linkId": "d", "type": "choice", "answerValueSet": "#yn"},
        {"linkId": "e", "type": "group", "repeats": True, "item": [{"linkId": "e.1", "type": "dateTime"}]},
        {"linkId": "f", "type": "decimal", "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/maxValue", "valueDecimal": 9.5},
            {"url": "http://example.org/hidden", "valueBoolean": True}]})
    properties = document["properties"]
    assert properties["a"]["type"] == "array" and properties["a"]["uniqueItems"] is True
    assert properties["a"]["items"] == {"type": "string", "enum": ["x", "y"], "x-labels": {"x": "Ex"},
                                        "x-fhir-system": {"x": "s1", "y": "s2"}}
    assert properties["b"]["items"] == {"type": "string", "maxLength": 20}
    assert properties["c"]["enum"] == [1, 5] and properties["c"]["type"] == "integer"
    assert properties["e"]["items"]["properties"]["e_1"]["format"] == "date-time"
    assert properties["f"]["maximum"] == 9.5
    assert document["required"] == ["a"]
    assert notes == ["d: the answers come from the ValueSet '#yn', which is not listed in the Questionnaire: not "
                     "asked", "f: the extension 'http://example.org/hidden' is not mapped"]


def test_a_contained_value_set_gives_the_choices() -> None:
    resource = questionnaire({"linkId": "d", "type": "choice", "answerValueSet": "#yn"})
    resource["contained"] = [{"resourceType": "ValueSet", "id": "yn", "status": "active", "compose": {"include": [
        {"system": "http://loinc.org", "concept": [{"code": "LA33-6", "display": "Yes"},
                                                   {"code": "LA32-8", "display": "No"}]}]}}]
    schema = import_questionnaire(resource).document["properties"]["d"]
    assert schema["enum"] == ["LA33-6", "LA32-8"] and schema["x-fhir-system"] == "http://loinc.org"
    assert schema["x-labels"] == {"LA33-6": "Yes", "LA32-8": "No"}


YES_NO = {"linkId": "yn", "type": "boolean"}
WHEN = "the question is always asked"


@pytest.mark.parametrize(("items", "note"), [
    ([YES_NO, {"linkId": "x", "type": "string", "enableWhen": [
        {"question": "yn", "operator": "exists", "answerBoolean": False}]}],
     f"x: enableWhen `exists: false` cannot be said (an unanswered question never satisfies a condition): {WHEN}"),
    ([{"linkId": "d", "type": "date"}, {"linkId": "x", "type": "string", "enableWhen": [
        {"question": "d", "operator": ">", "answerDate": "2020-01-01"}]}],
     f"x: enableWhen > on 'd': only numbers are ordered by the form's conditions: {WHEN}"),
    ([YES_NO, {"linkId": "x", "type": "string", "enableWhen": [
        {"question": "nope", "operator": "=", "answerBoolean": True}]}],
     f"x: enableWhen reads 'nope', which is not an imported question: {WHEN}"),
    ([YES_NO, {"linkId": "x", "type": "string", "enableWhen": [
        {"question": "yn", "operator": "=", "answerString": "yes"}]}],
     f"x: enableWhen compares 'yn' with 'yes', which is not one of its answers: {WHEN}"),
    ([{"linkId": "g", "type": "group", "repeats": True, "item": [YES_NO, {"linkId": "x", "type": "string",
      "enableWhen": [{"question": "yn", "operator": "=", "answerBoolean": True}]}]}],
     f"x: enableWhen inside a repeating group is not mapped: {WHEN}"),
    ([YES_NO, {"linkId": "x", "type": "quantity"}], "x: a quantity (value and unit) has no form field type: not asked"),
    ([YES_NO, {"linkId": "x", "type": "string", "readOnly": True}], "x: a read-only item is shown, never answered: "
                                                                      "not asked"),
    ([YES_NO, {"linkId": "x", "type": "choice", "answerOption": [{"valueString": "a"}, {"valueInteger": 1}]}],
     "x: answerOptions mix valueInteger, valueString: a choice holds one kind of value; not asked"),
    ([YES_NO, {"linkId": "x", "type": "open-choice", "answerOption": [{"valueString": "a"}]}],
     "x: open-choice is asked as free text (its options: a); exported as valueString"),
    ([YES_NO, {"linkId": "x", "type": "string", "initial": [{"valueString": "hi"}]}], "x: initial is not mapped"),
    ([YES_NO, {"type": "string"}], "item[1]: an item without a linkId: not imported"),
])
def test_what_cannot_be_mapped_is_listed_with_its_link_id(items: list[dict[str, Any]], note: str) -> None:
    _document, notes = form_of(*items)
    assert notes == [note]


def test_not_equal_is_a_not_inside_the_if_and_any_an_any_of() -> None:
    document, notes = form_of(
        {"linkId": "n", "type": "integer"}, YES_NO,
        {"linkId": "x", "type": "string", "required": True, "enableBehavior": "any", "enableWhen": [
            {"question": "n", "operator": "!=", "answerInteger": 3},
            {"question": "yn", "operator": "=", "answerBoolean": True}]})
    assert document["if"] == {"anyOf": [{"properties": {"n": {"not": {"const": 3}}}, "required": ["n"]},
                                        {"properties": {"yn": {"const": True}}, "required": ["yn"]}]}
    assert document["then"] == {"required": ["x"]} and "required" not in document
    assert notes == ["x: enableBehavior any: asked once every question it reads has an answer (or been skipped), "
                     "then if one condition holds"]
    form = parse_form(document, "q")
    assert "x" in asked(form, {"n": 4, "yn": False})[1]
    assert "x" not in asked(form, {"n": 3, "yn": False})[0]


@pytest.mark.parametrize(("resource", "message"), [
    ({"resourceType": "Patient"}, "/resourceType: expected a FHIR Questionnaire, found 'Patient'"),
    ({"resourceType": "Questionnaire"}, "/item: the Questionnaire has no items, so no questions"),
    (questionnaire({"linkId": "a", "type": "attachment"}),
     "/item: none of the items can be asked on a phone call: a: an attachment cannot be given on a phone call: not "
     "asked"),
])
def test_a_document_without_questions_is_refused(resource: dict[str, Any], message: str) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        import_questionnaire(resource)
    assert str(caught.value) == message


@pytest.mark.parametrize(("text", "error"), [
    ('{"resourceType": "Questionnaire", ', "invalid JSON at line 1 column 35"),
    ('{"resourceType": "Patient"}', "/resourceType: expected a FHIR Questionnaire, found 'Patient'"),
])
def test_the_cli_refuses_bad_input_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                               error: str) -> None:
    source = tmp_path / "q.json"
    source.write_text(text)
    assert main(["forms", "import-fhir", str(source), "--out", str(tmp_path / "f.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"survey-bot: {source}: {error}") and err.count("\n") == 1
    assert not (tmp_path / "f.json").exists()


def test_the_cli_writes_into_the_forms_folder_and_never_replaces_a_form_there(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SURVEY_BOT_FORMS_DIR", str(tmp_path))
    assert main(["forms", "import-fhir", str(QUESTIONNAIRE)]) == 0
    assert json.loads((tmp_path / "ClinicIntake.json").read_text())["title"] == "Clinic intake"
    capsys.readouterr()
    assert main(["forms", "import-fhir", str(QUESTIONNAIRE)]) == 2
    assert "ClinicIntake.json exists already; name the form file to write with --out" in capsys.readouterr().err
