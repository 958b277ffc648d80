"""`survey-bot export FORM_ID`: a form's responses as CSV, NDJSON or FHIR QuestionnaireResponses (NDJSON), to stdout
or a file (with progress)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from survey_bot.cli.common import Commands, os_actor
from survey_bot.cli.problems import check_writable
from survey_bot.errors import ConfigError
from survey_bot.forms.model import FormCatalog
from survey_bot.reports.export import (
    ExportPlan,
    ResponseFilter,
    UnknownFormError,
    audit_sensitive_export,
    count_responses,
    csv_chunks,
    ndjson_chunks,
    plan_export,
)
from survey_bot.reports.fhir_export import audit_fhir_export, fhir_chunks, fhir_selection
from survey_bot.runtime import load_form_file, running
from survey_bot.storage.models import FormVersion
from survey_bot.utc import typed_utc
from survey_bot.vocabulary import STATUSES

__all__ = ["add_parser", "run_export"]

RAW_WARNING = ("survey-bot: --raw: formula-like cells (starting with = + - @, or with one after ; | tab or a line "
               "break) are NOT neutralised; a spreadsheet may run them as formulas. Open this file only in tools "
               "that treat every cell as text.")


def add_parser(commands: Commands) -> None:
    """Register `export`."""
    export = commands.add_parser("export", help="export a form's responses as CSV, NDJSON or FHIR",
                                 description=__doc__)
    export.add_argument("form_id", nargs="?", help="the form whose responses to export (its id: the file name "
                                                   "without .json)")
    export.add_argument("--format", choices=["csv", "ndjson", "fhir"], default="csv",
                        help="fhir: one FHIR R4 QuestionnaireResponse per line (failed responses left out) "
                             "(default: %(default)s)")
    export.add_argument("--out", metavar="PATH", help="write to PATH (default: stdout; with --out a progress bar shows "
                                                      "on a terminal); the database is $SURVEY_BOT_DATABASE_URL")
    export.add_argument("--status", nargs="+", action="extend", metavar="S", default=[],
                        help=f"only responses with these statuses ({', '.join(STATUSES)}), separated by spaces or "
                             "commas; a form id after them is the form's (default: every status)")
    export.add_argument("--since", type=_timestamp, metavar="ISO",
                        help="only responses started at or after this date or time (UTC unless zoned; default: all)")
    export.add_argument("--until", type=_timestamp, metavar="ISO",
                        help="only responses started before this date or time (UTC unless zoned; default: all)")
    export.add_argument("--labels", action="store_true",
                        help="choice fields (enum, oneOf const) as their labels (x-labels, oneOf titles, else the "
                             "value humanised) in the form version each response used (default: off: values)")
    export.add_argument("--include-sensitive", action="store_true",
                        help="include the answers of x-sensitive fields, decrypted with SURVEY_BOT_DATA_KEY "
                             "(default: left out: empty CSV cells, no NDJSON key); recorded in the audit log")
    export.add_argument("--with-sources", action="store_true",
                        help="CSV: add a <field>.source column per field (default: off)")
    export.add_argument("--excel", action="store_true", help="CSV: UTF-8 BOM and CRLF line ends for Excel "
                                                             "(default: off)")
    export.add_argument("--raw", action="store_true", help="CSV: do not neutralise formula-like cells "
                                                           "(default: off; unsafe in spreadsheets)")
    export.set_defaults(handler=_export)


def _statuses_and_form(words: list[str], form_id: str | None) -> tuple[tuple[str, ...], str]:
    """The statuses asked for and the form id, which may follow them (`--status completed partial my_form`)."""
    names = [name.strip() for word in words for name in word.split(",") if name.strip()]
    if form_id is None and names and names[-1] not in STATUSES:
        form_id = names.pop()
    unknown = [name for name in names if name not in STATUSES]
    if unknown:
        raise ConfigError(f"--status: {', '.join(map(repr, unknown))} is not a status ({', '.join(STATUSES)})")
    if form_id is None:
        raise ConfigError("export: give the FORM_ID of the responses to export")
    return tuple(names), form_id


def _timestamp(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or timestamp") from None
    try:
        return typed_utc(parsed)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _export(args: argparse.Namespace) -> int:
    if args.format != "csv" and (args.excel or args.raw or args.with_sources):
        print("survey-bot: --excel, --raw and --with-sources apply to --format csv only", file=sys.stderr)
        return 2
    if args.format == "fhir" and args.labels:
        print("survey-bot: --labels does not apply to --format fhir (a choice's code and display are both "
              "written)", file=sys.stderr)
        return 2
    if args.out is not None:
        check_writable(Path(args.out), "--out")
    if args.raw:
        print(RAW_WARNING, file=sys.stderr)
    statuses, form_id = _statuses_and_form(args.status, args.form_id)
    selection = ResponseFilter(form_id, statuses, args.since, args.until)
    try:
        return asyncio.run(run_export(args, selection))
    except BrokenPipeError:  # `survey-bot export ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1


async def run_export(args: argparse.Namespace, selection: ResponseFilter) -> int:
    """Check the database and the form, then stream the export to stdout or `args.out`."""
    async with running(catalog=FormCatalog({})) as runtime:  # only the exported form's file is read
        engine, folder = runtime.engine, runtime.settings.forms_path
        async with engine.connect() as connection:
            try:
                plan = await plan_export(connection, selection, lambda: _document(folder, selection.form_id))
            except UnknownFormError as exc:
                stored = await connection.scalars(select(FormVersion.form_id).distinct())
                known = ", ".join(sorted({*(path.stem for path in folder.glob("*.json")), *stored}))
                raise ConfigError(f"{exc} (known forms: {known or 'none'})") from None
        if args.include_sensitive:
            plan = dataclasses.replace(plan, include_sensitive=True)
            if args.format == "fhir":
                await audit_fhir_export(engine, selection, os_actor())
            else:
                await audit_sensitive_export(engine, selection, os_actor(), args.format)
        if args.out is None:
            await _write(args, engine, plan, selection, sys.stdout.buffer, _ProgressBar(None, 0))
            return 0
        # Opened only once the form is known. Blocking writes are fine: this loop runs nothing else.
        with open(args.out, "wb") as out:  # noqa: ASYNC230
            terminal = sys.stderr if sys.stderr.isatty() else None
            counted = fhir_selection(selection) if args.format == "fhir" else selection
            total = await count_responses(engine, counted) if terminal is not None and counted else 0
            await _write(args, engine, plan, selection, out, _ProgressBar(terminal, total))
    return 0


def _document(folder: Path, form_id: str) -> Mapping[str, Any] | None:
    """Today's checked form document from the forms folder, if it has one by that id."""
    path = folder / f"{form_id}.json"
    return load_form_file(path).document if path.is_file() else None


