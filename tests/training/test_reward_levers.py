"""Reward-model levers: mean pooling, frozen lower layers, and a saved model scored as it was trained."""

from __future__ import annotations

import pytest
import torch

from tests.training.conftest import toy_pairs
from training import reward
from training.config import RewardTrainConfig
from training.reward_heads import MeanPooledRewardModel, freeze_lower_layers, to_mean_pooling

TINY = RewardTrainConfig(base="tiny", epochs=1, learning_rate=1e-3, batch_size=8, validation_fraction=0.0)


def test_mean_pooling_ignores_padding():
    model, tokenizer = reward.load_base("tiny", pooling="mean")
    assert isinstance(model, MeanPooledRewardModel)
    scorer = reward.RewardScorer(model, tokenizer, TINY)
    short, long = "a short answer", "a much longer answer that pads the short one in the batch " * 3
    alone = scorer.score(["p"], [short])[0]
    batched = scorer.score(["p", "p"], [short, long])[0]  # the short one is padded to the long one's width
    assert alone == pytest.approx(batched, abs=1e-5)


def test_unknown_pooling_names_the_choices():
    with pytest.raises(ValueError, match="pooling must be one of"):
        reward.load_base("tiny", pooling="max")


def test_saved_model_is_scored_with_the_config_it_was_trained_with(tmp_path):
    # fit_reward_model alone (the bench's path, no meta.json): the scorer must not fall back to the
    # default 128-token window and [CLS] pooling.
    config = RewardTrainConfig(**{**TINY.__dict__, "max_length": 24, "max_response_tokens": 8, "pooling": "mean"})
    reward.fit_reward_model(toy_pairs(32, 1), [], config, tmp_path)
    scorer = reward.RewardScorer.load(tmp_path)
    assert isinstance(scorer.model, MeanPooledRewardModel)
    assert (scorer.config.max_length, scorer.config.max_response_tokens, scorer.config.pooling) == (24, 8, "mean")
    reloaded = reward.RewardScorer.load(tmp_path).score(["p"], ["some answer"])
    assert scorer.score(["p"], ["some answer"]) == pytest.approx(reloaded)


def test_freeze_lower_layers_keeps_them_and_trains_the_rest(tmp_path):
    model, _ = reward.load_base("tiny")
    with pytest.raises(ValueError, match="only 2 layers"):
        freeze_lower_layers(model, 3)
    before_embeddings = model.bert.embeddings.word_embeddings.weight.detach().clone()
    before_low = model.bert.encoder.layer[0].output.dense.weight.detach().clone()
    before_high = model.bert.encoder.layer[1].output.dense.weight.detach().clone()
    config = RewardTrainConfig(**{**TINY.__dict__, "freeze_layers": 1, "max_length": 32})
    reward.fit_reward_model(toy_pairs(32, 1), [], config, tmp_path)
    trained = reward.RewardScorer.load(tmp_path).model.bert  # load_base is seeded: same start as above
    assert torch.equal(trained.embeddings.word_embeddings.weight, before_embeddings)
    assert torch.equal(trained.encoder.layer[0].output.dense.weight, before_low)
    assert not torch.equal(trained.encoder.layer[1].output.dense.weight, before_high)


def test_to_mean_pooling_keeps_the_encoder_weights():
    model, _ = reward.load_base("tiny")
    pooled = to_mean_pooling(model)
    assert torch.equal(pooled.bert.encoder.layer[1].output.dense.weight, model.bert.encoder.layer[1].output.dense.weight)
