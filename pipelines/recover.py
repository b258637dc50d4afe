"""Tidy after crashed runs: delete files no commit references; name days left unsealed.

    python -m pipelines.recover --warehouse DIR [--date YYYY-MM-DD]

A curation run killed before its commit leaves Parquet files that no Delta commit references;
a run killed between its table commits leaves a day whose ``stats`` marker is behind (readers
show the previous version of that day, see docs/warehouse.md). The next curation run of the day
does both clean-ups itself; this command only deletes the unreferenced files of every day (or
one) under that day's lock and lists the unsealed days, to be curated again.
"""

from __future__ import annotations

import argparse
import sys

from pipelines.curate import OUTPUT_TABLES
from warehouse import days, partitions, tables, umask


def unsealed_days(wh: str) -> list[str]:
    """Days some table has a newer curation commit of than ``stats`` (a run killed mid-commit)."""
    marker = partitions.marker_of(wh)
    return sorted({day for t in OUTPUT_TABLES
                   for day in partitions.read_plan(wh, t, marker=marker).pinned})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.recover", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--date", default=None, help="only this day, YYYY-MM-DD")
    args = parser.parse_args(argv)
    try:
        day = days.parse_day(args.date) if args.date else None
        umask.restrict_umask()
        wh = args.warehouse.rstrip("/")
        every = sorted({d for t in OUTPUT_TABLES for d in tables.files_by_day(wh, t)}
                       | {d for t in OUTPUT_TABLES for d in _untracked_days(wh, t)})
        removed = 0
        for each in [day] if day else every:
            with partitions.DayLock(wh, each, "recover"):
                removed += partitions.clean_day(wh, each, OUTPUT_TABLES)
        unsealed = unsealed_days(wh)
    except (days.BadDay, partitions.DayLocked, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"deleted {removed} uncommitted file(s)")
    for each in unsealed:
        print(f"dt={each}: a run died between its table commits; readers show the previous "
              f"version of that day until it is curated again")
    return 0


def _untracked_days(wh: str, table: str) -> set[str]:
    prefix = f"{tables.table_uri(wh, table)}/{tables.PARTITION}="
    return {p[len(prefix):].split("/", 1)[0] for p in tables.untracked_files(wh, table)
            if p.startswith(prefix)}


if __name__ == "__main__":
    sys.exit(main())
