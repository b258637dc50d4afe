"""Simulator throughput: events per second for a few day sizes, on one core.

Prints a table and writes bench/out/simulate.json. Each size simulates two consecutive days into
a fresh temporary landing (the second day regenerates the first in memory, as in production use).
Run: .venv/bin/python bench/simulate.py [--users 100,1000,10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from feedback import simulate  # noqa: E402


def run(users: int, seed: int = 0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp)
        rows = []
        for date, versions in (("2026-11-01", ("v1",)), ("2026-11-02", ("v1", "v2"))):
            start = time.perf_counter()
            truth_path = simulate.simulate_day(landing, date, users, seed, versions)
            seconds = time.perf_counter() - start
            truth = json.loads(truth_path.read_text())
            size = sum(p.stat().st_size for p in (landing / f"dt={date}").iterdir())
            rows.append({"date": date, "seconds": seconds, "lines": truth["lines_total"],
                         "bytes": size})
    day2 = rows[1]
    return {"users": users, "lines_day2": day2["lines"], "seconds_day2": round(day2["seconds"], 3),
            "events_per_s": round(day2["lines"] / day2["seconds"]),
            "mb_day2": round(day2["bytes"] / 1e6, 1), "seconds_day1": round(rows[0]["seconds"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", default="100,1000,10000")
    args = parser.parse_args()
    results = [run(int(u)) for u in args.users.split(",")]
    header = f"{'users':>7} {'lines':>8} {'seconds':>8} {'events/s':>9} {'MB':>6}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['users']:>7} {r['lines_day2']:>8} {r['seconds_day2']:>8.2f} "
              f"{r['events_per_s']:>9} {r['mb_day2']:>6}")
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "simulate.json").write_text(json.dumps({"benchmark": "simulate", "note":
        "day 2 of two (it also regenerates day 1 in memory); one process, one core",
        "results": results}, indent=2) + "\n")
    print(f"wrote {out / 'simulate.json'}")


if __name__ == "__main__":
    main()
