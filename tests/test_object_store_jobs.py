"""Every job on an object store: landing and warehouse as ``s3://`` URLs on a real S3 server.

simulate -> curate -> inspect -> dataset build -> training's reads -> erase -> rotate, against
moto's standalone server on 127.0.0.1 (tests/s3_store.py). No job gets a flag for the store:
the standard AWS variables the fixture sets are all they read. Small on purpose (a few users,
two days): the local tests cover the rules; this one covers the storage.
"""

from __future__ import annotations

import datetime
import gzip
import io
import json

import pyarrow.parquet as pq
import pytest

from tests.conftest import PSEUDONYM_KEY, strings_in
from tests.s3_store import S3Store

DAYS = ("2026-11-01", "2026-11-02")
USERS = 6
SEED = 7
NEW_KEY = b"rotated-key-not-secret-fedcba9876543210"
RECORD_TABLES = ("deletion_requests", "deletions")  # keep the pseudonym by design


def upload_landing(store: S3Store, local, prefix: str) -> None:
    client = store.client()
    for path in sorted(local.rglob("*")):
        if path.is_file() and not path.relative_to(local).parts[0].startswith("_"):
            client.upload_file(str(path), store.bucket, f"{prefix}/{path.relative_to(local).as_posix()}")


def delta_rows(url: str, table: str) -> list[dict]:
    from deltalake import DeltaTable

    return DeltaTable(f"{url}/{table}").to_pyarrow_table().to_pylist()


def inspect(url: str, *argv: str) -> str:
    from curation import inspect as cli

    out = io.StringIO()
    assert cli.main(["--warehouse", url, "--format", "json", *argv], stdout=out) == 0
    return out.getvalue()


def objects_mentioning(store: S3Store, prefix: str, needles: set[str]) -> dict[str, list[str]]:
    """key -> needles found in it, over every object under prefix (Parquet decoded as well)."""
    found = {}
    for key in store.keys(prefix):
        data = store.read(key)
        if key.endswith(".gz"):
            data = gzip.decompress(data)
        hits = {n for n in needles if n.encode() in data}
        if key.endswith(".parquet"):
            rows = pq.read_table(io.BytesIO(data)).to_pylist()
            texts = list(strings_in([list(r.values()) for r in rows]))
            hits |= {n for n in needles if any(n in t for t in texts)}
        if hits:
            found[key] = sorted(hits)
    return found


@pytest.fixture
def curated_on_s3(s3_store, tmp_path, monkeypatch):
    """Two simulated days landed on S3 and curated into an S3 warehouse."""
    from feedback import simulate
    from pipelines import curate

    monkeypatch.setenv("FLYWHEEL_PSEUDONYM_KEY", PSEUDONYM_KEY)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    local = tmp_path / "landing"
    truth = {}
    for index, day in enumerate(DAYS):
        path = simulate.simulate_day(landing=local, date=day, users=USERS, seed=SEED,
                                     model_versions=("v1",) if index == 0 else ("v1", "v2"))
        truth[day] = json.loads(path.read_text())
    upload_landing(s3_store, local, "landing")
    landing, warehouse = s3_store.url("landing"), s3_store.url("warehouse")
    for day in DAYS:
        curate.run(["--landing", landing, "--warehouse", warehouse, "--date", day])
    return s3_store, warehouse, truth


