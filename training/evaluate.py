"""Evaluation gate: a candidate SFT model against the champion, on the dataset's eval split.

    python -m training.evaluate --warehouse DIR --dataset ID --candidate PATH|VERSION
        [--champion PATH|VERSION|champion|none] [--reward-model PATH|VERSION|champion] [--out FILE]

Measures, for both models: held-out loss (nats/token and bits/byte: bits/byte compares models with
different tokenizers), greedy answers to held-out prompts, the rate of empty and degenerate
(repetitive) answers, and the rate of answers resembling flagged ones when the dataset has any.
The reward model scores both models' answers to the same prompts: the candidate's win rate with a
bootstrap CI. The reward model's own held-out accuracy on the dataset's preference eval pairs is
measured beside the length rule (longer answer wins): a reward model that does not beat that
rule gets no vote (``RewardCheck``). ``should_promote`` turns the results into the decision; it
is pure, and runs once: the evaluation JSON records it and promotion only acts on it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from curation.stats import bootstrap_mean_ci
from training import registry
from training.config import (
    DEFAULT_EVAL,
    DEFAULT_POLICY,
    REWARD_MODEL_NAME,
    SFT_MODEL_NAME,
    EvalConfig,
    GatePolicy,
)
from training.data import (
    DatasetError,
    DatasetRef,
    read_preferences,
    read_sft,
    render_conversation,
    resolve_dataset,
)
from training.device import device_name
from training.reward import RewardScorer, length_baseline, pairwise_metrics
from warehouse import files as storage
from warehouse import layout


@dataclass(frozen=True)
class EvalResult:
    model: str  # path (or registry reference) of the evaluated checkpoint
    version: int | None  # registry version when known
    eval_loss: float  # mean NLL per answer token, nats (only comparable with the same tokenizer)
    bits_per_byte: float  # answer NLL in bits per UTF-8 byte: tokenizer-independent
    n_eval: int  # conversations in the loss pass
    n_prompts: int  # prompts answered
    empty_rate: float
    degenerate_rate: float
    flagged_rate: float  # answers resembling a flagged answer (0 when the dataset has none)
    mean_reward: float | None = None
    win_rate: float | None = None  # vs the champion, on the same prompts (ties = half)
    win_rate_ci_low: float | None = None
    win_rate_ci_high: float | None = None
    contains_erased_user_data: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> EvalResult:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class RewardCheck:
    """Whether the reward model's win rate may decide: its accuracy on the day's held-out pairs
    against the length rule's on the same pairs."""

    pairs: int  # preference eval pairs of the dataset
    accuracy: float | None  # reward model, ties half (None: no pairs)
    accuracy_ci_low: float | None  # Wilson 95%
    length_accuracy: float | None  # longer answer wins, ties half

    @property
    def trusted(self) -> bool:
        # Beat the rule with confidence: the reward model's lower bound above the rule's accuracy.
        if not self.pairs or self.accuracy_ci_low is None or self.length_accuracy is None:
            return False
        return self.accuracy_ci_low > self.length_accuracy

    @classmethod
    def from_dict(cls, data: dict) -> RewardCheck:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


MIN_SCOPED_EVAL = 5  # fewer fresh eval conversations than this: the loss is read on the whole split
UNTRUSTED_SUFFIX = "_reward_model_untrusted"  # added to a reason reached without the win rate
NO_GAIN = "no_significant_improvement"  # every check passed, but no offline gain


