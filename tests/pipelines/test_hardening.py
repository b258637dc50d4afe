"""The curation job against careless operators and hostile input (issue: hardening).

One simulated day is curated once, in process, with hostile files planted beside the real
ones; the other tests run the real CLI (in process or as parallel processes) against copies.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import shutil
import stat
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation import datasets, inspect
from feedback import simulate
from pipelines import curate, landing, recover
from pipelines.stages.read import FILE_TOO_LARGE, LINE_TOO_LONG, ReadConfig, read_lines
from tests.conftest import REPO, table_files
from tests.conftest import table_rows as committed_rows
from warehouse import pseudonym, tables

DAY = "2026-11-05"
KEY = "hardening-test-key-7f3a9c2e41b8d605"
EMAIL_NAME = "alice.smith@example.com.jsonl"
MAX_LINE = 64 * 1024


def rows(wh, table, day=DAY):
    return committed_rows(wh, table, day)


def table_rows(wh, day=DAY):
    return {t: sorted(repr(sorted(r.items())) for r in rows(wh, t, day))
            for t in curate.OUTPUT_TABLES}


def stats_value(wh, stage, metric, reason=""):
    return sum(r["value"] for r in rows(wh, "stats")
               if (r["stage"], r["metric"], r["reason"]) == (stage, metric, reason))


def argv(landing_root, wh, day=DAY, *extra):
    return ["--landing", str(landing_root), "--warehouse", str(wh), "--date", day, *extra]


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(pseudonym.KEY_ENV, KEY)


def _corrupt_gzip() -> bytes:
    """A gzip member with a valid header whose deflate stream is garbage (a zlib.error)."""
    good = gzip.compress(b'{"event_type": "interaction"}\n' * 50)
    return good[:10] + bytes(b ^ 0x5A for b in good[10:40]) + good[40:]


@pytest.fixture(scope="module")
def hostile_day(tmp_path_factory):
    """A real simulated day plus every kind of file the job must not read or must survive."""
    root = tmp_path_factory.mktemp("hardening")
    land, wh = root / "landing", root / "warehouse"
    simulate.simulate_day(landing=land, date=DAY, users=6, seed=11, model_versions=("v1",))
    folder = land / f"dt={DAY}"
    real = sorted(p for p in folder.iterdir() if p.name.endswith(".jsonl"))
    assert real, "the simulator wrote a landing file"
    # An app that names its file after a user: the name must not reach the warehouse.
    shutil.copy(real[0], folder / EMAIL_NAME)
    real[0].unlink()
    (folder / "corrupt.jsonl.gz").write_bytes(_corrupt_gzip())
    (folder / "segment.jsonl.tmp").write_text('{"event_type": "interaction"}\n')
    (folder / ".open-segment.jsonl").write_text('{"event_type": "interaction"}\n')
    (folder / "notes.txt").write_text("not ours\n")
    secret = root / "outside.jsonl"
    secret.write_text('{"event_type": "deletion_request"}\n')
    (folder / "escape.jsonl").symlink_to(secret)
    (folder / "long.jsonl").write_bytes(b'{"pad": "' + b"x" * (2 * MAX_LINE) + b'"}\n'
                                        + b"{}\n")
    config = curate.CurateConfig(read=ReadConfig(max_line_bytes=MAX_LINE))
    with pytest.MonkeyPatch.context() as patch:  # the key of this module's warehouses only
        patch.setenv(pseudonym.KEY_ENV, KEY)
        result = curate.run(argv(land, wh), config=config)
    return land, wh, result


def test_files_outside_the_contract_are_skipped_and_counted(hostile_day):
    land, wh, _ = hostile_day
    for reason in (landing.HIDDEN_FILE, landing.TEMPORARY_FILE, landing.NOT_JSONL,
                   landing.SYMLINK_OUTSIDE_LANDING):
        assert stats_value(wh, "read", "skipped_files", reason) == 1, reason
    names = sorted(p.name for p in (land / f"dt={DAY}").iterdir())
    skipped = {landing.source_id(i, n) for i, n in enumerate(names)
               if n in ("escape.jsonl", "segment.jsonl.tmp", ".open-segment.jsonl", "notes.txt")}
    seen = {r["source_file"] for t in ("rejects", "interactions", "feedback")
            for r in rows(wh, t)}
    assert len(skipped) == 4 and not skipped & seen, "a skipped file was read"


def test_a_corrupt_gzip_is_one_reject_and_the_day_goes_on(hostile_day):
    _, wh, _ = hostile_day
    unreadable = [r for r in rows(wh, "rejects") if r["reason"] == "unreadable_file"]
    assert len(unreadable) == 1 and unreadable[0]["stage"] == "read"
    assert len(rows(wh, "interactions")) > 10  # every other file's lines were curated


def test_an_oversize_line_is_a_reject_and_the_next_line_is_read(hostile_day):
    _, wh, _ = hostile_day
    too_long = [r for r in rows(wh, "rejects") if r["reason"] == LINE_TOO_LONG]
    assert len(too_long) == 1 and too_long[0]["source_line"] == 1
    # Line 2 of the same file ("{}") was read and rejected by the parser, not lost.
    parse = [r for r in rows(wh, "rejects") if r["stage"] == "parse"
             and r["source_file"] == too_long[0]["source_file"]]
    assert [r["source_line"] for r in parse] == [2]


def test_landing_file_names_never_reach_the_warehouse(hostile_day):
    _, wh, _ = hostile_day
    names = [EMAIL_NAME, "alice.smith@example.com", "corrupt.jsonl.gz"]
    for path in glob.glob(f"{wh}/**/*", recursive=True):
        if os.path.isfile(path):
            data = Path(path).read_bytes()
            assert not [n for n in names if n.encode() in data], path
    sources = {r["source_file"] for r in rows(wh, "rejects")}
    assert sources and all(s[:5].isdigit() and len(s) == 22 for s in sources)


def test_the_day_reconciles_and_outputs_are_private(hostile_day):
    _, wh, result = hostile_day
    assert curate.reconcile(result["stats"]) == []
    paths = [p for p in glob.glob(f"{wh}/**", recursive=True) if "/_locks" not in p]
    assert len(paths) > 10
    loose = [p for p in paths if os.stat(p).st_mode & stat.S_IRWXO]
    assert not loose, f"world-accessible outputs: {loose[:3]}"


def test_a_mistyped_landing_is_an_error_and_keeps_the_day(hostile_day, tmp_path, capsys):
    land, curated, _ = hostile_day
    wh = tmp_path / "warehouse"
    shutil.copytree(curated, wh)
    before = table_rows(wh)
    assert curate.main(argv(tmp_path / "no" / "such" / "dir", wh)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no/such/dir" in err[0] and err[0].startswith("error:")
    # A landing root that exists but holds nothing for the day: the same refusal.
    assert curate.main(argv(land, wh, "2026-11-06")) == 2
    assert "--allow-empty" in capsys.readouterr().err
    assert table_rows(wh) == before
    assert not glob.glob(f"{wh}/*/dt=2026-11-06")


def test_allow_empty_commits_an_empty_day_on_purpose(hostile_day, tmp_path):
    land, _, _ = hostile_day
    wh = tmp_path / "warehouse"
    result = curate.run(argv(land, wh, "2026-11-06", "--allow-empty"))
    assert curate.reconcile(result["stats"]) == []
    for table in ("interactions", "feedback", "rejects"):
        assert os.path.isdir(wh / table / "dt=2026-11-06")
        assert rows(wh, table, "2026-11-06") == []


@pytest.mark.parametrize("bad", ["20261105", "2026-W45-4", "2026-11-31", "2026-11-5"])
def test_only_exact_dates_are_accepted(bad, tmp_path, capsys):
    assert curate.main(argv(tmp_path / "landing", tmp_path / "wh", bad)) == 2
    err = capsys.readouterr().err
    assert "YYYY-MM-DD" in err or "real day" in err
    with pytest.raises(datasets.DatasetError):
        datasets.build_dataset(tmp_path, bad)
    assert not (tmp_path / "wh").exists()


def test_readers_skip_a_partition_that_is_not_a_date(hostile_day, tmp_path, capsys, caplog):
    _, curated, _ = hostile_day
    wh = tmp_path / "warehouse"
    shutil.copytree(curated, wh)
    for table in curate.OUTPUT_TABLES:  # another Delta writer commits a laxly named partition
        (wh / table / "dt=20261102").mkdir()
        copies = [shutil.copy(f, wh / table / "dt=20261102") for f in table_files(wh, table, DAY)]
        tables.commit(str(wh), table, add=copies, replace_day="20261102")
    assert inspect.main(["funnel", "--warehouse", str(wh)]) == 0
    assert inspect.main(["query", "--warehouse", str(wh), "--format", "csv",
                         "SELECT count(DISTINCT dt) AS days FROM interactions"]) == 0
    assert capsys.readouterr().out.split()[-2:] == ["days", "1"]
    assert "dt=20261102" in caplog.text


def test_an_endless_query_is_interrupted(hostile_day, capsys):
    _, wh, _ = hostile_day
    code = inspect.main(["query", "--warehouse", str(wh), "--timeout", "0.5",
                         "SELECT count(*) FROM range(100000000000)"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "interrupted after 0.5 s" in err[0]


def test_an_unwritable_warehouse_is_one_error_line(hostile_day, capsys):
    land, _, _ = hostile_day
    assert curate.main(argv(land, "/sys/flywheel-warehouse")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write the warehouse")


def test_a_full_disk_mid_commit_is_one_line_and_the_rerun_heals(hostile_day, tmp_path, capsys,
                                                                monkeypatch):
    land, curated, _ = hostile_day
    wh = tmp_path / "warehouse"
    shutil.copytree(curated, wh)
    before = table_rows(wh)
    real_commit = tables.commit
    commits = []

    def full_disk(*a, **k):
        commits.append(a[1])
        if len(commits) == 3:  # two tables committed, the third's commit hits a full disk
            raise OSError(28, "No space left on device", a[1])
        return real_commit(*a, **k)

    monkeypatch.setattr(tables, "commit", full_disk)
    config = curate.CurateConfig(read=ReadConfig(max_line_bytes=MAX_LINE))
    with pytest.raises(OSError):
        curate.run(argv(land, wh), config=config)
    monkeypatch.setattr(tables, "commit", real_commit)
    # Readers see the whole previous day: the unsealed commits of two tables are not read.
    assert table_rows(wh) == before
    assert inspect.main(["funnel", "--warehouse", str(wh)]) == 0
    capsys.readouterr()
    assert recover.main(["--warehouse", str(wh)]) == 0
    assert f"dt={DAY}: a run died between its table commits" in capsys.readouterr().out
    curate.run(argv(land, wh), config=config)  # the rerun seals the day again
    assert table_rows(wh) == before
    assert recover.main(["--warehouse", str(wh)]) == 0
    assert "died" not in capsys.readouterr().out


def test_reading_is_bounded_by_the_line_cap_not_the_file():
    """A gzip bomb of one 64 MiB line: a reject, with memory bounded by the cap."""
    payload = gzip.compress(b"a" * (64 * 1024 * 1024) + b"\n{}\n", compresslevel=9)
    assert len(payload) < 1024 * 1024
    config = ReadConfig(max_line_bytes=1024 * 1024, chunk_bytes=256 * 1024)
    tracemalloc.start()
    out = list(read_lines(gzip.GzipFile(fileobj=io.BytesIO(payload)), config))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [(n, problem) for n, _, problem in out] == [(1, LINE_TOO_LONG), (2, None)]
    assert out[1][1] == b"{}"
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes for a 1 MiB line cap"


def test_a_file_over_the_size_cap_stops_with_a_reject():
    data = b"{}\n" * 1000
    out = list(read_lines(io.BytesIO(data), ReadConfig(max_line_bytes=100, max_file_bytes=300)))
    assert out[-1][2] == FILE_TOO_LARGE
    assert [p for _, _, p in out[:-1]] == [None] * (len(out) - 1)
    assert len(out) == 101  # 100 whole lines fit in 300 bytes, the 101st is the reject


def _curate_process(land, wh):
    env = dict(os.environ, **{pseudonym.KEY_ENV: KEY, "PYTHONPATH": str(REPO)})
    return subprocess.Popen([sys.executable, "-m", "pipelines.curate", *argv(land, wh)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.slow
def test_a_held_day_lock_refuses_a_second_run_and_dies_with_its_holder(hostile_day, tmp_path):
    land, _, _ = hostile_day
    wh = tmp_path / "warehouse"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from warehouse.partitions import DayLock\n"
         "with DayLock(sys.argv[1], sys.argv[2], 'run-held-by-test'):\n"
         "    print('locked', flush=True); time.sleep(120)", str(wh), DAY],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = _curate_process(land, wh)
        _, err = second.communicate(timeout=300)
        assert second.returncode == 2
        assert f"day {DAY} is being curated by run run-held-by-test since" in err
        assert not glob.glob(f"{wh}/interactions/dt={DAY}")
    finally:
        holder.kill()  # kill -9: the kernel releases the flock, no stale lock stays behind
        holder.wait()
    third = _curate_process(land, wh)
    _, err = third.communicate(timeout=300)
    assert third.returncode == 0, err


@pytest.mark.slow
def test_two_runs_of_one_day_never_interleave(tmp_path):
    plain = tmp_path / "plain"
    simulate.simulate_day(landing=plain, date=DAY, users=6, seed=11, model_versions=("v1",))
    alone = tmp_path / "alone"
    assert curate.main(argv(plain, alone)) == 0
    wh = tmp_path / "warehouse"
    runs = [_curate_process(plain, wh) for _ in range(2)]
    deadline = time.monotonic() + 600
    results = [(p.wait(timeout=max(1, deadline - time.monotonic())), p.stderr.read())
               for p in runs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    for code, err in results:
        if code == 2:
            assert f"day {DAY} is being curated by run" in err
    assert table_rows(wh) == table_rows(alone)
    assert table_rows(wh)["interactions"]


@pytest.mark.slow
def test_a_backfill_does_not_resurrect_an_erased_user(curated_warehouse, tmp_path, monkeypatch):
    from governance import erase

    monkeypatch.setenv(pseudonym.KEY_ENV, curated_warehouse.key)
    wh = tmp_path / "warehouse"
    shutil.copytree(curated_warehouse.warehouse, wh)
    first, last = curated_warehouse.days[0], curated_warehouse.days[-1]
    erase.erase(str(wh), as_of=last)
    tombstoned = {r["user_pseudonym"] for p in glob.glob(f"{wh}/deletions/dt=*/*.parquet")
                  for r in pq.read_table(p).to_pylist()}
    published = {r["user_pseudonym"] for r in rows(curated_warehouse.warehouse, "interactions",
                                                     first)}
    assert tombstoned & published, "some erased users had day-1 rows before the erasure"
    # The deletion requests are dated after day 1, so day 1's own look-back never sees them.
    curate.run(argv(curated_warehouse.landing, wh, first))
    for table in ("interactions", "feedback"):
        back = {r["user_pseudonym"] for r in rows(wh, table, first)} & tombstoned
        assert not back, f"{table} of {first} holds {len(back)} erased user(s) again"
    erased = [r for r in rows(wh, "rejects", first) if r["reason"] == "user_erased"]
    assert erased


def test_a_bad_pii_entity_is_one_sentence_naming_it(tmp_path, capsys):
    code = curate.main(argv(tmp_path / "landing", tmp_path / "wh", DAY,
                            "--pii-entities", "EMAIL_ADDRESS,PERSN"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "PERSN" in err[0] and "EMAIL_ADDRESS" in err[0]


@pytest.mark.slow
def test_two_runs_of_different_days_on_one_warehouse_both_commit(tmp_path):
    """Two processes, two days, the same Delta tables: both commit, neither loses the other's.

    The days are independent (other users, further apart than every look-back), so each must
    hold exactly what a run alone writes, whichever commit lands first.
    """
    plain = tmp_path / "plain"
    later = "2027-03-01"  # more than dedup_lookback_days after DAY
    for day, seed in ((DAY, 11), (later, 12)):
        simulate.simulate_day(landing=plain, date=day, users=6, seed=seed, model_versions=("v1",))
    alone = tmp_path / "alone"
    for day in (DAY, later):
        assert curate.main(argv(plain, alone, day)) == 0
    wh = tmp_path / "warehouse"
    env = dict(os.environ, **{pseudonym.KEY_ENV: KEY, "PYTHONPATH": str(REPO)})
    runs = [subprocess.Popen([sys.executable, "-m", "pipelines.curate", *argv(plain, wh, day)],
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for day in (DAY, later)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in runs]
    assert [code for code, _ in results] == [0, 0], results
    for day in (DAY, later):
        assert table_rows(wh, day) == table_rows(alone, day)
        assert table_rows(wh, day)["interactions"]
        assert all(tables.open_table(str(wh), t).transaction_version(f"curate/{day}") == 1
                   for t in curate.OUTPUT_TABLES)