@pytest.mark.slow
def test_every_job_runs_on_s3_urls(curated_on_s3):
    from curation.dataset_format import load_manifest
    from curation.datasets import build_dataset, rebuild_dataset
    from governance import erase, rotate_key
    from training import data, registry

    store, wh, truth = curated_on_s3
    keys = store.keys("warehouse/")
    assert not [k for k in keys if not k.startswith("warehouse/")]
    assert any(k.startswith("warehouse/interactions/_delta_log/") for k in keys)

    # curate: every day's rows are in the Delta tables on the store, read through the log
    interactions = delta_rows(wh, "interactions")
    assert {r["dt"] for r in interactions} == set(DAYS)
    assert len(interactions) > 10

    # inspect: DuckDB over the tables' Arrow datasets, no extension downloaded
    listed = {t["table"]: t for t in json.loads(inspect(wh, "tables"))}
    assert listed["interactions"]["rows"] == len(interactions)
    assert listed["interactions"]["partitions"] == len(DAYS)
    [count] = json.loads(inspect(wh, "query", "SELECT count(*) AS n FROM feedback_events"))
    assert count["n"] == len(delta_rows(wh, "feedback")) > 0

    # dataset build on the store, read back by training (and listed by inspect)
    # day 1's dataset holds the day-2 requester's rows: the erasure must reach it
    dataset_id, folder = build_dataset(wh, DAYS[0])
    assert f"warehouse/datasets/{dataset_id}/manifest.json" in store.keys("warehouse/datasets/")
    manifest = load_manifest(wh, dataset_id)
    ref = data.resolve_dataset(wh, dataset_id)
    sft = data.read_sft(ref, "train") + data.read_sft(ref, "eval")
    prefs = data.read_preferences(ref, "train") + data.read_preferences(ref, "eval")
    counts = manifest["counts"]
    assert len(sft) == counts["sft"]["train"]["rows"] + counts["sft"]["eval"]["rows"] > 0
    assert len(prefs) == counts["preferences"]["train"]["rows"] + counts["preferences"]["eval"]["rows"]
    assert [m["dataset_id"] for m in json.loads(inspect(wh, "query",
            "SELECT dataset_id FROM dataset_manifests"))] == [dataset_id]
    # time travel: the rebuild reads the recorded versions from the store, byte for byte
    rebuilt = rebuild_dataset(wh, dataset_id)
    assert rebuilt["identical"] and rebuilt["erasure_intervened"] == []
    assert rebuilt["path"] == f"{wh}/_rebuilds/{dataset_id}"
    assert f"warehouse/_rebuilds/{dataset_id}/manifest.json" in store.keys("warehouse/_rebuilds/")
    with pytest.raises(registry.RegistryError, match="MLFLOW_TRACKING_URI"):
        registry.tracking_uri(wh)

    # erase: the day-2 requester's rows leave every object under the warehouse, log included
    victims = {r["user_pseudonym"] for r in delta_rows(wh, "deletion_requests")}
    raw_ids = {u for t in truth.values() for u in t["deletion_requests"]}
    # What identifies the requesters: pseudonyms, event ids and text no other user wrote
    # (the simulator's answers share templates, so a common phrase is no trace).
    others = " ".join(f"{r['prompt']} {r['response']}" for r in interactions
                      if r["user_pseudonym"] not in victims)
    traces = set(victims)
    for r in interactions:
        if r["user_pseudonym"] in victims:
            traces.add(r["event_id"])
            traces |= {text[:24] for text in (r["prompt"], r["response"])
                       if len(text) >= 24 and text[:24] not in others}
    assert len(traces) > len(victims), "the requester wrote nothing before: a weak erasure test"
    assert objects_mentioning(store, "warehouse/interactions/", traces)
    assert objects_mentioning(store, "landing/", raw_ids)
    held = {k for k, v in objects_mentioning(store, f"warehouse/datasets/{dataset_id}/",
                                             victims).items() if k.endswith(".parquet")}
    summary = erase.erase(wh, landing=store.url("landing"), key_ring=[PSEUDONYM_KEY.encode()])
    assert summary["completed_now"] == len(victims) and summary["rows_removed"]["interactions"] > 0
    assert summary["datasets_marked_stale"] == ([dataset_id] if held else [])
    assert summary["landing"]["lines_removed"] > 0
    assert objects_mentioning(store, "landing/", raw_ids) == {}  # the raw lines left the landing
    left = objects_mentioning(store, "warehouse/", traces | raw_ids)
    records = tuple(f"warehouse/{t}/" for t in RECORD_TABLES)
    # Kept by design (docs/governance.md): the request records' pseudonym, and another user's
    # reject whose duplicate_of (and its detail line) names an erased event: an id only.
    for key, found in left.items():
        if key.startswith(records):
            assert set(found) <= victims, key
        else:
            assert key.startswith("warehouse/rejects/") and key.endswith(".parquet"), (key, found)
            for row in pq.read_table(io.BytesIO(store.read(key))).to_pylist():
                named = {c for c, v in row.items() if c not in ("duplicate_of", "detail")
                         for t in traces | raw_ids for text in strings_in(v) if t in text}
                assert not named, (key, {c: row[c] for c in ("stage", "reason", *sorted(named))})
    assert not {r["user_pseudonym"] for r in delta_rows(wh, "interactions")} & victims
    assert load_manifest(wh, dataset_id)["stale"] is bool(held)
    deletions = json.loads(inspect(wh, "deletions"))
    assert {d["user_pseudonym"] for d in deletions} == victims
    assert {d["status"] for d in deletions} == {"completed"}
    assert sum(d["rows_removed"] for d in deletions) > 0

    # rotate: every pseudonym re-keyed in the tables and the dataset, the ring recorded on S3
    before = {r["user_pseudonym"] for r in delta_rows(wh, "interactions")}
    result = rotate_key.rotate(wh, PSEUDONYM_KEY.encode(), NEW_KEY)
    assert result["rotated_files"] > 0 and not result["already_complete"]
    after = {r["user_pseudonym"] for r in delta_rows(wh, "interactions")}
    assert len(after) == len(before) and not after & before
    assert load_manifest(wh, dataset_id)["key_fingerprint"]
    epochs = json.loads(store.read("warehouse/_keys/epochs.json"))["epochs"]
    assert epochs[-1]["state"] == "complete" and len(epochs) == 2


