"""Delta commits of a curated day: partition replacement, idempotency, crashes, orphans."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse import partitions, schemas, tables

TABLES = ("rejects", "stats")  # stats is the day's marker, committed last


def write(wh, table, day, attempt, values):
    """An attempt's file, as a Beam worker writes it: in the table folder, not committed."""
    path = f"{partitions.attempt_prefix(str(wh), table, day, attempt)}-00000-of-00001.parquet"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if table == "stats":
        rows = [{"run_id": attempt, "stage": "read", "metric": "out", "reason": "", "value": v}
                for v in values]
    else:
        rows = [{"stage": "parse", "reason": "invalid_json", "source_line": v} for v in values]
    pq.write_table(pa.Table.from_pylist(rows, schema=schemas.TABLES[table]), path)
    return path


def visible(wh, table, day):
    column = "value" if table == "stats" else "source_line"
    return sorted(v for p in partitions.partition_files(str(wh), table).get(day, [])
                  for v in pq.read_table(p)[column].to_pylist())


def curate(wh, day, attempt, values):
    for table in TABLES:
        write(wh, table, day, attempt, values)
    return partitions.commit_day(str(wh), day, "run", attempt, TABLES)


def test_commit_replaces_exactly_the_partition(tmp_path):
    curate(tmp_path, "2026-11-01", "curate-a", [1, 2])
    curate(tmp_path, "2026-11-02", "curate-b", [5])
    curate(tmp_path, "2026-11-01", "curate-c", [3])
    for table in TABLES:
        assert visible(tmp_path, table, "2026-11-01") == [3]
        assert visible(tmp_path, table, "2026-11-02") == [5]
    # Time travel: the version before the replacement still reads the first commit.
    old = tables.files_by_day(str(tmp_path), "rejects", version=1)
    assert [os.path.basename(p) for p in old["2026-11-01"]] == ["curate-a-part-00000-of-00001.parquet"]


def test_a_retried_commit_adds_nothing(tmp_path):
    for table in TABLES:
        write(tmp_path, table, "2026-11-01", "curate-a", [1])
    first = partitions.commit_attempt(str(tmp_path), "2026-11-01", "run", "curate-a", TABLES, txn=1)
    again = partitions.commit_attempt(str(tmp_path), "2026-11-01", "run", "curate-a", TABLES, txn=1)
    assert all(v is not None for v in first.values())
    assert again == {t: None for t in TABLES}
    assert tables.versions(str(tmp_path), TABLES) == first


def test_crash_before_commit_leaves_previous_state_and_the_next_run_deletes_its_files(tmp_path):
    curate(tmp_path, "2026-11-01", "curate-a", [1])
    dead = write(tmp_path, "rejects", "2026-11-01", "curate-dead", [9, 9, 9])  # killed here
    other_day = write(tmp_path, "rejects", "2026-11-02", "curate-live", [7])  # another day's run
    assert visible(tmp_path, "rejects", "2026-11-01") == [1]
    assert partitions.clean_day(str(tmp_path), "2026-11-01", TABLES) == 1
    assert not os.path.exists(dead)
    assert os.path.exists(other_day)  # its run holds that day's lock: not ours to delete
    assert visible(tmp_path, "rejects", "2026-11-01") == [1]


def test_crash_between_table_commits_is_invisible_until_the_day_is_sealed(tmp_path):
    curate(tmp_path, "2026-11-01", "curate-a", [1])
    curate(tmp_path, "2026-11-02", "curate-b", [4])
    for table in TABLES:
        write(tmp_path, table, "2026-11-01", "curate-c", [2])
    # The run commits rejects, then dies before stats, its marker.
    tables.commit(str(tmp_path), "rejects", add=partitions.attempt_files(
        str(tmp_path), "rejects", "2026-11-01", "curate-c"), replace_day="2026-11-01",
        app=(partitions.app_id("2026-11-01"), 2), metadata={"attempt": "curate-c"})
    assert tables.files_by_day(str(tmp_path), "rejects")["2026-11-01"][0].endswith(
        "curate-c-part-00000-of-00001.parquet")  # committed in the table itself
    assert visible(tmp_path, "rejects", "2026-11-01") == [1]  # readers: the sealed day
    assert visible(tmp_path, "rejects", "2026-11-02") == [4]  # other days unaffected
    # The same attempt's commit, retried, skips rejects and seals the day.
    done = partitions.commit_attempt(str(tmp_path), "2026-11-01", "run", "curate-c", TABLES, txn=2)
    assert done["rejects"] is None and done["stats"] is not None
    assert visible(tmp_path, "rejects", "2026-11-01") == [2]
    assert visible(tmp_path, "stats", "2026-11-01") == [2]


def test_a_file_without_the_tables_schema_is_refused(tmp_path):
    folder = tmp_path / "rejects" / "dt=2026-11-01"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"v": [1]}), folder / "curate-x-part-00000-of-00001.parquet")
    with pytest.raises(tables.SchemaMismatch, match="rejects"):
        tables.commit(str(tmp_path), "rejects", add=[str(folder / "curate-x-part-00000-of-00001.parquet")],
                      replace_day="2026-11-01")
    assert tables.files_by_day(str(tmp_path), "rejects") == {}
