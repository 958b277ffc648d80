"""Benchmark the CSV export against SQLite's own CSV output on the same rows and columns.

    .venv/bin/python bench/export.py               # 1,000,000 appointment_intake responses
    .venv/bin/python bench/export.py --rows 10000  # a smoke run

Builds a migrated SQLite database (bulk insert with the stdlib driver), runs `survey-bot export` in a
subprocess (its wall time and peak RSS from wait4), then `sqlite3 -csv` with json_extract per answer column
as the floor, each --repeat times (best kept). Targets: within 3x of the floor, peak memory under 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from survey_bot.forms.load import load_form
from survey_bot.storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
FORM_ID = "appointment_intake"
FULL_SIZE = 1_000_000
TARGET_RATIO = 3.0
TARGET_PEAK_MB = 150.0
NAMES = ["Ana María López", "Zoë Brontë", "Nguyễn Văn An", "李小龍", "Jean-Luc Picard", "O'Brien Smith"]
REASONS = ["checkup", "follow-up", "new-symptoms", "vaccination"]


def sqlite_time(value: datetime) -> str:
    """How SQLAlchemy stores a DateTime on SQLite."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def build_database(path: Path, rows: int) -> None:
    """Create and fill the benchmark database."""
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    form = load_form(ROOT / "forms" / f"{FORM_ID}.json")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute(
        "INSERT INTO form_versions (form_id, version, document, created_at) VALUES (?, ?, ?, ?)",
        (FORM_ID, form.version, json.dumps(form.document), sqlite_time(start)),
    )
    version_id = connection.execute("SELECT id FROM form_versions").fetchone()[0]
    rng = random.Random(7)
    empty = "[]"

    def generate() -> object:
        for i in range(rows):
            started = start + timedelta(seconds=i * 3)
            answers = {
                "full_name": rng.choice(NAMES),
                "date_of_birth": f"19{rng.randint(40, 99)}-0{rng.randint(1, 9)}-1{i % 10}",
                "visit_reason": rng.choice(REASONS),
                "preferred_slot.date": f"2025-02-1{i % 10}",
                "preferred_slot.period": rng.choice(["morning", "afternoon"]),
                "callback_number": f"555{rng.randint(1000000, 9999999)}",
                "new_patient": rng.random() < 0.3,
            }
            sources = dict.fromkeys(answers, "ai")
            yield (str(uuid.UUID(int=rng.getrandbits(128))), FORM_ID, version_id, "incoming", "+15551234567",
                   "+15550100002", "completed", json.dumps(answers), json.dumps(sources), "{}", empty, empty, empty,
                   sqlite_time(started), sqlite_time(started + timedelta(minutes=2)), sqlite_time(started))

    connection.executemany(
        "INSERT INTO responses (id, form_id, form_version_id, direction, from_number, to_number, status, answers,"
        " sources, answer_times, message_history, keypad_attempts, failures, started_at, completed_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        generate(),
    )
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # both readers start from the same main file
    connection.close()


def run_export(database: Path, out: Path) -> tuple[float, float]:
    """Run `survey-bot export` in a subprocess; return (seconds, peak RSS in MB)."""
    env = {**os.environ, "SURVEY_BOT_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
           "SURVEY_BOT_FORMS_DIR": str(ROOT / "forms")}
    command = [str(Path(sys.executable).parent / "survey-bot"), "export", FORM_ID, "--out", str(out)]
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"export failed with exit code {process.returncode}")
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def run_sqlite3(database: Path, fields: list[str], out: Path) -> float:
    """The floor: the sqlite3 shell writing the same rows and columns as CSV."""
    binary = shutil.which("sqlite3")
    if binary is None:
        raise SystemExit("the sqlite3 shell is missing: apt-get install -y sqlite3")
    answers = ", ".join(f"json_extract(r.answers, '$.\"{name}\"')" for name in fields)
    query = (
        "SELECT r.id, r.form_id, v.version, r.status, r.direction, r.from_number, r.to_number, r.started_at,"
        f" r.completed_at, {answers} FROM responses r JOIN form_versions v ON v.id = r.form_version_id"
        f" WHERE r.form_id = '{FORM_ID}' ORDER BY r.started_at, r.id"
    )
    began = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run([binary, "-csv", "-header", str(database), query], stdout=sink, check=True)
    return time.perf_counter() - began


def warm_up(database: Path) -> None:
    """Read the database file once so neither contender pays for a cold page cache."""
    with database.open("rb") as source:
        while source.read(1 << 24):
            pass


def count_lines(path: Path) -> int:
    with path.open("rb") as source:
        return sum(1 for _ in source)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=FULL_SIZE)
    parser.add_argument("--keep", metavar="DIR", help="build (or reuse) the database in DIR and keep it")
    parser.add_argument("--repeat", type=int, default=3,
                        help="time each contender this many times, alternating, and keep the best (default 3)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="survey-bot-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / f"export-{args.rows}.db"
    try:
        began = time.perf_counter()
        if not database.exists():
            build_database(database, args.rows)
        fields = [field.name for field in load_form(ROOT / "forms" / f"{FORM_ID}.json").fields]
        print(f"database: {args.rows:,} responses in {time.perf_counter() - began:.1f} s ({database})")
        warm_up(database)
        ours, floor, peak_mb = float("inf"), float("inf"), 0.0
        for _ in range(args.repeat):  # best of N: other work on the machine only ever adds time
            seconds, peak = run_export(database, folder / "export.csv")
            ours, peak_mb = min(ours, seconds), max(peak_mb, peak)
            floor = min(floor, run_sqlite3(database, fields, folder / "sqlite3.csv"))
        for name, path in (("export", folder / "export.csv"), ("sqlite3", folder / "sqlite3.csv")):
            lines = count_lines(path) - 1
            if lines != args.rows:
                raise SystemExit(f"{name} wrote {lines:,} rows, expected {args.rows:,}")
        ratio = ours / floor
        print(f"best of {args.repeat}:")
        print(f"survey-bot export: {ours:6.2f} s  {args.rows / ours:12,.0f} rows/s  peak RSS {peak_mb:.1f} MB")
        print(f"sqlite3 -csv     : {floor:6.2f} s  {args.rows / floor:12,.0f} rows/s")
        print(f"ratio export/sqlite3: {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x); "
              f"peak {peak_mb:.1f} MB (target < {TARGET_PEAK_MB:.0f} MB)")
        if args.rows < FULL_SIZE:  # start-up (imports, at-head check) dominates a small run
            print(f"smoke run: targets are judged at {FULL_SIZE:,} rows")
            return 0
        met = ratio <= TARGET_RATIO and peak_mb < TARGET_PEAK_MB
        print("targets met" if met else "TARGETS MISSED")
        return 0 if met else 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
