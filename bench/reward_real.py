"""Reward model on real human preferences: four rows on the same held-out pairs, each with a 95% CI.

    .venv/bin/python bench/reward_real.py --train-pairs 800 --eval-pairs 400   # the four rows, ~17 min on 2 cores
    .venv/bin/python bench/reward_real.py                 # the four rows on all pairs (~45 min on 2 cores)
    .venv/bin/python bench/reward_real.py --levers        # one row per lever, each alone on today's model
    .venv/bin/python bench/reward_real.py --rows length,improved   # all pairs, the improved model only

The real data is read from ../shared/data, or from $FLYWHEEL_SHARED_DATA when set.

Pairs: OpenAssistant rank-derived pairs + Anthropic hh-rlhf harmless-base (../shared/data), split
by conversation (no leakage); every held-out pair is scored by every row. Rows:

* ``length baseline``: the longer answer wins (the rule a reward model must beat);
* ``untrained``: the MiniLM encoder with a fresh (seeded) score head;
* ``today's model``: the config the daily cycle trained before this bench (1 epoch, no validation,
  at most 2,000 pairs);
* ``improved``: ``RewardTrainConfig()``'s defaults, which the cycle and the gate now use.

Train-pair subsampling (``--train-pairs``) applies to every trained row alike.

Accuracy counts ties as half; the interval is Wilson's (``curation.stats``). Prints a table and
writes bench/out/reward_real.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curation.stats import wilson_interval  # noqa: E402
from training import data, reward  # noqa: E402
from training.config import RewardTrainConfig  # noqa: E402

SHARED = Path(os.environ.get("FLYWHEEL_SHARED_DATA", REPO.parent / "shared" / "data"))  # ../shared/data
SOURCES = ("oasst_rank", "hh_rlhf_human_label")
# The reward config the daily cycle used before this bench (pipelines.cycle: 1 epoch, 2,000 pairs).
TODAY = RewardTrainConfig(epochs=1.0, learning_rate=5e-5, max_length=256, max_response_tokens=128,
                          validation_fraction=0.0, max_train_pairs=2000)
# The levers' reference: today's model made affordable for a sweep on 2 shared cores (shorter
# sequences, a higher rate for the single short epoch). Each lever alone on top of it.
LEVER_BASE = RewardTrainConfig(epochs=1.0, validation_fraction=0.0, learning_rate=1e-4, max_length=128,
                               max_response_tokens=64)
LEVERS = {
    "epochs<=3 + early stopping": dict(epochs=3.0, validation_fraction=0.1),
    "prompt head instead of tail": dict(prompt_side="head"),
    "margin from rank gaps (x1)": dict(margin_scale=1.0),
    "center_rewards_coefficient 0.01": dict(center_rewards_coefficient=0.01),
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


def row(name: str, wins_by_source: dict[str, tuple[float, int]], **extra) -> dict:
    """Accuracy + Wilson CI overall and per source, from (wins, pairs) per source."""
    wins = sum(w for w, _ in wins_by_source.values())
    n = sum(k for _, k in wins_by_source.values())
    low, high = wilson_interval(wins, n)
    per_source = {s: round(w / k, 4) for s, (w, k) in wins_by_source.items() if k}
    return {"row": name, "pairs": n, "accuracy": wins / n, "ci_low": low, "ci_high": high,
            "by_source": per_source, **extra}


def by_source(pairs: list[dict]) -> dict[str, list[dict]]:
    return {s: [p for p in pairs if p["rule"] == s] for s in SOURCES}


def length_row(held_out: list[dict]) -> dict:
    wins = {}
    for source, part in by_source(held_out).items():
        metrics = reward.length_baseline(part)
        wins[source] = (metrics.get("length_accuracy", 0.0) * len(part), len(part))
    return row("length baseline (longer wins)", wins)


def model_row(name: str, scorer, held_out: list[dict], **extra) -> dict:
    wins = {}
    for source, part in by_source(held_out).items():
        metrics = reward.pairwise_metrics(scorer, part)
        wins[source] = (metrics.get("eval_pairwise_accuracy", 0.0) * len(part), len(part))
    return row(name, wins, **extra)


def trained_row(name: str, train: list[dict], held_out: list[dict], config: RewardTrainConfig) -> dict:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        metrics = reward.fit_reward_model(train, [], config, out)
        scorer = reward.RewardScorer.load(out)
        result = model_row(name, scorer, held_out, train_pairs=int(metrics["train_pairs"]),
                           epochs_trained=metrics["epochs_trained"], config=asdict(config))
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(f"  {name}: {result['accuracy']:.3f} in {result['seconds']:.0f}s", file=sys.stderr)
    return result


def print_table(rows: list[dict]) -> None:
    print(f"{'row':<36} {'pairs':>5} {'accuracy':>8} {'95% CI (Wilson)':>16} {'OASST':>6} {'hh-rlhf':>7} {'epochs':>6} {'s':>5}")
    for r in rows:
        ci = f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        epochs = f"{r['epochs_trained']:.1f}" if "epochs_trained" in r else ""
        seconds = f"{r['seconds']:.0f}" if "seconds" in r else ""
        print(f"{r['row']:<36} {r['pairs']:>5} {r['accuracy']:>8.3f} {ci:>16} "
              f"{r['by_source'].get(SOURCES[0], 0):>6.3f} {r['by_source'].get(SOURCES[1], 0):>7.3f} {epochs:>6} {seconds:>5}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-fraction", type=float, default=0.25, help="conversations held out")
    parser.add_argument("--levers", action="store_true", help="one row per lever instead of the four rows")
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
        rows.append(trained_row("lever base (128 tokens, lr 1e-4)", train, held_out, LEVER_BASE))
        for name, change in LEVERS.items():
            rows.append(trained_row(name, train, held_out, replace(LEVER_BASE, **change)))
        best = {(p["prompt"], p["chosen"], p["rejected"]) for p in load_pairs(args.eval_fraction, "best")["train"]}
        best_only = [p for p in train if p["rule"] != SOURCES[0] or (p["prompt"], p["chosen"], p["rejected"]) in best]
        rows.append(trained_row("OASST best-vs-rest pairs only", best_only, held_out, LEVER_BASE))
    else:
        wanted = set(args.rows.split(","))
        if "untrained" in wanted:
            model, tokenizer = reward.load_base(TODAY.base, TODAY.seed)
            rows.append(model_row("untrained (fresh head)", reward.RewardScorer(model, tokenizer, TODAY), held_out))
            del model
        if "today" in wanted:
            rows.append(trained_row("today's model", train, held_out, TODAY))
        if "improved" in wanted:
            rows.append(trained_row("improved (RewardTrainConfig())", train, held_out, RewardTrainConfig()))
    print_table(rows)
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
