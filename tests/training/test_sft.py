"""SFT: a tiny from-config model's weights change and its held-out loss falls."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from transformers import AutoModelForCausalLM

from training import sft
from training.config import SFTTrainConfig
from training.data import resolve_dataset


def test_prompt_completion_drops_old_turns_not_the_answer():
    long_turn = {"role": "user", "content": "x" * 5000}
    conversation = [long_turn, {"role": "assistant", "content": "a"}, {"role": "user", "content": "q?"},
                    {"role": "assistant", "content": "the answer"}]
    columns = sft.to_prompt_completion([conversation], max_length=64)
    assert columns["completion"] == [[{"role": "assistant", "content": "the answer"}]]
    assert columns["prompt"][0][-1] == {"role": "user", "content": "q?"}
    assert long_turn not in columns["prompt"][0]


@pytest.mark.slow
def test_tiny_sft_changes_weights_and_lowers_heldout_loss(tiny_models):
    weak = AutoModelForCausalLM.from_pretrained(tiny_models.weak)
    strong = AutoModelForCausalLM.from_pretrained(tiny_models.strong)
    changed = [
        name for (name, a), (_, b) in zip(weak.named_parameters(), strong.named_parameters(), strict=True)
        if not torch.equal(a, b)
    ]
    assert len(changed) == len(list(weak.parameters()))
    meta = json.loads((tiny_models.strong / "meta.json").read_text())
    metrics = meta["metrics"]
    assert metrics["eval_loss"] < metrics["eval_loss_before"] - 0.5
    assert metrics["eval_bits_per_byte"] < metrics["eval_bits_per_byte_before"]
    assert meta["dataset_id"] == "oasst-test" and meta["base"] == "tiny" and meta["config"]["max_steps"] == 40
    assert len(meta["git_sha"]) == 40 or meta["git_sha"] == "unknown"


@pytest.mark.slow
def test_lora_sft_continues_from_a_local_base_and_saves_merged_weights(tiny_models, tmp_path):
    dataset = resolve_dataset(dataset_path=tiny_models.dataset)
    config = replace(SFTTrainConfig(), base=str(tiny_models.weak), lora=True, max_steps=3, max_length=128,
                     learning_rate=1e-2)
    info = sft.train_sft(dataset_path=dataset.path, out=tmp_path / "lora", register=False, config=config)
    base = AutoModelForCausalLM.from_pretrained(tiny_models.weak)
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "lora")  # a plain checkpoint: no adapter files
    assert not (tmp_path / "lora" / "adapter_config.json").exists()
    assert not torch.equal(base.model.layers[0].self_attn.q_proj.weight, merged.model.layers[0].self_attn.q_proj.weight)
    assert info["metrics"]["train_steps"] == 3


def test_cli_reports_a_missing_dataset_in_one_line(tmp_path, capsys):
    assert sft.main(["--warehouse", str(tmp_path), "--dataset", "nope", "--no-register"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown dataset id 'nope' (known: none)") and "\n" not in err


@pytest.mark.slow
def test_registered_checkpoint_meta_is_the_one_written_locally(oasst_dataset, tmp_path):
    # meta.json is written once, before the checkpoint is logged: the registry's copy and the
    # local one are the same file (it used to be rewritten after registration, so they differed).
    import mlflow.artifacts

    from training import registry
    from training.config import SFT_MODEL_NAME

    warehouse = tmp_path / "warehouse"
    config = replace(SFTTrainConfig(), max_steps=1, max_length=128)
    info = sft.train_sft(warehouse, dataset_path=oasst_dataset, out=tmp_path / "sft", config=config)
    version = registry.get_version(registry.connect(warehouse), SFT_MODEL_NAME, info["version"])
    logged = mlflow.artifacts.download_artifacts(artifact_uri=f"{version.source}/meta.json", dst_path=str(tmp_path / "dl"))
    assert open(logged).read() == (tmp_path / "sft" / "meta.json").read_text()


def _dataset_with_sources(root, n: int):
    from training.data import write_dataset

    rows = [{"messages": [{"role": "user", "content": f"question {i}?"},
                          {"role": "assistant", "content": f"answer {i}."}],
             "rule": "good_answer", "user_pseudonym": f"u{i}", "source_event_id": f"e{i}"}
            for i in range(n)]
    return resolve_dataset(dataset_path=write_dataset(root, "replay-test", sft={"train": rows}))


def test_replay_draws_earlier_rows_only_and_deterministically(tmp_path):
    dataset = _dataset_with_sources(tmp_path, 12)
    fresh = {"e0", "e1", "e2"}
    replayed = sft.replay_rows(dataset, fresh, fresh=3, ratio=1.0, seed=0)
    contents = [c[0]["content"] for c in replayed]
    assert len(replayed) == 3 and len(set(contents)) == 3
    assert not {"question 0?", "question 1?", "question 2?"} & set(contents)  # never a fresh row
    assert replayed == sft.replay_rows(dataset, fresh, fresh=3, ratio=1.0, seed=0)
    assert len(sft.replay_rows(dataset, fresh, fresh=3, ratio=10.0, seed=0)) == 9  # all there are
    assert sft.replay_rows(dataset, fresh, fresh=3, ratio=0.0, seed=0) == []


@pytest.mark.slow
def test_continuing_on_fresh_rows_rehearses_earlier_ones(tiny_models, tmp_path):
    """Continued SFT on a few fresh rows alone overwrote the champion (greedy answers looped on
    the users' edit prefix): it must train on as many earlier rows beside them."""
    dataset = resolve_dataset(dataset_path=tiny_models.dataset)
    sources = [s for _, s in sft.rows_with_sources(dataset, "train")]
    fresh = set(sources[:5])
    config = replace(SFTTrainConfig(), base=str(tiny_models.weak), max_steps=1, max_length=128)
    info = sft.train_sft(dataset_path=dataset.path, out=tmp_path / "continued", register=False,
                         config=config, event_ids=fresh)
    assert info["metrics"]["train_conversations"] == 10
    assert info["metrics"]["train_replayed_conversations"] == 5
    alone = sft.train_sft(dataset_path=dataset.path, out=tmp_path / "alone", register=False,
                          config=replace(config, replay=0.0), event_ids=fresh)
    assert alone["metrics"]["train_conversations"] == 5
