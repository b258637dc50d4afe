"""DPO on preference pairs (training.dpo): a tiny model from config learns to prefer the chosen
answers, and the dataset's text prompts round-trip into messages."""

from __future__ import annotations

import torch

from curation.rules import render_prompt
from training.dpo import DPOTrainConfig, fit_dpo, parse_prompt

PROMPT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?\nThere"}]


def test_parse_prompt_inverts_render_prompt():
    assert parse_prompt(render_prompt(PROMPT)) == PROMPT


def _logprob(model, tokenizer, messages, answer) -> float:
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    prompt = list(prompt["input_ids"] if hasattr(prompt, "keys") else prompt)
    full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": answer}], tokenize=True)
    full = list(full["input_ids"] if hasattr(full, "keys") else full)
    ids = torch.tensor([full])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1]
    logp = torch.log_softmax(logits.float(), -1).gather(1, ids[0, 1:, None])[:, 0]
    return float(logp[len(prompt) - 1:].sum())


def test_dpo_moves_the_model_toward_the_chosen_answers(tmp_path):
    from transformers import AutoModelForCausalLM

    from training.tiny import build_causal_lm, train_chat_tokenizer

    chosen, rejected = "Happy to help, here it is.", "No. Go away."
    pairs = [{"messages": [{"role": "user", "content": f"question {i}"}], "chosen": chosen,
              "rejected": rejected} for i in range(24)]
    tokenizer = train_chat_tokenizer([chosen, rejected] + [f"question {i}" for i in range(24)])
    base = tmp_path / "base"
    build_causal_lm(tokenizer).save_pretrained(base)
    tokenizer.save_pretrained(base)
    before = AutoModelForCausalLM.from_pretrained(base)
    margin_before = _logprob(before, tokenizer, pairs[0]["messages"], chosen) - _logprob(
        before, tokenizer, pairs[0]["messages"], rejected)
    metrics = fit_dpo(pairs, base, DPOTrainConfig(epochs=2, batch_size=8), tmp_path / "out")
    after = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    margin_after = _logprob(after, tokenizer, pairs[0]["messages"], chosen) - _logprob(
        after, tokenizer, pairs[0]["messages"], rejected)
    assert metrics["dpo_train_pairs"] == 24 and metrics["dpo_train_steps"] > 0
    assert margin_after > margin_before + 1.0
