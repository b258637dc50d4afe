"""SFT throughput of a ~350M-parameter Llama built from config: tokens/s and MFU.

    bash bench/train_gpu.sh [--steps 30] [--batch-size 8] [--seq-len 1024] [--peak-tflops 989]

Runs TRL's SFTTrainer (bf16, packing) for a fixed number of steps on OpenAssistant conversations
(../shared/data) repeated to fill the steps, with a tokenizer trained on them. MFU =
6 * N * tokens/s / peak FLOP/s (N = non-embedding + embedding parameters, the nanoGPT estimate
without the attention term). Needs CUDA; prints a table and writes bench/out/train_gpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# dense bf16 peak TFLOP/s by device name fragment (datasheet figures, no sparsity)
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0}


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup-steps", type=int, default=5, help="excluded from the timing")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--peak-tflops", type=float, help="override the per-GPU bf16 peak")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "train_gpu.json"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("error: bench/train_gpu.py needs a CUDA GPU (torch.cuda.is_available() is False); "
              "run it on a GPU machine: bash bench/train_gpu.sh", file=sys.stderr)
        return 2

    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTTrainer

    from training import data, tiny
    from training.config import SFTTrainConfig, TinyLMConfig
    from training.sft import sft_args, to_prompt_completion

    rows = data.oasst_sft_rows(REPO.parent / "shared" / "data" / "oasst_en_100_tree.jsonl")
    conversations = [r["messages"] for r in rows]
    # ~350M: 24 layers x 1024 hidden (GPT-2 medium shape) with a 32k BPE vocabulary
    lm_config = TinyLMConfig(vocab_size=32000, hidden_size=1024, num_layers=24, num_heads=16,
                             intermediate_size=2816, max_position_embeddings=args.seq_len)
    tokenizer = tiny.train_chat_tokenizer((m["content"] for c in conversations for m in c), lm_config)
    model = tiny.build_causal_lm(tokenizer, lm_config)
    n_params = tiny.count_parameters(model)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    total_steps = args.steps + args.warmup_steps
    needed = total_steps * args.batch_size * world * 4  # packing merges rows: keep plenty
    repeated = (conversations * (needed // len(conversations) + 1))[:needed]
    config = SFTTrainConfig(max_steps=total_steps, batch_size=args.batch_size, max_length=args.seq_len,
                            packing=True, learning_rate=3e-4)
    sft_config = sft_args(config, Path(args.out).parent / "train_gpu_trainer")

    class Timer(TrainerCallback):
        start: float | None = None
        tokens_at_start = 0

        def on_step_begin(self, args_, state, control, **kwargs):
            if state.global_step == args.warmup_steps and self.start is None:
                torch.cuda.synchronize()  # CPU-GPU sync point: start the clock on an idle GPU
                self.start = time.perf_counter()

    timer = Timer()
    trainer = SFTTrainer(model=model, args=sft_config, processing_class=tokenizer, callbacks=[timer],
                         train_dataset=Dataset.from_dict(to_prompt_completion(repeated, args.seq_len)))
    tokens_per_step = args.batch_size * args.seq_len * world  # packed: every position is a token
    trainer.train()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - timer.start
    tokens_per_s = tokens_per_step * args.steps / seconds
    name = torch.cuda.get_device_name(0)
    peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    mfu = 6 * n_params * tokens_per_s / (peak * 1e12 * world) if peak else None
    result = {"device": name, "gpus": world, "params": n_params, "steps_timed": args.steps,
              "batch_size_per_gpu": args.batch_size, "seq_len": args.seq_len, "packing": sft_config.packing,
              "packing_strategy": sft_config.packing_strategy, "bf16": sft_config.bf16,
              "seconds": round(seconds, 2), "tokens_per_s": round(tokens_per_s, 1),
              "peak_tflops_per_gpu": peak, "mfu": round(mfu, 4) if mfu is not None else None,
              "max_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{'device':<28} {'params':>8} {'tokens/s':>10} {'MFU':>7} {'mem GiB':>8}")
        mfu_text = f"{mfu:.1%}" if mfu is not None else "n/a"
        print(f"{name[:28]:<28} {n_params / 1e6:>7.0f}M {tokens_per_s:>10.0f} {mfu_text:>7} {result['max_memory_gib']:>8}")
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