def test_inspect_reads_delta_tables_and_manifests_on_s3_without_extensions(s3_store):
    """DuckDB sees the Delta table (Arrow dataset) and the manifests (fsspec) on the store."""
    import duckdb
    import pyarrow as pa

    from curation import views
    from warehouse import files, schemas, tables

    wh = s3_store.url("wh")
    rows = pa.table({name: [None] * 2 for name in schemas.ALL_TABLES["stats"].names},
                    schema=schemas.ALL_TABLES["stats"])
    rows = rows.set_column(rows.schema.get_field_index("value"), "value", pa.array([3, 4]))
    path = f"{tables.table_uri(wh, 'stats')}/dt=2026-11-01/part-0.parquet"
    files.write_parquet(rows, path)
    tables.ensure_table(wh, "stats")
    tables.commit(wh, "stats", add=[path], replace_day="2026-11-01")
    client = s3_store.client()
    for dataset_id in ("abc", ".tmp-partial"):
        client.put_object(Bucket=s3_store.bucket, Key=f"wh/datasets/{dataset_id}/manifest.json",
                          Body=json.dumps({"as_of": "2026-11-01", "stale": False}).encode())
    con = views.connect(wh)
    day = datetime.date(2026, 11, 1)
    assert con.sql("SELECT sum(value), min(dt) FROM stats").fetchone() == (7, day)
    assert con.sql("SELECT dataset_id, as_of FROM dataset_manifests").fetchall() == [("abc", day)]
    with pytest.raises(duckdb.Error):  # locked: nothing outside the warehouse
        con.sql("SELECT * FROM read_json_auto('s3://other-bucket/x.json')").fetchall()
    open_con = views.connect(wh, locked=False)
    assert open_con.sql("SELECT dataset_id FROM dataset_manifests").fetchall() == [("abc",)]
    assert open_con.sql("SELECT count(*) FROM duckdb_extensions() WHERE (loaded OR installed) "
                        "AND extension_name = 'httpfs'").fetchone() == (0,)