async def _write(args: argparse.Namespace, engine: AsyncEngine, plan: ExportPlan, selection: ResponseFilter,
                 out: BinaryIO, bar: _ProgressBar) -> None:
    chunks: AsyncIterator[str]
    if args.format == "fhir":
        chunks = fhir_chunks(engine, plan, selection, progress=bar.advance)
    elif args.format == "ndjson":
        chunks = ndjson_chunks(engine, plan, selection, labels=args.labels, progress=bar.advance)
    else:
        chunks = csv_chunks(engine, plan, selection, with_sources=args.with_sources, excel=args.excel,
                            raw=args.raw, labels=args.labels, progress=bar.advance)
    async for chunk in chunks:
        out.write(chunk.encode("utf-8"))
    out.flush()
    bar.finish()


class _ProgressBar:
    """`[#####.....] rows done / total` on a terminal; does nothing without one."""

    WIDTH = 30

    def __init__(self, stream: TextIO | None, total: int) -> None:
        self.stream, self.total, self.done = stream, total, 0

    def advance(self, rows: int) -> None:
        self.done += rows
        if self.stream is None:
            return
        # Calls that end while the export runs can take `done` past the count taken at the start.
        filled = min(self.WIDTH, self.WIDTH * self.done // self.total) if self.total else self.WIDTH
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {self.done:,} / {self.total:,} rows")
        self.stream.flush()

    def finish(self) -> None:
        if self.stream is not None:
            self.advance(0)
            self.stream.write("\n")
            self.stream.flush()
