"""Bradley-Terry reward model on preference pairs with TRL's ``RewardTrainer``.

    python -m training.reward --warehouse DIR --dataset ID [--base minilm|tiny|PATH] [--epochs N] [--out DIR]

The loss is TRL's: -log sigmoid(r(prompt, chosen) - r(prompt, rejected)). We tokenize the pairs
ourselves so that truncation keeps what matters: the head of the response (where chosen and
rejected differ) and the tail of the prompt. ``RewardScorer`` scores (prompt, response) the same
way at evaluation time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from dataclasses import asdict, replace
from pathlib import Path

from curation.stats import wilson_interval
from training import registry
from training.config import DEFAULT_REWARD, REWARD_MODEL_NAME, RewardTrainConfig
from training.data import DatasetError, DatasetRef, in_eval_split, read_preferences, resolve_dataset
from training.device import cuda_available, device_name
from warehouse import files as storage

SCORING_CONFIG = "reward_config.json"  # the RewardTrainConfig a saved model was trained with
TRAINER_STATE = "trainer"  # the trainers' per-epoch state under a run's folder: never uploaded


def encode_pair_ids(tokenizer, prompt: str, response: str, config: RewardTrainConfig) -> list[int]:
    """Token ids of (prompt tail, response head), framed like the tokenizer frames a text pair.

    BERT-style tokenizers get ``[CLS] prompt [SEP] response [SEP]``; others ``prompt response
    <eos>`` (a decoder reward model reads the score at the last token).
    """
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if tokenizer.cls_token_id is not None and tokenizer.sep_token_id is not None:
        head, middle, tail = [tokenizer.cls_token_id], [tokenizer.sep_token_id], [tokenizer.sep_token_id]
    else:
        head, middle = [], []
        tail = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    room = config.max_length - len(head) - len(middle) - len(tail)  # never past max_length
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"][: min(config.max_response_tokens, room)]
    budget = max(config.max_length - len(response_ids) - len(head) - len(middle) - len(tail), 0)
    if config.prompt_side == "tail":
        prompt_ids = prompt_ids[len(prompt_ids) - budget :]
    elif config.prompt_side == "head":
        prompt_ids = prompt_ids[:budget]
    else:
        raise ValueError(f"prompt_side must be 'tail' or 'head', got {config.prompt_side!r}")
    return head + prompt_ids + middle + response_ids + tail


def load_base(base: str, seed: int = 0, pooling: str = "cls"):
    """(model with a 1-logit head pooled as asked, tokenizer) for ``minilm``, ``tiny`` or a local path."""
    import torch
    from transformers import AutoTokenizer

    from training.reward_heads import check_pooling, load_scoring_model, to_mean_pooling
    from training.tiny import build_tiny_encoder, minilm_path

    check_pooling(pooling)
    if base == "tiny":
        model, tokenizer = build_tiny_encoder(seed)
        if pooling == "mean":
            torch.manual_seed(seed)
            model = to_mean_pooling(model)
        return model, tokenizer
    path = minilm_path() if base == "minilm" else Path(base)
    if not path.exists():
        raise FileNotFoundError(f"reward base {base!r} is not 'minilm', 'tiny' or an existing folder")
    torch.manual_seed(seed)  # the new score head is random: seed it
    model = load_scoring_model(path, pooling)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


class RewardScorer:
    """Scores (prompt, response) pairs with a trained reward model; loaded once, used in batches."""

    def __init__(self, model, tokenizer, config: RewardTrainConfig = DEFAULT_REWARD):
        import torch

        self.model, self.tokenizer, self.config = model.eval(), tokenizer, config
        self.device = next(model.parameters()).device
        self._torch = torch

    @classmethod
    def load(cls, path: str | Path) -> RewardScorer:
        """A model saved by ``fit_reward_model``, scored with the config it was trained with.

        The config comes from the ``reward_config.json`` that ``fit_reward_model`` writes (or the
        meta.json of older models); the pooling from the checkpoint's own architecture.
        """
        from transformers import AutoTokenizer

        from training.reward_heads import load_saved_model

        config = RewardTrainConfig()
        for name, key in ((SCORING_CONFIG, None), ("meta.json", "config")):
            if (Path(path) / name).exists():
                saved = json.loads((Path(path) / name).read_text())
                saved = saved.get(key, {}) if key else saved
                known = RewardTrainConfig.__dataclass_fields__
                config = replace(config, **{k: v for k, v in saved.items() if k in known})
                break
        model = load_saved_model(path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        return cls(model.to(device_name()), tokenizer, config)

    def score(self, prompts: list[str], responses: list[str]) -> list[float]:
        torch = self._torch
        scores: list[float] = []
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(prompts), self.config.eval_batch_size):
            batch = [
                encode_pair_ids(self.tokenizer, p, r, self.config)
                for p, r in zip(
                    prompts[start : start + self.config.eval_batch_size],
                    responses[start : start + self.config.eval_batch_size],
                    strict=True,
                )
            ]
            width = max(len(ids) for ids in batch)
            input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids in batch], device=self.device)
            mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in batch], device=self.device)
            with torch.no_grad():
                logits = self.model(input_ids=input_ids, attention_mask=mask).logits
            scores.extend(logits.squeeze(-1).float().cpu().tolist())
        return scores


def _accuracy(wins: float, n: int, prefix: str) -> dict[str, float]:
    low, high = wilson_interval(wins, n)
    return {f"{prefix}_accuracy": wins / n, f"{prefix}_accuracy_ci_low": low, f"{prefix}_accuracy_ci_high": high}


def pairwise_metrics(scorer: RewardScorer, pairs: list[dict]) -> dict[str, float]:
    """Held-out pairwise accuracy (ties count half) with a Wilson 95% CI, and the BT loss."""
    if not pairs:
        return {}
    prompts = [p["prompt"] for p in pairs]
    chosen = scorer.score(prompts, [p["chosen"] for p in pairs])
    rejected = scorer.score(prompts, [p["rejected"] for p in pairs])
    wins = sum(1.0 if c > r else 0.5 if c == r else 0.0 for c, r in zip(chosen, rejected, strict=True))
    loss = sum(math.log1p(math.exp(-(c - r))) for c, r in zip(chosen, rejected, strict=True)) / len(pairs)
    accuracy = _accuracy(wins, len(pairs), "eval")
    return {"eval_pairwise_accuracy": accuracy["eval_accuracy"], "eval_accuracy_ci_low": accuracy["eval_accuracy_ci_low"],
            "eval_accuracy_ci_high": accuracy["eval_accuracy_ci_high"], "eval_bt_loss": loss,
            "eval_pairs": float(len(pairs))}


def length_baseline(pairs: list[dict]) -> dict[str, float]:
    """The trivial rule a reward model must beat: the longer answer (in characters) wins; ties half."""
    if not pairs:
        return {}
    wins = sum(
        1.0 if len(p["chosen"]) > len(p["rejected"]) else 0.5 if len(p["chosen"]) == len(p["rejected"]) else 0.0
        for p in pairs
    )
    return {**_accuracy(wins, len(pairs), "length"), "length_pairs": float(len(pairs))}


def validation_split(pairs: list[dict], config: RewardTrainConfig) -> tuple[list[dict], list[dict]]:
    """(train, validation): pairs grouped by prompt, so one prompt's pairs never straddle the two."""
    if config.validation_fraction <= 0:
        return pairs, []
    train, validation = [], []
    for pair in pairs:
        key = f"{config.seed}:{pair['prompt']}"
        (validation if in_eval_split(key, config.validation_fraction) else train).append(pair)
    if len(validation) < config.min_validation_pairs or not train:
        return pairs, []  # too few to stop on: train every epoch on everything
    return train, validation


