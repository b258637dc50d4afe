"""What the Delta Lake commit costs a curation run: commit, clean-up and readers' plan.

    python bench/delta_commit.py [--interactions 10000] [--history-days 30] [--repeats 3]

Builds a warehouse of ``--history-days`` committed days (``bench/inspect_bench.py``'s generator,
``--interactions`` per day), then, for one more day of the same size, copies its files as an
attempt's files (what the Beam workers leave in the table folders) and times, ``--repeats``
times on fresh copies:

* ``commit_day``: the six tables' Delta transactions (``stats`` last), statistics included;
* ``clean_day``: the orphan scan and vacuum the job runs before and after;
* ``read_plan``: what every reader does first (all six tables, the marker check);
* ``rerun commit``: the same attempt committed again (the idempotency check, adds nothing).

Prints a table and writes ``bench/out/delta_commit.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import inspect_bench  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from pipelines.curate import OUTPUT_TABLES  # noqa: E402
from warehouse import partitions, schemas, tables  # noqa: E402

OUT = REPO / "bench" / "out" / "delta_commit.json"
FIRST = date(2026, 8, 1)


def build(root: Path, per_day: int, history: int) -> str:
    """``history`` days committed as the job commits them, and the next day's files staged."""
    for index in range(history + 1):
        day = (FIRST + timedelta(days=index)).isoformat()
        inspect_bench.write_day(root.parent / "new-day", day, index * per_day, per_day, index, ["v1"])
        if index < history:
            attempt = partitions.new_attempt(f"{day}-{index:012x}")
            stage_attempt(root, day, attempt)
            partitions.commit_day(str(root), day, "bench", attempt, OUTPUT_TABLES)
    return day


def stage_attempt(root: Path, day: str, attempt: str) -> None:
    staging = root.parent / "new-day"
    for table in OUTPUT_TABLES:
        source = staging / table / f"dt={day}" / "part-00000.parquet"
        target = Path(f"{partitions.attempt_prefix(str(root), table, day, attempt)}-00000-of-00001.parquet")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.exists():
            shutil.copy(source, target)
        else:  # a table the generator leaves empty: the job still writes (and commits) a file
            pq.write_table(schemas.TABLES[table].empty_table(), target)


def one_commit(wh: str, day: str, attempt: str) -> dict[str, float]:
    out = {}
    start = time.perf_counter()
    partitions.clean_day(wh, day, OUTPUT_TABLES)
    out["clean_day"] = time.perf_counter() - start
    start = time.perf_counter()
    partitions.commit_day(wh, day, "bench", attempt, OUTPUT_TABLES)
    out["commit_day"] = time.perf_counter() - start
    version = tables.open_table(wh, partitions.MARKER).transaction_version(partitions.app_id(day))
    start = time.perf_counter()
    again = partitions.commit_attempt(wh, day, "bench", attempt, OUTPUT_TABLES, version)
    out["rerun commit"] = time.perf_counter() - start
    assert set(again.values()) == {None}, again  # the retried commit added nothing
    start = time.perf_counter()
    for table in OUTPUT_TABLES:
        partitions.read_plan(wh, table)
    out["read_plan"] = time.perf_counter() - start
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=10_000, help="per day")
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="delta_commit_"))
    timings: dict[str, list[float]] = {"commit_day": [], "clean_day": [], "read_plan": [],
                                        "rerun commit": []}
    try:
        base = scratch / "base" / "wh"
        base.parent.mkdir()
        day = build(base, args.interactions, args.history_days)
        for repeat in range(args.repeats):
            wh = scratch / f"run{repeat}" / "wh"
            shutil.copytree(base, wh)
            shutil.copytree(base.parent / "new-day", wh.parent / "new-day")
            attempt = partitions.new_attempt(f"{day}-{repeat:012x}")
            stage_attempt(wh, day, attempt)
            for step, seconds in one_commit(str(wh), day, attempt).items():
                timings[step].append(seconds)
            shutil.rmtree(wh.parent)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = [{"step": k, "median_s": statistics.median(v), "min_s": min(v), "max_s": max(v)}
            for k, v in timings.items()]
    print(f"{args.interactions:,} interactions per day, {args.history_days} committed days before, "
          f"{args.repeats} repeats, {os.cpu_count()} CPUs")
    print(f"{'step':<14} {'median s':>9} {'min s':>7} {'max s':>7}")
    for row in rows:
        print(f"{row['step']:<14} {row['median_s']:>9.3f} {row['min_s']:>7.3f} {row['max_s']:>7.3f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"interactions_per_day": args.interactions,
                               "history_days": args.history_days, "repeats": args.repeats,
                               "results": rows}, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
