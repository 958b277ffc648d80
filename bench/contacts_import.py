"""Benchmark a contact list import: 100,000 rows through `survey-bot campaign create`'s import, on SQLite (and on
PostgreSQL with --pg-dsn), with its wall time, rows per second and peak memory.

    .venv/bin/python bench/contacts_import.py                 # 100,000 rows on SQLite
    .venv/bin/python bench/contacts_import.py --rows 10000 --pg-dsn postgresql+asyncpg://postgres@127.0.0.1/bench

The list mixes what real lists hold: US and UK numbers in national and international forms, a name, two extra
columns, 1 % bad numbers and 1 % duplicates; every tenth number is put on the suppression list first. Target:
seconds, not minutes, with memory that does not grow with the file (the list is streamed).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from survey_bot.campaigns.settings import CampaignSettings
from survey_bot.storage.campaigns import import_campaign
from survey_bot.storage.engine import make_engine, make_sessionmaker
from survey_bot.storage.migrate import upgrade
from survey_bot.storage.suppressions import add_suppressions
from survey_bot.utc import now as utc_now


def write_list(path: Path, rows: int) -> None:
    """A list of `rows` rows (numbers +1 212 2xx xxxx and +44 20 7xxx xxxx)."""
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,name,plan,store\n")
        for i in range(rows):
            if i % 100 == 1:
                out.write(f"not-a-number-{i},Bad {i},gold,{i % 17}\n")
            elif i % 100 == 3:  # the number of row i - 3 (even: a +1 212 number), written internationally
                out.write(f"+1 212 {200 + (i - 3) // 10000:03d} {(i - 3) % 10000:04d},Dup {i},gold,{i % 17}\n")
            elif i % 2:
                out.write(f"+44 20 7{i % 1000:03d} {i // 1000:04d},Name {i},silver,{i % 17}\n")
            else:
                out.write(f"(212) {200 + i // 10000:03d}-{i % 10000:04d},Name {i},gold,{i % 17}\n")


async def run(url: str, path: Path, rows: int) -> None:
    await upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await add_suppressions(session, [f"+1212{200 + i // 10000:03d}{i % 10000:04d}" for i in range(0, rows, 20)],
                               "manual", "bench", utc_now())
    started = time.perf_counter()
    with path.open("rb") as raw:
        async with sessions() as session, session.begin():
            summary = await import_campaign(session, raw, form_id="bench", name="bench",
                                            settings=CampaignSettings(default_region="US"), caller_id=None,
                                            now=utc_now())
    took = time.perf_counter() - started
    await engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{url.split(':')[0]}: {rows} rows in {took:.2f} s ({rows / took:,.0f} rows/s): {summary.imported} imported, "
          f"{summary.rejected} rejected, {summary.duplicates} duplicates, {summary.suppressed} suppressed; "
          f"peak RSS {peak:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg-dsn", help="also on this (empty) PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.csv"
        write_list(path, args.rows)
        asyncio.run(run(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", path, args.rows))
        if args.pg_dsn:
            asyncio.run(run(args.pg_dsn, path, args.rows))


if __name__ == "__main__":
    main()
