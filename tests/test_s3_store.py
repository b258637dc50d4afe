"""The local object store behaves like S3 where our jobs depend on it."""

from __future__ import annotations

import pyarrow as pa
import pytest


def test_the_store_refuses_a_second_put_if_absent(s3_store):
    """Delta's commit protocol on S3 rests on put-if-absent of the next log entry."""
    from botocore.exceptions import ClientError

    client = s3_store.client()
    client.put_object(Bucket=s3_store.bucket, Key="_delta_log/0.json", Body=b"a", IfNoneMatch="*")
    with pytest.raises(ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=s3_store.bucket, Key="_delta_log/0.json", Body=b"b",
                          IfNoneMatch="*")
    assert s3_store.read("_delta_log/0.json") == b"a"


def test_delta_and_duckdb_reach_the_store_from_the_environment_alone(s3_store):
    """No storage_options in code: the standard AWS variables are all a job needs."""
    import duckdb
    from deltalake import DeltaTable, write_deltalake

    url = s3_store.url("warehouse", "t")
    rows = pa.table({"dt": ["2026-01-01"] * 3, "x": [1, 2, 3]})
    write_deltalake(url, rows, partition_by=["dt"])
    write_deltalake(url, rows, partition_by=["dt"], mode="overwrite",
                    predicate="dt = '2026-01-01'")
    table = DeltaTable(url)
    assert table.version() == 1
    connection = duckdb.connect()
    connection.register("t", table.to_pyarrow_dataset())
    assert connection.sql("select sum(x) from t").fetchone() == (6,)
    assert any(key.startswith("warehouse/t/_delta_log/") for key in s3_store.keys())


WRITER = """
import sys
import pyarrow as pa
from deltalake import write_deltalake
for i in range(int(sys.argv[2])):
    write_deltalake(sys.argv[1], pa.table({"dt": ["2026-01-01"], "writer": [sys.argv[3]], "i": [i]}),
                    partition_by=["dt"], mode="append")
"""


def test_two_processes_appending_to_one_table_lose_no_commit(s3_store, tmp_path):
    """Concurrent Delta writers on the store: every commit lands once (conditional put)."""
    import subprocess
    import sys

    from deltalake import DeltaTable, write_deltalake

    url = s3_store.url("warehouse", "shared")
    write_deltalake(url, pa.table({"dt": ["2026-01-01"], "writer": ["seed"], "i": [0]}),
                    partition_by=["dt"])
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    commits = 6
    writers = [subprocess.Popen([sys.executable, str(script), url, str(commits), name],
                                stderr=subprocess.PIPE) for name in ("a", "b")]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()[-2000:]
    rows = DeltaTable(url).to_pyarrow_table().to_pylist()
    assert sorted((r["writer"], r["i"]) for r in rows if r["writer"] != "seed") == sorted(
        (name, i) for name in ("a", "b") for i in range(commits))
    assert DeltaTable(url).version() == 2 * commits