def should_promote(
    candidate: EvalResult, champion: EvalResult | None, policy: GatePolicy, reward: RewardCheck | None = None
) -> tuple[bool, str]:
    """(promote?, snake_case reason). Pure: everything it needs is in its arguments.

    The win rate counts only when ``reward`` says the reward model beats the length rule (or when
    the policy does not ask); otherwise the loss decides and the reason ends in
    ``_reward_model_untrusted``.
    """
    if candidate.contains_erased_user_data:
        return False, "contains_erased_user_data"
    if not math.isfinite(candidate.bits_per_byte):
        return False, "non_finite_loss"
    if candidate.empty_rate > policy.max_empty_rate:
        return False, "too_many_empty_answers"
    if candidate.degenerate_rate > policy.max_degenerate_rate:
        return False, "too_many_degenerate_answers"
    if candidate.flagged_rate > policy.max_flagged_rate:
        return False, "resembles_flagged_answers"
    if champion is None:
        return True, "first_model_sanity_passed"
    if candidate.bits_per_byte > champion.bits_per_byte * (1 + policy.loss_tolerance):
        return False, "loss_regression"
    for name in ("empty_rate", "degenerate_rate", "flagged_rate"):
        extra = (getattr(candidate, name) * candidate.n_prompts
                 - getattr(champion, name) * champion.n_prompts)
        if (getattr(candidate, name) > getattr(champion, name) + policy.rate_tolerance
                and extra >= policy.min_regression_answers - 1e-9):
            return False, f"{name.removesuffix('_rate')}_regression"
    trusted = not policy.require_reward_above_length or (reward is not None and reward.trusted)
    ignored = candidate.win_rate_ci_low is not None and not trusted
    if not ignored and candidate.win_rate_ci_low is not None and candidate.win_rate_ci_low > policy.min_win_rate_ci_low:
        return True, "win_rate_ci_above_threshold"
    suffix = UNTRUSTED_SUFFIX if ignored else ""
    if candidate.bits_per_byte <= champion.bits_per_byte * (1 - policy.min_relative_loss_improvement):
        return True, "loss_improved" + suffix
    return False, NO_GAIN + suffix


def canary_decision(promote: bool, reason: str, policy: GatePolicy) -> dict:
    """``should_promote``'s verdict when a canary follows (there is a champion): a pass goes to
    the canary instead of promotion; so does a candidate whose only shortfall is no offline gain,
    when ``policy.canary_without_offline_gain`` (every regression and sanity check passed
    before that reason is reached). Anything else stays refused."""
    if promote:
        return {"promote": False, "canary": True, "reason": f"canary_after_{reason}"}
    if policy.canary_without_offline_gain and reason.startswith(NO_GAIN):
        return {"promote": False, "canary": True,
                "reason": f"canary_after_no_regression{reason.removeprefix(NO_GAIN)}"}
    return {"promote": False, "reason": reason}


# ---------------------------------------------------------------------------------------------
# Measurements


def load_causal_lm(path: str | Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"  # batched generation continues from the right edge
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path)
    return model.to(device_name()).eval(), tokenizer


def token_ids(encoded) -> list[int]:
    """The token ids of ``apply_chat_template(..., tokenize=True)``, whichever type it returned."""
    # transformers 5 returns a BatchEncoding from apply_chat_template(tokenize=True)
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def heldout_loss(model, tokenizer, conversations: list[list[dict]], max_length: int = 512) -> dict[str, float]:
    """Answer-only NLL of the last (assistant) message given the rest, summed over the split."""
    import torch

    device = next(model.parameters()).device
    total_nll, total_tokens, total_bytes = 0.0, 0, 0
    model.eval()
    for messages in conversations:
        prompt = token_ids(tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True))
        full = token_ids(tokenizer.apply_chat_template(messages, tokenize=True))
        answer_len = len(full) - len(prompt)
        if answer_len <= 0:
            continue
        full = full[-max_length:]  # the prompt is cut from the left
        answer_len = min(answer_len, len(full) - 1)
        input_ids = torch.tensor([full], device=device)
        with torch.no_grad():
            logits = model(input_ids=input_ids).logits[0, :-1].float()
        targets = input_ids[0, 1:]
        nll = torch.nn.functional.cross_entropy(logits, targets, reduction="none")[-answer_len:]
        total_nll += float(nll.sum())
        total_tokens += answer_len
        total_bytes += len(messages[-1]["content"].encode("utf-8")) + 1  # +1: the end-of-turn
    if total_tokens == 0:
        return {"eval_loss": float("nan"), "bits_per_byte": float("nan"), "n_eval": 0}
    return {
        "eval_loss": total_nll / total_tokens,
        "bits_per_byte": total_nll / math.log(2) / total_bytes,
        "n_eval": len(conversations),
    }


