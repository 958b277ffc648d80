"""`survey-bot forms check`: validate form files, every problem with its JSON pointer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from survey_bot.cli.common import Commands, env_default
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
