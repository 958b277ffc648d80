"""A contact's own words in the opening texts: `{column}` placeholders in x-voice.greeting, x-disclosure and
x-dtmf.intro (plain or per locale) filled from a campaign contact's list columns (`name` is the contact's name).

One tokenizer serves the check and the substitution, in one regex pass: `{{` and `}}` are literal braces,
`{column}` names a value, anything else with a brace is a problem `forms check` reports. Values are never
evaluated (no str.format, no attribute or index access): they are cleaned (control characters out, whitespace
collapsed), capped, and escaped for SSML when the text is SSML; in plain text their angle brackets are dropped, so
a value can never turn the text into markup. A value the call does not have is dropped and the words around it
tidied ("Hello {name}, ..." -> "Hello, ..."), so a call without a contact (inbound, `survey-bot call`) says the
text without its placeholders. Values are callers' data: nothing here logs them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from survey_bot.forms.schema_walk import escape

__all__ = ["MAX_VALUE", "PLACES", "escape_braces", "fill", "names_in", "placeholder_names", "placeholder_problems",
           "placeholder_warnings", "spoken_values", "unfilled_placeholders"]

MAX_VALUE = 80  # characters of one value, once cleaned
# Where placeholders may be written: (form-level key, its key or None for the key itself).
PLACES: tuple[tuple[str, str | None], ...] = (("x-voice", "greeting"), ("x-disclosure", None), ("x-dtmf", "intro"))
# Said as written: a placeholder there is a mistake worth a warning (the voicemail text is a campaign option).
_LITERAL: tuple[tuple[str, str | None], ...] = (("x-dtmf", "closing"), ("x-voice", "gather_ended_speech"))

# `{{`, `}}`, a placeholder, or a brace that is neither (a problem: group "bad").
_NAME = r"[^\W\d][\w-]*"
_TOKEN = re.compile(rf"(?P<open>\{{\{{)|(?P<close>\}}\}})|\{{(?P<name>{_NAME})\}}|(?P<bad>\{{[^{{}}]*\}}?|\}})")
_GONE = "\x00"  # where a missing value was, until the words around it are tidied
_RUNS = re.compile(r"\x00(?:[ \t]*\x00)+")
_LISTED = re.compile(r"[ \t]*[,;:][ \t]*\x00(?=[ \t]*(?:[,.;:!?)]|$))")
_BEFORE_MARK = re.compile(r"[ \t]*\x00[ \t]*(?=[,.;:!?)]|$)")
_AT_START = re.compile(r"^(\s*(?:<speak[^>]*>\s*)?)\x00[\s,;:]*")
_AFTER_SPACE = re.compile(r"(?<=[\s(])\x00[ \t]*")
_SPACE = re.compile(r"\s+")


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with its placeholders replaced by `values` (cleaned, capped, SSML-escaped in SSML) and `{{`/`}}` by
    braces; a missing or empty value is dropped and the words around it tidied. A malformed brace (only in a text
    no forms check has seen) is left as written."""
    ssml = text.lstrip().startswith("<speak")
    missing = False

    def one(match: re.Match[str]) -> str:
        nonlocal missing
        if match["open"] or match["close"]:
            return match[0][0]
        if match["bad"]:
            return match[0]
        value = _clean(str(values.get(match["name"]) or ""))
        if not value:
            missing = True
            return _GONE
        return _ssml_escape(value) if ssml else value.replace("<", "").replace(">", "")

    filled = _TOKEN.sub(one, text)
    return _tidy(filled) if missing else filled


def _clean(value: str) -> str:
    """A value fit to be said: control and format characters out, whitespace collapsed, at most MAX_VALUE."""
    kept = "".join(" " if c.isspace() else c for c in value if unicodedata.category(c) not in ("Cc", "Cf")
                   or c.isspace())
    return _SPACE.sub(" ", kept).strip()[:MAX_VALUE].rstrip()


def _ssml_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;") \
        .replace("'", "&apos;")


