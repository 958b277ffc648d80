"""Skip logic as a pure function (forms.conditions): which fields are relevant and required for one response,
on hand-built forms: if/then/else, dependentRequired, dependentSchemas, allOf, nested objects, branches inside
branches, fields declared only in a branch, and answers that switch a branch on and off."""

from __future__ import annotations

from typing import Any

from survey_bot.forms.load import parse_form
from survey_bot.forms.model import Form

MARKET = {
    "type": "object",
    "properties": {
        "nps": {"type": "integer", "minimum": 0, "maximum": 10},
        "reason": {"type": "string"},
        "praise": {"type": "string"},
        "channel": {"enum": ["shop", "web"]},
    },
    "required": ["nps"],
    "if": {"properties": {"nps": {"maximum": 6}}},
    "then": {"required": ["reason"]},
    "else": {"properties": {"praise": {"type": "string", "maxLength": 200}}},
}


def form(document: dict[str, Any], form_id: str = "t") -> Form:
    return parse_form(document, form_id)


def said(form_: Form, sources: str = "ai", **answers: Any) -> tuple[set[str], set[str]]:
    flat = {name.replace("__", "."): value for name, value in answers.items()}
    result = form_.relevance(flat, dict.fromkeys(flat, sources))
    return set(result.relevant), set(result.required)


def test_a_branch_applies_only_once_what_it_reads_is_answered() -> None:
    market = form(MARKET)
    assert [f.name for f in market.fields] == ["nps", "reason", "praise", "channel"]
    assert said(market) == ({"nps", "channel"}, {"nps"})  # nps absent: neither `then` nor `else` applies
    assert said(market, nps=3) == ({"nps", "channel", "reason"}, {"nps", "reason"})
    assert said(market, nps=9) == ({"nps", "channel", "praise"}, {"nps"})


def test_only_final_answers_switch_a_branch() -> None:
    market = form(MARKET)
    assert said(market, "ai_partial", nps=3) == ({"nps", "channel"}, {"nps"})  # a partial result is not final
    assert said(market, "dtmf", nps=3) == ({"nps", "channel", "reason"}, {"nps", "reason"})


def test_a_corrected_answer_switches_the_branch_off_and_the_other_on() -> None:
    market = form(MARKET)
    before = market.relevance({"nps": 3, "reason": "slow"}, {"nps": "ai", "reason": "ai"})
    after = market.relevance({"nps": 9, "reason": "slow"}, {"nps": "dtmf", "reason": "ai"})
    assert "reason" in before.relevant and "reason" in before.required
    assert "reason" not in after.relevant and "praise" in after.relevant  # its value stays; it no longer applies


def test_fields_declared_only_in_branches_are_fields_in_form_order() -> None:
    document = {"type": "object", "properties": {"nps": {"type": "integer", "minimum": 0, "maximum": 10}},
                "required": ["nps"],
                "allOf": [
                    {"if": {"properties": {"nps": {"maximum": 6}}},
                     "then": {"properties": {"reason": {"type": "string"}}, "required": ["reason"]},
                     "else": {"properties": {"praise": {"type": "string"}}}},
                    {"if": {"properties": {"nps": {"minimum": 9}}},
                     "then": {"properties": {"referral": {"type": "boolean"}}}},
                ]}
    detour = form(document)
    assert [f.name for f in detour.fields] == ["nps", "reason", "praise", "referral"]
    assert said(detour, nps=2) == ({"nps", "reason"}, {"nps", "reason"})
    assert said(detour, nps=7) == ({"nps", "praise"}, {"nps"})
    assert said(detour, nps=10) == ({"nps", "praise", "referral"}, {"nps"})


def test_dependent_required_and_dependent_schemas() -> None:
    document = {"type": "object",
                "properties": {"email": {"type": "string"}, "consent": {"type": "boolean"},
                               "has_pet": {"type": "boolean"}},
                "dependentRequired": {"email": ["consent"]},
                "dependentSchemas": {"has_pet": {"properties": {"pet_name": {"type": "string"}},
                                                 "required": ["pet_name"]}}}
    pets = form(document)
    assert [f.name for f in pets.fields] == ["email", "consent", "has_pet", "pet_name"]
    assert said(pets) == ({"email", "has_pet"}, set())
    assert said(pets, email="a@b.c") == ({"email", "consent", "has_pet"}, {"consent"})
    assert said(pets, has_pet=False) == ({"email", "has_pet", "pet_name"}, {"pet_name"})  # answered, whatever value


def test_conditionals_inside_a_nested_object() -> None:
    document = {"type": "object", "required": ["visit"],
                "properties": {"visit": {"type": "object", "required": ["kind"],
                                         "properties": {"kind": {"enum": ["checkup", "urgent"]},
                                                        "symptoms": {"type": "string"}},
                                         "if": {"properties": {"kind": {"const": "urgent"}}},
                                         "then": {"required": ["symptoms"]}},
                               "note": {"type": "string"}}}
    clinic = form(document)
    assert said(clinic) == ({"visit.kind", "note"}, {"visit.kind"})  # `then` names symptoms: relevant only there
    assert said(clinic, visit__kind="checkup") == ({"visit.kind", "note"}, {"visit.kind"})
    assert said(clinic, visit__kind="urgent") == ({"visit.kind", "visit.symptoms", "note"},
                                                   {"visit.kind", "visit.symptoms"})


def test_a_branch_inside_a_branch() -> None:
    document = {"type": "object",
                "properties": {"bought": {"type": "boolean"}},
                "if": {"properties": {"bought": {"const": True}}},
                "then": {"properties": {"returned": {"type": "boolean"}},
                         "required": ["returned"],
                         "if": {"properties": {"returned": {"const": True}}},
                         "then": {"properties": {"return_reason": {"type": "string"}}, "required": ["return_reason"]}}}
    shop = form(document)
    assert [f.name for f in shop.fields] == ["bought", "returned", "return_reason"]
    assert said(shop, bought=False) == ({"bought"}, set())
    assert said(shop, bought=True) == ({"bought", "returned"}, {"returned"})
    assert said(shop, bought=True, returned=True) == ({"bought", "returned", "return_reason"},
                                                      {"returned", "return_reason"})
    # the inner branch needs the outer one: `returned` alone cannot switch it on
    assert said(shop, bought=False, returned=True) == ({"bought"}, set())


def test_a_form_without_conditionals_is_all_relevant_and_statically_required() -> None:
    plain = form({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                  "required": ["a"]})
    assert not plain.logic.conditional
    assert said(plain) == ({"a", "b"}, {"a"})
