"""Erasure on a real curated warehouse: every trace goes, nothing else moves, reruns are no-ops.

The victims are the simulator's own deletion requests: the user who asks on day 2 has day-1
interactions, feedback, rejects and dedup signatures, and sits in a dataset built on day 1.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance import erase
from tests.conftest import strings_in, table_files
from warehouse import partitions, tables

# The request record and the tombstone keep the pseudonym by design (docs/governance.md).
RECORD_TABLES = ("deletion_requests", erase.DELETIONS_TABLE)


def copy_warehouse(curated_warehouse, dst: Path) -> Path:
    shutil.copytree(curated_warehouse.warehouse, dst)
    return dst


def requests(wh: Path) -> list[dict]:
    return erase.read_requests(str(wh))


def table_rows(wh: Path, table: str) -> dict[str, list[dict]]:
    return {dt: [r for f in files for r in pq.read_table(f).to_pylist()]
            for dt, files in partitions.partition_files(str(wh), table).items()}


def files_mentioning(wh: Path, needles: set[str]) -> list[str]:
    """Parquet files (any column, decoded) under wh that contain any needle."""
    out = []
    for path in sorted(wh.rglob("*.parquet")):
        rows = pq.read_table(path).to_pylist()
        if any(n in s for row in rows for s in strings_in(list(row.values())) for n in needles):
            out.append(path.relative_to(wh).as_posix())
    return out


def counter(rows: list[dict]) -> collections.Counter:
    return collections.Counter(json.dumps(r, sort_keys=True, default=str) for r in rows)


def tree_hashes(wh: Path) -> dict[str, str]:
    # _locks/ holds who last held a lock (pid, time), not warehouse content
    return {p.relative_to(wh).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(wh.rglob("*")) if p.is_file() and p.name != "mlflow.db"
            and "_locks" not in p.relative_to(wh).parts}


def expected_after(before: dict[str, dict[str, list[dict]]], victims: set[str]) -> dict:
    """The warehouse minus the victims' rows, computed independently of governance.erase."""
    victim_ids = {r["event_id"] for rows in before["interactions"].values() for r in rows
                  if r["user_pseudonym"] in victims}
    refs = ("interaction_id", "original_interaction_id", "other_interaction_id")
    out = {}
    for table, parts in before.items():
        out[table] = {}
        for dt, rows in parts.items():
            def gone(r, table=table):
                if table in RECORD_TABLES or table == "stats":
                    return False
                if r.get("user_pseudonym") in victims:
                    return True
                return table == "feedback" and any(r.get(c) in victim_ids for c in refs)
            out[table][dt] = [r for r in rows if not gone(r)]
    return out


TABLES = ("interactions", "feedback", "rejects", "dedup_index", "stats", "deletion_requests")


@pytest.fixture(scope="module")
def before_and_after(curated_warehouse, tmp_path_factory):
    """(warehouse before, warehouse after one erasure, summary, stale dataset id, model version)."""
    from curation.datasets import DatasetConfig, build_dataset
    from training import registry
    from training.data import resolve_dataset
    from warehouse import pseudonym

    root = tmp_path_factory.mktemp("erase")
    before = copy_warehouse(curated_warehouse, root / "before")
    # What every curation run does first: the warehouse records its key ring's fingerprint.
    pseudonym.ensure_key_fingerprint(str(before), [curated_warehouse.key.encode()])
    # Day 1's dataset still holds the day-2 requester; training registers a version on it.
    dataset_id, _ = build_dataset(before, curated_warehouse.days[0], DatasetConfig())
    model_dir = root / "model"
    model_dir.mkdir()
    (model_dir / "meta.json").write_text(json.dumps({"dataset_id": dataset_id}))
    registered = registry.log_and_register(
        before, model_name="flywheel-sft", model_dir=model_dir, kind="sft", params={},
        metrics={}, dataset=resolve_dataset(before, dataset_id),
        tags={"dataset_id": dataset_id, erase.ERASED_TAG: "false"})
    after = root / "after"
    shutil.copytree(before, after)
    # MLflow artifact URIs in the db point into "before": the registry itself is what we test.
    summary = erase.erase(str(after), tracking_uri=f"sqlite:///{after / 'mlflow.db'}")
    return before, after, summary, dataset_id, registered["version"]