def generate_answers(model, tokenizer, prompts: list[list[dict]], config: EvalConfig) -> list[str]:
    """Greedy, short answers to each prompt conversation."""
    import torch

    device = next(model.parameters()).device
    answers: list[str] = []
    for start in range(0, len(prompts), config.batch_size):
        batch = [
            token_ids(tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=True))[
                -(config.max_length - config.max_new_tokens) :
            ]
            for p in prompts[start : start + config.batch_size]
        ]
        width = max(len(ids) for ids in batch)
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch], device=device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=device)
        with torch.no_grad():
            output = model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=config.max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
                eos_token_id=tokenizer.eos_token_id,
            )
        for row in output[:, width:]:
            answers.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    return answers


def _word_trigrams(text: str) -> list[tuple[str, ...]]:
    words = text.lower().split()
    return [tuple(words[i : i + 3]) for i in range(len(words) - 2)]


def is_degenerate(answer: str, config: EvalConfig = DEFAULT_EVAL) -> bool:
    """Repetitive answer: most of its word trigrams are repeats (or one character over and over)."""
    words = answer.split()
    if len(words) < config.degenerate_min_words:
        stripped = answer.replace(" ", "")
        return len(stripped) >= 12 and len(set(stripped)) <= 2  # "!!!!!!!!!!!!"
    trigrams = _word_trigrams(answer)
    repeated = 1 - len(set(trigrams)) / len(trigrams)
    return repeated > config.degenerate_repeat_ratio


def resembles(answer: str, flagged: list[set], threshold: float) -> bool:
    grams = set(_word_trigrams(answer))
    if not grams:
        return False
    return any(len(grams & other) / len(grams | other) >= threshold for other in flagged if other)


def flagged_answers(dataset: DatasetRef) -> list[str]:
    """Answers the dataset marks as flagged: ``flagged/eval.parquet`` (column ``response``) or the
    rejected side of preference pairs whose ``rule`` mentions ``flag``."""
    texts: list[str] = []
    path = dataset.path / "flagged" / "eval.parquet"
    if path.exists():
        rows = storage.read_parquet(str(path), columns=["response"])  # a path or a URL
        texts += [t for t in rows.column("response").to_pylist() if t]
    for split in ("train", "eval"):
        if dataset.has("preferences", split):
            texts += [row["rejected"] for row in read_preferences(dataset, split) if "flag" in row["rule"]]
    return texts


def measure(model_path: str | Path, version: int | None, conversations, prompts, flagged, config: EvalConfig):
    """(partial EvalResult dict, answers) for one model."""
    model, tokenizer = load_causal_lm(model_path)
    loss = heldout_loss(model, tokenizer, conversations, config.max_length)
    answers = generate_answers(model, tokenizer, prompts, config)
    flagged_grams = [set(_word_trigrams(t)) for t in flagged]
    n = max(len(answers), 1)
    meta_path = Path(model_path) / "meta.json"
    erased = bool(json.loads(meta_path.read_text()).get("contains_erased_user_data")) if meta_path.exists() else False
    result = {
        "model": str(model_path),
        "version": version,
        **loss,
        "n_prompts": len(answers),
        "empty_rate": sum(not a.strip() for a in answers) / n,
        "degenerate_rate": sum(is_degenerate(a, config) for a in answers) / n,
        "flagged_rate": sum(resembles(a, flagged_grams, config.flagged_similarity) for a in answers) / n,
        "contains_erased_user_data": erased,
    }
    del model  # two models + a reward model need not sit in memory together
    return result, answers


