"""Reward-model best-of-n (training.best_of_n): a policy that answers politely or rudely at
random, a reward model that learnt polite over rude, and SFT on the reward model's pick of the
policy's own samples makes the policy polite more often."""

from __future__ import annotations

from dataclasses import replace

from tests.training.conftest import TOPICS, toy_pairs
from training.best_of_n import (
    BestOfNConfig,
    best_of_n_rows,
    sample_answers,
    train_best_of_n,
    user_prompts,
)
from training.config import SFTTrainConfig
from training.data import resolve_dataset, write_dataset

POLITE = "Sure, here is a helpful and clear answer about {topic}."
RUDE = "No. I will not help you with that, go away and never ask again, {topic} is stupid."
CONFIG = BestOfNConfig(n=4, max_new_tokens=32, temperature=0.7, seed=3)


def _prompt(i: int) -> list[dict]:
    return [{"role": "user", "content": f"tell me about {TOPICS[i % len(TOPICS)]} please, question {i}"}]


def _polite_share(policy, prompts) -> float:
    from training.evaluate import load_causal_lm

    model, tokenizer = load_causal_lm(policy)
    answers = [a for i, p in enumerate(prompts) for a in sample_answers(model, tokenizer, p, CONFIG, 100 + i)]
    return sum("helpful" in a and "go away" not in a for a in answers) / len(answers)


def test_best_of_n_makes_the_policy_answer_as_the_reward_model_prefers(tmp_path):
    from training.config import RewardTrainConfig
    from training.reward import train_reward
    from training.sft import train_sft

    # a tiny reward model that learnt polite over rude (toy pairs, no real data needed)
    pairs = write_dataset(tmp_path, "pairs", preferences={"train": toy_pairs(64, 1), "eval": toy_pairs(32, 2)})
    reward = train_reward(dataset_path=pairs, out=tmp_path / "reward", register=False,
                          config=RewardTrainConfig(base="tiny", epochs=3, learning_rate=1e-3,
                                                   batch_size=8))["model_dir"]

    # every prompt once with each answer: the policy learns a coin per prompt
    rows = [{"messages": [*_prompt(i), {"role": "assistant", "content": answer.format(topic=TOPICS[i % 10])}],
             "source_event_id": f"e{i}-{k}"}
            for i in range(40) for k, answer in enumerate((POLITE, RUDE))]
    dataset = write_dataset(tmp_path, "bon-test", sft={"train": rows, "eval": rows[:4]})
    sft = SFTTrainConfig(max_length=96, batch_size=8, learning_rate=3e-3, max_steps=200)
    policy = train_sft(dataset_path=dataset, out=tmp_path / "policy", register=False, config=sft)["model_dir"]
    prompts = [_prompt(i) for i in range(40)]
    assert user_prompts(resolve_dataset(dataset_path=dataset), "train") == prompts  # distinct, in order

    picked, stats = best_of_n_rows(policy, reward, prompts, CONFIG)
    again, _ = best_of_n_rows(policy, reward, prompts, CONFIG)
    assert picked == again  # seeded: a rerun of the day builds the same rows
    assert stats["bon_mean_best_reward"] > stats["bon_mean_sample_reward"]

    before = _polite_share(policy, prompts)
    info = train_best_of_n(None, None, policy, reward, dataset_path=dataset, config=CONFIG,
                           sft_config=replace(sft, learning_rate=1e-3, max_steps=-1, epochs=3.0),
                           out=tmp_path / "bon", register=False)
    after = _polite_share(info["model_dir"], prompts)
    assert info["metrics"]["bon_rows"] > 0
    assert 0.2 < before < 0.8, f"the policy should answer both ways before ({before:.2f})"
    assert after > before + 0.2, f"polite share {before:.2f} -> {after:.2f}"