def _tidy(text: str) -> str:
    """Take the marks of missing values out with the space or comma they leave behind."""
    text = _RUNS.sub(_GONE, text)
    text = _AT_START.sub(r"\1", text)
    text = _RUNS.sub(_GONE, _LISTED.sub(_GONE, text))
    text = _BEFORE_MARK.sub("", text)
    text = _AFTER_SPACE.sub("", text)
    return text.replace(_GONE, "")


def escape_braces(text: str) -> str:
    """A text survey-bot wrote (a default greeting or intro) as a placeholder text that says it as it is."""
    return text.replace("{", "{{").replace("}", "}}")


def names_in(text: str) -> set[str]:
    """The placeholder names a text uses."""
    return {m["name"] for m in _TOKEN.finditer(text) if m["name"]}


def _texts(document: Mapping[str, Any], places: tuple[tuple[str, str | None], ...] = PLACES
           ) -> Iterator[tuple[str, str]]:
    """Every text at `places` (those that take placeholders), with its JSON pointer: plain, or one per locale."""
    for owner, key in places:
        holder = document.get(owner) if key else document
        value = holder.get(key or owner) if isinstance(holder, Mapping) else None
        at = f"/{owner}" + (f"/{key}" if key else "")
        if isinstance(value, str):
            yield at, value
        elif isinstance(value, Mapping):
            yield from ((f"{at}/{escape(str(locale))}", text) for locale, text in value.items()
                        if isinstance(text, str))


def placeholder_names(document: Mapping[str, Any]) -> frozenset[str]:
    """Every placeholder name the form's texts use, in any locale (what a campaign call carries of a contact)."""
    return frozenset(name for _, text in _texts(document) for name in names_in(text))


def unfilled_placeholders(document: Mapping[str, Any], columns: Iterable[str]) -> list[str]:
    """The placeholders the form's texts name that a contact list with `columns` can never fill (its calls leave
    them out): worth a word when the list is imported, since a misspelt column is otherwise silent."""
    return sorted(placeholder_names(document) - set(columns))


def placeholder_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    """A brace that is neither `{{`, `}}` nor `{column}`, with the text's pointer."""
    found = []
    for at, text in _texts(document):
        for match in _TOKEN.finditer(text):
            if match["bad"]:
                found.append((at, _problem(match["bad"])))
    return found


def placeholder_warnings(document: dict[str, Any]) -> list[tuple[str, str]]:
    """A `{column}` in a text that takes none (the keypad closing, the AI's last words): said as written."""
    return [(at, f"{', '.join(sorted(names))}: only x-voice.greeting, x-disclosure and x-dtmf.intro take "
                 "placeholders; here the braces are said as written")
            for at, text in _texts(document, _LITERAL) if (names := ["{" + n + "}" for n in names_in(text)])]


def _problem(bad: str) -> str:
    if bad == "}":
        return "a '}' with no '{' before it: write '}}' for a brace to be said"
    if not bad.endswith("}"):
        return f"{bad[:30]!r} opens a placeholder that is not closed: write '{{{{' for a brace to be said"
    inner = bad[1:-1]
    if re.fullmatch(r"[\w.\[\]()-]+", inner) and re.search(r"[.\[(]", inner):
        return (f"{bad!r}: placeholders are never evaluated (no attributes, indexes or calls); "
                "name a contact list column, like {name}")
    return (f"{bad!r} is not a placeholder: name a contact list column (a letter or _, then letters, digits, _ or -), "
            "like {name}; write '{{' and '}}' for braces to be said")


def spoken_values(name: str | None, variables: Mapping[str, Any], wanted: frozenset[str]) -> dict[str, str]:
    """The values a contact gives the placeholders `wanted` (its list columns, `name` its name), cleaned and capped:
    what a campaign call carries, and no more of the contact's data."""
    found = {**{str(k): v for k, v in variables.items()}, **({"name": name} if name else {})}
    values = {key: _clean(str(found[key])) for key in sorted(wanted) if found.get(key) not in (None, "")}
    return {key: value for key, value in values.items() if value}