def test_no_trace_of_erased_users_and_nothing_else_changed(before_and_after):
    before, after, summary, _, _ = before_and_after
    victims = {r["user_pseudonym"] for r in requests(before)}
    assert len(victims) == 2
    rows_before = {t: table_rows(before, t) for t in TABLES}
    assert any(r["user_pseudonym"] in victims for rows in rows_before["interactions"].values()
               for r in rows), "the fixture must hold rows of a user who later asks erasure"
    assert files_mentioning(before, victims)  # the scan can see them

    record_dirs = {f"{t}/" for t in RECORD_TABLES}
    left = [f for f in files_mentioning(after, victims)
            if not any(f.startswith(d) for d in record_dirs)]
    assert left == []
    expected = expected_after(rows_before, victims)
    for table in TABLES:
        got = table_rows(after, table)
        assert sorted(got) == sorted(expected[table]), table
        for dt in got:
            assert counter(got[dt]) == counter(expected[table][dt]), f"{table} dt={dt}"
    removed = sum(len(rows_before[t][d]) - len(expected[t][d]) for t in TABLES for d in expected[t])
    assert sum(summary["rows_removed"].values()) == removed > 0


def test_untouched_partitions_keep_their_bytes(before_and_after):
    before, after, summary, _, _ = before_and_after
    rewritten = set(summary["partitions_rewritten"])
    same = 0
    for table in ("interactions", "feedback", "rejects", "dedup_index", "stats"):
        for dt, files in partitions.partition_files(str(before), table).items():
            for path in files:
                rel = Path(path).relative_to(before)
                if f"{table}/dt={dt}" not in rewritten:
                    assert (after / rel).read_bytes() == Path(path).read_bytes(), rel
                    same += 1
    assert same > 0 and rewritten


def test_tombstones_record_the_erasure(before_and_after):
    before, after, summary, dataset_id, version = before_and_after
    tombstones = erase.read_tombstones(str(after))
    reqs = requests(before)
    assert sorted(t["request_event_id"] for t in tombstones) == sorted(r["event_id"] for r in reqs)
    assert set(tombstones[0]) - {"dt"} == set(erase.DELETIONS.names)
    by_user = {t["user_pseudonym"]: t for t in tombstones}
    day2 = next(r for r in reqs if r["dt"] == "2026-11-02")
    tombstone = by_user[day2["user_pseudonym"]]
    assert tombstone["rows_removed"]["interactions"] > 0
    assert tombstone["datasets_marked_stale"] == [dataset_id]
    assert tombstone["model_versions_tagged"] == [f"flywheel-sft/{version}"]
    # Deterministic: the end of the logical day, whatever the wall clock says.
    assert tombstone["completed_at"] == datetime(2026, 11, 3, tzinfo=UTC)
    assert summary["completed_now"] == 2


def test_rerun_is_a_no_op(before_and_after, tmp_path):
    _, after, _, _, _ = before_and_after
    wh = tmp_path / "wh"
    shutil.copytree(after, wh)
    hashes = tree_hashes(wh)
    summary = erase.erase(str(wh), tracking_uri=f"sqlite:///{wh / 'mlflow.db'}")
    assert summary["completed_now"] == 0 and summary["already_completed"] == 2
    assert sum(summary["rows_removed"].values()) == 0 and summary["partitions_rewritten"] == []
    assert tree_hashes(wh) == hashes
    assert len(erase.read_tombstones(str(wh))) == 2


def test_stale_dataset_and_tagged_model_are_never_promoted(before_and_after):
    from governance import lineage as governance
    from training.config import GatePolicy
    from training.data import DatasetError, resolve_dataset
    from training.evaluate import EvalResult, should_promote

    before, after, _, dataset_id, version = before_and_after
    manifest = json.loads((after / "datasets" / dataset_id / "manifest.json").read_text())
    assert manifest["stale"] is True and manifest["stale_reason"] == "contains_erased_user_data"
    assert manifest["erased_pseudonym_count"] == 1
    victims = {r["user_pseudonym"] for r in requests(before)}
    assert not any(v in json.dumps(manifest) for v in victims)
    for rel, digest in manifest["files"].items():  # hashes follow the scrubbed files
        assert hashlib.sha256((after / "datasets" / dataset_id / rel).read_bytes()).hexdigest() == digest
    with pytest.raises(DatasetError, match="stale"):
        resolve_dataset(after, dataset_id)

    uri = f"sqlite:///{after / 'mlflow.db'}"
    assert governance.version_contains_erased_user_data(after, "flywheel-sft", version, uri)
    assert not governance.version_contains_erased_user_data(
        before, "flywheel-sft", version, f"sqlite:///{before / 'mlflow.db'}")

    def result(erased: bool) -> EvalResult:
        return EvalResult(model="m", version=version, eval_loss=1.0, bits_per_byte=1.0, n_eval=8,
                          n_prompts=8, empty_rate=0.0, degenerate_rate=0.0, flagged_rate=0.0,
                          contains_erased_user_data=erased)

    assert should_promote(result(False), None, GatePolicy())[0] is True
    erased = governance.version_contains_erased_user_data(after, "flywheel-sft", version, uri)
    assert should_promote(result(erased), None, GatePolicy()) == (False, "contains_erased_user_data")


