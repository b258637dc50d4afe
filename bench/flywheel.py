"""The flywheel as an experiment: K days of simulated users talking to the gateway, the cycle
after each, and whether the users ended up better served.

    .venv/bin/python bench/flywheel.py --taste MODULE:FUNCTION --days K [--users N]
        [--levers sft,dpo] [--vendor-users N] [--seed S] [--out DIR]

Per day it prints the served version(s), the users' mean taste score with its 95% CI, and the
gate's decision with its reason. After the last day it asks the last day's users' opening
questions of day 1's champion and of the model served at the end (same sampling seeds) and
reports the mean paired taste difference with its 95% CI. Checks, each a line of the verdict:

* ``improved``: the served model beats day 1's champion (the CI of the difference above 0);
* ``no_drop``: across promotions, the served score never drops by more than its CI half-width;
* with ``--taste coin`` (users whose feedback is a fair coin): ``never_promoted`` after day 1,
  and the bench exits 1 when a candidate was promoted.

Writes ``bench/out/flywheel-<taste>-<levers>-s<seed>.json``. The machine is shared: the wall
time is printed, never asserted.
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


def served_rows(result: dict) -> list[dict]:
    """(day, champion version, its score row) for every gateway day."""
    rows = []
    for day in result["days"]:
        label = f"flywheel-sft/{day.get('champion')}"
        for row in day.get("scores", []):
            if row["model_version"] == label:
                rows.append({"day": day["day"], "version": day["champion"], **row})
    return rows


def checks(result: dict, comparison: dict, taste: str) -> dict:
    promotions = [d for d in result["days"][1:] if d["gate"]["promoted"]]
    served = served_rows(result)
    drops = []
    for before, after in zip(served, served[1:], strict=False):
        if after["version"] != before["version"]:
            half = (before["score_ci"][1] - before["score_ci"][0]) / 2
            drops.append({"from": before["version"], "to": after["version"],
                          "drop": before["mean_score"] - after["mean_score"], "allowed": half,
                          "ok": before["mean_score"] - after["mean_score"] <= half})
    out = {"promotions_after_day1": len(promotions), "no_drop": all(d["ok"] for d in drops),
           "drops": drops}
    low = comparison["difference_ci"][0]
    out["improved"] = bool(comparison["questions"] and low == low and low > 0)
    if taste == "coin":
        out["never_promoted"] = not promotions
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taste", required=True)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--vendor-users", type=int, default=300)
    parser.add_argument("--levers", default="sft,dpo", help="comma list of sft, dpo")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", help="work folder (default: bench/out/flywheel-work/<name>)")
    args = parser.parse_args(argv)
    levers = tuple(x for x in args.levers.split(",") if x)
    if not levers or set(levers) - {"sft", "dpo"}:
        parser.error(f"--levers {args.levers!r}: a comma list of sft and dpo")
    if args.days < 3:
        parser.error("--days must be >= 3: day 1 is vendor logs, a candidate needs a day of users "
                     "and a day on the canary")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from feedback.users.tastes import taste_name
    from flywheel.demo import quiet_output, setup_environment
    from flywheel.loop import LoopConfig, compare_on_questions, cycle_config, format_days, run_loop

    name = f"flywheel-{taste_name(args.taste)}-{'+'.join(levers)}-s{args.seed}"
    out = Path(args.out or REPO / "bench" / "out" / "flywheel-work" / name).resolve()
    if out.exists() and any(out.iterdir()):
        parser.error(f"{out} is not empty: remove it or give another --out")
    out.mkdir(parents=True, exist_ok=True)
    key_file = setup_environment(out)
    config = LoopConfig(out=str(out), taste=args.taste, days=args.days, users=args.users,
                        vendor_users=args.vendor_users, seed=args.seed, levers=levers)
    terminal = quiet_output(out / "bench.log")
    started = time.monotonic()
    result = run_loop(config, str(key_file), say=lambda line: print(line, file=terminal))
    cconfig = cycle_config(config, str(key_file))
    comparison = compare_on_questions(config, cconfig, config.day(args.days), result["first_champion"],
                                      result["final_champion"])
    verdict = checks(result, comparison, args.taste)
    seconds = time.monotonic() - started
    lines = [f"\n{name}: {args.days} days, {args.users} users a day, {seconds / 60:.1f} min", ""]
    lines += format_days(result)
    ci = comparison["difference_ci"]
    lines.append(f"\nsame users' questions ({comparison['questions']}, {comparison['day']}): served "
                 f"v{comparison['served_version']} {comparison['served_mean']:.3f} vs day-1 champion "
                 f"v{comparison['baseline_version']} {comparison['baseline_mean']:.3f}: difference "
                 f"{comparison['mean_difference']:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]")
    lines.append("checks: " + ", ".join(f"{k}={v}" for k, v in verdict.items() if k != "drops"))
    print("\n".join(lines), file=terminal)
    report = {"name": name, "taste": args.taste, "levers": list(levers), "days": args.days,
              "users": args.users, "vendor_users": args.vendor_users, "seed": args.seed,
              "seconds": seconds, "loop": result, "comparison": comparison, "checks": verdict,
              "command": " ".join(["bench/flywheel.py", *(argv or sys.argv[1:])])}
    path = REPO / "bench" / "out" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {path}", file=terminal)
    if args.taste == "coin" and not verdict["never_promoted"]:
        print("FAIL: a candidate was promoted on users whose feedback is a fair coin", file=terminal)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
