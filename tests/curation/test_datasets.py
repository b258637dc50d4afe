"""Training-set building on the real curated warehouse (simulator + Beam job, tests/conftest.py).

Every build here runs on a private copy of the session warehouse, so the ``datasets/`` folders
this module writes never show up in other modules' views of it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import rules
from curation.datasets import (
    MANIFEST,
    DatasetConfig,
    DatasetError,
    build_dataset,
    list_datasets,
    load_manifest,
)
from tests.conftest import table_files
from warehouse import tables as delta_tables
from warehouse.schemas import DELETIONS

REPO = Path(__file__).resolve().parents[2]

# 60 simulated users: with one in three held out the eval split has ~20 users, enough for every
# property below to be tested on non-empty splits.
CONFIG = DatasetConfig(window_days=2, eval_fraction=0.3, seed=0)
SPLITS = ("train", "eval")


def _copy_warehouse(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("datasets", "mlflow.db", "mlruns"))
    return dst


def _tables(path: Path) -> dict[str, dict[str, list[dict]]]:
    return {
        table: {split: pq.read_table(path / table / f"{split}.parquet").to_pylist()
                for split in SPLITS}
        for table in ("sft", "preferences")
    }


def _interactions(warehouse: Path) -> dict[str, dict]:
    rows = duckdb.sql(
        "SELECT event_id, user_pseudonym, consent_training, flagged, dedup_cluster_id, prompt, "
        "response FROM read_parquet(?, hive_partitioning = true)",
        params=[table_files(warehouse, "interactions")],
    ).fetchall()
    cols = ("event_id", "user_pseudonym", "consent_training", "flagged", "dedup_cluster_id",
            "prompt", "response")
    return {r[0]: dict(zip(cols, r, strict=True)) for r in rows}


def _feedback(warehouse: Path) -> list[dict]:
    return duckdb.sql(
        "SELECT * EXCLUDE (metadata, pii_findings) FROM read_parquet(?, hive_partitioning = true)",
        params=[table_files(warehouse, "feedback")],
    ).to_arrow_table().to_pylist()


def _source_ids(row: dict) -> list[str]:
    ids = [row["source_event_id"], row.get("chosen_event_id"), row.get("rejected_event_id")]
    return [i for i in ids if i]


def _users(row: dict) -> set[str]:
    return {u for u in (row["user_pseudonym"], row.get("rejected_user_pseudonym")) if u}


@pytest.fixture(scope="module")
def warehouse(curated_warehouse, tmp_path_factory) -> Path:
    return _copy_warehouse(curated_warehouse.warehouse, tmp_path_factory.mktemp("ds") / "wh")


@pytest.fixture(scope="module")
def built(warehouse, curated_warehouse):
    dataset_id, path = build_dataset(warehouse, curated_warehouse.days[-1], CONFIG)
    return dataset_id, path, _tables(path), json.loads((path / MANIFEST).read_text())


# --- determinism and idempotence ------------------------------------------------------------


def test_same_inputs_give_same_id_and_bytes(built, curated_warehouse, tmp_path):
    dataset_id, path, _, _ = built
    other = _copy_warehouse(curated_warehouse.warehouse, tmp_path / "wh")
    other_id, other_path = build_dataset(other, curated_warehouse.days[-1], CONFIG)
    assert other_id == dataset_id
    files = sorted(p.relative_to(path) for p in path.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(other_path) for p in other_path.rglob("*") if p.is_file())
    for relative in files:
        assert (path / relative).read_bytes() == (other_path / relative).read_bytes(), relative


def test_rebuild_is_a_noop(built, warehouse, curated_warehouse):
    dataset_id, path, _, _ = built
    before = {p: p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}
    again_id, again_path = build_dataset(warehouse, curated_warehouse.days[-1], CONFIG)
    assert (again_id, again_path) == (dataset_id, path)
    assert {p: p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()} == before
    assert not [d for d in (warehouse / "datasets").iterdir() if d.name.startswith(".tmp")]


def test_other_seed_or_window_gives_other_id(built, warehouse, curated_warehouse):
    dataset_id = built[0]
    reseeded, _ = build_dataset(warehouse, curated_warehouse.days[-1],
                                DatasetConfig(window_days=2, eval_fraction=0.3, seed=1))
    one_day, _ = build_dataset(warehouse, curated_warehouse.days[-1],
                               DatasetConfig(window_days=1, eval_fraction=0.3, seed=0))
    assert len({dataset_id, reseeded, one_day}) == 3


def test_changed_input_partition_changes_id(curated_warehouse, tmp_path):
    wh = _copy_warehouse(curated_warehouse.warehouse, tmp_path / "wh")
    as_of = curated_warehouse.days[-1]
    before, _ = build_dataset(wh, as_of, CONFIG)
    part = sorted((wh / "feedback" / f"dt={curated_warehouse.days[0]}").glob("*.parquet"))[0]
    table = pq.read_table(part)
    pq.write_table(table.slice(1), part)  # one feedback event fewer, as after an erasure
    after, after_path = build_dataset(wh, as_of, CONFIG)
    assert after != before
    manifest = json.loads((after_path / MANIFEST).read_text())
    entry = next(f for f in manifest["created_from"] if f["path"] == part.relative_to(wh).as_posix())
    assert entry["sha256"] == hashlib.sha256(part.read_bytes()).hexdigest()


# --- manifest --------------------------------------------------------------------------------


def test_manifest_counts_equal_parquet_rows(built, warehouse):
    dataset_id, path, tables, manifest = built
    assert manifest["dataset_id"] == dataset_id and manifest["stale"] is False
    assert manifest["as_of"] == "2026-11-02" and manifest["window"]["days"] == 2
    assert manifest["config"]["seed"] == CONFIG.seed
    for table, by_split in tables.items():
        for split, rows in by_split.items():
            counts = manifest["counts"][table][split]
            assert counts["rows"] == len(rows)
            by_rule = defaultdict(int)
            for row in rows:
                by_rule[row["rule"]] += 1
            assert {r: n for r, n in counts["by_rule"].items() if n} == dict(by_rule)
    listed = {(f["table"], f["path"]) for f in manifest["created_from"]}
    for table in ("interactions", "feedback"):
        for file in (warehouse / table).glob("dt=*/*.parquet"):
            assert (table, file.relative_to(warehouse).as_posix()) in listed
    assert load_manifest(warehouse, dataset_id) == manifest
    assert dataset_id in {m["dataset_id"] for m in list_datasets(warehouse)}


# --- split -----------------------------------------------------------------------------------


def test_split_is_leak_free_by_user_and_cluster(built, warehouse):
    _, _, tables, _ = built
    interactions = _interactions(warehouse)
    users, clusters, prompts = {s: set() for s in SPLITS}, {s: set() for s in SPLITS}, {
        s: set() for s in SPLITS}
    for table in tables.values():
        for split, rows in table.items():
            for row in rows:
                users[split] |= _users(row)
                for event_id in _source_ids(row):
                    clusters[split].add(interactions[event_id]["dedup_cluster_id"])
                    prompts[split].add(rules.normalize_prompt(interactions[event_id]["prompt"]))
    assert users["train"] and users["eval"], "both splits must hold users for this test to bite"
    assert not users["train"] & users["eval"]
    assert not clusters["train"] & clusters["eval"]
    assert not prompts["train"] & prompts["eval"]


def test_assign_splits_drops_straddling_rows():
    seed, fraction = 0, 0.5
    by_split = defaultdict(list)
    for i in range(50):
        by_split[rules.user_split(f"user-{i}", seed, fraction)].append(f"user-{i}")
    a, b = by_split["train"][0], by_split["eval"][0]
    rows = [
        {"_users": {a}, "_groups": {"g1"}, "_order": ("1",), "id": 1},
        {"_users": {b}, "_groups": {"g1"}, "_order": ("2",), "id": 2},  # g1 already train
        {"_users": {b}, "_groups": {"g2"}, "_order": ("3",), "id": 3},
        {"_users": {a, b}, "_groups": {"g3"}, "_order": ("4",), "id": 4},  # users disagree
    ]
    kept, dropped = rules.assign_splits(rows, seed, fraction)
    assert [(r["id"], r["split"]) for r in kept] == [(1, "train"), (3, "eval")]
    assert dropped == {"split_group_conflict": 1, "split_user_conflict": 1}


# --- consent, deletion, flags ----------------------------------------------------------------


def test_only_consented_interactions_and_users(built, warehouse, curated_warehouse):
    _, _, tables, _ = built
    interactions = _interactions(warehouse)
    refused_users = {r["user_pseudonym"] for r in interactions.values() if not r["consent_training"]}
    # The simulator's ground truth, independent of pseudonyms: events of users who opted out or
    # never said yes.
    refused_events = set()
    for truth in curated_warehouse.truth.values():
        refused = set(truth["opted_out_users"]) | set(truth["no_consent_users"])
        refused_events |= {e for e, i in truth["interactions"].items() if i["user_id"] in refused}
    assert refused_users and refused_events, "the fixture must contain non-consenting users"
    for table in tables.values():
        for rows in table.values():
            for row in rows:
                assert not _users(row) & refused_users
                for event_id in _source_ids(row):
                    assert interactions[event_id]["consent_training"] is True
                    assert event_id not in refused_events


def test_withdrawn_users_rule():
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        {"user_pseudonym": "stays", "ts": t0, "consent_training": True},
        {"user_pseudonym": "leaves", "ts": t0, "consent_training": True},
        {"user_pseudonym": "leaves", "ts": t0 + timedelta(days=1), "consent_training": False},
        {"user_pseudonym": "joins", "ts": t0, "consent_training": False},
        {"user_pseudonym": "joins", "ts": t0 + timedelta(days=1), "consent_training": True},
        {"user_pseudonym": "sticky", "ts": t0, "consent_training": True},
        {"user_pseudonym": "sticky", "ts": t0 + timedelta(days=1), "consent_training": False},
        {"user_pseudonym": "sticky", "ts": t0 + timedelta(days=2), "consent_training": True},
    ]
    assert rules.withdrawn_users(rows) == {"leaves", "sticky"}
    assert rules.consenting_users(rows) == {"stays", "leaves", "joins", "sticky"}


@pytest.mark.slow
def test_user_who_withdraws_later_is_excluded(built, curated_warehouse, tmp_path):
    """A real extra landing day, curated by the real job, where one user says no."""
    from pipelines import curate

    _, _, tables, _ = built
    root = tmp_path / "flywheel"
    wh = _copy_warehouse(curated_warehouse.warehouse, root / "warehouse")
    landing = root / "landing"
    shutil.copytree(curated_warehouse.landing, landing)
    truth = {e: i for t in curated_warehouse.truth.values() for e, i in t["interactions"].items()}
    sft_train = sorted(tables["sft"]["train"], key=lambda r: r["source_event_id"])
    leaver_row = sft_train[0]
    leaver = truth[leaver_row["source_event_id"]]["user_id"]
    day = (datetime.fromisoformat(curated_warehouse.days[-1]) + timedelta(days=1)).date()
    event = {
        "event_type": "interaction", "event_id": "withdrawal-test-0001",
        "timestamp": f"{day}T10:00:00Z", "user_id": leaver, "conversation_id": "withdrawal-conv",
        "turn": 0, "model_version": "v2",
        "messages": [{"role": "user", "content": "How do I sort a dictionary by value in Python?"}],
        "response": "Use sorted() with a key function: sorted(d.items(), key=lambda kv: kv[1]) "
                    "returns the pairs ordered by value; wrap it in dict() to get a dictionary "
                    "back. Pass reverse=True for the largest values first.",
        "consent": {"training": False},
    }
    part = landing / f"dt={day}"
    part.mkdir(parents=True)
    (part / "events-00000.jsonl").write_text(json.dumps(event) + "\n")
    curate.run(["--landing", str(landing), "--warehouse", str(wh), "--date", str(day)])

    new_rows = duckdb.sql(
        "SELECT user_pseudonym, consent_training FROM read_parquet(?)",
        params=[str(wh / "interactions" / f"dt={day}" / "*.parquet")],
    ).fetchall()
    assert new_rows == [(leaver_row["user_pseudonym"], False)]

    before_id, before_path = build_dataset(wh, curated_warehouse.days[-1], CONFIG)
    assert before_id == built[0]  # later partitions do not change an earlier as_of
    after_id, after_path = build_dataset(wh, str(day), DatasetConfig(
        window_days=3, eval_fraction=CONFIG.eval_fraction, seed=CONFIG.seed))
    after = _tables(after_path)
    users_after = {u for t in after.values() for rows in t.values() for r in rows for u in _users(r)}
    assert leaver_row["user_pseudonym"] not in users_after
    assert users_after, "other users must still be in the dataset"
    manifest = json.loads((after_path / MANIFEST).read_text())
    assert manifest["dropped"].get("interaction_consent_withdrawn", 0) >= 1


def test_deleted_users_never_appear(built, curated_warehouse, tmp_path):
    _, _, tables, _ = built
    wh = _copy_warehouse(curated_warehouse.warehouse, tmp_path / "wh")
    victims = sorted({r["user_pseudonym"] for r in tables["preferences"]["train"]})[:3]
    (wh / "deletions" / "dt=2026-11-03").mkdir(parents=True)
    tombstones = wh / "deletions" / "dt=2026-11-03" / "part-00000.parquet"
    pq.write_table(pa.Table.from_pylist(
        [{"user_pseudonym": v, "completed_at": datetime(2026, 11, 3, tzinfo=UTC)} for v in victims],
        schema=DELETIONS), tombstones)
    delta_tables.commit(str(wh), "deletions", add=[str(tombstones)], replace_day="2026-11-03")
    dataset_id, path = build_dataset(wh, curated_warehouse.days[-1], CONFIG)
    assert dataset_id != built[0]
    for table in _tables(path).values():
        for rows in table.values():
            for row in rows:
                assert not _users(row) & set(victims)


def test_no_flagged_answer_as_target_or_chosen(built, warehouse):
    _, _, tables, _ = built
    interactions = _interactions(warehouse)
    flagged_later = {f["interaction_id"] for f in _feedback(warehouse) if f["kind"] == "flag"}
    flagged = {e for e, r in interactions.items() if r["flagged"]} | flagged_later
    assert flagged, "the fixture must contain flagged answers for this test to bite"
    for rows in tables["sft"].values():
        for row in rows:
            if row["rule"] == rules.SFT_GOOD_ANSWER:
                assert row["source_event_id"] not in flagged
    for rows in tables["preferences"].values():
        for row in rows:
            assert row["chosen_event_id"] not in flagged


def test_flags_arriving_later_remove_targets_and_chosen(built, curated_warehouse, tmp_path):
    """Flag a liked SFT target in the interactions table and a chosen answer by a late flag."""
    from warehouse.schemas import FEEDBACK

    _, _, tables, _ = built
    wh = _copy_warehouse(curated_warehouse.warehouse, tmp_path / "wh")
    target = sorted(r["source_event_id"] for rows in tables["sft"].values() for r in rows
                    if r["rule"] == rules.SFT_GOOD_ANSWER)[0]
    chosen = sorted(r["chosen_event_id"] for rows in tables["preferences"].values() for r in rows
                    if r["chosen_event_id"] and r["chosen_event_id"] != target)[0]
    for part in map(Path, table_files(wh, "interactions")):
        table = pq.read_table(part)
        if target in table.column("event_id").to_pylist():
            flagged = [f or e == target for e, f in zip(table.column("event_id").to_pylist(),
                                                         table.column("flagged").to_pylist(),
                                                         strict=True)]
            index = table.schema.get_field_index("flagged")
            rewritten = part.with_name(f"flagged-{part.name}")
            pq.write_table(table.set_column(index, "flagged", pa.array(flagged)), rewritten)
            delta_tables.commit(str(wh), "interactions", add=[str(rewritten)], remove=[str(part)])
    owner = _interactions(wh)[chosen]["user_pseudonym"]
    day = curated_warehouse.days[-1]
    late_flag = {name: None for name in FEEDBACK.names} | {
        "event_id": "late-flag-0001", "ts": datetime(2026, 11, 2, 23, 0, tzinfo=UTC),
        "user_pseudonym": owner, "interaction_id": chosen, "original_interaction_id": chosen,
        "interaction_dt": day, "kind": "flag", "reason": "wrong", "metadata": [],
        "pii_findings": [],
    }
    pq.write_table(pa.Table.from_pylist([late_flag], schema=FEEDBACK),
                   wh / "feedback" / f"dt={day}" / "late-flags.parquet")
    delta_tables.commit(str(wh), "feedback", add=[str(wh / "feedback" / f"dt={day}" / "late-flags.parquet")])
    dataset_id, path = build_dataset(wh, day, CONFIG)
    after = _tables(path)
    assert dataset_id != built[0]
    targets = {r["source_event_id"] for rows in after["sft"].values() for r in rows
               if r["rule"] == rules.SFT_GOOD_ANSWER}
    chosen_after = {r["chosen_event_id"] for rows in after["preferences"].values() for r in rows}
    assert target not in targets and chosen not in chosen_after
    assert targets and chosen_after


def test_every_used_row_needs_its_own_consent():
    eligibility = rules.Eligibility(consenting=frozenset({"u"}), withdrawn=frozenset(),
                                    deleted=frozenset({"gone"}))
    row = {"user_pseudonym": "u", "consent_training": True}
    assert eligibility.interaction(row) == (True, "")
    assert eligibility.interaction({**row, "consent_training": False}) == (False, "no_consent")
    assert eligibility.interaction({**row, "user_pseudonym": "other"}) == (False, "no_consent")
    assert eligibility.interaction({**row, "user_pseudonym": "gone"}) == (False, "deleted_user")


# --- rules -----------------------------------------------------------------------------------


def test_every_rule_produces_rows_when_the_signal_exists(built, warehouse):
    _, _, tables, manifest = built
    interactions = _interactions(warehouse)
    feedback = [f for f in _feedback(warehouse)
                if interactions.get(f["interaction_id"], {}).get("consent_training")]
    kinds = {f["kind"] for f in feedback}
    assert {"thumbs", "rating", "edit", "comparison"} <= kinds
    totals = defaultdict(int)
    for table in ("sft", "preferences"):
        for split in SPLITS:
            for rule, n in manifest["counts"][table][split]["by_rule"].items():
                totals[(table, rule)] += n
    for key in [("sft", rules.SFT_GOOD_ANSWER), ("sft", rules.SFT_USER_EDIT),
                ("preferences", rules.PREF_EDIT), ("preferences", rules.PREF_COMPARISON),
                ("preferences", rules.PREF_THUMBS), ("preferences", rules.PREF_RATING)]:
        assert totals[key] > 0, f"no rows for {key}; dropped: {manifest['dropped']}"


def test_rows_have_the_documented_shape(built, warehouse):
    _, _, tables, _ = built
    interactions = _interactions(warehouse)
    for rows in tables["sft"].values():
        for row in rows:
            assert row["messages"][-1] == {"role": "assistant", "content": row["completion"]}
            assert row["prompt"] == rules.render_prompt(row["messages"][:-1])
            assert row["messages"][-2]["role"] == "user"
            if row["rule"] == rules.SFT_GOOD_ANSWER:
                assert row["completion"] == interactions[row["source_event_id"]]["response"]
            else:
                assert row["completion"] != interactions[row["source_event_id"]]["response"]
    for rows in tables["preferences"].values():
        for row in rows:
            assert row["chosen"].strip() and row["chosen"] != row["rejected"]
            assert row["prompt"].endswith("<|assistant|>\n") and "<|user|>\n" in row["prompt"]
            if row["rule"] == rules.PREF_RATING:
                assert 0 < row["margin"] <= 1
            else:
                assert row["margin"] is None
            if row["rule"] == rules.PREF_EDIT:
                assert row["rejected"] == interactions[row["rejected_event_id"]]["response"]
            else:
                assert row["chosen"] == interactions[row["chosen_event_id"]]["response"]
                assert row["rejected"] == interactions[row["rejected_event_id"]]["response"]
            if row["rule"] in (rules.PREF_THUMBS, rules.PREF_RATING, rules.PREF_COMPARISON):
                a = interactions[row["chosen_event_id"]]
                b = interactions[row["rejected_event_id"]]
                assert (rules.normalize_prompt(a["prompt"]) == rules.normalize_prompt(b["prompt"])
                        or a["dedup_cluster_id"] == b["dedup_cluster_id"])


def test_render_and_normalize():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    assert rules.render_prompt(messages) == "<|system|>\nBe brief.\n<|user|>\nHi?\n<|assistant|>\n"
    assert rules.normalize_prompt("  What's the  CAPITAL of France?! ") == (
        rules.normalize_prompt("what s the capital of france")
    )


# --- CLI -------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curation.datasets", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_cli_build_list_show(built, warehouse, curated_warehouse):
    dataset_id = built[0]
    done = _cli("build", "--warehouse", str(warehouse), "--as-of", curated_warehouse.days[-1],
                "--window-days", "2", "--eval-fraction", "0.3", "--seed", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == dataset_id
    listed = _cli("list", "--warehouse", str(warehouse))
    assert listed.returncode == 0 and dataset_id in listed.stdout
    shown = _cli("show", "--warehouse", str(warehouse), dataset_id)
    assert shown.returncode == 0 and json.loads(shown.stdout)["dataset_id"] == dataset_id


def test_cli_errors_are_one_line(warehouse, tmp_path):
    for args, expected in [
        (("build", "--warehouse", str(warehouse), "--as-of", "2026-13-01"), "--as-of"),
        (("build", "--warehouse", str(warehouse), "--as-of", "2030-01-01", "--window-days", "1"),
         "no interactions partitions"),
        (("show", "--warehouse", str(warehouse), "nope"), "unknown dataset id 'nope'"),
        (("build", "--warehouse", str(tmp_path / "absent"), "--as-of", "2026-11-02"),
         "not a directory"),
    ]:
        done = _cli(*args)
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and expected in done.stderr


def test_config_is_validated(warehouse):
    with pytest.raises(DatasetError, match="eval_fraction"):
        build_dataset(warehouse, "2026-11-02", DatasetConfig(eval_fraction=1.5))


# --- the dataset contract (curation.dataset_format) ------------------------------------------


def test_training_reads_what_the_builder_writes(built, warehouse):
    from curation import dataset_format
    from training.data import read_preferences, read_sft, resolve_dataset

    dataset_id, path, tables, manifest = built
    assert set(dataset_format.MANIFEST_KEYS) <= set(manifest)
    for kind, schema in dataset_format.SCHEMAS.items():
        for split in dataset_format.SPLITS:
            assert pq.read_schema(path / dataset_format.split_relpath(kind, split)).equals(schema, check_metadata=False)
    ref = resolve_dataset(warehouse, dataset_id)
    assert ref.manifest == manifest
    for split in dataset_format.SPLITS:
        assert [m[-1]["content"] for m in read_sft(ref, split)] == [r["completion"] for r in tables["sft"][split]]
        pairs = read_preferences(ref, split)
        assert [(p["chosen"], p["rejected"], p["margin"]) for p in pairs] == [
            (r["chosen"], r["rejected"], r["margin"]) for r in tables["preferences"][split]]


def test_a_stale_dataset_is_listed_as_such_and_refused_by_training(built, warehouse, tmp_path):
    import shutil

    from curation import dataset_format
    from training.data import resolve_dataset

    dataset_id, path, _, _ = built
    copy = tmp_path / "wh"
    shutil.copytree(path, copy / dataset_format.DATASETS_DIR / dataset_id)
    (copy / dataset_format.DATASETS_DIR / ".tmp-half-built").mkdir()  # a build in progress: never listed
    folder = dataset_format.dataset_dir(copy, dataset_id)
    first = dataset_format.mark_stale(folder, reason="contains_erased_user_data", erased_pseudonym_count=2,
                                      as_of="2026-11-05")
    again = dataset_format.mark_stale(folder, reason="contains_erased_user_data", erased_pseudonym_count=2,
                                      as_of="2026-11-09")
    assert first == again and again["stale_since"] == "2026-11-05"  # idempotent, first date kept
    assert [m["dataset_id"] for m in dataset_format.list_datasets(copy)] == [dataset_id]
    assert dataset_format.stale_dataset_ids(copy) == [dataset_id]
    with pytest.raises(DatasetError, match="marked stale"):
        resolve_dataset(copy, dataset_id)
    with pytest.raises(DatasetError, match="unknown dataset id '.tmp-half-built'"):
        dataset_format.dataset_dir(copy, ".tmp-half-built")


# --- time travel -------------------------------------------------------------------------------


@pytest.mark.slow
def test_rebuild_reads_the_recorded_versions_unless_an_erasure_intervened(curated_warehouse,
                                                                          tmp_path, capsys):
    from curation import datasets as datasets_cli
    from governance import erase
    from warehouse.schemas import FEEDBACK

    wh = _copy_warehouse(curated_warehouse.warehouse, tmp_path / "wh")
    day = curated_warehouse.days[0]  # day 2's deletion requester is still in this dataset
    dataset_id, path = build_dataset(wh, day, CONFIG)
    manifest = json.loads((path / MANIFEST).read_text())
    assert set(manifest["table_versions"]) >= {"interactions", "feedback"}
    victims = {r["user_pseudonym"] for r in erase.read_requests(str(wh))}
    assert any(_users(r) & victims for t in _tables(path).values() for rows in t.values()
               for r in rows)
    # The warehouse moves on: a late flag on a chosen answer changes what a build now reads.
    chosen = sorted(r["chosen_event_id"] for r in pq.read_table(
        path / "preferences" / "train.parquet").to_pylist() if r["chosen_event_id"])[0]
    flag = {name: None for name in FEEDBACK.names} | {
        "event_id": "late-flag-rebuild", "ts": datetime(2026, 11, 1, 23, tzinfo=UTC),
        "user_pseudonym": _interactions(wh)[chosen]["user_pseudonym"], "interaction_id": chosen,
        "original_interaction_id": chosen, "interaction_dt": day, "kind": "flag",
        "reason": "wrong", "metadata": [], "pii_findings": []}
    late = wh / "feedback" / f"dt={day}" / "late-flags.parquet"
    pq.write_table(pa.Table.from_pylist([flag], schema=FEEDBACK), late)
    delta_tables.commit(str(wh), "feedback", add=[str(late)])
    shutil.move(path, tmp_path / "original")  # a build now would be another dataset
    assert build_dataset(wh, day, CONFIG)[0] != dataset_id
    shutil.move(tmp_path / "original", path)

    assert datasets_cli.main(["rebuild", "--warehouse", str(wh), "--dataset", dataset_id,
                              "--out", str(tmp_path / "again")]) == 0
    assert "byte for byte" in capsys.readouterr().out
    for rel in manifest["files"]:
        assert (tmp_path / "again" / dataset_id / rel).read_bytes() == (path / rel).read_bytes()

    # A rebuild kept inside the warehouse is a copy the erasure must reach.
    assert datasets_cli.main(["rebuild", "--warehouse", str(wh), "--dataset", dataset_id]) == 0
    capsys.readouterr()
    assert (wh / "_rebuilds" / dataset_id / MANIFEST).is_file()

    # An erasure deletes the old versions' files and log: the rebuild says so and lacks the users.
    assert erase.erase(str(wh))["rebuilds_removed"] == [dataset_id]
    assert not (wh / "_rebuilds" / dataset_id).exists()
    assert datasets_cli.main(["rebuild", "--warehouse", str(wh), "--dataset", dataset_id,
                              "--out", str(tmp_path / "after")]) == 0
    out = capsys.readouterr().out
    assert "an erasure removed data from" in out and "without the erased users" in out
    rebuilt = Path(out.strip().splitlines()[-1])
    assert rebuilt.name != dataset_id
    for table in _tables(rebuilt).values():
        for rows in table.values():
            assert not any(_users(r) & victims for r in rows)
