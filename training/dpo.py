"""Preference optimisation on the users' pairs with TRL's ``DPOTrainer``.

    python -m training.dpo --warehouse DIR --dataset ID --base PATH|champion [--epochs N] [--out DIR]

The pairs are the dataset's ``preferences`` rows (an edit over the original answer, the pick of
a side-by-side comparison, liked over disliked and higher over lower rated answers to the same
prompt). The policy starts from ``base`` (the champion, or the SFT step's output) and the frozen
reference is the same checkpoint, so DPO moves the model only as far as the users' choices push
it (``beta``). The result is a plain causal-LM checkpoint, registered as a ``flywheel-sft``
version tagged with the levers that made it, so the gate and the gateway treat it like any
candidate.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from training.data import DatasetError, read_preferences
from training.device import cuda_available
from training.reward import cli_result, register_policy, resolve_base, resolve_run, write_meta

ROLE_LINE = re.compile(r"<\|(system|user|assistant)\|>\n")


@dataclass(frozen=True)
class DPOTrainConfig:
    beta: float = 0.1  # TRL's default: how far from the reference the pairs may pull the policy
    # Measured on the demo: pure DPO at 5e-4 drove the chosen/rejected margin to 4.7 and the
    # model to babble ("Abyyyyyy", ":::::"), held-out bits/byte 1.27 -> 1.65. The NLL on the
    # chosen answer ("sft" term, as in RPO) keeps it speaking, and a 5x lower rate moves it less.
    loss_types: tuple[str, ...] = ("sigmoid", "sft")
    learning_rate: float = 1e-4  # a few-hundred-thousand-parameter model needs more than TRL's 1e-6
    epochs: float = 2.0  # daily pair sets are small (tens to hundreds)
    batch_size: int = 8
    max_length: int = 256  # prompt + answer tokens; the demo's conversations are short
    seed: int = 0


DEFAULT_DPO = DPOTrainConfig()


def parse_prompt(text: str) -> list[dict]:
    """The messages of a dataset ``prompt`` (``curation.rules.render_prompt``'s text form)."""
    parts = ROLE_LINE.split(text)
    messages = []
    for role, content in zip(parts[1::2], parts[2::2], strict=True):
        messages.append({"role": role, "content": content.removesuffix("\n")})
    if messages and messages[-1]["role"] == "assistant" and not messages[-1]["content"]:
        messages.pop()  # the trailing "<|assistant|>\n" where the answer starts
    return messages


def read_pairs(ref, split: str, event_ids: set[str] | None = None) -> list[dict]:
    """Preference rows whose rejected answer is one of ``event_ids`` (None: all), with messages."""
    rows = read_preferences(ref, split)
    if event_ids is not None:
        from warehouse import files as storage  # a path, or a URL on a store

        rejected = storage.read_parquet(str(ref.split("preferences", split)), columns=["rejected_event_id"]).column(
            "rejected_event_id").to_pylist()
        rows = [r for r, event in zip(rows, rejected, strict=True) if event in event_ids]
    return [{**r, "messages": parse_prompt(r["prompt"])} for r in rows
            if r["chosen"].strip() and r["rejected"].strip() and r["chosen"] != r["rejected"]]


def dpo_args(config: DPOTrainConfig, output_dir: Path):
    from trl import DPOConfig

    cuda = cuda_available()
    return DPOConfig(
        output_dir=str(output_dir), num_train_epochs=config.epochs, learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size, beta=config.beta, max_length=config.max_length,
        loss_type=list(config.loss_types),
        lr_scheduler_type="cosine", warmup_steps=0, logging_steps=10, save_strategy="no",
        report_to="none", seed=config.seed, disable_tqdm=True, bf16=cuda, dataloader_num_workers=0,
        dataloader_pin_memory=cuda,
    )


def fit_dpo(pairs: list[dict], base: str | Path, config: DPOTrainConfig, out: str | Path) -> dict:
    """Train from ``base`` on ``pairs`` and save a checkpoint to ``out``; the metrics."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOTrainer

    from training.tiny import CHAT_TEMPLATE

    if not pairs:
        raise DatasetError("no preference pairs to train on")
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.chat_template is None:
        tokenizer.chat_template = CHAT_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base, dtype="bfloat16" if cuda_available() else "float32")
    columns = {"prompt": [p["messages"] for p in pairs],
               "chosen": [[{"role": "assistant", "content": p["chosen"]}] for p in pairs],
               "rejected": [[{"role": "assistant", "content": p["rejected"]}] for p in pairs]}
    trainer = DPOTrainer(model=model, args=dpo_args(config, Path(out) / "trainer"),
                         train_dataset=Dataset.from_dict(columns), processing_class=tokenizer)
    result = trainer.train()
    Path(out).mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    logged = [row for row in trainer.state.log_history if "rewards/accuracies" in row]
    metrics = {"dpo_train_loss": float(result.training_loss), "dpo_train_steps": float(result.global_step),
               "dpo_train_pairs": float(len(pairs))}
    if logged:
        metrics["dpo_reward_accuracy_last"] = float(logged[-1]["rewards/accuracies"])
        metrics["dpo_reward_margin_last"] = float(logged[-1].get("rewards/margins", 0.0))
    return metrics


def train_dpo(
    warehouse: str | Path | None,
    dataset_id: str | None,
    base: str | Path,
    *,
    dataset_path: str | Path | None = None,
    config: DPOTrainConfig = DEFAULT_DPO,
    out: str | Path | None = None,
    register: bool = True,
    tracking_uri: str | None = None,
    event_ids: set[str] | None = None,
    levers: tuple[str, ...] = ("dpo",),
    base_version: int | None = None,
    tags: dict[str, str] | None = None,
) -> dict:
    """DPO from ``base`` on the dataset's train pairs (those of ``event_ids``); register it
    (with ``tags`` added to the version's own)."""
    dataset, out = resolve_run(warehouse, dataset_id, dataset_path, out, "dpo", replace(config))
    base, base_version = resolve_base(warehouse, base, base_version, tracking_uri)
    pairs = read_pairs(dataset, "train", event_ids)
    metrics = fit_dpo(pairs, base, config, out)
    meta = write_meta(out, kind="sft", config=config, dataset=dataset, metrics=metrics,
                      base=str(base), base_version=base_version, levers=list(levers))
    info = {"model_dir": str(out), "metrics": metrics, "dataset_id": dataset.dataset_id}
    if register and warehouse is not None:
        info.update(register_policy(
            warehouse, out, meta, levers=levers, base_version=base_version, tags=tags,
            params={k: str(v) for k, v in asdict(config).items()}, metrics=metrics, dataset=dataset,
            tracking_uri=tracking_uri))
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.dpo", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse")
    parser.add_argument("--dataset")
    parser.add_argument("--dataset-path")
    parser.add_argument("--base", required=True, help="checkpoint folder, or 'champion'")
    parser.add_argument("--epochs", type=float, default=DPOTrainConfig.epochs)
    parser.add_argument("--learning-rate", type=float, default=DPOTrainConfig.learning_rate)
    parser.add_argument("--beta", type=float, default=DPOTrainConfig.beta)
    parser.add_argument("--out")
    parser.add_argument("--tracking-uri")
    parser.add_argument("--no-register", action="store_true")
    args = parser.parse_args(argv)
    config = replace(DEFAULT_DPO, epochs=args.epochs, learning_rate=args.learning_rate, beta=args.beta)
    return cli_result(train_dpo, args.warehouse, args.dataset, args.base, dataset_path=args.dataset_path,
                      config=config, out=args.out, register=not args.no_register,
                      tracking_uri=args.tracking_uri)


if __name__ == "__main__":
    sys.exit(main())
