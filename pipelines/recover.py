"""Finish commits that a crash interrupted, so readers may read again.

    python -m pipelines.recover --warehouse DIR [--date YYYY-MM-DD]

A curation or erasure run killed inside its commit leaves a journal; readers (``inspect``,
``curation.datasets``) refuse the warehouse until it is rolled forward. Rerunning curation of
that day does this too; this command does only this.
"""

from __future__ import annotations

import argparse
import sys

from warehouse import days, journal, partitions, umask


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.recover", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--date", default=None, help="only this day's commits, YYYY-MM-DD")
    args = parser.parse_args(argv)
    try:
        day = days.parse_day(args.date) if args.date else None
        umask.restrict_umask()
        wh = args.warehouse.rstrip("/")
        pending = [day] if day else sorted({e["date"] for e in journal.unfinished_commits(wh)})
        rolled = []
        for each in pending:
            with partitions.DayLock(wh, each, "recover"):
                rolled += partitions.recover(wh, each)
    except (days.BadDay, partitions.DayLocked, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"rolled forward {len(rolled)} commit(s)" + (f": {', '.join(rolled)}" if rolled else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
