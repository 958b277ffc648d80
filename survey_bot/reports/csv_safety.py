"""CSV cells and records: answers as text, formula-like cells neutralised (OWASP), RFC 4180 quoting.

A spreadsheet does not always split the file at `,`: Excel uses the locale's list separator (`;` in much of
Europe) and import dialogs offer `|` and tab, and a reader that loses the quoting splits at line breaks. So a
cell is read as pieces split at `;` `|` tab or a line break, each of which may become a cell of its own: a
formula is neutralised at the start of the cell and at the start of every later piece, and a cell holding one
of those separators is quoted.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from survey_bot.utc import as_utc

__all__ = ["FORMULA_TRIGGERS", "cell_text", "csv_record", "export_time", "neutralise", "neutralise_all"]

# A spreadsheet treats a cell starting with any of these as a formula (or strips it and then does).
FORMULA_TRIGGERS = frozenset("=+-@\t\r\n\0")
# Where a spreadsheet may split a cell: list separators (`;` in many locales, `|`, tab) and line breaks (CRLF is
# one). Split keeping the separators: piece, separator, piece, ..., piece.
_PIECES = re.compile("(\r\n|[;|\t\r\n])")
# A piece is a formula if it starts with one of these (the other triggers are separators), even after `"`s:
# a cell's quotes are doubled, and a reader splitting at `;` reads `;""=1` as a cell `=1`.
_PIECE_TRIGGERS = frozenset("=+-@\0")
# Values that start with a trigger yet cannot be formulas, so they keep their exact text.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def neutralise(cell: str) -> str:
    """Make a cell safe to open in a spreadsheet: `'` before it if it starts with a formula trigger, and `'`
    after every separator that a formula follows. Numbers, E.164 numbers and cells made only of them (an array
    joined by `;`) stay as they are."""
    if cell[:1] in ("+", "-"):
        digits = cell[1:]
        if digits.isascii() and digits.isdigit():  # E.164, integers: the common case
            return cell
    if _has_separator(cell):
        return _neutralise_pieces(cell)
    return _neutralise_start(cell)


def neutralise_all(cells: list[str]) -> list[str]:
    """Neutralise every cell of a record that needs it (one scan for separators over the whole record: most
    records have none, and then only a cell starting with a trigger can need a `'`)."""
    if _has_separator("".join(cells)):
        return [neutralise(cell) for cell in cells]
    triggers = FORMULA_TRIGGERS
    return [_neutralise_start(cell) if cell[:1] in triggers else cell for cell in cells]


def _has_separator(text: str) -> bool:
    """Whether a spreadsheet may split `text` (five C scans: several times faster than a regex search)."""
    return ";" in text or "|" in text or "\t" in text or "\n" in text or "\r" in text


def _neutralise_start(cell: str) -> str:
    """A cell without separators: `'` before it if a spreadsheet would evaluate it."""
    if cell[:1] not in FORMULA_TRIGGERS or _is_number(cell):
        return cell
    return "'" + cell


def _neutralise_pieces(cell: str) -> str:
    """A cell with separators: `'` at its start and after each separator that a trigger follows, not just one at
    the start, because once a spreadsheet splits the cell a `'` at its start protects only the first piece
    (`ok;'=cmd|...`, not `'ok;=cmd|...`). Only an array of numbers (`-5;+3;4.5`) stays as it is: a number piece
    among text is neutralised too, since a spreadsheet splitting at `|` or a line break alone reads `-1;=2` as
    one cell."""
    parts = _PIECES.split(cell)  # piece, separator, piece, ..., piece
    if all(_is_number(piece) for piece in parts[::2]):
        return cell
    for i in range(2, len(parts), 2):
        if parts[i].lstrip('"')[:1] in _PIECE_TRIGGERS:
            parts[i] = "'" + parts[i]
    head = "'" if cell[0] in FORMULA_TRIGGERS else ""
    return head + "".join(parts)


def _is_number(text: str) -> bool:
    """A plain number (E.164 numbers are such numbers): it may start with `+` or `-` yet is no formula."""
    return _PLAIN_NUMBER.fullmatch(text) is not None


def csv_record(cells: list[str], line_end: str) -> str:
    """One CSV record with RFC 4180 quoting: a cell is quoted (quotes doubled) if it holds `,` `"` CR or LF, and
    also if it holds `;` `|` or tab, so that a spreadsheet splitting on those keeps it whole where it can.

    Found with one join, one count and C scans over the record: most records need no quoting at all.
    """
    line = ",".join(cells)
    if '"' in line or _has_separator(line) or line.count(",") != len(cells) - 1:
        line = ",".join([_quoted(cell) for cell in cells])
    return line + line_end


def _quoted(cell: str) -> str:
    if '"' in cell or "," in cell or _has_separator(cell):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def cell_text(value: Any) -> str:
    """Write an answer as CSV text: strings as they are, numbers as JSON writes them, arrays joined by `;`."""
    kind = type(value)
    if kind is str:
        text: str = value
        return text
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return json.dumps(value)
    if kind is list:
        return ";".join(cell_text(item) for item in value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def export_time(value: datetime | str | None) -> str:
    """ISO 8601 in UTC with a `Z`. Naive values are UTC already, and so is SQLite's stored text
    (`2024-05-01 10:00:00.000000`), which is rewritten without parsing when it has that exact shape."""
    if value is None:
        return ""
    if isinstance(value, str):
        if len(value) != 26 or value[10] != " ":
            return export_time(datetime.fromisoformat(value))
        if value.endswith(".000000"):  # as datetime.isoformat() writes whole seconds
            return f"{value[:10]}T{value[11:19]}Z"
        return f"{value[:10]}T{value[11:]}Z"
    value = as_utc(value)
    return value.isoformat().replace("+00:00", "Z")
