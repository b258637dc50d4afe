"""Atomic, idempotent partition commits and crash recovery."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse import files as storage
from warehouse import journal, partitions


def stage(wh, run_id, table, values):
    path = partitions.staging_dir(str(wh), run_id, table)
    import os

    os.makedirs(path, exist_ok=True)
    pq.write_table(pa.table({"v": values}), f"{path}/part-0.parquet")


def read(wh, table, date):
    return sorted(pq.read_table(partitions.partition_dir(str(wh), table, date))["v"].to_pylist())


def test_commit_replaces_exactly_the_partition(tmp_path):
    stage(tmp_path, "2026-11-01-a", "t", [1, 2])
    partitions.commit(str(tmp_path), "2026-11-01-a", "2026-11-01", ["t"])
    stage(tmp_path, "2026-11-02-a", "t", [5])
    partitions.commit(str(tmp_path), "2026-11-02-a", "2026-11-02", ["t"])
    stage(tmp_path, "2026-11-01-b", "t", [3])
    partitions.commit(str(tmp_path), "2026-11-01-b", "2026-11-01", ["t"])
    assert read(tmp_path, "t", "2026-11-01") == [3]
    assert read(tmp_path, "t", "2026-11-02") == [5]
    assert not (tmp_path / partitions.STAGING).exists() or not any((tmp_path / partitions.STAGING).iterdir())
    assert sorted(partitions.partition_files(str(tmp_path), "t")) == ["2026-11-01", "2026-11-02"]


def test_crash_before_journal_leaves_previous_state(tmp_path):
    stage(tmp_path, "2026-11-01-a", "t", [1])
    partitions.commit(str(tmp_path), "2026-11-01-a", "2026-11-01", ["t"])
    stage(tmp_path, "2026-11-01-b", "t", [9, 9, 9])  # a run killed while writing staging
    assert read(tmp_path, "t", "2026-11-01") == [1]
    assert partitions.recover(str(tmp_path), "2026-11-01") == []
    assert read(tmp_path, "t", "2026-11-01") == [1]
    assert not (tmp_path / partitions.STAGING / "2026-11-01-b").exists()


def test_crash_mid_swap_rolls_forward(tmp_path, monkeypatch):
    stage(tmp_path, "2026-11-01-a", "t", [1])
    stage(tmp_path, "2026-11-01-a", "u", [1])
    partitions.commit(str(tmp_path), "2026-11-01-a", "2026-11-01", ["t", "u"])
    stage(tmp_path, "2026-11-01-b", "t", [2])
    stage(tmp_path, "2026-11-01-b", "u", [2])

    real_move = storage.move_tree
    calls = []

    def dying_move(src, dst):
        calls.append(src)
        if len(calls) == 3:  # table t swapped, u's old partition moved to trash: crash
            raise KeyboardInterrupt("killed")
        real_move(src, dst)

    monkeypatch.setattr(storage, "move_tree", dying_move)
    with pytest.raises(KeyboardInterrupt):
        partitions.commit(str(tmp_path), "2026-11-01-b", "2026-11-01", ["t", "u"])
    monkeypatch.setattr(storage, "move_tree", real_move)
    journals = list((tmp_path / journal.JOURNAL).glob("*.json"))
    assert json.loads(journals[0].read_text())["run_id"] == "2026-11-01-b"
    assert partitions.recover(str(tmp_path)) == ["2026-11-01-b"]
    assert read(tmp_path, "t", "2026-11-01") == [2]
    assert read(tmp_path, "u", "2026-11-01") == [2]
    assert not list((tmp_path / journal.JOURNAL).glob("*.json"))


def test_recover_spares_other_dates_staging(tmp_path):
    stage(tmp_path, "2026-11-02-x", "t", [1])
    partitions.recover(str(tmp_path), "2026-11-01")
    assert (tmp_path / partitions.STAGING / "2026-11-02-x").exists()
