"""CSV cells and records: answers as text, formula-like cells neutralised (OWASP), RFC 4180 quoting."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from survey_bot.utc import as_utc

__all__ = ["FORMULA_TRIGGERS", "cell_text", "csv_record", "export_time", "neutralise", "neutralise_all"]

# A spreadsheet treats a cell starting with any of these as a formula (or strips it and then does).
FORMULA_TRIGGERS = frozenset("=+-@\t\r\n\0")
# Values that start with a trigger yet cannot be formulas, so they keep their exact text.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def neutralise(cell: str) -> str:
    """Prefix `'` to a cell a spreadsheet would evaluate; plain numbers and E.164 numbers stay as they are."""
    if not cell or cell[0] not in FORMULA_TRIGGERS:
        return cell
    digits = cell[1:]
    if cell[0] in "+-" and digits.isascii() and digits.isdigit():  # E.164, integers: the common case
        return cell
    if _PLAIN_NUMBER.fullmatch(cell):
        return cell
    return "'" + cell


def neutralise_all(cells: list[str]) -> list[str]:
    """Neutralise every cell of a record that needs it."""
    triggers = FORMULA_TRIGGERS
    return [neutralise(cell) if cell[:1] in triggers else cell for cell in cells]


def csv_record(cells: list[str], line_end: str) -> str:
    """One CSV record with RFC 4180 quoting: a cell is quoted (quotes doubled) only if it holds `,` `"` CR or LF.

    The same output as the csv module's QUOTE_MINIMAL for records of two or more cells, several times
    faster on the common record that needs no quoting at all (found with one join and four C scans).
    """
    line = ",".join(cells)
    if '"' in line or "\n" in line or "\r" in line or line.count(",") != len(cells) - 1:
        line = ",".join([_quoted(cell) for cell in cells])
    return line + line_end


def _quoted(cell: str) -> str:
    if '"' in cell or "," in cell or "\n" in cell or "\r" in cell:
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
