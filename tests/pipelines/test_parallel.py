"""Two Beam workers in separate processes commit exactly the rows one in-process run commits.

The same discipline a distributed runner needs: every DoFn and its config pickle, no stage
shares state between workers, and nothing depends on bundle order.
"""

from __future__ import annotations

import glob

import pyarrow.parquet as pq
import pytest

from feedback import simulate
from pipelines import curate
from warehouse import pseudonym

DAY = "2026-11-07"
KEY = "parallel-test-key-51c0e9a7d2b84f36"


def day_rows(wh):
    return {table: sorted(repr(sorted(r.items()))
                          for p in sorted(glob.glob(f"{wh}/{table}/dt={DAY}/*.parquet"))
                          for r in pq.read_table(p).to_pylist())
            for table in curate.OUTPUT_TABLES}


@pytest.mark.slow
def test_two_worker_processes_commit_the_same_rows_as_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(pseudonym.KEY_ENV, KEY)
    landing = tmp_path / "landing"
    simulate.simulate_day(landing=landing, date=DAY, users=20, seed=5, model_versions=("v1",))
    args = ["--landing", str(landing), "--date", DAY]
    curate.run(args + ["--warehouse", str(tmp_path / "one")])
    assert "multi_processing mode has lost" not in capsys.readouterr().err
    curate.run(args + ["--warehouse", str(tmp_path / "two"),
                       "--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    # The mode lost shuffle elements on big days (docs/scale.md): the operator is told.
    assert "multi_processing mode has lost shuffle elements" in capsys.readouterr().err
    one, two = day_rows(tmp_path / "one"), day_rows(tmp_path / "two")
    assert one["interactions"] and one["feedback"] and one["rejects"]
    assert two == one
