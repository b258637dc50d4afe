"""`make demo`: the flywheel turning for real, on a laptop, on the embedded defaults.

Day 1: historic logs of a vendor model -> curation -> datasets -> reward model + SFT -> the first
champion. The gateway starts on it. Day 2: simulated users talk to the gateway and react by their
taste -> the cycle continues from the champion on what they said -> the offline gate sends the
candidate to the canary. Day 3: the users talk to the champion and the canary -> the online gate
promotes (the gateway hot-swaps) or keeps the champion. The summary prints, per day and served
version, the users' mean taste score and thumbs-up rate with 95% CIs, and the gate's decision
and reason. Everything lives under ``--out`` (landing zone, taste truth beside it, warehouse,
MLflow registry, reports); library output goes to ``--out/demo.log``.

``--landing`` and ``--warehouse`` put the landing zone and the warehouse elsewhere, e.g. on an
object store (``s3://bucket/landing``; the standard AWS variables name the endpoint and the
credentials, docs/warehouse.md). An object store holds no sqlite file: unless
``MLFLOW_TRACKING_URI`` names a registry, the demo's is ``--out/mlflow.db``, with the model
artifacts beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from warehouse import umask


def setup_environment(out: Path) -> Path:
    from warehouse import pseudonym

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # The demo alone may create its own key; real jobs refuse to run without one.
    key_file = pseudonym.create_key_file(out / "pseudonym.key")
    os.environ.pop(pseudonym.KEY_ENV, None)
    os.environ[pseudonym.KEY_FILE_ENV] = str(key_file)
    return key_file


def _cycle(config, day: str) -> dict:
    from tqdm import tqdm

    from flywheel import cycle

    names = cycle.STEPS
    bar = tqdm(total=len(names), desc=f"cycle {day}", unit="step", file=_TERMINAL[0],
               bar_format="{desc}: {n}/{total} steps |{bar:20}| {postfix} [{elapsed}]")

    def progress(name):
        if bar.n < len(names) and name != names[0]:
            bar.update(1)
        bar.set_postfix_str(name)

    try:
        steps = cycle.run_cycle(config, day, progress=progress)
    finally:
        bar.update(bar.total - bar.n)
        bar.close()
    return steps


def _summary(config, result: dict, cycles: dict, seconds: float) -> str:
    from curation import questions, views
    from flywheel.loop import format_days

    con = views.connect(config.warehouse)
    lines = [f"\n=== user-data flywheel demo: {len(result['days'])} days in {seconds / 60:.1f} min, "
             f"users' taste: {result['taste']} ===", ""]
    lines += format_days(result)
    first, final = result["first_champion"], result["final_champion"]
    lines.append(f"\nserved at the end: flywheel-sft/{final} (first champion: flywheel-sft/{first})")
    for day, steps in cycles.items():
        funnel = questions.funnel(con, day)
        flat = _flat(steps["build_dataset"]["counts"])
        lines.append(f"{day}: funnel " + "; ".join(
            f"{r['stage']} {r['records_in']}->{r['kept']}" for r in funnel
            if r.get("records_in") is not None and not r.get("reason"))
            + f" | dataset SFT {flat.get('sft.train.rows')}/{flat.get('sft.eval.rows')}, pairs "
            f"{flat.get('preferences.train.rows')}/{flat.get('preferences.eval.rows')} (train/eval)")
    last = list(cycles.values())[-1]
    lines.append(f"\nHTML report: {last['publish']['report']}")
    lines.append(f"Explore: python -m curation.inspect --warehouse {config.warehouse} feedback --by model_version")
    return "\n".join(lines)


def _flat(counts: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in counts.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# Where the demo's own progress and summary go; everything else goes to the log (see quiet_output).
_TERMINAL = [sys.stderr]


def quiet_output(log_path: Path):
    """Send the libraries' chatter (Beam, TRL's per-step loss dicts, progress bars, warnings,
    worker subprocesses) to ``log_path``: file descriptors 1 and 2 point at the log, and the
    demo keeps a duplicate of the terminal for its own lines. Returns the terminal stream."""
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    os.dup2(log.fileno(), sys.stdout.fileno())
    os.dup2(log.fileno(), sys.stderr.fileno())
    _TERMINAL[0] = terminal
    return terminal


def loop_config(args, out: Path):
    """The loop the command line asks for; ``--landing`` / ``--warehouse`` override where the
    cycle reads and writes (a local folder or an object-store URL)."""
    from flywheel.loop import LoopConfig
    from warehouse import files

    loop = LoopConfig(out=str(out), taste=args.taste, days=args.days, users=args.users,
                      vendor_users=args.vendor_users, seed=args.seed)
    places = {name: value if files.is_url(value) else str(Path(value).resolve())
              for name, value in (("landing", args.landing), ("warehouse", args.warehouse)) if value}
    if files.is_url(places.get("warehouse", "")) and not os.environ.get("MLFLOW_TRACKING_URI"):
        # the gateway the loop starts inherits it, so it reads the same registry
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{out / 'mlflow.db'}"
    return replace(loop, cycle_overrides={**loop.cycle_overrides, **places})


def main(argv: list[str] | None = None) -> int:
    umask.restrict_umask()  # outputs are never world-readable (FLYWHEEL_UMASK)
    parser = argparse.ArgumentParser(prog="python -m flywheel.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_out", help="where everything is written")
    parser.add_argument("--users", type=int, default=60, help="simulated users a gateway day")
    parser.add_argument("--vendor-users", type=int, default=300, help="users in day 1's vendor logs")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--taste", default="concise", help="MODULE:FUNCTION or concise|thorough|polite|coin")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--landing", help="landing zone folder or URL (default: OUT/landing)")
    parser.add_argument("--warehouse", help="warehouse folder or URL (default: OUT/warehouse)")
    args = parser.parse_args(argv)

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    key_file = setup_environment(out)
    loop = loop_config(args, out)
    log_path = out / "demo.log"
    terminal = quiet_output(log_path)
    print(f"library output goes to {log_path}", file=terminal)
    started = time.monotonic()
    cycles: dict[str, dict] = {}

    def runner(config, day):
        cycles[day] = _cycle(config, day)
        return cycles[day]

    from flywheel.loop import cycle_config, run_loop

    result = run_loop(loop, str(key_file), cycle_runner=runner,
                      say=lambda line: print(line, file=terminal))
    print(_summary(cycle_config(loop, str(key_file)), result, cycles, time.monotonic() - started),
          file=terminal)
    print(f"library output (Beam, training steps, warnings): {log_path}", file=terminal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
