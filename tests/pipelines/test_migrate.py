"""The previous version's warehouse (hive Parquet) becomes Delta tables in place, rows kept."""

from __future__ import annotations

import collections
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import inspect, views
from tests.conftest import table_files, table_rows
from warehouse import migrate, schemas, tables

TABLES = ("interactions", "feedback", "rejects", "stats", "dedup_index", "deletion_requests")


def counter(rows):
    return collections.Counter(json.dumps(r, sort_keys=True, default=str) for r in rows)


@pytest.fixture
def old_warehouse(curated_warehouse, tmp_path):
    """What the previous version wrote: dt= folders of Parquet files, no log; day 1's dedup
    signatures from before the hash columns; deployments as one file."""
    src, wh = curated_warehouse.warehouse, tmp_path / "old"
    for table in TABLES:
        for index, path in enumerate(table_files(src, table)):
            day = path.rsplit("/dt=", 1)[1].split("/", 1)[0]
            (wh / table / f"dt={day}").mkdir(parents=True, exist_ok=True)
            target = wh / table / f"dt={day}" / f"part-{index:05d}.parquet"
            data = pq.read_table(path)
            if table == "dedup_index" and day == curated_warehouse.days[0]:
                data = data.drop_columns(list(migrate.HASH_COLUMNS))
            pq.write_table(data, target)
    (wh / "deployments").mkdir()
    pq.write_table(pa.Table.from_pylist([{
        "deployment_id": "d1", "run_key": "r", "model_name": "sft", "action": "promote",
        "from_version": None, "to_version": 1, "reason": "first_champion", "metrics_json": "{}",
        "dataset_id": "x", "at": datetime(2026, 11, 2, 6, tzinfo=UTC)}], schema=schemas.DEPLOYMENTS),
        wh / "deployments" / "deployments.parquet")
    (wh / "_staging" / "2026-11-02-dead").mkdir(parents=True)
    return src, wh


@pytest.mark.slow
def test_migrate_keeps_every_row_and_is_safe_to_rerun(old_warehouse, capsys):
    src, wh = old_warehouse
    with pytest.raises(views.WarehouseError, match="warehouse.migrate"):
        views.connect(wh)  # readers name the fix for the old layout
    assert migrate.main(["--warehouse", str(wh)]) == 0
    for table in TABLES:
        assert tables.is_table(str(wh), table)
        for day in ("2026-11-01", "2026-11-02"):
            assert counter(table_rows(wh, table, day)) == counter(table_rows(src, table, day)), (
                table, day)
    assert [r["deployment_id"] for r in table_rows(wh, "deployments")] == ["d1"]
    assert not (wh / "_staging").exists() and not (wh / "deployments" / "deployments.parquet").exists()
    capsys.readouterr()
    assert migrate.main(["--warehouse", str(wh)]) == 0  # rerun: nothing left to convert
    out = capsys.readouterr().out
    assert out.count("already a Delta table") == len(schemas.ALL_TABLES) - 1  # all but deletions
    assert "deletions: absent" in out
    assert counter(table_rows(wh, "interactions")) == counter(table_rows(src, "interactions"))
    assert inspect.main(["funnel", "--warehouse", str(wh)]) == 0
    # Converted tables take the commits of today's jobs.
    assert tables.open_table(str(wh), "interactions").metadata().configuration[
        "delta.dataSkippingStatsColumns"] == "ts"


def test_an_unfinished_commit_of_the_old_version_stops_the_migration(old_warehouse, capsys):
    _, wh = old_warehouse
    (wh / "_journal").mkdir()
    (wh / "_journal" / "2026-11-02-x.json").write_text('{"run_id": "2026-11-02-x"}')
    assert migrate.main(["--warehouse", str(wh)]) == 2
    assert "unfinished commit" in capsys.readouterr().err
    assert not tables.is_table(str(wh), "interactions")
