"""Rotate the pseudonymization key by re-keying every pseudonym in place (a key chain).

    python -m governance.rotate_key --warehouse DIR --old-key-file A --new-key-file B

The warehouse holds no raw user ids, so nobody can compute ``HMAC(B, user_id)`` for history.
What can be computed is ``HMAC(B, old_pseudonym)``: the job rewrites every pseudonym ``p`` in every
table and dataset as ``pseudonymize(B, p)``. From then on a user's pseudonym is the chain
``pseudonymize(B, pseudonymize(A, user_id))`` (``chain_pseudonym([A, B], user_id)``), so

* history and new data agree: joins, consent, dataset splits and erasure keep working, and a
  deletion request pseudonymized under the chain finds rows written under A;
* a leaked A alone no longer re-identifies anything: every stored pseudonym also needs B.

Ingest must then pseudonymize with the whole key ring, oldest key first (docs/governance.md).

The job rewrites each table's files day by day, one Delta commit per table and day that swaps the
old files for re-keyed copies (``warehouse.tables.commit``), then vacuums the old files and cleans
the log (``forget_history``): no file under the old pseudonyms stays behind. Every rewritten file
carries the new ring's fingerprint in its Parquet metadata, so a run killed midway resumes without
re-keying any file twice. The key ring's
fingerprints (never the keys) are kept in ``WAREHOUSE/_keys/epochs.json``: curation records the
first one (``pseudonym.ensure_key_fingerprint``), and the rotation refuses an old key ring that
does not match it, then records the new ring's.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation import dataset_format
from governance import erase
from warehouse import files as storage
from warehouse import partitions, pseudonym, tables, umask

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


def fingerprint(key: bytes | list[bytes]) -> str:
    """Identifies a key (or a key ring) without revealing it: an HMAC of a fixed label."""
    return pseudonym.ring_fingerprint([key] if isinstance(key, bytes) else list(key))


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


def _rekeyed_bytes(data: bytes, key: bytes, new_fp: str, config: RotateConfig) -> bytes:
    table = rekey_table(pq.ParquetFile(io.BytesIO(data)).read(), key, config.pseudonym_columns)
    metadata = dict(table.schema.metadata or {})
    metadata[FINGERPRINT_META] = new_fp.encode()
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(metadata), sink, compression=config.compression)
    return sink.getvalue()


ROTATE_PREFIX = "rotate-"


def _rotate_day(wh: str, table: str, day: str, new_key: bytes, new_fp: str,
                config: RotateConfig, attempts: int = 5) -> int:
    """Replace the day's files that are not under ``new_fp`` yet by re-keyed copies, in one
    commit; a concurrent commit of the same files (curation replacing the day) re-reads them."""
    for attempt in range(attempts):
        paths = partitions.partition_files(wh, table).get(day, [])
        blobs = {path: _read(path) for path in paths}
        todo = [p for p, data in blobs.items() if _file_fingerprint(data) != new_fp]
        if not todo:
            return 0  # committed by an earlier, interrupted run
        written = []
        for path in todo:
            name = f"{ROTATE_PREFIX}{new_fp[:12]}-{storage.basename(path)}"
            target = storage.join(tables.table_uri(wh, table), f"dt={day}", name)
            storage.atomic_write(target, _rekeyed_bytes(blobs[path], new_key, new_fp, config))
            written.append(target)
        try:
            tables.commit(wh, table, add=written, remove=todo,
                          metadata={"job": "rotate_key", "fingerprint": new_fp})
            return len(todo)
        except tables.ConcurrentChange:
            if attempt == attempts - 1:
                raise
    return 0


def _read(path: str) -> bytes:
    with storage.filesystems().open(path) as handle:
        return handle.read()


# ---------------------------------------------------------------------------------------------
# Key ring record (kept by warehouse.pseudonym: curation writes its first entry)


def read_epochs(wh: str) -> list[dict]:
    return pseudonym.read_key_epochs(wh)


# ---------------------------------------------------------------------------------------------
# The job


def _check_old_ring(epochs: list[dict], old_fp: str, new_fp: str) -> None:
    """Refuse an old key ring that is not the warehouse's: re-keying from the wrong chain would
    silently split every user in two."""
    if not epochs:
        raise RotateError("the warehouse records no key fingerprint (WAREHOUSE/_keys/epochs.json), "
                          "so nothing proves which key wrote it; curate a day with the current key "
                          "(curation records it), then rotate")
    last = epochs[-1]
    if last["fingerprint"] == new_fp:
        if last["state"] != "complete" and (len(epochs) < 2 or epochs[-2]["fingerprint"] != old_fp):
            raise RotateError("an interrupted rotation to this new key started from another old "
                              "key; rerun it with that --old-key-file")
        return
    if last["fingerprint"] != old_fp or last["state"] != "complete":
        raise RotateError(f"--old-key-file is not the warehouse's current key (fingerprint "
                          f"{old_fp}, current {last['fingerprint']} [{last['state']}]); pass the "
                          "key file the warehouse was last curated or rotated with")


def rotate(wh: str, old_key: bytes | list[bytes], new_key: bytes,
           config: RotateConfig = RotateConfig()) -> dict:
    """Re-key every pseudonym of the warehouse from the ring ``old_key`` to that ring + ``new_key``.

    ``old_key`` is the warehouse's current key ring (one key: a ring of one). Its fingerprint must
    be the one the warehouse records; after the rotation the record names the new ring.
    """
    wh = wh.rstrip("/")
    old_ring = [old_key] if isinstance(old_key, bytes) else list(old_key)
    if new_key in old_ring:
        raise RotateError("--new-key-file holds a key of the old ring; make a new one "
                          "(warehouse.pseudonym.create_key_file)")
    old_fp, new_fp = fingerprint(old_ring), fingerprint([*old_ring, new_key])
    if storage.list_files(storage.join(wh, erase.PLAN_DIR, "plan-*.json")):
        raise RotateError("an erasure is in progress (WAREHOUSE/_erase/plan-*.json); finish it "
                          "first: python -m governance.erase --warehouse DIR")
    epochs = read_epochs(wh)
    _check_old_ring(epochs, old_fp, new_fp)
    last = epochs[-1]
    if last["fingerprint"] == new_fp and last["state"] == "complete":
        return {"rotated_files": 0, "already_complete": True, "epoch": last["epoch"]}
    if last["fingerprint"] != new_fp:
        epochs.append({"epoch": last["epoch"] + 1, "fingerprint": new_fp, "state": "rotating"})
        pseudonym.write_key_epochs(wh, epochs)

    rotated: dict[str, int] = defaultdict(int)
    for table in config.tables:
        for day in partitions.partition_files(wh, table):
            rotated[table] += _rotate_day(wh, table, day, new_key, new_fp, config)
        tables.remove_orphans_everywhere(wh, table, (ROTATE_PREFIX,))
        # The files under the old pseudonyms leave the disk and the log now, not in a week.
        tables.forget_history(wh, table)

    for folder in dataset_format.dataset_dirs(wh):
        manifest_path = folder / dataset_format.MANIFEST
        manifest = json.loads(manifest_path.read_text())
        for path in sorted(folder.rglob("*.parquet")):
            data = path.read_bytes()
            if _file_fingerprint(data) == new_fp:
                continue
            storage.atomic_write(str(path), _rekeyed_bytes(data, new_key, new_fp, config))
            rotated["datasets"] += 1
        if isinstance(manifest.get("files"), dict):
            manifest["files"] = {rel: storage.sha256_file(str(folder / rel)) for rel in manifest["files"]
                                 if (folder / rel).is_file()}
        manifest["key_fingerprint"] = new_fp
        storage.atomic_write(str(manifest_path), json.dumps(manifest, sort_keys=True, indent=2) + "\n")

    epochs[-1]["state"] = "complete"
    pseudonym.write_key_epochs(wh, epochs)
    return {"rotated_files": sum(rotated.values()), "files_by_table": dict(rotated),
            "already_complete": False, "epoch": epochs[-1]["epoch"]}


def main(argv: list[str] | None = None) -> int:
    umask.restrict_umask()  # outputs are never world-readable (FLYWHEEL_UMASK)
    parser = argparse.ArgumentParser(prog="python -m governance.rotate_key",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--old-key-file", required=True,
                        help="the key ring the warehouse is under now (one key per line, oldest first)")
    parser.add_argument("--new-key-file", required=True,
                        help="the key to add to the ring (its last line; earlier lines, if any, "
                             "must be the old ring)")
    args = parser.parse_args(argv)
    if "://" not in args.warehouse and not Path(args.warehouse).is_dir():
        print(f"error: warehouse {args.warehouse} is not a directory", file=sys.stderr)
        return 2
    try:
        old_ring = pseudonym.load_key_ring(args.old_key_file)
        new_ring = pseudonym.load_key_ring(args.new_key_file)
        if len(new_ring) > 1 and new_ring[:-1] != old_ring:
            raise RotateError(f"{args.new_key_file} holds several keys but its first ones are not "
                              f"the old ring of {args.old_key_file}; pass a file with the new key only")
        summary = rotate(args.warehouse, old_ring, new_ring[-1])
    except (pseudonym.MissingKey, RotateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, pa.ArrowException) as exc:  # read-only, full or damaged warehouse
        print(f"error: {erase.one_line(exc)}; fix it and rerun: the rotation resumes where it "
              "stopped", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