def _to_dataset(tokenizer, pairs: list[dict], config: RewardTrainConfig):
    from datasets import Dataset

    columns = {
        "chosen_ids": [encode_pair_ids(tokenizer, p["prompt"], p["chosen"], config) for p in pairs],
        "rejected_ids": [encode_pair_ids(tokenizer, p["prompt"], p["rejected"], config) for p in pairs],
    }
    if config.margin_scale:
        # TRL subtracts the margin inside the sigmoid: pairs with a wide rating gap must be won by more.
        columns["margin"] = [config.margin_scale * float(p.get("margin") or 0.0) for p in pairs]
    return Dataset.from_dict(columns)


def reward_args(config: RewardTrainConfig, output_dir: Path, early_stopping: bool):
    """TRL RewardConfig for this run; with early stopping, evaluate and checkpoint every epoch."""
    from trl import RewardConfig

    cuda = cuda_available()
    per_epoch = {"eval_strategy": "epoch", "save_strategy": "epoch", "save_total_limit": 1,
                 "load_best_model_at_end": True, "metric_for_best_model": "eval_loss",
                 "greater_is_better": False, "save_only_model": True} if early_stopping else {"save_strategy": "no"}
    return RewardConfig(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # transformers 5: a float in [0, 1) is a share of the steps
        max_length=None,  # truncated in encode_pair_ids; TRL would drop long pairs instead
        center_rewards_coefficient=config.center_rewards_coefficient,
        bf16=cuda,  # mixed precision only where the hardware has it
        gradient_checkpointing=False,  # small encoders: memory is not the constraint, speed is
        logging_steps=10,
        report_to="none",
        seed=config.seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=cuda,  # pinning only helps host-to-GPU copies
        **per_epoch,
    )


