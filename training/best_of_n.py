"""Reward-model best-of-n: SFT on the answers the users' reward model likes best among the
policy's own samples (rejection-sampling fine-tuning).

    python -m training.best_of_n --warehouse DIR --dataset ID --base PATH|champion --reward PATH
        [--n 4] [--epochs N] [--out DIR]

For each prompt users asked (the dataset's train prompts, SFT rows and preference pairs; the
cycle passes those since the champion), the policy samples ``n`` answers as the gateway would,
the reward model trained on the same users' pairs scores them, and the best one becomes an SFT
row, kept only when it beats the mean of its siblings by ``min_margin``. Thumbs and edits say
what users liked of what they saw; best-of-n asks the reward model, which generalises those
choices, about answers they never saw, so the candidate learns from every prompt and not only
from the few answers users rated or rewrote. The rows then train like the ``sft`` lever
(``training.sft.fit_sft``, with the same replay of earlier rows), and the result registers as a
``flywheel-sft`` version tagged with its levers.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from training import registry
from training.config import DEFAULT_SFT, SFTTrainConfig
from training.data import DatasetError, render_conversation
from training.reward import cli_result, register_policy, resolve_base, resolve_run, write_meta


@dataclass(frozen=True)
class BestOfNConfig:
    n: int = 4  # samples per prompt: the reward model's choice among them is the signal
    max_new_tokens: int = 48  # what the users ask for (feedback.users.UsersConfig.max_tokens)
    temperature: float = 0.7  # and how the gateway samples for them
    # A prompt's best sample becomes a row only when its reward beats the mean of the prompt's
    # samples by this much: where the reward model sees no difference, there is nothing to learn.
    min_margin: float = 0.0
    max_prompts: int = 400  # bounds CPU time: n samples each
    seed: int = 0


DEFAULT_BEST_OF_N = BestOfNConfig()


def user_prompts(ref, split: str, event_ids: set[str] | None = None) -> list[list[dict]]:
    """The distinct prompts (messages up to the answer) of a split's SFT rows and preference
    pairs, restricted to ``event_ids`` as the ``sft`` and ``dpo`` levers are; in dataset order."""
    from training.dpo import read_pairs
    from training.sft import read_sft_rows

    prompts = [c[:-1] for c in read_sft_rows(ref, split, event_ids)] if ref.has("sft", split) else []
    if ref.has("preferences", split):
        prompts += [p["messages"] for p in read_pairs(ref, split, event_ids)]
    seen, out = set(), []
    for messages in prompts:
        key = render_conversation(messages)
        if messages and key not in seen:
            seen.add(key)
            out.append(messages)
    return out


def sample_answers(model, tokenizer, prompt: list[dict], config: BestOfNConfig, seed: int) -> list[str]:
    """``config.n`` sampled answers of the policy to one prompt, seeded."""
    import torch

    from training.evaluate import token_ids

    ids = token_ids(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True))
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(input_ids=torch.tensor([ids[-(512 - config.max_new_tokens):]], device=device),
                             max_new_tokens=config.max_new_tokens, do_sample=True,
                             temperature=config.temperature, top_p=1.0,
                             num_return_sequences=config.n, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id)
    width = min(len(ids), 512 - config.max_new_tokens)
    return [tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in out]


def best_of_n_rows(policy: str | Path, reward: str | Path, prompts: list[list[dict]],
                   config: BestOfNConfig = DEFAULT_BEST_OF_N) -> tuple[list[list[dict]], dict]:
    """(SFT conversations: each prompt + its best-scored sample, stats). Deterministic for the
    config's seed (prompt ``i`` samples with seed ``seed + i``)."""
    from training.evaluate import load_causal_lm
    from training.reward import RewardScorer

    model, tokenizer = load_causal_lm(policy)
    scorer = RewardScorer.load(reward)
    rows, margins, best_scores, mean_scores = [], [], [], []
    for i, prompt in enumerate(prompts[: config.max_prompts]):
        answers = [a for a in sample_answers(model, tokenizer, prompt, config, config.seed + i) if a]
        if not answers:
            continue
        scores = scorer.score([render_conversation(prompt)] * len(answers), answers)
        best = max(range(len(answers)), key=scores.__getitem__)
        mean = sum(scores) / len(scores)
        best_scores.append(scores[best])
        mean_scores.append(mean)
        if scores[best] - mean > config.min_margin:
            margins.append(scores[best] - mean)
            rows.append([*prompt, {"role": "assistant", "content": answers[best]}])
    count = len(best_scores)
    stats = {"bon_prompts": float(min(len(prompts), config.max_prompts)), "bon_rows": float(len(rows)),
             "bon_mean_best_reward": sum(best_scores) / count if count else float("nan"),
             "bon_mean_sample_reward": sum(mean_scores) / count if count else float("nan"),
             "bon_mean_margin": sum(margins) / len(margins) if margins else float("nan")}
    return rows, stats


