"""`survey-bot forms check` (validate form files, every problem with its JSON pointer) and `forms import-fhir` (a
FHIR Questionnaire as a form file: the mapping is forms.fhir_import's; this writes it, lists the notes, checks it)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from survey_bot.cli.common import Commands, env_default
from survey_bot.cli.problems import check_writable
from survey_bot.config import Settings
from survey_bot.errors import ConfigError

__all__ = ["add_parser"]


def add_parser(commands: Commands) -> None:
    """Register `forms check`."""
    forms = commands.add_parser("forms", help="form files")
    forms_commands = forms.add_subparsers(dest="forms_command", required=True, metavar="COMMAND")
    check = forms_commands.add_parser(
        "check", help="validate forms; exit 1 on problems",
        description="Validate form files as the server would: JSON syntax, the JSON Schema 2020-12 meta-schema, the "
                    "x- vocabulary, keypad mappings, $refs, and the languages and voices Telnyx accepts.")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="form files" + env_default("SURVEY_BOT_FORMS_DIR", "./forms or the bundled examples")
                       .replace(" (default:", " (default: every *.json in"))
    check.add_argument("--strict", action="store_true",
                       help="fail (exit 1) on warnings too, not only on errors")
    check.set_defaults(handler=_forms_check)
    fhir = forms_commands.add_parser(
        "import-fhir", help="make a form of an HL7 FHIR R4 Questionnaire",
        description="Write a form made of a FHIR R4 Questionnaire (JSON): items become fields (linkIds kept as "
                    "x-fhir-linkId), groups nested objects, answerOptions choices, enableWhen skip logic. Each item "
                    "that cannot be mapped is listed with its linkId; the form written passes `forms check`.")
    fhir.add_argument("questionnaire", type=Path, metavar="QUESTIONNAIRE.json", help="the Questionnaire resource")
    fhir.add_argument("--out", type=Path, metavar="PATH",
                      help="the form file to write (replaced if it exists; the form id is its name without .json) "
                           "(default: <forms folder>/<ID>.json, ID from the Questionnaire's name or id, never "
                           "replacing a file there)")
    fhir.set_defaults(handler=_forms_import_fhir)


def _forms_check(args: argparse.Namespace) -> int:
    from survey_bot.runtime import check_form_files

    paths: list[Path] = list(args.paths)
    if not paths:
        folder = Settings.load().forms_path
        if not folder.is_dir():
            raise ConfigError(f"the forms folder {folder} does not exist (set SURVEY_BOT_FORMS_DIR, or name files)")
        paths = sorted(folder.glob("*.json"))
        if not paths:
            print(f"survey-bot: no forms (*.json) in {folder}", file=sys.stderr)
            return 1
    problems = check_form_files(paths)
    for problem in problems:
        print(problem)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if errors or (warnings and args.strict):
        failing = errors + (warnings if args.strict else [])
        counts = f"{len(errors)} error(s)" + (f", {len(warnings)} warning(s)" if warnings else "")
        print(f"{counts} in {len({p.file for p in failing})} form(s)", file=sys.stderr)
        return 1
    noted = f" ({len(warnings)} warning(s); --strict fails on them)" if warnings else ""
    print(f"{len(paths)} form(s) OK: " + ", ".join(p.stem for p in paths) + noted)
    return 0


def _forms_import_fhir(args: argparse.Namespace) -> int:
    from survey_bot.forms.fhir_import import QuestionnaireError, import_questionnaire
    from survey_bot.runtime import check_form_files

    source: Path = args.questionnaire
    try:
        resource = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read the file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    try:
        imported = import_questionnaire(resource)
    except QuestionnaireError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    out: Path = args.out if args.out is not None else Settings.load().forms_path / f"{imported.form_id}.json"
    if args.out is None and out.exists():
        raise ConfigError(f"{out} exists already; name the form file to write with --out")
    check_writable(out, "--out")
    for note in imported.notes:
        print(f"linkId {note.link_id!r}: {note.message}")
    out.write_text(json.dumps(imported.document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    problems = check_form_files([out])
    for problem in problems:
        print(problem)
    if any(problem.severity == "error" for problem in problems):
        return 1
    print(f"wrote {out} (form {out.stem}); {len(imported.notes)} note(s) on what the form does not hold")
    return 0
