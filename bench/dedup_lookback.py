"""What the dedup look-back costs: the near-dedup stage's CPU per past ``dedup_index`` row.

    PYTHONPATH=$PWD .venv/bin/python bench/dedup_lookback.py [--today 1000] [--past 4000]
        [--data ../shared/data] [--out bench/out/dedup_lookback.json]

Each night ``DedupNear`` reads every ``dedup_index`` row of the last ``dedup_lookback_days``
(90) and sends each through the same band shuffle as today's records (32 band keys a row), so
its cost grows with the history kept, not with the day. This runs the real transforms
(``DedupExact`` then ``DedupNearDuplicates``) on the in-process FnApiRunner over ``--today``
real records (bench/dedup.py's speed set) with no past rows and with ``--past`` past rows (index
rows of other real records, as the job reads them back), and reports the CPU seconds per past
row, in the same process (CPU time: the box is shared). One run each, interleaved twice; the
lower CPU of each is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dedup import speed_records  # noqa: E402
from pipelines.dedup import DedupConfig, index_rows  # noqa: E402

OUT = REPO / "bench" / "out" / "dedup_lookback.json"


def run_once(records: list[dict], past_rows: list[dict], config: DedupConfig) -> float:
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from pipelines.dedup import DedupExact, DedupNearDuplicates

    cpu = time.process_time()
    with beam.Pipeline(runner=FnApiRunner()) as p:
        past = p | "Past" >> beam.Create(past_rows or [None]) | beam.Filter(bool)
        exact = p | "Today" >> beam.Create(records) | DedupExact(config)
        near = exact["kept"] | DedupNearDuplicates(config, past)
        _ = near["kept"] | beam.combiners.Count.Globally()
    return time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--today", type=int, default=1000)
    parser.add_argument("--past", type=int, default=4000)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"error: no shared data at {args.data}; pass --data DIR", file=sys.stderr)
        return 2
    config = DedupConfig()
    pool = speed_records(args.data, args.today + args.past)
    today, history = pool[:args.today], pool[args.today:]
    past_rows = [dict(row, dt="2026-10-01") for row in index_rows(history, config)]
    best = {"no_past": float("inf"), "past": float("inf")}
    for _ in range(2):
        best["no_past"] = min(best["no_past"], run_once(today, [], config))
        best["past"] = min(best["past"], run_once(today, past_rows, config))
    per_row_ms = (best["past"] - best["no_past"]) / len(past_rows) * 1000
    result = {"today_records": len(today), "past_rows": len(past_rows),
              "cpu_s_no_past": best["no_past"], "cpu_s_with_past": best["past"],
              "cpu_ms_per_past_row": per_row_ms,
              "cpu_ms_per_today_record": best["no_past"] / len(today) * 1000,
              "load_avg": os.getloadavg()}
    print(f"today {len(today)} records: {best['no_past']:.1f} CPU-s; with {len(past_rows)} past "
          f"rows: {best['past']:.1f} CPU-s -> {per_row_ms:.2f} CPU-ms per past row "
          f"({result['cpu_ms_per_today_record']:.2f} per today record, whole dedup); "
          f"load {os.getloadavg()[0]:.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
