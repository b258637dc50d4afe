"""The demo's cycle with its landing zone and warehouse on S3 (moto on 127.0.0.1).

The slow test turns the real loop's first day (vendor logs -> curate -> erase -> publish ->
dataset -> reward model -> SFT -> gate -> promotion) against ``s3://`` URLs, with the registry
named by ``MLFLOW_TRACKING_URI`` as an object-store warehouse requires. The fast ones pin the
pieces it relies on: checkpoints staged locally and uploaded, the deployment manifest written
to and read from the store, the demo's command line.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import replace
from types import SimpleNamespace

import pytest

from tests.conftest import PSEUDONYM_KEY
from tests.flywheel.test_loop import TINY_CYCLE
from tests.s3_store import S3Store

DAY = "2026-11-01"


def storage_options(store: S3Store) -> dict[str, str]:
    env = store.env
    return {"AWS_ENDPOINT_URL": env["AWS_ENDPOINT_URL"], "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"], "AWS_REGION": env["AWS_REGION"],
            "AWS_ALLOW_HTTP": "true"}


def demo_args(store: S3Store, **overrides) -> SimpleNamespace:
    values = {"taste": "concise", "days": 1, "users": 6, "vendor_users": 60, "seed": 5,
              "landing": store.url("landing"), "warehouse": store.url("warehouse")}
    return SimpleNamespace(**{**values, **overrides})


def inspect_json(*argv: str):
    from curation import inspect as cli

    out = io.StringIO()
    assert cli.main([*argv[:2], "--format", "json", *argv[2:]], stdout=out) == 0
    return json.loads(out.getvalue())


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Checkpoint copies and the registry under tmp_path, never in the user's home."""
    monkeypatch.setenv("FLYWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    # set, then deleted: monkeypatch then restores the variable whatever the demo sets
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "unset")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    return tmp_path


@pytest.mark.slow
def test_the_demo_day_runs_on_s3(s3_store, isolated, monkeypatch):
    from deltalake import DeltaTable

    from flywheel import demo
    from flywheel.loop import run_loop
    from training import registry
    from training.config import SFT_MODEL_NAME

    monkeypatch.setenv("FLYWHEEL_PSEUDONYM_KEY", PSEUDONYM_KEY)
    out = isolated / "out"
    loop = demo.loop_config(demo_args(s3_store), out)
    assert loop.cycle_overrides["warehouse"] == s3_store.url("warehouse")
    loop = replace(loop, cycle_overrides={**loop.cycle_overrides, **TINY_CYCLE})
    result = run_loop(loop, None, say=lambda line: None)
    wh = s3_store.url("warehouse")

    # the day was landed and curated into Delta tables on the store, read through their logs
    assert s3_store.keys(f"landing/dt={DAY}/")
    options = storage_options(s3_store)
    interactions = DeltaTable(f"{wh}/interactions", storage_options=options).to_pyarrow_table()
    assert interactions.num_rows > 0 and set(interactions.column("dt").to_pylist()) == {DAY}

    # a model was trained, gated and promoted; every record of it is in the bucket
    champion = result["final_champion"]
    assert champion is not None and result["days"][0]["gate"]["promoted"]
    deployments = DeltaTable(f"{wh}/deployments", storage_options=options).to_pyarrow_table()
    assert [(r["action"], r["to_version"]) for r in deployments.to_pylist()] == [("promote", champion)]
    manifest = json.loads(s3_store.read("warehouse/serving/deployment.json"))
    assert (manifest["model_name"], manifest["version"]) == (SFT_MODEL_NAME, champion)
    keys = s3_store.keys("warehouse/")
    assert [k for k in keys if k.startswith("warehouse/evaluations/") and k.endswith(f"v{champion}-vs-none.json")]
    for kind in ("reward", "sft"):
        metas = [k for k in keys if k.startswith(f"warehouse/models/{kind}/") and k.endswith("/meta.json")]
        assert len(metas) == 1, (kind, metas)
        meta = json.loads(s3_store.read(metas[0]))
        assert meta["checkpoint_uri"] == s3_store.url(metas[0].rsplit("/", 1)[0])
        assert [k for k in keys if k.startswith(metas[0].rsplit("/", 1)[0]) and k.endswith(".safetensors")]
    assert f"warehouse/reports/dt={DAY}/report.html" in keys
    assert not [k for k in keys if "mlflow" in k or "mlruns" in k or "/trainer/" in k]
    # the registry and its artifacts live where MLFLOW_TRACKING_URI said (beside the demo's out)
    assert registry.tracking_uri(wh) == f"sqlite:///{out / 'mlflow.db'}"

    # the analysts' commands work on the store unchanged
    listed = {t["table"]: t for t in inspect_json("--warehouse", wh, "tables")}
    assert listed["interactions"]["rows"] == interactions.num_rows
    lineage = inspect_json("--warehouse", wh, "lineage", "--model", SFT_MODEL_NAME,
                           "--version", str(champion))
    assert lineage and {row["model"] for row in lineage} == {f"{SFT_MODEL_NAME}/{champion}"}
    assert {row["hash_now"] for row in lineage} == {"same"}
    assert {row["table_version"] is not None for row in lineage} == {True}
    landing = {f for row in lineage for f in row["landing_files"]}
    assert landing and all(f.startswith(f"dt={DAY}/") for f in landing)


