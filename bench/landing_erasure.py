"""Landing erasure throughput: how long a sweep of the landing zone takes, per day of traffic.

Simulates one day per size, then runs ``governance.landing_erasure.erase_landing`` twice on it:
once erasing 1 % of the day's users (the files holding their lines are rewritten) and once more
(the rerun: every file scanned, none rewritten), which is what every later daily erasure run
pays per landing day kept. Prints a table and writes bench/out/landing_erasure.json.
Run: .venv/bin/python bench/landing_erasure.py [--users 1000,10000]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from feedback import simulate  # noqa: E402
from governance import landing_erasure  # noqa: E402
from warehouse import pseudonym  # noqa: E402

RING = [b"bench-key-not-secret-0123456789abcdef"]
DAY = "2026-11-01"


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run(users: int, seed: int = 0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp)
        truth = json.loads(simulate.simulate_day(landing, DAY, users, seed, ("v1",)).read_text())
        raw_ids = sorted({i["user_id"] for i in truth["interactions"].values()})
        erased = {pseudonym.pseudonymize_ring(RING, u) for u in raw_ids[:max(1, len(raw_ids) // 100)]}
        size = sum(p.stat().st_size for p in (landing / f"dt={DAY}").iterdir())
        first, wall1, cpu1 = timed(lambda: landing_erasure.erase_landing(str(landing), RING, erased))
        again, wall2, cpu2 = timed(lambda: landing_erasure.erase_landing(str(landing), RING, erased))
    lines = truth["lines_total"]
    return {"users": users, "lines": lines, "mb": round(size / 1e6, 1), "erased_users": len(erased),
            "lines_removed": first["lines_removed"], "files_rewritten": first["files_rewritten"],
            "erase_wall_s": round(wall1, 2), "erase_cpu_s": round(cpu1, 2),
            "sweep_wall_s": round(wall2, 2), "sweep_cpu_s": round(cpu2, 2),
            "sweep_lines_per_s": round(lines / wall2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", default="1000,10000")
    args = parser.parse_args()
    results = [run(int(u)) for u in args.users.split(",")]
    header = (f"{'users':>6} {'lines':>8} {'MB':>6} {'erased':>6} {'removed':>7} {'files':>5} "
              f"{'erase s':>8} {'sweep s':>8} {'sweep cpu':>9} {'lines/s':>8} {'rss MB':>6}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['users']:>6} {r['lines']:>8} {r['mb']:>6} {r['erased_users']:>6} "
              f"{r['lines_removed']:>7} {r['files_rewritten']:>5} {r['erase_wall_s']:>8.2f} "
              f"{r['sweep_wall_s']:>8.2f} {r['sweep_cpu_s']:>9.2f} {r['sweep_lines_per_s']:>8} "
              f"{r['peak_rss_mb']:>6}")
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "landing_erasure.json").write_text(json.dumps({
        "benchmark": "landing_erasure",
        "note": "one simulated day; erase = first run erasing 1% of users, sweep = rerun "
                "(scan only); one process; peak_rss_mb includes the simulator",
        "results": results}, indent=2) + "\n")
    print(f"wrote {out / 'landing_erasure.json'}")


if __name__ == "__main__":
    main()