def fit_reward_model(
    train_pairs: list[dict], eval_pairs: list[dict], config: RewardTrainConfig, out: str | Path
) -> dict:
    """Train with TRL's RewardTrainer, save model + tokenizer to ``out``, return metrics.

    A validation split of the train pairs stops training once its BT loss stops improving and
    the best epoch's weights are the ones saved; ``eval_pairs`` are only scored, never tuned on.
    """
    import random
    import shutil

    from transformers import EarlyStoppingCallback
    from trl import RewardTrainer

    from training.reward_heads import freeze_lower_layers

    if not train_pairs:
        raise DatasetError("no preference pairs to train on")
    if config.max_train_pairs is not None and len(train_pairs) > config.max_train_pairs:
        train_pairs = random.Random(config.seed).sample(train_pairs, config.max_train_pairs)
    fit_pairs, validation_pairs = validation_split(train_pairs, config)
    model, tokenizer = load_base(config.base, config.seed, config.pooling)
    freeze_lower_layers(model, config.freeze_layers)
    early_stopping = bool(validation_pairs)
    trainer = RewardTrainer(
        model=model,
        args=reward_args(config, Path(out) / TRAINER_STATE, early_stopping),
        train_dataset=_to_dataset(tokenizer, fit_pairs, config),
        eval_dataset=_to_dataset(tokenizer, validation_pairs, config) if early_stopping else None,
        processing_class=tokenizer,
        callbacks=[EarlyStoppingCallback(config.early_stopping_patience)] if early_stopping else None,
    )
    result = trainer.train()
    Path(out).mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    # how to tokenize and pool at scoring time travels with the weights (RewardScorer.load)
    (Path(out) / SCORING_CONFIG).write_text(json.dumps(asdict(config), indent=2, sort_keys=True))
    shutil.rmtree(Path(out) / TRAINER_STATE, ignore_errors=True)  # per-epoch checkpoints: the best is saved above
    scorer = RewardScorer(trainer.model, tokenizer, config)
    metrics = {"train_loss": float(result.training_loss), "train_pairs": float(len(fit_pairs)),
               "epochs_trained": float(trainer.state.epoch or 0.0)}
    if early_stopping:
        metrics.update(validation_pairs=float(len(validation_pairs)),
                       validation_best_bt_loss=float(trainer.state.best_metric))
    metrics.update(pairwise_metrics(scorer, eval_pairs))
    metrics.update(length_baseline(eval_pairs))
    return metrics