def test_dataset_built_after_erasure_excludes_the_user(before_and_after, tmp_path):
    from curation.datasets import DatasetConfig, build_dataset

    before, after, _, dataset_id, _ = before_and_after
    wh = tmp_path / "wh"
    shutil.copytree(after, wh)
    victims = {r["user_pseudonym"] for r in requests(before)}
    new_id, path = build_dataset(wh, "2026-11-01", DatasetConfig())
    assert new_id != dataset_id
    assert files_mentioning(path, victims) == []
    assert json.loads((path / "manifest.json").read_text())["stale"] is False
    assert pq.read_table(path / "sft" / "train.parquet").num_rows > 0


def test_erasure_killed_mid_rewrite_completes_on_rerun(before_and_after, tmp_path, monkeypatch):
    before, after, _, _, _ = before_and_after
    wh = tmp_path / "wh"
    shutil.copytree(before, wh)
    real_commit = tables.commit
    calls = []

    def dying_commit(*a, **k):
        calls.append(a[1])
        if len(calls) == 2:  # the first table's rewrite committed, killed before the second
            raise KeyboardInterrupt("killed")
        return real_commit(*a, **k)

    monkeypatch.setattr(tables, "commit", dying_commit)
    with pytest.raises(KeyboardInterrupt):
        erase.erase(str(wh), tracking_uri=f"sqlite:///{wh / 'mlflow.db'}")
    monkeypatch.setattr(tables, "commit", real_commit)
    assert list((wh / erase.PLAN_DIR).glob("*.json")), "the crash must leave the plan"
    assert erase.read_tombstones(str(wh)) == []

    summary = erase.erase(str(wh), tracking_uri=f"sqlite:///{wh / 'mlflow.db'}")
    assert summary["completed_now"] == 2
    for table in (*TABLES, erase.DELETIONS_TABLE):
        got, want = table_rows(wh, table), table_rows(after, table)
        assert sorted(got) == sorted(want), table
        for dt in got:
            assert counter(got[dt]) == counter(want[dt]), f"{table} dt={dt}"
    assert not list((wh / erase.PLAN_DIR).glob("*.json"))


