"""Reward model: Bradley-Terry with TRL's RewardTrainer must learn a separable preference."""

from __future__ import annotations

import json

import pytest
import torch

from tests.training.conftest import toy_pairs
from training import reward
from training.config import RewardTrainConfig
from training.data import write_dataset


def test_truncation_keeps_response_head_and_prompt_tail():
    _, tokenizer = reward.load_base("tiny")
    config = RewardTrainConfig(max_length=32, max_response_tokens=8)
    prompt = "old " * 100 + "latest question"
    ids = reward.encode_pair_ids(tokenizer, prompt, "first words of the answer " * 10, config)
    text = tokenizer.decode(ids)
    assert len(ids) == 32
    assert text.startswith("[CLS]") and "latest question [SEP] first words" in text
    # an answer budget above max_length still gives at most max_length tokens
    assert len(reward.encode_pair_ids(tokenizer, prompt, "word " * 500, RewardTrainConfig(max_length=32))) == 32


@pytest.mark.slow
def test_tiny_encoder_learns_separable_preferences(tmp_path):
    folder = write_dataset(tmp_path, "toy", preferences={"train": toy_pairs(64, 1), "eval": toy_pairs(32, 2)})
    untrained, tokenizer = reward.load_base("tiny")
    before = reward.pairwise_metrics(reward.RewardScorer(untrained, tokenizer), toy_pairs(32, 2))
    info = reward.train_reward(
        dataset_path=folder, out=tmp_path / "rm", register=False,
        config=RewardTrainConfig(base="tiny", epochs=3, learning_rate=1e-3, batch_size=8),
    )
    metrics = info["metrics"]
    assert metrics["eval_pairwise_accuracy"] >= 0.9
    assert metrics["eval_accuracy_ci_low"] > 0.5
    assert metrics["eval_bt_loss"] < before["eval_bt_loss"]
    meta = json.loads((tmp_path / "rm" / "meta.json").read_text())
    assert meta["dataset_id"] == "toy" and meta["metrics"]["eval_pairwise_accuracy"] == metrics["eval_pairwise_accuracy"]
    # the saved checkpoint scores like the trained one
    scorer = reward.RewardScorer.load(tmp_path / "rm")
    assert reward.pairwise_metrics(scorer, toy_pairs(32, 2))["eval_pairwise_accuracy"] >= 0.9


@pytest.mark.slow
def test_pretrained_minilm_loads_offline_and_takes_a_step(tmp_path):
    model, tokenizer = reward.load_base("minilm")
    assert model.config.num_labels == 1 and model.config.hidden_size == 384
    head_before = model.classifier.weight.detach().clone()
    encoder_before = model.bert.embeddings.word_embeddings.weight.detach().clone()
    metrics = reward.fit_reward_model(
        toy_pairs(8, 3), toy_pairs(4, 4), RewardTrainConfig(base="minilm", batch_size=8, max_length=64), tmp_path
    )
    trained = reward.RewardScorer.load(tmp_path).model
    assert not torch.equal(trained.classifier.weight, head_before)
    assert not torch.equal(trained.bert.embeddings.word_embeddings.weight, encoder_before)
    assert 0.0 <= metrics["eval_pairwise_accuracy"] <= 1.0 and metrics["train_pairs"] == 8


def test_validation_split_keeps_each_prompt_on_one_side():
    pairs = [dict(p, prompt=f"{p['prompt']} #{i % 40}") for i, p in enumerate(toy_pairs(400, 5))]
    train, validation = reward.validation_split(pairs, RewardTrainConfig(validation_fraction=0.2))
    assert len(train) + len(validation) == 400 and 40 <= len(validation) <= 140
    assert not {p["prompt"] for p in train} & {p["prompt"] for p in validation}
    # too few to stop on: everything trains
    assert reward.validation_split(pairs[:50], RewardTrainConfig(validation_fraction=0.2)) == (pairs[:50], [])


def test_length_baseline_counts_ties_half():
    assert reward.length_baseline(toy_pairs(10, 1))["length_accuracy"] == 0.0  # the rude answer is longer
    assert reward.length_baseline(toy_pairs(10, 1, longer_wins=True))["length_accuracy"] == 1.0
    tie = {"prompt": "p", "chosen": "abc", "rejected": "xyz"}
    assert reward.length_baseline([tie])["length_accuracy"] == 0.5


@pytest.mark.slow
def test_early_stopping_keeps_the_best_epoch_and_margins_train(tmp_path):
    pairs = [dict(p, prompt=f"{p['prompt']} #{i % 30}", margin=0.5) for i, p in enumerate(toy_pairs(200, 6))]
    config = RewardTrainConfig(base="tiny", epochs=4, learning_rate=1e-3, batch_size=16, validation_fraction=0.3,
                               early_stopping_patience=1, margin_scale=1.0, center_rewards_coefficient=0.01)
    metrics = reward.fit_reward_model(pairs, toy_pairs(32, 2), config, tmp_path)
    assert metrics["validation_pairs"] >= 32 and metrics["train_pairs"] + metrics["validation_pairs"] == 200
    assert metrics["validation_best_bt_loss"] < 0.6931  # better than a coin: it learnt
    assert 1.0 <= metrics["epochs_trained"] <= 4.0
    assert metrics["eval_pairwise_accuracy"] >= 0.9 and metrics["length_accuracy"] == 0.0
    assert not (tmp_path / "trainer").exists()  # per-epoch checkpoints are not left behind
