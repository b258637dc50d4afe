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