def train_best_of_n(
    warehouse: str | Path | None,
    dataset_id: str | None,
    base: str | Path,
    reward: str | Path,
    *,
    dataset_path: str | Path | None = None,
    config: BestOfNConfig = DEFAULT_BEST_OF_N,
    sft_config: SFTTrainConfig = DEFAULT_SFT,
    out: str | Path | None = None,
    register: bool = True,
    tracking_uri: str | None = None,
    event_ids: set[str] | None = None,
    levers: tuple[str, ...] = ("bon",),
    base_version: int | None = None,
    tags: dict[str, str] | None = None,
) -> dict:
    """Best-of-n rows from ``base`` scored by ``reward``, SFT on them from ``base`` (plus
    ``sft_config.replay`` earlier rows per row when ``event_ids`` is given); register it."""
    from training.sft import fit_sft, read_sft_rows, replay_rows

    dataset, out = resolve_run(warehouse, dataset_id, dataset_path, out, "bon", config)
    base, base_version = resolve_base(warehouse, base, base_version, tracking_uri)
    prompts = user_prompts(dataset, "train", event_ids)
    if not prompts:
        raise DatasetError(f"dataset {dataset.dataset_id} has no train prompts for best-of-n")
    rows, stats = best_of_n_rows(base, reward, prompts, config)
    if not rows:
        raise DatasetError("best-of-n: the reward model preferred no sample over its siblings")
    replayed = ([] if event_ids is None else
                replay_rows(dataset, event_ids, len(rows), sft_config.replay, sft_config.seed))
    evaluation = read_sft_rows(dataset, "eval", event_ids) if dataset.has("sft", "eval") else []
    metrics, _ = fit_sft(rows + replayed, evaluation, replace(sft_config, base=str(base)), out)
    metrics.update(stats, train_replayed_conversations=float(len(replayed)))
    meta = write_meta(out, kind="sft", config=config, dataset=dataset, metrics=metrics,
                      base=str(base), base_version=base_version, reward=str(reward),
                      sft_config=asdict(sft_config), levers=list(levers))
    info = {"model_dir": str(out), "metrics": metrics, "dataset_id": dataset.dataset_id}
    if register and warehouse is not None:
        info.update(register_policy(
            warehouse, out, meta, levers=levers, base_version=base_version, tags=tags,
            params={**registry.flatten_params(sft_config),
                    **{f"bon_{k}": str(v) for k, v in asdict(config).items()}},
            metrics=metrics, dataset=dataset, tracking_uri=tracking_uri))
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.best_of_n",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--dataset", required=True, help="dataset id")
    parser.add_argument("--base", required=True, help="policy checkpoint folder, or 'champion'")
    parser.add_argument("--reward", required=True, help="reward model folder")
    parser.add_argument("--n", type=int, default=DEFAULT_BEST_OF_N.n)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--out")
    parser.add_argument("--no-register", action="store_true")
    args = parser.parse_args(argv)
    return cli_result(train_best_of_n, args.warehouse, args.dataset, args.base, args.reward,
                      config=replace(DEFAULT_BEST_OF_N, n=args.n),
                      sft_config=replace(DEFAULT_SFT, epochs=args.epochs, learning_rate=args.learning_rate),
                      out=args.out, register=not args.no_register)


if __name__ == "__main__":
    sys.exit(main())
