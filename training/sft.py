"""Supervised fine-tuning on the dataset's conversations with TRL's ``SFTTrainer``.

    python -m training.sft --warehouse DIR --dataset ID [--base tiny|champion|PATH] [--lora]
        [--epochs N | --max-steps N] [--out DIR]

Each conversation becomes a conversational prompt-completion row (prompt = all turns but the
last, completion = the assistant target), so the loss covers the answer only. ``tiny`` (the
default) builds a small Llama from config with a BPE tokenizer learnt on the dataset text;
``champion`` continues from the registry's champion. bf16 and packing switch on with CUDA; the
same command runs multi-GPU under ``accelerate launch -m training.sft ...``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from training import registry
from training.config import DEFAULT_SFT, SFT_MODEL_NAME, SFTTrainConfig, TinyLMConfig
from training.data import DatasetError, read_sft
from training.device import cuda_available
from training.evaluate import heldout_loss
from training.reward import cli_result, resolve_run, version_tags, write_meta

MAX_PROMPT_CHARS_PER_TOKEN = 4  # rough chars/token, to drop old turns before TRL cuts the answer


def to_prompt_completion(conversations: list[list[dict]], max_length: int) -> dict[str, list]:
    """TRL conversational prompt-completion columns; the oldest turns go first when too long.

    TRL truncates from the end (keep_start), which would cut the answer: we drop whole early
    turns instead, keeping at least the last user turn.
    """
    budget = max_length * MAX_PROMPT_CHARS_PER_TOKEN
    prompts, completions = [], []
    for messages in conversations:
        prompt, answer = list(messages[:-1]), messages[-1]
        while len(prompt) > 1 and sum(len(m["content"]) for m in prompt) + len(answer["content"]) > budget:
            prompt.pop(0)
        prompts.append(prompt)
        completions.append([answer])
    return {"prompt": prompts, "completion": completions}


def rows_with_sources(ref, split: str) -> list[tuple[list[dict], str | None]]:
    """(conversation, source interaction id) for every row of an SFT split."""
    from warehouse import files as storage  # a path, or a URL on a store

    conversations = read_sft(ref, split)
    sources = storage.read_parquet(str(ref.split("sft", split)), columns=["source_event_id"]).column(
        "source_event_id").to_pylist()
    if len(sources) != len(conversations):  # read_sft skipped a malformed row: align by row
        raise DatasetError(f"dataset {ref.dataset_id} sft/{split} has rows without an assistant "
                           "target; rebuild it with python -m curation.datasets build")
    return list(zip(conversations, sources, strict=True))


def read_sft_rows(ref, split: str, event_ids: set[str] | None = None) -> list[list[dict]]:
    """``read_sft`` restricted to rows whose source interaction is in ``event_ids`` (None: all).

    Continuing from the champion learns from what users said since it was trained: the cycle
    passes the interactions of the days after the champion's dataset.
    """
    if event_ids is None:
        return read_sft(ref, split)
    return [c for c, source in rows_with_sources(ref, split) if source in event_ids]


def replay_rows(ref, event_ids: set[str], fresh: int, ratio: float, seed: int) -> list[list[dict]]:
    """``round(ratio * fresh)`` of the train rows outside ``event_ids`` (the window's earlier
    days, what the champion learnt from), drawn with ``seed``: rehearsal, so a few dozen fresh
    rows adjust the champion instead of overwriting it (``SFTTrainConfig.replay``)."""
    import random

    if ratio <= 0 or not fresh:
        return []
    earlier = [c for c, source in rows_with_sources(ref, "train") if source not in event_ids]
    return random.Random(seed).sample(earlier, min(len(earlier), round(ratio * fresh)))


def load_base(base: str, train_conversations: list[list[dict]], tiny: TinyLMConfig, warehouse=None, uri=None):
    """(model, tokenizer, base description) for ``tiny``, ``champion`` or a local path."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.tiny import CHAT_TEMPLATE, build_causal_lm, train_chat_tokenizer

    if base == "tiny":
        texts = (m["content"] for messages in train_conversations for m in messages)
        tokenizer = train_chat_tokenizer(texts, tiny)
        return build_causal_lm(tokenizer, tiny), tokenizer, {"base": "tiny"}
    description = {"base": base}
    if base == "champion":
        if warehouse is None:
            raise DatasetError("--base champion needs --warehouse (the registry lives there)")
        path, version = registry.resolve_model(warehouse, "champion", SFT_MODEL_NAME, uri)
        description.update(base_path=str(path), base_version=version)
    else:
        path = Path(base)
        if not path.exists():
            raise FileNotFoundError(f"SFT base {base!r} is not 'tiny', 'champion' or an existing folder")
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.chat_template is None:
        tokenizer.chat_template = CHAT_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = "bfloat16" if cuda_available() else "float32"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    return model, tokenizer, description


def sft_args(config: SFTTrainConfig, output_dir: str | Path):
    """TRL SFTConfig for this run: bf16 + packing on CUDA, plain fp32 on CPU."""
    import importlib.util

    from trl import SFTConfig

    cuda = cuda_available()
    packing = cuda if config.packing is None else config.packing
    # BFD packing is padding-free and needs FlashAttention; without it, wrap sequences into blocks.
    strategy = "bfd" if importlib.util.find_spec("flash_attn") else "wrapped"
    return SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0,
        max_length=config.max_length,
        packing=packing,
        packing_strategy=strategy,
        bf16=cuda,
        gradient_checkpointing=False,  # the bench model fits; recomputation would cost ~20% speed
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        seed=config.seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=cuda,  # pinning only helps host-to-GPU copies
    )