def test_later_arrivals_are_dropped_at_ingest_and_swept(before_and_after, curated_warehouse,
                                                         tmp_path):
    """The real job on a later day drops the erased user's new events; erase sweeps the rejects."""
    from pipelines import curate

    before, after, _, _, _ = before_and_after
    wh = tmp_path / "wh"
    shutil.copytree(after, wh)
    truth = curated_warehouse.truth[curated_warehouse.days[-1]]
    raw_user = truth["deletion_requests"][0]
    landing = tmp_path / "landing"
    day = "2026-11-03"
    (landing / f"dt={day}").mkdir(parents=True)
    events = [
        {"event_type": "interaction", "event_id": f"late-{i}", "timestamp": f"{day}T10:0{i}:00Z",
         "user_id": raw_user, "conversation_id": f"late-conv-{i}", "turn": 0,
         "model_version": "v2", "consent": {"training": True}, "latency_ms": 120.0,
         "messages": [{"role": "user", "content": f"How do I sort a list in Python, case {i}?"}],
         "response": "Use sorted(items) for a new list, or items.sort() to sort in place; both "
                     "accept key= and reverse= to change the order."}
        for i in range(3)
    ]
    (landing / f"dt={day}" / "events-00000.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events))
    os.environ["FLYWHEEL_PSEUDONYM_KEY"] = curated_warehouse.key
    curate.run(["--landing", str(landing), "--warehouse", str(wh), "--date", day])

    victim = next(r["user_pseudonym"] for r in requests(before) if r["dt"] == curated_warehouse.days[-1])
    assert table_rows(wh, "interactions").get(day, []) == []
    dropped = [r for r in table_rows(wh, "rejects")[day] if r["user_pseudonym"] == victim]
    assert {r["reason"] for r in dropped} == {"user_erased"} and len(dropped) == 3

    summary = erase.erase(str(wh), as_of=day, tracking_uri=f"sqlite:///{wh / 'mlflow.db'}")
    assert summary["completed_now"] == 0 and summary["rows_swept_of_earlier_erasures"] == 3
    record_dirs = {f"{t}/" for t in RECORD_TABLES}
    assert [f for f in files_mentioning(wh, {victim})
            if not any(f.startswith(d) for d in record_dirs)] == []


def test_cli(before_and_after, tmp_path, capsys):
    before, _, _, _, _ = before_and_after
    wh = tmp_path / "wh"
    shutil.copytree(before, wh)
    assert erase.main(["--warehouse", str(wh), "--as-of", "2026-11-01",
                       "--tracking-uri", f"sqlite:///{wh / 'mlflow.db'}"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["completed_now"] == 1 and out["as_of"] == "2026-11-01"  # day 2's request waits
    assert erase.main(["--warehouse", str(wh), "--as-of", "11/02/2026"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --as-of '11/02/2026' is not YYYY-MM-DD"]
    assert erase.main(["--warehouse", str(tmp_path / "nope")]) == 2


# ---------------------------------------------------------------------------------------------
# Key rotation: history is re-keyed along the key chain, so erasure still finds it

NEW_KEY = b"rotated-key-not-secret-fedcba9876543210"
PSEUDONYM = __import__("re").compile(r"u_[0-9a-f]{32}")


def committed_pairs(a: Path, b: Path):
    """(rows in a, rows in b, name) per table and day (through the log) and per dataset file."""
    for table in (*TABLES, erase.DELETIONS_TABLE):
        for day in sorted(table_rows(a, table)):
            yield (table_rows(a, table)[day], table_rows(b, table).get(day, []), f"{table}/{day}")
    for path in sorted((a / "datasets").rglob("*.parquet")):
        yield (pq.read_table(path).to_pylist(),
               pq.read_table(b / path.relative_to(a)).to_pylist(), str(path))


def pseudonyms_in(wh: Path) -> set[str]:
    found = set()
    for path in wh.rglob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            for text in strings_in(list(row.values())):
                found.update(PSEUDONYM.findall(text))
    return found


def test_rotation_rekeys_every_pseudonym_along_the_chain(before_and_after, curated_warehouse,
                                                         tmp_path):
    from governance import rotate_key
    from warehouse import pseudonym

    before = before_and_after[0]
    old_key = curated_warehouse.key.encode()
    wh = tmp_path / "wh"
    shutil.copytree(before, wh)
    old = pseudonyms_in(before)
    summary = rotate_key.rotate(str(wh), old_key, NEW_KEY)
    assert summary["rotated_files"] > 0 and summary["epoch"] == 1

    # Row for row, only the pseudonym columns changed, each to HMAC(new key, old pseudonym).
    for was, now, path in committed_pairs(before, wh):
        assert len(was) == len(now), path
        for a, b in zip(was, now, strict=True):
            for column, value in a.items():
                if column in ("user_pseudonym", "rejected_user_pseudonym") and value is not None:
                    assert b[column] == pseudonym.pseudonymize(NEW_KEY, value)
                else:
                    assert b[column] == value, (path, column)
    assert old and pseudonyms_in(wh).isdisjoint(old)  # a leaked old key re-identifies nothing

    # The chain of keys maps a raw id to its re-keyed pseudonym.
    day2 = curated_warehouse.days[-1]
    raw = curated_warehouse.truth[day2]["deletion_requests"][0]
    chained = rotate_key.chain_pseudonym([old_key, NEW_KEY], raw)
    assert chained in {r["user_pseudonym"] for r in erase.read_requests(str(wh))}

    # Rerun: nothing left to do; a wrong old key is refused.
    assert rotate_key.rotate(str(wh), old_key, NEW_KEY)["already_complete"] is True
    with pytest.raises(rotate_key.RotateError, match="not the warehouse's current key"):
        rotate_key.rotate(str(wh), old_key, b"yet-another-key-0123456789abcdef")


def test_erasure_after_rotation_reaches_rows_written_under_the_old_key(
        before_and_after, curated_warehouse, tmp_path):
    """A request pseudonymized under the key chain removes the user's pre-rotation history."""
    import pyarrow as pa

    from governance import rotate_key
    from warehouse import schemas

    before = before_and_after[0]
    old_key = curated_warehouse.key.encode()
    wh = tmp_path / "wh"
    shutil.copytree(before, wh)
    rotate_key.rotate(str(wh), old_key, NEW_KEY)

    truth = curated_warehouse.truth[curated_warehouse.days[0]]
    users = collections.Counter(i["user_id"] for i in truth["interactions"].values())
    requested = set(truth["deletion_requests"]) | set(
        curated_warehouse.truth[curated_warehouse.days[-1]]["deletion_requests"])
    raw = next(u for u, _ in users.most_common() if u not in requested)
    chained = rotate_key.chain_pseudonym([old_key, NEW_KEY], raw)
    assert any(r["user_pseudonym"] == chained
               for rows in table_rows(wh, "interactions").values() for r in rows)

    # The request as curate writes it under the key ring (one deletion_requests row, day 3).
    day = "2026-11-03"
    part = wh / "deletion_requests" / f"dt={day}"
    part.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(
        [{"event_id": "req-after-rotation", "user_pseudonym": chained,
          "requested_at": datetime(2026, 11, 3, 9, 0, tzinfo=UTC)}],
        schema=schemas.DELETION_REQUESTS), part / "part-0.parquet")
    tables.commit(str(wh), "deletion_requests", add=[str(part / "part-0.parquet")], replace_day=day)
    summary = erase.erase(str(wh), as_of=day, tracking_uri=f"sqlite:///{wh / 'mlflow.db'}")
    assert summary["completed_now"] == 3 and summary["rows_removed"]["interactions"] > 0
    record_dirs = {f"{t}/" for t in RECORD_TABLES}
    assert [f for f in files_mentioning(wh, {chained})
            if not any(f.startswith(d) for d in record_dirs)] == []


def test_rotation_killed_midway_resumes_without_double_rekeying(before_and_after,
                                                                curated_warehouse, tmp_path,
                                                                monkeypatch):
    from governance import rotate_key

    before = before_and_after[0]
    old_key = curated_warehouse.key.encode()
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    shutil.copytree(before, clean)
    shutil.copytree(before, crashed)
    rotate_key.rotate(str(clean), old_key, NEW_KEY)

    real_commit = tables.commit
    calls = []

    def dying_commit(*a, **k):
        calls.append(a[1])
        if len(calls) == 3:  # two days committed, killed before the third commit
            raise KeyboardInterrupt("killed")
        return real_commit(*a, **k)

    monkeypatch.setattr(tables, "commit", dying_commit)
    with pytest.raises(KeyboardInterrupt):
        rotate_key.rotate(str(crashed), old_key, NEW_KEY)
    monkeypatch.setattr(tables, "commit", real_commit)
    assert rotate_key.read_epochs(str(crashed))[-1]["state"] == "rotating"
    rotate_key.rotate(str(crashed), old_key, NEW_KEY)
    assert rotate_key.read_epochs(str(crashed))[-1]["state"] == "complete"
    for want, got, name in committed_pairs(clean, crashed):
        assert counter(got) == counter(want), name


# ---------------------------------------------------------------------------------------------
# Delta Lake: the erasure reaches every byte, the transaction log included


def victim_traces(before: Path, victims: set[str]) -> set[str]:
    """What would identify the victims: their pseudonyms, event ids, and every free text of
    theirs that appears in no other user's row (simulated users share template prompts)."""
    traces, theirs, others = set(victims), set(), []
    for table in ("interactions", "feedback"):
        for rows in table_rows(before, table).values():
            for r in rows:
                if r["user_pseudonym"] in victims:
                    traces.add(r["event_id"])
                    theirs |= {r[c] for c in ("prompt", "response", "comment", "edited_response")
                               if isinstance(r.get(c), str) and len(r[c]) >= 24}
                else:
                    others.extend(strings_in(list(r.values())))
    everyone_else = "\n".join(others)
    return traces | {t for t in theirs if t not in everyone_else}


def test_no_byte_under_the_warehouse_describes_an_erased_user(before_and_after, curated_warehouse):
    before, after, _, _, _ = before_and_after
    victims = {r["user_pseudonym"] for r in requests(before)}
    raw_ids = {u for t in curated_warehouse.truth.values() for u in t["deletion_requests"]}
    traces = victim_traces(before, victims)
    assert len(traces - victims) > 10  # the victims wrote events and text of their own
    record_dirs = {f"{t}/" for t in RECORD_TABLES}
    # Parquet (data files and log checkpoints), decoded: nothing outside the request records.
    assert files_mentioning(before, traces)
    assert [f for f in files_mentioning(after, traces | raw_ids)
            if not any(f.startswith(d) for d in record_dirs)] == []
    # Every other file byte for byte (commit JSON, _last_checkpoint, locks, epochs, manifests):
    # no trace at all, and no pseudonym outside the two record tables' own folders.
    for path in sorted(after.rglob("*")):
        if not path.is_file() or path.suffix == ".parquet" or path.name == "mlflow.db":
            continue
        data = path.read_bytes()
        rel = path.relative_to(after).as_posix()
        found = [t for t in traces | raw_ids if t.encode() in data]
        assert found == [] or (any(rel.startswith(d) for d in record_dirs)
                               and set(found) <= victims), (rel, found[:2])
    # No commit older than the erasure's checkpoint is left to describe removed files.
    for table in ("interactions", "feedback", "rejects", "dedup_index"):
        log = sorted((after / table / "_delta_log").glob("*.json"))
        checkpoint = json.loads((after / table / "_delta_log" / "_last_checkpoint").read_text())
        assert int(log[0].stem) >= checkpoint["version"], table


def test_free_text_and_id_columns_carry_no_statistics(before_and_after):
    _, after, _, _, _ = before_and_after
    for table in (*TABLES, erase.DELETIONS_TABLE):
        dt = tables.open_table(str(after), table)
        config = dt.metadata().configuration
        assert config.get("delta.dataSkippingStatsColumns", "ts") == "ts" or config.get(
            "delta.dataSkippingNumIndexedCols") == "0", table
        actions = pa.RecordBatchReader.from_stream(dt.get_add_actions(flatten=True)).read_all()
        stats = {c for c in actions.column_names if c.startswith(("min.", "max."))}
        assert stats <= {"min.ts", "max.ts"}, (table, stats)
        if table in ("interactions", "feedback") and actions.num_rows:
            assert stats == {"min.ts", "max.ts"}  # the check sees statistics where they exist


def test_erasure_racing_a_curation_commit_loses_neither(before_and_after, tmp_path, monkeypatch):
    """A curation commit lands between erasure's read and its commit: erasure re-reads the new
    files and removes the rows from them; the curation's commit stays in the history."""
    before, after, _, _, _ = before_and_after
    wh = tmp_path / "wh"
    shutil.copytree(before, wh)
    day = "2026-11-01"
    real_rewrite = erase.rewrite_partitions
    raced = []

    def curation_commits_first(*args, **kwargs):
        if not raced:  # a rerun of day 1 replaces the partition with the same rows, new files
            for table in ("interactions", "feedback", "rejects", "dedup_index"):
                copies = []
                for path in table_files(wh, table, day):
                    copy = Path(path).with_name(f"curate-rerun-{Path(path).name}")
                    shutil.copy(path, copy)
                    copies.append(str(copy))
                raced.append(tables.commit(str(wh), table, add=copies, replace_day=day))
        return real_rewrite(*args, **kwargs)

    monkeypatch.setattr(erase, "rewrite_partitions", curation_commits_first)
    summary = erase.erase(str(wh), tracking_uri=f"sqlite:///{wh / 'mlflow.db'}")
    assert summary["completed_now"] == 2 and all(v is not None for v in raced)
    for table in (*TABLES, erase.DELETIONS_TABLE):
        got, want = table_rows(wh, table), table_rows(after, table)
        for dt in want:
            assert counter(got[dt]) == counter(want[dt]), f"{table} dt={dt}"
    assert all("curate-rerun-" in p for p in table_files(wh, "interactions", day))