def evaluate(
    candidate: str | Path,
    champion: str | Path | None = None,
    reward_model: str | Path | None = None,
    *,
    warehouse: str | Path | None = None,
    dataset_id: str | None = None,
    dataset_path: str | Path | None = None,
    out: str | Path | None = None,
    config: EvalConfig = DEFAULT_EVAL,
    policy: GatePolicy = DEFAULT_POLICY,
    tracking_uri: str | None = None,
    eval_event_ids: set[str] | None = None,
    canary: bool = False,
) -> str:
    """Evaluate ``candidate`` (and ``champion``); write the evaluation JSON and return its path.

    Models are local paths, registry version numbers or aliases (``champion``), resolved against
    ``flywheel-sft`` / ``flywheel-reward`` in the warehouse's registry. ``champion=None`` or
    ``"none"`` evaluates a first model; ``"champion"`` with no champion yet does the same.

    ``eval_event_ids``: measure on the eval rows of these interactions (what users said since the
    champion was trained), unless fewer than ``MIN_SCOPED_EVAL`` remain. ``canary``: a candidate
    that passes against a champion is not promoted yet but sent to the canary
    (``decision.canary``); the online check (``training.online``) decides on its traffic.
    """
    from training.sft import read_sft_rows

    dataset = resolve_dataset(warehouse, dataset_id, dataset_path)
    conversations = read_sft(dataset, "eval")
    if not conversations:
        raise DatasetError(f"dataset {dataset.dataset_id} has an empty SFT eval split")
    scope = "all"
    if eval_event_ids is not None:
        scoped = read_sft_rows(dataset, "eval", eval_event_ids)
        if len(scoped) >= MIN_SCOPED_EVAL:
            conversations, scope = scoped, "since_champion"
    prompts = [c[:-1] for c in conversations[: config.max_prompts]]
    flagged = flagged_answers(dataset)

    candidate_path, candidate_version = _resolve(warehouse, str(candidate), SFT_MODEL_NAME, tracking_uri)
    champion_path, champion_version = None, None
    if champion not in (None, "none"):
        try:
            champion_path, champion_version = _resolve(warehouse, str(champion), SFT_MODEL_NAME, tracking_uri)
        except registry.RegistryError:
            if str(champion) != "champion":
                raise
    candidate_result, candidate_answers = measure(
        candidate_path, candidate_version, conversations, prompts, flagged, config
    )
    champion_result, champion_answers = None, None
    if champion_path is not None:
        champion_result, champion_answers = measure(
            champion_path, champion_version, conversations, prompts, flagged, config
        )

    comparison, reward_check = {}, None
    if reward_model is not None:
        reward_path, reward_version = _resolve(warehouse, str(reward_model), REWARD_MODEL_NAME, tracking_uri)
        comparison["reward_model"] = {"path": str(reward_path), "version": reward_version}
        reward_check = score_with_reward_model(
            reward_path, dataset, prompts, candidate_result, candidate_answers, champion_result, champion_answers, config
        )

    candidate_eval = EvalResult.from_dict(candidate_result)
    champion_eval = EvalResult.from_dict(champion_result) if champion_result else None
    promote, reason = should_promote(candidate_eval, champion_eval, policy, reward_check)
    decision = {"promote": promote, "reason": reason,
                "reward_model_trusted": reward_check.trusted if reward_check else None}
    if canary and champion_eval is not None:
        decision.update(canary_decision(promote, reason, policy))
    report = {
        "dataset_id": dataset.dataset_id,
        "dataset_path": str(dataset.path.resolve()),
        "candidate": asdict(candidate_eval),
        "champion": asdict(champion_eval) if champion_eval else None,
        "comparison": comparison,
        "reward_check": {**asdict(reward_check), "trusted": reward_check.trusted} if reward_check else None,
        "config": asdict(config),
        "policy": asdict(policy),
        # the decision, made here once: promotion and the DAG act on it, never recompute it
        "decision": decision,
        "eval_scope": scope,
        # a few answers for a human to eyeball; the eval split is scrubbed, answers are model text
        "samples": [
            {"candidate": a, "champion": (champion_answers or [None] * len(candidate_answers))[i]}
            for i, a in enumerate(candidate_answers[:5])
        ],
        "git_sha": registry.git_sha(),
    }
    if out is None:
        if warehouse is None:
            raise DatasetError("give --out FILE when there is no --warehouse")
        name = f"v{candidate_version}" if candidate_version is not None else Path(candidate_path).name
        against = f"v{champion_version}" if champion_version is not None else "none"
        out = layout.evaluation_path(str(warehouse), dataset.dataset_id, name, against)
    # atomic: a temp file and os.replace locally, one whole-object PUT on an object store
    storage.atomic_write(str(out), json.dumps(report, indent=2, sort_keys=True))
    return str(out)


