"""What `forms check` warns about: a form that works, but not as its author probably expects.

Printed as `file: /pointer: warning: ...`; `forms check` still exits 0 unless `--strict`, and the server
loads the form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from survey_bot.forms.conditions import Branch, Conditional, build_logic
from survey_bot.forms.keypad import leaf_keypad
from survey_bot.forms.labels import choice_values
from survey_bot.forms.schema_walk import Leaf
from survey_bot.forms.validation import FORMATS

__all__ = ["KNOWN_FORMATS", "warnings_of"]

# JSON Schema 2020-12's formats; survey-bot checks those its validator can (FORMATS), the rest pass unchecked.
KNOWN_FORMATS = frozenset({
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname", "ipv4", "ipv6",
    "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template", "json-pointer",
    "relative-json-pointer", "regex"}) | frozenset(FORMATS.checkers)
_MENU_KEYS = 9


def warnings_of(document: Mapping[str, Any], fields: list[Leaf]) -> list[tuple[str, str]]:
    """(pointer, message) for each warning (the document has passed the checks for errors)."""
    found = []
    logic = build_logic(document, [leaf.path for leaf in fields])
    sometimes = set().union(*(_required_by(c) for c in logic.conditionals))
    for leaf in fields:
        values = choice_values(leaf.schema)
        required = leaf.required or ".".join(leaf.path) in sometimes
        if required and values is not None and len(values) > _MENU_KEYS and leaf_keypad(leaf)[0] is None:
            found.append((leaf.pointer, f"a required question with {len(values)} choices has no keypad menu (a "
                                        f"menu holds {_MENU_KEYS}): if the voice AI misses it, the keypad can never "
                                        "rescue it and the response ends partial; split it into smaller "
                                        "questions, or make it optional"))
        fmt = leaf.schema.get("format")
        if isinstance(fmt, str) and fmt not in KNOWN_FORMATS:
            found.append((leaf.at("format"), f"format {fmt!r} is not a JSON Schema format: answers are not checked "
                                             f"against it (known: date, time, date-time, email, uuid, ...)"))
    return found


def _required_by(conditional: Conditional) -> set[str]:
    """Every field some branch of this conditional (or of those nested in it) can require."""
    names: set[str] = set()
    for branch in (conditional.then, conditional.otherwise):
        if branch is not None:
            names |= _branch_required(branch)
    return names


def _branch_required(branch: Branch) -> set[str]:
    wanted = {".".join((*branch.prefix, key)) for key in branch.required}
    names = {name for name in branch.names if any(name == w or name.startswith(f"{w}.") for w in wanted)}
    return names.union(*(_required_by(c) for c in branch.conditionals))
