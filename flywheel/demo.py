"""`make demo`: two turns of the flywheel on a laptop, on the embedded defaults.

Day 1: simulated traffic -> curation -> datasets -> reward model + SFT -> the first model is
evaluated and becomes champion. Day 2: users talk to that champion and rate its answers -> the
whole cycle again -> the gate decides whether the new candidate replaces it. Then a short
summary and the HTML report. Everything lives under ``--out`` (landing zone, warehouse, MLflow
registry, reports); rerunning reuses what is already there, so a second run is quick and
changes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from warehouse import umask

DAY1, DAY2 = "2026-11-01", "2026-11-02"


def _setup_environment(out: Path) -> Path:
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


def _champion_label(config) -> str:
    from training import registry
    from training.config import CHAMPION_ALIAS, SFT_MODEL_NAME

    client = registry.connect(config.warehouse, config.tracking_uri)
    version = registry.alias_version(client, SFT_MODEL_NAME, CHAMPION_ALIAS)
    # The exact registry version, as the gateway labels what it serves ("flywheel-sft/3").
    return f"{SFT_MODEL_NAME}/{version.version}" if version is not None else "v1"


def _summary(config, results: dict[str, dict], seconds: float) -> str:
    from curation import questions, views

    con = views.connect(config.warehouse)
    lines = [f"\n=== user-data flywheel demo: two cycles in {seconds / 60:.1f} min ==="]
    for day, steps in results.items():
        lines.append(f"\n--- {day} ---")
        funnel = questions.funnel(con, day)
        lines.append("funnel (in -> kept): " + "; ".join(
            f"{r['stage']} {r['records_in']}->{r['kept']}" for r in funnel
            if r.get("records_in") is not None and not r.get("reason")))
        pii = questions.pii_findings(con, day)
        lines.append("PII placeholders: " + ", ".join(
            f"{r.get('entity_type', r.get('entity'))}={r.get('findings', r.get('count'))}"
            for r in pii))
        counts = steps["build_dataset"]["counts"]
        flat = _flat(counts)
        lines.append(f"dataset {steps['build_dataset']['dataset_id']}: SFT "
                     f"{flat.get('sft.train.rows')} train / {flat.get('sft.eval.rows')} eval, "
                     f"preference pairs {flat.get('preferences.train.rows')} train / "
                     f"{flat.get('preferences.eval.rows')} eval")
        reward = steps["train_reward"]["metrics"]
        accuracy = reward.get("eval_pairwise_accuracy", reward.get("eval_accuracy"))
        lines.append(f"reward model v{steps['train_reward']['version']}: held-out pairwise "
                     f"accuracy {accuracy if accuracy is None else round(accuracy, 3)}")
        decision = steps["evaluate"]["decision"]
        promoted = steps["promote"]
        champion = (f"v{promoted['to_version']}" if promoted["to_version"] is not None
                    else "none yet")
        lines.append(f"candidate flywheel-sft v{steps['train_sft']['version']}: gate says "
                     f"{'PROMOTE' if decision['promote'] else 'KEEP CHAMPION'} ({decision['reason']});"
                     f" champion: {champion}")
    lines.append(f"\nHTML report: {results[DAY2]['publish']['report']}")
    lines.append(f"DuckDB catalog: duckdb {results[DAY2]['publish']['catalog']}")
    lines.append(f"Explore: python -m curation.inspect --warehouse {config.warehouse} funnel")
    return "\n".join(lines)


def _flat(counts: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in counts.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# Where the demo's own progress and summary go; everything else goes to the log (see _quiet).
_TERMINAL = [sys.stderr]


def _quiet(log_path: Path):
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


def main(argv: list[str] | None = None) -> int:
    umask.restrict_umask()  # outputs are never world-readable (FLYWHEEL_UMASK)
    parser = argparse.ArgumentParser(prog="python -m flywheel.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_out", help="where everything is written")
    parser.add_argument("--users", type=int, default=300, help="simulated users per day")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    from feedback import simulate
    from flywheel.cycle import CycleConfig

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    key_file = _setup_environment(out)
    config = CycleConfig(landing=str(out / "landing"), warehouse=str(out / "warehouse"),
                         pseudonym_key_file=str(key_file))
    log_path = out / "demo.log"
    terminal = _quiet(log_path)
    print(f"library output goes to {log_path}", file=terminal)
    started = time.monotonic()
    results = {}
    print(f"day 1 ({DAY1}): simulating {args.users} users talking to model v1", file=terminal)
    simulate.simulate_day(landing=Path(config.landing), date=DAY1, users=args.users,
                          seed=args.seed, model_versions=("v1",))
    results[DAY1] = _cycle(config, DAY1)
    champion = _champion_label(config)
    print(f"day 2 ({DAY2}): users rate the champion {champion}", file=terminal)
    simulate.simulate_day(landing=Path(config.landing), date=DAY2, users=args.users,
                          seed=args.seed, model_versions=(champion,))
    results[DAY2] = _cycle(config, DAY2)
    print(_summary(config, results, time.monotonic() - started), file=terminal)
    print(f"library output (Beam, training steps, warnings): {log_path}", file=terminal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