def score_with_reward_model(
    reward_path, dataset: DatasetRef, prompts, candidate_result: dict, candidate_answers: list[str],
    champion_result: dict | None, champion_answers: list[str] | None, config: EvalConfig,
) -> RewardCheck:
    """Mean rewards and the candidate's win rate (into the result dicts); the reward model's check."""
    scorer = RewardScorer.load(reward_path)
    rendered = [_render(p) for p in prompts]
    candidate_scores = scorer.score(rendered, candidate_answers)
    candidate_result["mean_reward"] = sum(candidate_scores) / len(candidate_scores)
    if champion_answers is not None:
        champion_scores = scorer.score(rendered, champion_answers)
        champion_result["mean_reward"] = sum(champion_scores) / len(champion_scores)
        wins = [1.0 if c > h else 0.5 if c == h else 0.0 for c, h in zip(candidate_scores, champion_scores, strict=True)]
        low, high = bootstrap_mean_ci(wins, config.bootstrap_samples, config.ci_level, config.seed)
        candidate_result.update(win_rate=sum(wins) / len(wins), win_rate_ci_low=low, win_rate_ci_high=high)
    pairs = read_preferences(dataset, "eval") if dataset.has("preferences", "eval") else []
    accuracy, length = pairwise_metrics(scorer, pairs), length_baseline(pairs)
    return RewardCheck(pairs=len(pairs), accuracy=accuracy.get("eval_pairwise_accuracy"),
                       accuracy_ci_low=accuracy.get("eval_accuracy_ci_low"), length_accuracy=length.get("length_accuracy"))


def _render(prompt: list[dict]) -> str:
    return render_conversation(prompt)


def _resolve(warehouse, spec: str, model_name: str, uri: str | None) -> tuple[Path, int | None]:
    if storage.is_url(spec):  # a checkpoint folder on a store: transformers loads local files
        return storage.get_tree(spec, storage.local_copy(spec)), None
    if Path(spec).exists() or warehouse is None:
        if not Path(spec).exists():
            raise FileNotFoundError(f"model {spec!r} is not a folder (registry lookups need --warehouse)")
        return Path(spec), None  # a folder: its registry version, if any, is the caller's to give
    return registry.resolve_model(warehouse, spec, model_name, uri)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse")
    parser.add_argument("--dataset")
    parser.add_argument("--dataset-path")
    parser.add_argument("--candidate", required=True, help="folder, registry version of flywheel-sft, or alias")
    parser.add_argument("--champion", default="champion", help="folder, version, alias, or 'none'")
    parser.add_argument("--reward-model", help="folder, version of flywheel-reward, or alias")
    parser.add_argument("--max-prompts", type=int, default=EvalConfig.max_prompts)
    parser.add_argument("--max-new-tokens", type=int, default=EvalConfig.max_new_tokens)
    parser.add_argument("--out")
    parser.add_argument("--tracking-uri")
    args = parser.parse_args(argv)
    config = EvalConfig(max_prompts=args.max_prompts, max_new_tokens=args.max_new_tokens)
    try:
        path = evaluate(
            args.candidate, args.champion, args.reward_model, warehouse=args.warehouse, dataset_id=args.dataset,
            dataset_path=args.dataset_path, out=args.out, config=config, tracking_uri=args.tracking_uri,
        )
    except (DatasetError, FileNotFoundError, registry.RegistryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    decision = json.loads(storage.read_bytes(path))["decision"]
    print(json.dumps({"evaluation": path, **decision}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
