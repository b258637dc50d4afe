"""Rotate the pseudonymization key by re-keying every pseudonym in place (a key chain).

    python -m pipelines.rotate_key --warehouse DIR --old-key-file A --new-key-file B

The warehouse holds no raw user ids, so nobody can compute ``HMAC(B, user_id)`` for history.
What can be computed is ``HMAC(B, old_pseudonym)``: the job rewrites every pseudonym ``p`` in every
table and dataset as ``pseudonymize(B, p)``. From then on a user's pseudonym is the chain
``pseudonymize(B, pseudonymize(A, user_id))`` (``chain_pseudonym([A, B], user_id)``), so

* history and new data agree: joins, consent, dataset splits and erasure keep working, and a
  deletion request pseudonymized under the chain finds rows written under A;
* a leaked A alone no longer re-identifies anything: every stored pseudonym also needs B.

Ingest must then pseudonymize with the whole key ring, oldest key first (docs/governance.md).

The job rewrites partitions date by date through staging + the journal commit of
``warehouse.partitions``; every rewritten file carries the new key's fingerprint in its Parquet
metadata, so a run killed midway resumes without re-keying any file twice. The key ring's
fingerprints (never the keys) are kept in ``WAREHOUSE/_keys/epochs.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipelines import erase, pseudonym
from warehouse import files as storage
from warehouse import partitions

EPOCHS_FILE = ("_keys", "epochs.json")
FINGERPRINT_META = b"flywheel.key_fingerprint"


@dataclass(frozen=True)
class RotateConfig:
    # Every table with pseudonyms, the deletion records included (the chain must cover them so
    # ingest keeps dropping erased users' later arrivals). stats holds none.
    tables: tuple[str, ...] = ("interactions", "feedback", "rejects", "dedup_index",
                               "deletion_requests", erase.DELETIONS_TABLE)
    # Columns that hold a pseudonym, in warehouse tables and in dataset files.
    pseudonym_columns: tuple[str, ...] = ("user_pseudonym", "rejected_user_pseudonym")
    compression: str = "zstd"


class RotateError(RuntimeError):
    """A rotation that cannot go ahead; the message names the value and the fix."""


def fingerprint(key: bytes) -> str:
    """Identifies a key without revealing it (an HMAC of a fixed label under the key)."""
    return hmac.new(key, b"flywheel-key-fingerprint", hashlib.sha256).hexdigest()[:16]


def chain_pseudonym(keys: list[bytes], user_id: str) -> str:
    """The pseudonym of ``user_id`` under a key ring (oldest key first)."""
    if not keys:
        raise RotateError("an empty key ring pseudonymizes nothing")
    return pseudonym.pseudonymize_ring(keys, user_id)


def _rekey_column(column: pa.ChunkedArray, key: bytes) -> pa.Array:
    cache: dict[str, str] = {}
    values = [None if v is None else cache.setdefault(v, pseudonym.pseudonymize(key, v))
              for v in column.to_pylist()]
    return pa.array(values, column.type)


def rekey_table(table: pa.Table, key: bytes, columns: tuple[str, ...]) -> pa.Table:
    for name in columns:
        if name in table.column_names:
            index = table.column_names.index(name)
            table = table.set_column(index, table.field(index), _rekey_column(table[name], key))
    return table


def _file_fingerprint(data: bytes) -> str | None:
    metadata = pq.ParquetFile(io.BytesIO(data)).schema_arrow.metadata or {}
    value = metadata.get(FINGERPRINT_META)
    return value.decode() if value else None


def _rekeyed_bytes(data: bytes, key: bytes, config: RotateConfig) -> bytes:
    table = rekey_table(pq.ParquetFile(io.BytesIO(data)).read(), key, config.pseudonym_columns)
    metadata = dict(table.schema.metadata or {})
    metadata[FINGERPRINT_META] = fingerprint(key).encode()
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(metadata), sink, compression=config.compression)
    return sink.getvalue()


def _read(path: str) -> bytes:
    with FileSystems.open(path) as handle:
        return handle.read()


# ---------------------------------------------------------------------------------------------
# Key ring record


def _epochs_path(wh: str) -> str:
    return storage.join(wh, *EPOCHS_FILE)


def read_epochs(wh: str) -> list[dict]:
    path = _epochs_path(wh)
    if not FileSystems.exists(path):
        return []
    return json.loads(_read(path).decode())["epochs"]


def _write_epochs(wh: str, epochs: list[dict]) -> None:
    path = _epochs_path(wh)
    if "://" not in path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp"
        Path(tmp).write_text(json.dumps({"epochs": epochs}, indent=2) + "\n")
        os.replace(tmp, path)
        return
    with FileSystems.create(path) as handle:
        handle.write(json.dumps({"epochs": epochs}, indent=2).encode())


# ---------------------------------------------------------------------------------------------
# The job


def rotate(wh: str, old_key: bytes, new_key: bytes, config: RotateConfig = RotateConfig()) -> dict:
    """Re-key every pseudonym of the warehouse from the chain ending in ``old_key`` to ``new_key``."""
    wh = wh.rstrip("/")
    old_fp, new_fp = fingerprint(old_key), fingerprint(new_key)
    if old_fp == new_fp:
        raise RotateError("--old-key-file and --new-key-file hold the same key; make a new one "
                          "(pipelines.pseudonym.create_key_file)")
    if storage.list_files(storage.join(wh, erase.PLAN_DIR, "plan-*.json")):
        raise RotateError("an erasure is in progress (WAREHOUSE/_erase/plan-*.json); finish it "
                          "first: python -m pipelines.erase --warehouse DIR")
    epochs = read_epochs(wh)
    if not epochs:
        # The first record: nothing can prove A wrote the history (no raw ids are kept).
        epochs = [{"epoch": 0, "fingerprint": old_fp, "state": "complete"}]
    last = epochs[-1]
    if last["fingerprint"] == new_fp and last["state"] == "complete":
        return {"rotated_files": 0, "already_complete": True, "epoch": last["epoch"]}
    if last["fingerprint"] == new_fp:
        if len(epochs) < 2 or epochs[-2]["fingerprint"] != old_fp:
            raise RotateError("an interrupted rotation to this new key started from another old "
                              "key; rerun it with that --old-key-file")
    elif last["fingerprint"] != old_fp or last["state"] != "complete":
        raise RotateError(f"--old-key-file is not the warehouse's current key (fingerprint "
                          f"{old_fp}, current {last['fingerprint']} [{last['state']}])")
    else:
        epochs.append({"epoch": last["epoch"] + 1, "fingerprint": new_fp, "state": "rotating"})
        _write_epochs(wh, epochs)

    partitions.recover(wh)
    rotated: dict[str, int] = defaultdict(int)
    by_date: dict[str, list[str]] = defaultdict(list)
    for table in config.tables:
        for dt in partitions.partition_files(wh, table):
            by_date[dt].append(table)
    for dt, tables in sorted(by_date.items()):
        run_id = f"{dt}-rotate-{new_fp[:12]}"
        stage_root = storage.join(wh, partitions.STAGING, run_id)
        if FileSystems.exists(stage_root):
            FileSystems.delete([stage_root])
        to_commit = []
        for table in sorted(tables):
            files = partitions.partition_files(wh, table)[dt]
            blobs = {path: _read(path) for path in files}
            if all(_file_fingerprint(b) == new_fp for b in blobs.values()):
                continue  # committed by an earlier, interrupted run
            staged = partitions.staging_dir(wh, run_id, table)
            for path, data in blobs.items():
                target = storage.join(staged, erase._basename(path))
                erase._ensure_parent(target)
                out = data if _file_fingerprint(data) == new_fp else _rekeyed_bytes(data, new_key, config)
                with FileSystems.create(target) as handle:
                    handle.write(out)
                rotated[table] += 1
            to_commit.append(table)
        if to_commit:
            partitions.commit(wh, run_id, dt, to_commit)

    for folder in erase.dataset_dirs(wh):
        manifest_path = folder / erase.MANIFEST
        manifest = json.loads(manifest_path.read_text())
        for path in sorted(folder.rglob("*.parquet")):
            data = path.read_bytes()
            if _file_fingerprint(data) == new_fp:
                continue
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(_rekeyed_bytes(data, new_key, config))
            os.replace(tmp, path)
            rotated["datasets"] += 1
        if isinstance(manifest.get("files"), dict):
            manifest["files"] = {rel: erase._sha256_file(folder / rel) for rel in manifest["files"]
                                 if (folder / rel).is_file()}
        manifest["key_fingerprint"] = new_fp
        erase._atomic_write_text(manifest_path, json.dumps(manifest, sort_keys=True, indent=2) + "\n")

    epochs[-1]["state"] = "complete"
    _write_epochs(wh, epochs)
    return {"rotated_files": sum(rotated.values()), "files_by_table": dict(rotated),
            "already_complete": False, "epoch": epochs[-1]["epoch"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.rotate_key",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--old-key-file", required=True, help="the key the warehouse is under now")
    parser.add_argument("--new-key-file", required=True, help="the key to add to the ring")
    args = parser.parse_args(argv)
    if "://" not in args.warehouse and not Path(args.warehouse).is_dir():
        print(f"error: warehouse {args.warehouse} is not a directory", file=sys.stderr)
        return 2
    try:
        old_key = pseudonym.load_key(args.old_key_file)
        new_key = pseudonym.load_key(args.new_key_file)
        summary = rotate(args.warehouse, old_key, new_key)
    except (pseudonym.MissingKey, RotateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
