"""Deletion status and lineage over a real curated warehouse, a real dataset and a real registry."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

from governance import erase
from governance import lineage as governance
from pipelines import landing


@pytest.fixture(scope="module")
def world(curated_warehouse, tmp_path_factory):
    from curation.datasets import DatasetConfig, build_dataset
    from training import registry
    from training.data import resolve_dataset

    root = tmp_path_factory.mktemp("governance")
    wh = root / "wh"
    shutil.copytree(curated_warehouse.warehouse, wh)
    dataset_id, _ = build_dataset(wh, curated_warehouse.days[0], DatasetConfig())
    model_dir = root / "model"
    model_dir.mkdir()
    (model_dir / "meta.json").write_text(json.dumps({"dataset_id": dataset_id}))
    version = registry.log_and_register(
        wh, model_name="flywheel-sft", model_dir=model_dir, kind="sft", params={}, metrics={},
        dataset=resolve_dataset(wh, dataset_id), tags={"dataset_id": dataset_id})["version"]
    pending = governance.deletions(wh)
    uri = f"sqlite:///{wh / 'mlflow.db'}"
    lineage_before = governance.model_lineage(wh, "flywheel-sft", version, uri)
    erase.erase(str(wh), tracking_uri=uri)
    return wh, dataset_id, version, uri, pending, lineage_before


def test_deletions_pending_then_completed(world):
    wh, dataset_id, version, _, pending, _ = world
    assert [r["status"] for r in pending] == ["pending", "pending"]
    assert all(r["rows_removed"] is None and r["completed_at"] is None for r in pending)
    done = governance.deletions(wh)
    assert [r["request_event_id"] for r in done] == [r["request_event_id"] for r in pending]
    assert [r["status"] for r in done] == ["completed", "completed"]
    day2 = done[-1]
    assert day2["rows_removed"] == sum(day2["rows_removed_by_table"].values()) > 0
    assert day2["datasets_marked_stale"] == [dataset_id]
    assert day2["model_versions_tagged"] == [f"flywheel-sft/{version}"]


def test_model_lineage_reaches_landing_files(world, curated_warehouse):
    wh, dataset_id, version, uri, _, before = world
    assert {r["hash_now"] for r in before} == {"same"}
    rows = governance.model_lineage(wh, "flywheel-sft", version, uri)
    assert {r["dataset_id"] for r in rows} == {dataset_id}
    assert all(r["contains_erased_user_data"] and r["dataset_stale"] for r in rows)
    manifest = json.loads((wh / "datasets" / dataset_id / "manifest.json").read_text())
    assert [r["path"] for r in rows] == [s["path"] for s in manifest["created_from"]]
    interactions = [r for r in rows if r["table"] == "interactions"]
    assert interactions and all(r["landing_files"] for r in interactions)
    for row in interactions:
        folder = curated_warehouse.landing / f"dt={row['dt']}"
        ids = {landing.source_id(i, n) for i, n in enumerate(sorted(p.name for p in folder.iterdir()))}
        for name in row["landing_files"]:
            assert name.startswith(f"dt={row['dt']}/"), name
            assert name.split("/", 1)[1] in ids, f"{name} names no landing file of that day"
    # The erasure rewrote day 1's interactions (the day-2 requester's rows) and nothing of day 2.
    state = {(r["table"], r["dt"]): r["hash_now"] for r in rows}
    assert state[("interactions", "2026-11-01")] == "changed"
    assert "changed" not in {s for (t, d), s in state.items() if d == "2026-11-02"}


def test_dataset_lineage_lists_model_versions(world):
    wh, dataset_id, version, uri, _, _ = world
    rows = governance.dataset_lineage(wh, dataset_id, uri)
    assert [r["model"] for r in rows] == [f"flywheel-sft/{version}"]
    assert rows[0]["contains_erased_user_data"] is True and rows[0]["dataset_stale"] is True
    other = sorted(d.name for d in erase.dataset_dirs(str(wh)) if d.name != dataset_id)
    for dataset in other:
        assert governance.dataset_lineage(wh, dataset, uri) == []


def test_errors_name_the_bad_value(world):
    wh, dataset_id, version, uri, _, _ = world
    with pytest.raises(governance.GovernanceError, match=f"unknown dataset id 'nope'.*{dataset_id}"):
        governance.dataset_lineage(wh, "nope", uri)
    with pytest.raises(governance.GovernanceError, match="no model version flywheel-sft/999"):
        governance.model_lineage(wh, "flywheel-sft", 999, uri)


def test_inspect_hooks(world):
    wh, dataset_id, version, uri, _, _ = world
    parser = argparse.ArgumentParser()
    common = argparse.ArgumentParser(add_help=False)
    sub = parser.add_subparsers(dest="command")
    governance.add_inspect_commands(sub, common)
    args = parser.parse_args(["deletions"])
    args.warehouse = str(wh)
    columns, rows = governance.inspect_command(args)
    assert columns == governance.DELETION_COLUMNS and len(rows) == 2
    args = parser.parse_args(["lineage", "--model", "flywheel-sft", "--version", str(version),
                              "--tracking-uri", uri])
    args.warehouse = str(wh)
    columns, rows = governance.inspect_command(args)
    assert set(columns) <= set(rows[0]) and rows[0]["dataset_id"] == dataset_id
    args = parser.parse_args(["lineage", "--model", "flywheel-sft"])
    args.warehouse = str(wh)
    with pytest.raises(governance.GovernanceError, match="--model NAME --version V or --dataset"):
        governance.inspect_command(args)
