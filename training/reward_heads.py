"""How the reward model turns an encoder's token states into one score, and which layers train.

``pooling="cls"`` is transformers' ``BertForSequenceClassification``: BERT's pooler (a dense +
tanh layer on ``[CLS]``) feeds the score head. all-MiniLM-L6-v2 was fine-tuned as a sentence
encoder through the *mean* of its last layer, so its pooler is the untuned one from pre-training;
``pooling="mean"`` (``MeanPooledRewardModel``) scores that masked mean instead.

Torch and transformers are imported here, at module level: ``training.reward`` imports this
module only inside the functions that build or load a model.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoModelForSequenceClassification, BertModel, BertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

POOLINGS = ("cls", "mean")


class MeanPooledRewardModel(BertPreTrainedModel):
    """A BERT encoder whose masked mean of last-layer states feeds a 1-logit score head."""

    def __init__(self, config):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)  # as BertForSequenceClassification
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, **kwargs) -> SequenceClassifierOutput:
        # kwargs: what trainers add (use_cache, margin, ...), none of which an encoder reads
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return SequenceClassifierOutput(logits=self.classifier(self.dropout(pooled)))


def check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


def load_scoring_model(path: str | Path, pooling: str):
    """A saved or pretrained BERT-family checkpoint with a 1-logit head pooled as asked."""
    check_pooling(pooling)
    if pooling == "mean":
        return MeanPooledRewardModel.from_pretrained(path, num_labels=1)
    return AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)


def load_saved_model(path: str | Path):
    """A checkpoint written by ``save_pretrained``, rebuilt with the pooling it was trained with."""
    from transformers import AutoConfig

    architectures = AutoConfig.from_pretrained(path).architectures or []
    pooling = "mean" if MeanPooledRewardModel.__name__ in architectures else "cls"
    return load_scoring_model(path, pooling)


def to_mean_pooling(model):
    """The same encoder weights (e.g. the tiny from-config one) under a mean-pooled fresh head."""
    if not hasattr(model, "bert"):
        raise ValueError(f"mean pooling needs a BERT-family encoder, got {type(model).__name__}")
    pooled = MeanPooledRewardModel(model.config)
    pooled.bert.load_state_dict(model.bert.state_dict(), strict=False)  # the pooler is not carried over
    return pooled


def freeze_lower_layers(model, layers: int) -> int:
    """Freeze the embeddings and the ``layers`` lowest encoder layers; the number of frozen tensors."""
    if layers <= 0:
        return 0
    encoder = getattr(model, "bert", None)
    if encoder is None:
        raise ValueError(f"freeze_layers needs a BERT-family encoder, got {type(model).__name__}")
    blocks = encoder.encoder.layer
    if layers > len(blocks):
        raise ValueError(f"freeze_layers={layers} but the encoder has only {len(blocks)} layers")
    frozen = 0
    for module in [encoder.embeddings, *blocks[:layers]]:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
            frozen += 1
    return frozen