def test_a_checkpoint_for_an_s3_warehouse_is_staged_locally_and_uploaded(s3_store, isolated):
    """Trainers write local files: the run's folder is the store folder's local copy, and
    write_meta uploads it, meta.json last, trainer state left out."""
    from training import data, reward
    from training.config import RewardTrainConfig
    from warehouse import files

    wh = s3_store.url("wh")
    data.write_dataset(f"{wh}/datasets", "d1", preferences={"train": [
        {"prompt": "p", "chosen": "a", "rejected": "b", "rule": "rating", "margin": 1.0}]})
    dataset, out = reward.resolve_run(wh, "d1", None, None, "reward", RewardTrainConfig())
    remote = str(reward.default_out(wh, "reward", "d1", RewardTrainConfig()))
    assert remote.startswith(f"{wh}/models/reward/d1-")
    assert out == files.local_copy(remote) and str(out).startswith(str(isolated / "cache"))
    (out / reward.TRAINER_STATE).mkdir(parents=True)
    (out / reward.TRAINER_STATE / "optimizer.pt").write_bytes(b"state")
    (out / "model.safetensors").write_bytes(b"weights")
    meta = reward.write_meta(out, kind="reward", config=RewardTrainConfig(), dataset=dataset,
                             metrics={"eval_accuracy": 0.5})
    prefix = remote.split("/", 3)[3]
    assert sorted(s3_store.keys(prefix)) == [f"{prefix}/meta.json", f"{prefix}/model.safetensors"]
    assert json.loads(s3_store.read(f"{prefix}/meta.json"))["checkpoint_uri"] == meta["checkpoint_uri"] == remote
    # and a checkpoint URL comes back as a local folder for transformers to load
    copy = files.get_tree(remote, isolated / "download")
    assert (copy / "model.safetensors").read_bytes() == b"weights"
    with pytest.raises(FileNotFoundError, match="nothing under"):
        files.get_tree(f"{wh}/models/none", isolated / "nothing")


def test_the_deployment_manifest_is_written_to_and_read_from_the_store(s3_store, isolated):
    """Promotion writes serving/deployment.json in the bucket; the gateway reads it there."""
    from serving.models import deployment_path
    from training import promote

    wh = s3_store.url("wh")
    with pytest.raises(FileNotFoundError):  # what the gateway's watcher reads as "none yet"
        deployment_path(wh).read_bytes()
    outcome = promote.redeploy(wh, {"model_name": "flywheel-sft", "version": 3})
    assert outcome == {"deployment_json": f"{wh}/serving/deployment.json"}
    assert json.loads(s3_store.read("wh/serving/deployment.json"))["version"] == 3
    assert json.loads(deployment_path(wh).read_bytes())["version"] == 3


def test_the_demo_command_line_takes_s3_urls(s3_store, isolated):
    from flywheel import demo

    loop = demo.loop_config(demo_args(s3_store), isolated / "out")
    assert loop.cycle_overrides["landing"] == s3_store.url("landing")
    assert loop.cycle_overrides["reward_base"] == "tiny"  # the loop's own overrides are kept
    # an object store holds no sqlite file: the demo's registry is beside its output
    assert os.environ["MLFLOW_TRACKING_URI"] == f"sqlite:///{isolated / 'out' / 'mlflow.db'}"
    local = demo.loop_config(demo_args(s3_store, landing=None, warehouse=None), isolated / "out")
    assert "warehouse" not in local.cycle_overrides


def test_continuing_from_the_champion_reads_its_fresh_rows_from_the_store(s3_store):
    """Day 2 on: SFT and DPO keep the rows of the interactions since the champion, read from
    the dataset's Parquet objects on the store (the demo's day 2 failed here before)."""
    from training import data
    from training.dpo import read_pairs
    from training.sft import read_sft_rows

    wh = s3_store.url("wh")
    chat = [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hi"}]
    data.write_dataset(f"{wh}/datasets", "d1", sft={"train": [
        {"messages": chat, "source_event_id": "old"}, {"messages": chat, "source_event_id": "new"}]},
        preferences={"train": [
            {"prompt": "<|user|>\nhello there\n<|assistant|>\n", "chosen": "hi", "rejected": "go",
             "rule": "rating", "rejected_event_id": event} for event in ("old", "new")]})
    ref = data.resolve_dataset(wh, "d1")
    assert read_sft_rows(ref, "train", {"new"}) == [chat]
    assert [p["rejected"] for p in read_pairs(ref, "train", {"new"})] == ["go"]
    assert read_pairs(ref, "train", {"none"}) == []


def test_the_online_check_finds_the_offline_report_in_the_bucket(s3_store):
    """The canary's second stage reads the offline report it follows from the store."""
    from flywheel import cycle

    client = s3_store.client()
    for key in ("wh/evaluations/ds1/v2-vs-v1.json", "wh/evaluations/ds1/v3-vs-v1.json"):
        client.put_object(Bucket=s3_store.bucket, Key=key, Body=json.dumps({"key": key}).encode())
    config = cycle.CycleConfig(landing=s3_store.url("landing"), warehouse=s3_store.url("wh"))
    found = cycle._offline_report(config, 2, 1)  # noqa: SLF001 - the lookup evaluate_online makes
    assert str(found) == s3_store.url("wh/evaluations/ds1/v2-vs-v1.json")
    assert json.loads(found.read_text())["key"] == "wh/evaluations/ds1/v2-vs-v1.json"
    with pytest.raises(FileNotFoundError, match="no offline evaluation of v4"):
        cycle._offline_report(config, 4, 1)  # noqa: SLF001