def fit_sft(
    train_conversations: list[list[dict]],
    eval_conversations: list[list[dict]],
    config: SFTTrainConfig,
    out: str | Path,
    warehouse=None,
    uri=None,
) -> tuple[dict, dict]:
    """Train and save a plain causal-LM checkpoint (LoRA merged) to ``out``; (metrics, base)."""
    from datasets import Dataset
    from trl import SFTTrainer

    if not train_conversations:
        raise DatasetError("no SFT conversations to train on")
    model, tokenizer, base = load_base(config.base, train_conversations, config.tiny, warehouse, uri)
    peft_config = None
    if config.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules="all-linear", task_type="CAUSAL_LM",
        )
    metrics: dict[str, float] = {}
    if eval_conversations:
        before = heldout_loss(model, tokenizer, eval_conversations, config.max_length)
        metrics.update({"eval_loss_before": before["eval_loss"], "eval_bits_per_byte_before": before["bits_per_byte"]})
    trainer = SFTTrainer(
        model=model,
        args=sft_args(config, Path(out) / "trainer"),
        train_dataset=Dataset.from_dict(to_prompt_completion(train_conversations, config.max_length)),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    result = trainer.train()
    trained = trainer.model
    if config.lora:
        trained = trained.merge_and_unload()  # serving and evaluation load a plain checkpoint
    Path(out).mkdir(parents=True, exist_ok=True)
    trained.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    metrics.update(
        train_loss=float(result.training_loss),
        train_steps=float(result.global_step),
        train_conversations=float(len(train_conversations)),
        train_tokens=float(getattr(trainer, "_total_train_tokens", 0) or 0),
    )
    if eval_conversations:
        after = heldout_loss(trained, tokenizer, eval_conversations, config.max_length)
        metrics.update(eval_loss=after["eval_loss"], eval_bits_per_byte=after["bits_per_byte"])
    return metrics, base


def train_sft(
    warehouse: str | Path | None = None,
    dataset_id: str | None = None,
    *,
    dataset_path: str | Path | None = None,
    config: SFTTrainConfig = DEFAULT_SFT,
    out: str | Path | None = None,
    register: bool = True,
    tracking_uri: str | None = None,
    event_ids: set[str] | None = None,
    tags: dict[str, str] | None = None,
) -> dict:
    """Train, write meta.json, log to MLflow and register a ``flywheel-sft`` version.

    ``event_ids``: train (and measure) on rows whose source interaction is one of these
    (``read_sft_rows``), plus ``config.replay`` earlier rows per such row (``replay_rows``).
    ``tags``: extra registry tags for the version (the cycle's ``retrain_of``).
    Returns {"model_dir", "metrics", "dataset_id", and when registered "run_id", "version", ...}.
    """
    dataset, out = resolve_run(warehouse, dataset_id, dataset_path, out, "sft", config)
    train = read_sft_rows(dataset, "train", event_ids)
    replayed = ([] if event_ids is None else
                replay_rows(dataset, event_ids, len(train), config.replay, config.seed))
    evaluation = read_sft_rows(dataset, "eval", event_ids) if dataset.has("sft", "eval") else []
    metrics, base = fit_sft(train + replayed, evaluation, config, out, warehouse, tracking_uri)
    metrics["train_replayed_conversations"] = float(len(replayed))
    meta = write_meta(out, kind="sft", config=config, dataset=dataset, metrics=metrics,
                      levers=["sft"], **base)
    info = {"model_dir": str(out), "metrics": metrics, "dataset_id": dataset.dataset_id}
    if register and warehouse is not None:
        tags = {**(tags or {}), **version_tags(meta)}
        if base.get("base_version") is not None:
            tags["base_version"] = str(base["base_version"])
        tags["levers"] = "sft"
        info.update(
            registry.log_and_register(
                warehouse, model_name=SFT_MODEL_NAME, model_dir=out, kind="sft",
                params=registry.flatten_params(config), metrics=metrics, dataset=dataset, tags=tags,
                uri=tracking_uri,
            )
        )
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.sft", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse")
    parser.add_argument("--dataset", help="dataset id under WAREHOUSE/datasets/")
    parser.add_argument("--dataset-path", help="a dataset folder, instead of --warehouse/--dataset")
    parser.add_argument("--base", default=SFTTrainConfig.base, help="tiny | champion | local model folder")
    parser.add_argument("--epochs", type=float, default=SFTTrainConfig.epochs)
    parser.add_argument("--max-steps", type=int, default=SFTTrainConfig.max_steps)
    parser.add_argument("--learning-rate", type=float, default=SFTTrainConfig.learning_rate)
    parser.add_argument("--batch-size", type=int, default=SFTTrainConfig.batch_size)
    parser.add_argument("--max-length", type=int, default=SFTTrainConfig.max_length)
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--out")
    parser.add_argument("--tracking-uri")
    parser.add_argument("--no-register", action="store_true")
    args = parser.parse_args(argv)
    config = replace(
        SFTTrainConfig(), base=args.base, epochs=args.epochs, max_steps=args.max_steps,
        learning_rate=args.learning_rate, batch_size=args.batch_size, max_length=args.max_length, lora=args.lora,
    )
    return cli_result(train_sft, args.warehouse, args.dataset, dataset_path=args.dataset_path,
                      config=config, out=args.out, register=not args.no_register,
                      tracking_uri=args.tracking_uri)


if __name__ == "__main__":
    sys.exit(main())
