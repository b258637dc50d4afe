"""Reward model on real human preferences: four rows on the same held-out pairs, each with a 95% CI.

    .venv/bin/python bench/reward_real.py --train-pairs 1200   # the four rows (docs/benchmarks.md)
    .venv/bin/python bench/reward_real.py                      # the four rows, all 2,253 train pairs
    .venv/bin/python bench/reward_real.py --levers             # each lever alone against the default
    .venv/bin/python bench/reward_real.py --levers --lever mean-pooling --seeds 0,1,2 --train-pairs 1200

The real data is read from ../shared/data, or from $FLYWHEEL_SHARED_DATA when set.

Pairs: OpenAssistant rank-derived pairs + Anthropic hh-rlhf harmless-base (../shared/data), split
by conversation (no leakage); every held-out pair is scored by every row. The four rows:

* ``length baseline``: the longer answer wins (the rule a reward model must beat);
* ``untrained``: the MiniLM encoder with a fresh (seeded) score head;
* ``today's model``: the reward config before issue #14's lever sweep (CLS pooling, <= 3 epochs
  with early stopping, lr 5e-5, 128 tokens);
* ``improved``: ``RewardTrainConfig()``'s defaults, which the cycle and the gate use.

``--levers`` trains the reference (today's config, its first epoch: ``SCREEN``) once per seed and
each lever alone on top of it (same seed, same train and held-out pairs) and adds, per lever, the
paired accuracy difference to the reference of the same seed with its 95% CI (Student t over
the per-pair differences, pooled over seeds).

Every trained row, in both modes, is cached under bench/out/reward_levers/ as it finishes, keyed
by its full config and the exact train and held-out pairs: an interrupted sweep resumes, and the
four-row run reuses a lever row whose config is identical (today's model is the
``early-stopping-3-epochs`` lever; the table says "cached"). ``--fresh`` retrains every row.

Accuracy counts ties as half; the interval is Wilson's (``curation.stats``). Prints a table and
writes bench/out/reward_real.json or bench/out/reward_levers.json (or --out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curation.stats import mean_interval, wilson_interval  # noqa: E402
from training import data, reward  # noqa: E402
from training.config import RewardTrainConfig  # noqa: E402

SHARED = Path(os.environ.get("FLYWHEEL_SHARED_DATA", REPO.parent / "shared" / "data"))  # ../shared/data
SOURCES = ("oasst_rank", "hh_rlhf_human_label")
CACHE = REPO / "bench" / "out" / "reward_levers"
# The reward defaults before the lever sweep (merged as f045408): the "today's model" row.
TODAY = RewardTrainConfig(pooling="cls", epochs=3.0, validation_fraction=0.1, early_stopping_patience=1,
                          learning_rate=5e-5, max_length=128, max_response_tokens=64,
                          margin_scale=0.0, center_rewards_coefficient=None, freeze_layers=0, warmup_ratio=0.0)
# The levers' reference: TODAY's first epoch on all the train pairs. Early stopping kept epoch 1 in
# every run before the sweep (validation loss up in epoch 2), so this is the model TODAY keeps, at
# half the cost on 2 shared cores; "early-stopping" below is TODAY itself.
SCREEN = replace(TODAY, epochs=1.0, validation_fraction=0.0)
# Each lever alone, as a change to SCREEN; "siblings" is a data change (OASST pairs), not a config field.
LEVERS = {
    "early-stopping-3-epochs": dict(epochs=3.0, validation_fraction=0.1),
    "margin-from-rank-gaps": dict(margin_scale=1.0),
    "center-rewards-0.01": dict(center_rewards_coefficient=0.01),
    "prompt-head-not-tail": dict(prompt_side="head"),
    "oasst-best-vs-rest": dict(siblings="best"),
    "more-epochs-6-patience-2": dict(epochs=6.0, validation_fraction=0.1, early_stopping_patience=2),
    "mean-pooling": dict(pooling="mean"),
    "lr-2e-5": dict(learning_rate=2e-5),
    "lr-1e-4": dict(learning_rate=1e-4),
    "warmup-10pct": dict(warmup_ratio=0.1),
    "256-tokens-192-answer": dict(max_length=256, max_response_tokens=192),
    "freeze-embeddings-and-3-layers": dict(freeze_layers=3),
}


def load_pairs(eval_fraction: float, siblings: str = "all") -> dict[str, list[dict]]:
    oasst, hh = SHARED / "oasst_en_100_tree.jsonl", SHARED / "hh_rlhf_harmless_base_test.jsonl.gz"
    if not (oasst.exists() and hh.exists()):
        raise SystemExit(f"error: real data missing under {SHARED} (see its README.md)")
    splits: dict[str, list[dict]] = {"train": [], "eval": []}
    for rows in (data.oasst_preference_pairs(oasst, siblings), data.hh_preference_pairs(hh)):
        for name, part in data.split_rows(rows, eval_fraction=eval_fraction).items():
            splits[name] += part
    return splits


def subsample(pairs: list[dict], n: int | None) -> list[dict]:
    return pairs if n is None or n >= len(pairs) else random.Random(0).sample(pairs, n)


def outcome(chosen: float, rejected: float) -> float:
    return 1.0 if chosen > rejected else 0.5 if chosen == rejected else 0.0


def row(name: str, outcomes: list[float], held_out: list[dict], **extra) -> dict:
    """Accuracy + Wilson CI overall and per source, from one outcome (1, 0.5, 0) per held-out pair."""
    low, high = wilson_interval(sum(outcomes), len(outcomes))
    per_source = {}
    for source in SOURCES:
        mine = [o for o, p in zip(outcomes, held_out, strict=True) if p["rule"] == source]
        if mine:
            per_source[source] = round(sum(mine) / len(mine), 4)
    return {"row": name, "pairs": len(outcomes), "accuracy": sum(outcomes) / len(outcomes), "ci_low": low,
            "ci_high": high, "by_source": per_source, "outcomes": outcomes, **extra}


def length_row(held_out: list[dict]) -> dict:
    return row("length baseline (longer wins)", [outcome(len(p["chosen"]), len(p["rejected"])) for p in held_out], held_out)


def model_row(name: str, scorer, held_out: list[dict], **extra) -> dict:
    prompts = [p["prompt"] for p in held_out]
    chosen = scorer.score(prompts, [p["chosen"] for p in held_out])
    rejected = scorer.score(prompts, [p["rejected"] for p in held_out])
    return row(name, [outcome(c, r) for c, r in zip(chosen, rejected, strict=True)], held_out, **extra)


def trained_row(name: str, train: list[dict], held_out: list[dict], config: RewardTrainConfig) -> dict:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        metrics = reward.fit_reward_model(train, [], config, out)
        scorer = reward.RewardScorer.load(out)
        result = model_row(name, scorer, held_out, train_pairs=int(metrics["train_pairs"]),
                           epochs_trained=metrics["epochs_trained"], config=asdict(config),
                           validation_best_bt_loss=metrics.get("validation_best_bt_loss"))
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(f"  {name}: {result['accuracy']:.3f} in {result['seconds']:.0f}s", file=sys.stderr, flush=True)
    return result


def paired_delta(rows: list[dict], references: list[dict]) -> tuple[float, float, float]:
    """Mean per-pair accuracy difference to the reference rows (same pairs, same seeds) and its 95% CI."""
    diffs = [a - b for r, ref in zip(rows, references, strict=True)
             for a, b in zip(r["outcomes"], ref["outcomes"], strict=True)]
    mean = sum(diffs) / len(diffs)
    low, high = mean_interval(mean, statistics.stdev(diffs) if len(diffs) > 1 else None, len(diffs))
    return mean, low, high


def print_table(rows: list[dict]) -> None:
    print(f"{'row':<44} {'pairs':>5} {'accuracy':>8} {'95% CI (Wilson)':>16} {'OASST':>6} {'hh-rlhf':>7} "
          f"{'epochs':>6} {'s':>5}  {'paired diff to reference [95% CI]':>30}")
    for r in rows:
        ci = f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        epochs = f"{r['epochs_trained']:.1f}" if "epochs_trained" in r else ""
        seconds = f"{r['seconds']:.0f}" + ("*" if r.get("cached") else "") if "seconds" in r else ""
        delta = f"{r['delta']:+.3f} [{r['delta_low']:+.3f}, {r['delta_high']:+.3f}]" if "delta" in r else ""
        print(f"{r['row']:<44} {r['pairs']:>5} {r['accuracy']:>8.3f} {ci:>16} "
              f"{r['by_source'].get(SOURCES[0], 0):>6.3f} {r['by_source'].get(SOURCES[1], 0):>7.3f} "
              f"{epochs:>6} {seconds:>5}  {delta:>30}")
    if any(r.get("cached") for r in rows):
        print("* trained earlier with the identical config on the identical pairs (bench/out/reward_levers/)")


def cached_row(name: str, train: list[dict], held_out: list[dict], config: RewardTrainConfig, fresh: bool) -> dict:
    """trained_row, kept under bench/out/reward_levers/ keyed by the config and the pairs."""
    identity = json.dumps([asdict(config), [p["chosen"] for p in train], [p["chosen"] for p in held_out]])
    key = hashlib.sha256(identity.encode()).hexdigest()[:12]
    hits = sorted(CACHE.glob(f"*{key}.json"))  # the same config on the same pairs, whatever the row's name
    if hits and not fresh:
        cached = json.loads(hits[0].read_text())
        print(f"  {name}: {cached['accuracy']:.3f} (cached {hits[0].name})", file=sys.stderr)
        return {**cached, "row": name, "cached": hits[0].name}
    result = trained_row(name, train, held_out, config)
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / f"{name.replace(' ', '-')}-{key}.json").write_text(json.dumps(result))
    return result


def lever_rows(args, train: list[dict], held_out: list[dict]) -> list[dict]:
    seeds = [int(s) for s in args.seeds.split(",")]
    wanted = args.lever or list(LEVERS)
    unknown = sorted(set(wanted) - set(LEVERS))
    if unknown:
        raise SystemExit(f"error: unknown lever(s) {unknown}; known: {sorted(LEVERS)}")
    best_pairs = None
    defaults = [cached_row(f"reference (today's config, epoch 1) seed {s}", train, held_out, replace(SCREEN, seed=s), args.fresh)
                for s in seeds]
    rows = [*defaults]
    for lever in wanted:
        change = dict(LEVERS[lever])
        lever_train = train
        if change.pop("siblings", None) == "best":  # same subsample, OASST pairs not involving the best dropped
            if best_pairs is None:
                best_pairs = {(p["prompt"], p["chosen"], p["rejected"]) for p in load_pairs(args.eval_fraction, "best")["train"]}
            lever_train = [p for p in train if p["rule"] != SOURCES[0] or (p["prompt"], p["chosen"], p["rejected"]) in best_pairs]
        runs = [cached_row(f"{lever} seed {s}", lever_train, held_out, replace(SCREEN, seed=s, **change), args.fresh)
                for s in seeds]
        for run, reference in zip(runs, defaults, strict=True):
            run["delta"], run["delta_low"], run["delta_high"] = paired_delta([run], [reference])
        if len(seeds) > 1:
            mean, low, high = paired_delta(runs, defaults)
            runs[-1]["pooled_delta"] = {"delta": mean, "low": low, "high": high, "seeds": seeds}
        rows += runs
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-fraction", type=float, default=0.25, help="conversations held out")
    parser.add_argument("--levers", action="store_true", help="each lever alone against the default, not the four rows")
    parser.add_argument("--lever", action="append", help=f"only this lever (repeatable); known: {', '.join(LEVERS)}")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds for --levers")
    parser.add_argument("--fresh", action="store_true", help="retrain lever rows even when cached")
    parser.add_argument("--train-pairs", type=int, default=None, help="subsample the train pairs (same sample for every row)")
    parser.add_argument("--eval-pairs", type=int, default=None, help="subsample the held-out pairs")
    parser.add_argument("--rows", default="length,untrained,today,improved",
                        help="comma-separated subset of the four rows (length is always printed)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    splits = load_pairs(args.eval_fraction)
    train, held_out = subsample(splits["train"], args.train_pairs), subsample(splits["eval"], args.eval_pairs)
    started = time.perf_counter()
    rows = [length_row(held_out)]
    if args.levers:
        rows += lever_rows(args, train, held_out)
    else:
        wanted = set(args.rows.split(","))
        if "untrained" in wanted:
            model, tokenizer = reward.load_base(TODAY.base, TODAY.seed)
            rows.append(model_row("untrained (fresh head)", reward.RewardScorer(model, tokenizer, TODAY), held_out))
            del model
        if "today" in wanted:
            rows.append(cached_row("today's model", train, held_out, TODAY, args.fresh))
        if "improved" in wanted:
            rows.append(cached_row("improved (RewardTrainConfig())", train, held_out, RewardTrainConfig(), args.fresh))
    print_table(rows)
    for r in rows:
        if "pooled_delta" in r:
            d = r["pooled_delta"]
            print(f"{r['row'].rsplit(' seed', 1)[0]}: paired diff over seeds {d['seeds']}: "
                  f"{d['delta']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]")
    seconds = time.perf_counter() - started
    print(f"{len(train)} train / {len(held_out)} held-out pairs; {seconds:.0f}s on {os.cpu_count()} CPUs")
    out = Path(args.out or REPO / "bench" / "out" / ("reward_levers.json" if args.levers else "reward_real.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "train_pairs": len(train), "eval_pairs": len(held_out),
                               "eval_fraction": args.eval_fraction, "seconds": round(seconds, 1),
                               "cpu_count": os.cpu_count()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
