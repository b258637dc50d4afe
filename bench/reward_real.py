"""Reward model on real human preferences: held-out pairwise accuracy with a 95% Wilson CI.

    .venv/bin/python bench/reward_real.py [--train-pairs 1200] [--eval-pairs 400] [--max-length 192]

Pairs: OpenAssistant rank-derived pairs + Anthropic hh-rlhf harmless-base (../shared/data), split
by conversation (no leakage). Trains the default base (pretrained all-MiniLM-L6-v2) for 1 epoch
on a subsample, sized for 2 CPU cores. Prints a table and writes bench/out/reward_real.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from training import data, reward  # noqa: E402
from training.config import RewardTrainConfig  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-pairs", type=int, default=1200)
    parser.add_argument("--eval-pairs", type=int, default=400)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--base", default="minilm")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "reward_real.json"))
    args = parser.parse_args()
    oasst, hh = SHARED / "oasst_en_100_tree.jsonl", SHARED / "hh_rlhf_harmless_base_test.jsonl.gz"
    if not (oasst.exists() and hh.exists()):
        print(f"error: real data missing under {SHARED} (see its README.md)", file=sys.stderr)
        return 2
    splits = {"train": [], "eval": []}
    for source in (data.oasst_preference_pairs(oasst), data.hh_preference_pairs(hh)):
        for name, rows in data.split_rows(source, eval_fraction=0.25).items():
            splits[name] += rows
    rng = random.Random(0)
    train = rng.sample(splits["train"], min(args.train_pairs, len(splits["train"])))
    held_out = rng.sample(splits["eval"], min(args.eval_pairs, len(splits["eval"])))
    config = RewardTrainConfig(base=args.base, epochs=1.0, max_length=args.max_length,
                               max_response_tokens=args.max_length // 2, batch_size=16, learning_rate=3e-5)
    untrained_model, tokenizer = reward.load_base(config.base, config.seed)
    before = reward.pairwise_metrics(reward.RewardScorer(untrained_model, tokenizer, config), held_out)
    del untrained_model
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        metrics = reward.fit_reward_model(train, held_out, config, out)
    seconds = time.perf_counter() - started
    by_source = {}
    for rule in ("oasst_rank", "hh_rlhf_human_label"):
        by_source[rule] = sum(1 for p in held_out if p["rule"] == rule)
    result = {
        "config": asdict(config), "train_pairs": len(train), "eval_pairs": len(held_out),
        "eval_pairs_by_source": by_source, "untrained": before, "trained": metrics,
        "train_plus_eval_seconds": round(seconds, 1), "cpu_count": os.cpu_count(),
    }
    rows = [("untrained head", before), ("after 1 epoch", metrics)]
    print(f"{'model':<16} {'pairs':>6} {'accuracy':>9} {'95% CI (Wilson)':>18} {'BT loss':>8}")
    for name, m in rows:
        ci = f"[{m['eval_accuracy_ci_low']:.3f}, {m['eval_accuracy_ci_high']:.3f}]"
        print(f"{name:<16} {int(m['eval_pairs']):>6} {m['eval_pairwise_accuracy']:>9.3f} {ci:>18} {m['eval_bt_loss']:>8.3f}")
    print(f"train {len(train)} pairs + eval: {seconds:.0f}s on {os.cpu_count()} CPUs")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