def default_out(warehouse: str | Path, kind: str, dataset_id: str, config) -> str | Path:
    """``WAREHOUSE/models/<kind>/<dataset id>-<config digest>``: a path, or a URL on a store."""
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True, default=str).encode()).hexdigest()[:8]
    if storage.is_url(warehouse):
        return storage.join(str(warehouse), "models", kind, f"{dataset_id}-{digest}")
    return Path(warehouse) / "models" / kind / f"{dataset_id}-{digest}"


def resolve_run(warehouse, dataset_id, dataset_path, out, kind: str, config):
    """The dataset a training run reads and the local folder it writes (default: under the
    warehouse). An object-store destination is trained in its local copy
    (``warehouse.files.local_copy``) and uploaded by ``write_meta``: trainers write local files."""
    dataset = resolve_dataset(warehouse, dataset_id, dataset_path)
    if out is None:
        if warehouse is None:
            raise DatasetError("give --out DIR when there is no --warehouse")
        out = default_out(warehouse, kind, dataset.dataset_id, config)
    return dataset, storage.local_copy(out) if storage.is_url(out) else out


def write_meta(out: str | Path, *, kind: str, config, dataset: DatasetRef, metrics: dict, **extra) -> dict:
    """Write the checkpoint's meta.json, its last file; a checkpoint staged for an object store
    (``resolve_run``) is then uploaded there, meta.json included (``checkpoint_uri`` names it)."""
    remote = storage.remote_of(out)
    meta = {
        "kind": kind,
        "config": asdict(config),
        "dataset_id": dataset.dataset_id,
        "dataset_path": str(dataset.path if storage.is_url(dataset.path) else dataset.path.resolve()),
        "dataset_as_of": dataset.manifest.get("as_of"),
        "contains_erased_user_data": dataset.contains_erased_user_data,
        "git_sha": registry.git_sha(),
        "metrics": metrics,
        **({"checkpoint_uri": remote} if remote else {}),
        **extra,
    }
    (Path(out) / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
    if remote:
        # meta.json last: a folder on the store with a meta.json is a complete checkpoint
        storage.put_tree(out, remote, skip=(TRAINER_STATE,), last="meta.json")
    return meta


def train_reward(
    warehouse: str | Path | None = None,
    dataset_id: str | None = None,
    *,
    dataset_path: str | Path | None = None,
    config: RewardTrainConfig = DEFAULT_REWARD,
    out: str | Path | None = None,
    register: bool = True,
    tracking_uri: str | None = None,
) -> dict:
    """Train, write meta.json, log to MLflow and register a ``flywheel-reward`` version.

    Returns {"model_dir", "metrics", "dataset_id", and when registered "run_id", "version", ...}.
    """
    dataset, out = resolve_run(warehouse, dataset_id, dataset_path, out, "reward", config)
    train_pairs = read_preferences(dataset, "train")
    eval_pairs = read_preferences(dataset, "eval") if dataset.has("preferences", "eval") else []
    metrics = fit_reward_model(train_pairs, eval_pairs, config, out)
    meta = write_meta(out, kind="reward", config=config, dataset=dataset, metrics=metrics)
    info = {"model_dir": str(out), "metrics": metrics, "dataset_id": dataset.dataset_id}
    if register and warehouse is not None:
        info.update(
            registry.log_and_register(
                warehouse,
                model_name=REWARD_MODEL_NAME,
                model_dir=out,
                kind="reward",
                params=registry.flatten_params(config),
                metrics=metrics,
                dataset=dataset,
                tags=version_tags(meta),
                uri=tracking_uri,
            )
        )
    return info


def version_tags(meta: dict) -> dict[str, str]:
    return {
        "dataset_id": meta["dataset_id"],
        "git_sha": meta["git_sha"],
        "kind": meta["kind"],
        registry.ERASED_TAG: str(meta["contains_erased_user_data"]).lower(),
    }


def resolve_base(warehouse, base, base_version: int | None, tracking_uri: str | None):
    """(checkpoint, its registry version): ``base`` itself, or for ``"champion"`` the served
    ``flywheel-sft`` version's local checkpoint (the policy trainers' ``--base champion``)."""
    from training.config import SFT_MODEL_NAME

    if str(base) != "champion":
        return base, base_version
    if warehouse is None:
        raise DatasetError("--base champion needs --warehouse (the registry lives there)")
    return registry.resolve_model(warehouse, "champion", SFT_MODEL_NAME, tracking_uri)


def register_policy(warehouse, out, meta: dict, *, levers: tuple[str, ...], base_version: int | None,
                    tags: dict[str, str] | None, params: dict, metrics: dict, dataset: DatasetRef,
                    tracking_uri: str | None) -> dict:
    """Log and register a continued policy (DPO, best-of-n) as a ``flywheel-sft`` version tagged
    with its levers and the champion version it continued from."""
    from training.config import SFT_MODEL_NAME

    tags = {**(tags or {}), **version_tags(meta), "levers": "+".join(levers)}
    if base_version is not None:
        tags["base_version"] = str(base_version)
    return registry.log_and_register(warehouse, model_name=SFT_MODEL_NAME, model_dir=out, kind="sft",
                                     params=params, metrics=metrics, dataset=dataset, tags=tags,
                                     uri=tracking_uri)


def cli_result(train, *args, **kwargs) -> int:
    """A trainer's CLI tail: run it, print its info as JSON (exit 0), or the error (exit 2)."""
    try:
        info = train(*args, **kwargs)
    except (DatasetError, FileNotFoundError, registry.RegistryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(info, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.reward", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse")
    parser.add_argument("--dataset", help="dataset id under WAREHOUSE/datasets/")
    parser.add_argument("--dataset-path", help="a dataset folder, instead of --warehouse/--dataset")
    parser.add_argument("--base", default=RewardTrainConfig.base, help="minilm | tiny | local model folder")
    parser.add_argument("--epochs", type=float, default=RewardTrainConfig.epochs)
    parser.add_argument("--learning-rate", type=float, default=RewardTrainConfig.learning_rate)
    parser.add_argument("--batch-size", type=int, default=RewardTrainConfig.batch_size)
    parser.add_argument("--max-length", type=int, default=RewardTrainConfig.max_length)
    parser.add_argument("--max-train-pairs", type=int, default=None)
    parser.add_argument("--pooling", default=RewardTrainConfig.pooling, choices=("cls", "mean"))
    parser.add_argument("--margin-scale", type=float, default=RewardTrainConfig.margin_scale)
    parser.add_argument("--freeze-layers", type=int, default=RewardTrainConfig.freeze_layers)
    parser.add_argument("--out")
    parser.add_argument("--tracking-uri")
    parser.add_argument("--no-register", action="store_true", help="train and save only, no MLflow")
    args = parser.parse_args(argv)
    config = RewardTrainConfig(
        base=args.base, epochs=args.epochs, learning_rate=args.learning_rate, batch_size=args.batch_size,
        max_length=args.max_length, max_train_pairs=args.max_train_pairs, pooling=args.pooling,
        margin_scale=args.margin_scale, freeze_layers=args.freeze_layers,
    )
    return cli_result(train_reward, args.warehouse, args.dataset, dataset_path=args.dataset_path,
                      config=config, out=args.out, register=not args.no_register,
                      tracking_uri=args.tracking_uri)


if __name__ == "__main__":
    sys.exit(main())
