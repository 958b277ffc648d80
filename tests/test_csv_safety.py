"""Cells made safe for spreadsheets: a formula at the start of a cell, or after a `;` `|` tab or line break
where a spreadsheet may split the cell, gets a `'`; numbers and `;`-joined arrays of numbers stay as they are;
a cell holding any of those separators is quoted. The export through a database is in test_export.py."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spreadsheet_view import could_run, formula_cells

from survey_bot.reports.csv_safety import csv_record, neutralise, neutralise_all

CMD = "=cmd|' /C calc'!A0"

NEUTRALISED = [  # (cell, what the export writes)
    ("ok;" + CMD, "ok;'" + CMD),  # the finding: Excel with `;` as its list separator splits, then runs `=cmd`
    ("a|=1+1", "a|'=1+1"),
    ("x\t@SUM(A1)", "x\t'@SUM(A1)"),
    ("line\n=1+1", "line\n'=1+1"),
    ("line\r\n=1+1", "line\r\n'=1+1"),
    ("line\r-1+2", "line\r'-1+2"),
    ("first line\r\n\t-1+2", "first line\r\n\t'-1+2"),  # a tab after the line break: the piece is after both
    ("=1;=2", "'=1;'=2"),  # one `'` at the start protects only the first piece once the cell is split
    (CMD, "'=cmd|' /C calc'!A0"),
    ("\t=1", "'\t'=1"),
    ('a;"=1+1', "a;'\"=1+1"),  # `;""=1+1` would read back as `=1+1` in a `;` spreadsheet
    ("a;\0x", "a;'\0x"),
    ("-5;hello", "'-5;hello"),  # not only numbers: the start rule as before
    ("a;-", "a;'-"),
    ("a;+44 20 7946 0958", "a;'+44 20 7946 0958"),  # spaces: not an E.164 number
    ("-5;=1", "'-5;'=1"),
    ("\r-1;=", "'\r'-1;'="),  # split at the line break alone, `-1;=` would be one cell
]
# Harmless as they are (`-5` alone is no formula), but a number stays only in an array of numbers: judging
# each piece alone would miss `\r-1;=`, which a spreadsheet splitting only at the line break reads as `-1;=`.
CAUTIOUS = [("x;-5", "x;'-5"), ("hello;+15551230001", "hello;'+15551230001")]
UNCHANGED = [
    "-5;+3;4.5",  # an array of numbers
    "+15551230001;+15551230002",  # an array of E.164 numbers
    "-0.5;1e+21;.5",
    "1;2|3\t4",
    "-1\r\n-2",  # CRLF is one line break
    "hello;world",
    "a;b|c\td\ne",
    "a;",
    ";;",
    "a; =1",  # a leading space: not a formula in any spreadsheet this rule is about
    "a;'=1",
    "a;b=1",
    "-5", "+15551230001", "hello", "",
    "Second line\r\n\tend",  # no formula after the separators
]


@pytest.mark.parametrize(("cell", "expected"), NEUTRALISED + CAUTIOUS)
def test_a_formula_after_a_separator_is_neutralised(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected
    assert neutralise_all(["id", cell, "z"]) == ["id", expected, "z"]


@pytest.mark.parametrize("cell", UNCHANGED)
def test_numbers_and_text_without_formulas_stay_as_they_are(cell: str) -> None:
    assert neutralise(cell) == cell
    assert neutralise_all(["id", cell, "z"]) == ["id", cell, "z"]


@pytest.mark.parametrize(("cell", "written"), [
    ("hello;world", '"hello;world"'),
    ("-5;+3;4.5", '"-5;+3;4.5"'),
    ("+15551230001;+15551230002", '"+15551230001;+15551230002"'),
    ("a|b", '"a|b"'),
    ("a\tb", '"a\tb"'),
    ("a\nb", '"a\nb"'),
    ('say "hi"', '"say ""hi"""'),
    ("a,b", '"a,b"'),
    ("plain", "plain"),
])
def test_a_cell_with_a_separator_is_quoted(cell: str, written: str) -> None:
    assert csv_record(["id", cell, "z"], "\n") == f"id,{written},z\n"
    assert csv_record([cell], "\r\n") == f"{written}\r\n"


@pytest.mark.parametrize(("cell", "expected"), NEUTRALISED)
def test_no_spreadsheet_finds_a_formula_in_a_neutralised_record(cell: str, expected: str) -> None:
    assert formula_cells(csv_record(["id", cell, "z"], "\n"))  # as it came: some reading runs it
    assert formula_cells(csv_record(["id", neutralise(cell), "z"], "\n")) == []


TRICKY = st.text(st.sampled_from(list("=+-@\t\r\n\0;|\",' a1.5e")), max_size=12)


@given(st.lists(st.lists(TRICKY, min_size=1, max_size=4), min_size=1, max_size=3))
def test_any_text_is_safe_once_neutralised(records: list[list[str]]) -> None:
    text = "".join(csv_record(["id", *neutralise_all(cells)], "\n") for cells in records)
    assert formula_cells(text) == []


@given(TRICKY)
def test_neutralising_only_adds_quotes_and_only_where_a_formula_may_start(cell: str) -> None:
    safe = neutralise(cell)
    assert safe.replace("'", "") == cell.replace("'", "")
    if cell[:1] not in "=+-@\t\r\n\0" and not re.search(r'[;|\t\r\n]"*[=+\-@\0]', cell):
        assert safe == cell


@given(st.lists(st.from_regex(r"[+-]?[0-9]{1,6}(\.[0-9]{1,3})?", fullmatch=True), min_size=1, max_size=5))
def test_an_array_of_numbers_stays_as_it_is(numbers: list[str]) -> None:
    cell = ";".join(numbers)
    assert neutralise(cell) == cell and neutralise_all([cell]) == [cell]


@given(st.lists(TRICKY, max_size=6))
def test_a_record_is_neutralised_as_its_cells_are(cells: list[str]) -> None:
    assert neutralise_all(cells) == [neutralise(cell) for cell in cells]


def test_the_spreadsheet_view_tells_formulas_from_numbers() -> None:
    assert all(map(could_run, ["=1+1", "\t@SUM(A1)", "\r\n-1+2", "+44 20 7946 0958", "-5;x", "\0", "-"]))
    assert not any(map(could_run, ["-5", "+15551230001", "-5;+3;4.5", '+3",z', "'=1", " =1", "a=1", ""]))
    assert formula_cells('id,"a;""=1",z\n') == [(";", '=1",z')]  # the quote doubled, then dropped by the reader