def test_training_on_an_s3_warehouse_keeps_its_registry_and_artifacts_local(s3_store, tmp_path,
                                                                          monkeypatch):
    """An object store holds no sqlite file: the registry is named, artifacts sit beside it."""
    from training import data, registry

    wh = s3_store.url("wh")
    messages = [{"role": "user", "content": "hello there"},
                {"role": "assistant", "content": "hello, how can I help?"}]
    data.write_dataset(f"{wh}/datasets", "d1", sft={"train": [{"messages": messages}]})
    ref = data.resolve_dataset(wh, "d1")
    assert data.read_sft(ref, "train") == [messages]
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(registry.RegistryError, match="MLFLOW_TRACKING_URI"):
        registry.tracking_uri(wh)
    db = tmp_path / "registry" / "mlflow.db"
    db.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "meta.json").write_text(json.dumps({"dataset_id": "d1"}))
    registered = registry.log_and_register(
        wh, model_name="flywheel-sft", model_dir=model_dir, kind="sft", params={}, metrics={},
        dataset=ref, tags={"dataset_id": "d1"})
    assert registered["artifact_uri"].startswith((tmp_path / "registry" / "mlruns").as_uri())
    local = registry.local_model_dir(registry.get_version(
        registry.connect(wh), "flywheel-sft", registered["version"]))
    assert json.loads((local / "meta.json").read_text()) == {"dataset_id": "d1"}
    assert not [k for k in s3_store.keys() if "mlflow" in k or "mlruns" in k]


def test_gzip_objects_move_as_stored(s3_store):
    """Beam's default would gunzip a .gz object on read and gzip it again on write: landing
    erasure then judged every .jsonl.gz on S3 damaged and could not erase a line of it."""
    import hashlib

    from warehouse import files

    payload = gzip.compress(b'{"event_type": "interaction"}\n')
    files.atomic_write(s3_store.url("landing/dt=2026-11-01/a.jsonl.gz"), payload)
    assert s3_store.read("landing/dt=2026-11-01/a.jsonl.gz") == payload
    assert files.read_bytes(s3_store.url("landing/dt=2026-11-01/a.jsonl.gz")) == payload
    assert files.sha256_file(s3_store.url("landing/dt=2026-11-01/a.jsonl.gz")) == hashlib.sha256(
        payload).hexdigest()


def test_erasure_rewrites_a_dataset_on_s3_and_marks_it_stale(s3_store):
    """The erasure's dataset step on the store: rows dropped in place, manifest re-hashed."""
    import hashlib

    from curation.dataset_format import load_manifest
    from governance import erase_downstream
    from training import data

    wh = s3_store.url("wh")
    messages = [{"role": "user", "content": "hello there"},
                {"role": "assistant", "content": "hello, how can I help?"}]
    data.write_dataset(f"{wh}/datasets", "d1", sft={"train": [
        {"messages": messages, "user_pseudonym": "u_gone"},
        {"messages": messages, "user_pseudonym": "u_kept"}]})
    hits = erase_downstream.find_dataset_rows(wh, {"u_gone"}, ("user_pseudonym",))
    assert hits == {"d1": {"sft/train.parquet": {"u_gone"}}}
    removed = erase_downstream.scrub_datasets(wh, hits, {"u_gone"}, [], {}, "2026-11-03",
                                              columns=("user_pseudonym",), compression="zstd")
    assert removed == 1
    body = s3_store.read("wh/datasets/d1/sft/train.parquet")
    assert pq.read_table(io.BytesIO(body)).column("user_pseudonym").to_pylist() == ["u_kept"]
    manifest = load_manifest(wh, "d1")
    assert manifest["stale"] is True
    assert manifest["files"]["sft/train.parquet"] == hashlib.sha256(body).hexdigest()


def test_a_young_untracked_file_on_s3_survives_clean_up(s3_store, monkeypatch):
    """No day lock on a store: a concurrent run's files before its commit are not orphans."""
    from warehouse import files, partitions, tables

    wh = s3_store.url("wh")
    tables.ensure_table(wh, "stats")
    stray = f"{tables.table_uri(wh, 'stats')}/dt=2026-11-01/curate-run-abc-part-00000-of-00001.parquet"
    files.atomic_write(stray, b"not committed yet")
    assert partitions.clean_day(wh, "2026-11-01", ["stats"]) == 0
    assert s3_store.keys("wh/stats/dt=2026-11-01/")
    monkeypatch.setattr(partitions, "REMOTE_ORPHAN_AGE_S", 0)  # it has aged
    assert partitions.clean_day(wh, "2026-11-01", ["stats"]) == 1
    assert s3_store.keys("wh/stats/dt=2026-11-01/") == []
