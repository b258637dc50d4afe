"""Command line: ``python -m feedback.simulate --landing DIR --date YYYY-MM-DD ...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from feedback.simulate.day import simulate_day


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m feedback.simulate",
        description="Write one day of synthetic landing traffic and its ground truth.")
    parser.add_argument("--landing", required=True, type=Path, help="landing root folder")
    parser.add_argument("--date", required=True, help="partition date, YYYY-MM-DD")
    parser.add_argument("--users", type=int, default=100, help="active users (about 10 events each)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--model-version", default="v1",
                        help="comma-separated model versions, oldest first (later = better)")
    parser.add_argument("--previous-model-version", default=None,
                        help="model versions of the previous day (default: its truth file)")
    args = parser.parse_args(argv)
    try:
        versions = tuple(v.strip() for v in args.model_version.split(",") if v.strip())
        previous = (tuple(v.strip() for v in args.previous_model_version.split(",") if v.strip())
                    if args.previous_model_version else None)
        path = simulate_day(args.landing, args.date, args.users, args.seed, versions, previous)
    except (ValueError, OSError) as exc:
        print(f"simulate: error: {exc}", file=sys.stderr)
        return 2
    truth = json.loads(path.read_text())
    print(f"wrote {truth['lines_total']} lines for dt={args.date} under {args.landing} "
          f"(truth: {path})")
    return 0
