"""What a spreadsheet could run as a formula when it opens an exported CSV, written without the exporter's code.

A spreadsheet reads the file with `"` as the quote but not always with `,` as the separator: Excel uses the
locale's list separator (`;` in much of Europe), and import dialogs offer `|` and tab. A cell whose text starts
with `=` `+` `-` `@` or NUL (once any leading tab, CR or LF is dropped) is a formula, unless it is only numbers
joined by `;` `|` tab or line breaks (nothing to run), perhaps followed by a `"`: a number right before a string
literal does not parse.
"""

from __future__ import annotations

import csv
import io
import re

__all__ = ["DELIMITERS", "could_run", "formula_cells"]

DELIMITERS = (",", ";", "|", "\t")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def could_run(cell: str) -> bool:
    """Whether a spreadsheet could evaluate this cell: a formula start, and not just numbers."""
    body = cell.lstrip("\t\r\n")
    if body[:1] not in ("=", "+", "-", "@", "\0"):
        return False
    numbers = body.split('"', 1)[0]  # `+3",next` (a number, then the quote closing its cell) cannot parse
    return not all(_NUMBER.fullmatch(piece) for piece in re.split(r"[;|\t\r\n]", numbers))


def formula_cells(text: str) -> list[tuple[str, str]]:
    """(delimiter, cell) for every cell that reading `text` with any of `DELIMITERS` would give as a formula."""
    found = []
    for delimiter in DELIMITERS:
        for record in csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=delimiter):
            found += [(delimiter, cell) for cell in record if could_run(cell)]
    return found
