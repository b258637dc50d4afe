"""Erasure: every deletion request removes the user's rows everywhere, with a tombstone as proof.

    python -m governance.erase --warehouse DIR [--as-of YYYY-MM-DD] [--tracking-uri URI]
        [--landing DIR [--pseudonym-key-file F] [--landing-retention-days N]]

For every ``deletion_requests`` row (partitions up to ``--as-of``) without a tombstone in the
``deletions`` table, the job

1. removes every row of that pseudonym from every partition of ``interactions``, ``feedback``
   (rows the user wrote and rows of anyone pointing at the user's interactions), ``rejects`` and
   ``dedup_index``, past days included: one Delta commit per table swaps each file holding such
   rows for a rewrite without them (``warehouse.tables.commit`` with add and remove actions; no
   ``DELETE`` predicate, which Delta would record verbatim in the log; the table's other files
   are untouched, so their hashes in dataset manifests stay valid);
2. removes the user's rows from every built dataset under ``WAREHOUSE/datasets`` and marks those
   datasets ``stale`` in their manifest (reason, erased pseudonym count; never an id);
3. tags every MLflow model version whose ``dataset_id`` tag names a stale dataset with
   ``contains_erased_user_data=true`` so that the promotion gate refuses it;
4. with ``--landing``: rewrites every landing file holding a line of an erased user without
   those lines (``governance.landing_erasure``; the lines are found by pseudonymizing their raw
   ``user_id`` with the key ring, which must be the warehouse's);
5. writes one tombstone per request to ``WAREHOUSE/deletions/dt=<as-of>/``;
6. makes the removal physical (``forget_history``): the replaced files are vacuumed at once
   (retention 0), each table is checkpointed and its older commit files deleted, so no data
   file and no log file under the warehouse still holds or describes an erased row.

With ``--landing-retention-days N`` it then deletes the curated landing days more than N days
before ``--as-of`` (default: the latest curated day).

``deletion_requests`` rows stay: they hold only (event_id, pseudonym, requested_at), and the
curation job reads them to drop the user's later arrivals at ingest. Every run also sweeps rows of
already-tombstoned users that appeared since (the ``user_erased`` rejects of those later
arrivals), so "no row of an erased user" holds after every run. The steps are idempotent and a
run killed anywhere completes on rerun: counts measured before the first rewrite are kept in a
plan file (``WAREHOUSE/_erase/``) until the tombstones are committed. See docs/governance.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curation import dataset_format

# The dataset layout and the model tag, named here too for callers of this module's API.
from curation.dataset_format import DATASETS_DIR, MANIFEST, dataset_dirs  # noqa: F401
from governance import erase_downstream as downstream
from governance import landing_erasure
from governance.erase_downstream import ERASED_TAG  # noqa: F401

# The dataset layout and the model tag, named here too for callers of this module's API.
from warehouse import days, partitions, pseudonym, schemas, tables, umask
from warehouse import files as storage

log = logging.getLogger("governance.erase")

DELETIONS_TABLE = "deletions"
PLAN_DIR = "_erase"

DELETIONS = schemas.DELETIONS


@dataclass(frozen=True)
class EraseConfig:
    # Tables whose rows carry the owner's pseudonym. stats holds counts only and
    # deletion_requests is the request record itself (kept: ingest reads it), so neither is here.
    user_tables: tuple[str, ...] = ("interactions", "feedback", "rejects", "dedup_index")
    # Feedback columns that point at an interaction: feedback on an erased interaction goes too,
    # whoever wrote it (it would otherwise keep a dangling link to the erased conversation).
    feedback_reference_columns: tuple[str, ...] = (
        "interaction_id", "original_interaction_id", "other_interaction_id")
    # Dataset columns naming a user (preference pairs name both answers' owners).
    dataset_user_columns: tuple[str, ...] = ("user_pseudonym", "rejected_user_pseudonym")
    # Parquet writer settings of rewritten partitions; zstd like the rest of the warehouse.
    compression: str = "zstd"
    # A rewrite that collides with a concurrent commit of the same files (a curation run
    # replacing that day) is planned again on the new version this many times.
    conflict_retries: int = 5
    # How landing files are scanned and rewritten (used when a landing root is given).
    landing: landing_erasure.LandingConfig = landing_erasure.LandingConfig()


class EraseError(RuntimeError):
    """An erasure that cannot go ahead; the message names the value and the fix."""


# ---------------------------------------------------------------------------------------------
# Small I/O helpers (local paths or Beam filesystem URLs for the warehouse tables)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# Requests and tombstones


def read_requests(wh: str, as_of: str | None = None) -> list[dict]:
    """Every deletion request of partitions up to ``as_of``, oldest first."""
    rows = []
    for dt, files in sorted(partitions.partition_files(wh, "deletion_requests").items()):
        if as_of and dt > as_of:
            continue
        for path in files:
            for row in storage.read_parquet(path, ["event_id", "user_pseudonym", "requested_at"], present_only=True).to_pylist():
                rows.append(dict(row, dt=dt))
    rows.sort(key=lambda r: (r["requested_at"] or datetime.min.replace(tzinfo=UTC), r["event_id"]))
    return rows


def read_tombstones(wh: str) -> list[dict]:
    rows = []
    for dt, files in sorted(partitions.partition_files(wh, DELETIONS_TABLE).items()):
        for path in files:
            for row in storage.read_parquet(path).to_pylist():
                row["rows_removed"] = dict(row["rows_removed"] or [])
                rows.append(dict(row, dt=dt))
    return rows


def latest_request_date(wh: str) -> str | None:
    dates = sorted(partitions.partition_files(wh, "deletion_requests"))
    return dates[-1] if dates else None


def completed_at(as_of: str, requested_at: datetime | None) -> datetime:
    """The end of the run's logical day: reruns of the same day write the same tombstone."""
    end_of_day = datetime.combine(date.fromisoformat(as_of) + timedelta(days=1), time(), tzinfo=UTC)
    return max(end_of_day, requested_at) if requested_at else end_of_day


# ---------------------------------------------------------------------------------------------
# Finding the rows


@dataclass
class FileHits:
    path: str
    table: str
    dt: str
    remove: pa.Array  # boolean mask over the file's rows
    rows_by_pseudonym: dict[str, int]


def find_rows(wh: str, erased: set[str], config: EraseConfig) -> tuple[list[FileHits], dict[str, str]]:
    """Files holding rows of ``erased`` pseudonyms, with masks and per-user counts.

    Also returns the erased users' interaction ids (id -> owner pseudonym) so that feedback that
    points at them is found whoever wrote it.
    """
    hits: list[FileHits] = []
    if not erased:
        return hits, {}
    erased_values = pa.array(sorted(erased), pa.string())
    owner_of_interaction: dict[str, str] = {}
    for files in partitions.partition_files(wh, "interactions").values():
        for path in files:
            table = storage.read_parquet(path, ["event_id", "user_pseudonym"], present_only=True)
            mask = downstream.member_mask(table["user_pseudonym"], erased_values)
            for row in table.filter(mask).to_pylist():
                owner_of_interaction[row["event_id"]] = row["user_pseudonym"]
    erased_ids = pa.array(sorted(owner_of_interaction), pa.string())

    for table_name in config.user_tables:
        reference_columns = list(config.feedback_reference_columns) if table_name == "feedback" else []
        for dt, files in sorted(partitions.partition_files(wh, table_name).items()):
            for path in files:
                table = storage.read_parquet(path, ["user_pseudonym", *reference_columns], present_only=True)
                if "user_pseudonym" not in table.column_names:
                    raise EraseError(f"{path} has no user_pseudonym column; table '{table_name}' "
                                     "does not follow warehouse/schemas.py")
                mask = downstream.member_mask(table["user_pseudonym"], erased_values)
                for column in reference_columns:
                    if column in table.column_names:
                        mask = pc.or_(mask, downstream.member_mask(table[column], erased_ids))
                mask = mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask
                if not pc.any(mask).as_py():
                    continue
                counts: dict[str, int] = defaultdict(int)
                for row in table.filter(mask).to_pylist():
                    owner = row["user_pseudonym"] if row["user_pseudonym"] in erased else next(
                        owner_of_interaction[row[c]] for c in reference_columns
                        if row.get(c) in owner_of_interaction)
                    counts[owner] += 1
                hits.append(FileHits(path, table_name, dt, mask, dict(counts)))
    return hits, owner_of_interaction


# ---------------------------------------------------------------------------------------------
# Rewriting warehouse tables (one Delta commit per table)


ERASE_PREFIX = "erase-"


def rewrite_partitions(wh: str, hits: list[FileHits], erased: set[str], config: EraseConfig) -> list[int]:
    """One Delta commit per affected table: each file holding erased rows is replaced by a
    rewrite without them (the table's other files are untouched, so their hashes in dataset
    manifests stay valid). Returns the new table versions. Raises ``tables.ConcurrentChange``
    when another writer replaced one of those files meanwhile (the caller re-plans)."""
    by_table: dict[str, list[FileHits]] = defaultdict(list)
    for hit in hits:
        by_table[hit.table].append(hit)
    committed = []
    for table_name, file_hits in sorted(by_table.items()):
        written = []
        for hit in file_hits:
            # Deterministic name: a rerun after a crash overwrites its own uncommitted rewrite.
            name = f"{ERASE_PREFIX}{_digest(sorted(erased), hit.path)}-{storage.basename(hit.path)}"
            target = storage.join(tables.table_uri(wh, table_name), f"dt={hit.dt}", name)
            table = storage.read_parquet(hit.path)
            storage.write_parquet(table.filter(pc.invert(hit.remove)), target,
                                  compression=config.compression)
            written.append(target)
        version = tables.commit(wh, table_name, add=written, remove=[h.path for h in file_hits],
                                metadata={"job": "erase", "files": str(len(file_hits))})
        committed.append(version)
    return committed


def forget_removed(wh: str, config: EraseConfig) -> dict[str, int]:
    """Erasure's physical step: removed files deleted now, log checkpointed and cleaned, so
    that no data file and no commit file under the warehouse describes an erased row."""
    return {t: tables.forget_history(wh, t)["files_deleted"]
            for t in (*config.user_tables, DELETIONS_TABLE) if tables.is_table(wh, t)}


# ---------------------------------------------------------------------------------------------
# Plan (survives a crash between the first rewrite and the tombstones)


def _plan_path(wh: str, plan_id: str) -> str:
    return storage.join(wh, PLAN_DIR, f"plan-{plan_id}.json")


def _load_plans(wh: str) -> dict[str, dict]:
    """pseudonym -> what an interrupted run measured before it changed anything."""
    merged: dict[str, dict] = {}
    for path in storage.list_files(storage.join(wh, PLAN_DIR, "plan-*.json")):
        with storage.filesystems().open(path) as handle:
            for user, entry in json.loads(handle.read().decode())["users"].items():
                merged.setdefault(user, entry)
    return merged


def _write_plan(wh: str, plan_id: str, users: dict[str, dict]) -> str:
    path = _plan_path(wh, plan_id)
    storage.ensure_parent(path)
    with storage.filesystems().create(path) as handle:
        handle.write(json.dumps({"plan_id": plan_id, "users": users}, sort_keys=True).encode())
    return path


# ---------------------------------------------------------------------------------------------
# The job


def _measure(wh: str, pending_users: set[str], hits: list[FileHits],
             dataset_hits: dict[str, dict[str, set[str]]], config: EraseConfig) -> dict[str, dict]:
    """pseudonym -> {rows_removed by table, datasets holding it}: from an interrupted run's plan
    when there is one (a rerun after a partial rewrite would count only what was left)."""
    planned = _load_plans(wh)
    users: dict[str, dict] = {}
    for user in sorted(pending_users):
        if user in planned:
            users[user] = planned[user]
            continue
        rows_removed = {t: sum(h.rows_by_pseudonym.get(user, 0) for h in hits if h.table == t)
                        for t in config.user_tables}
        datasets = sorted(d for d, files in dataset_hits.items()
                          if any(user in found for found in files.values()))
        users[user] = {"rows_removed": rows_removed, "datasets": datasets}
    return users


def _tombstone_rows(pending: list[dict], users: dict[str, dict], tagged: dict[str, list[str]],
                    as_of: str, config: EraseConfig) -> list[dict]:
    """One row per request: the first request of a user carries the counts, a repeat gets zeros."""
    rows, seen = [], set()
    for request in pending:
        user = request["user_pseudonym"]
        entry = users[user] if user not in seen else {"rows_removed": {}, "datasets": []}
        seen.add(user)
        rows.append({
            "user_pseudonym": user,
            "request_event_id": request["event_id"],
            "requested_at": request["requested_at"],
            "completed_at": completed_at(as_of, request["requested_at"]),
            "rows_removed": sorted({t: entry["rows_removed"].get(t, 0)
                                    for t in config.user_tables}.items()),
            "datasets_marked_stale": entry["datasets"],
            "model_versions_tagged": sorted({v for d in entry["datasets"] for v in tagged.get(d, [])}),
        })
    return rows


def erase(wh: str, as_of: str | None = None, config: EraseConfig = EraseConfig(),
          tracking_uri: str | None = None, landing: str | None = None,
          key_ring: list[bytes] | None = None) -> dict:
    """Complete every pending deletion request; returns a summary (no raw ids, no pseudonyms).

    With ``landing`` (a local landing root) and ``key_ring`` (the warehouse's key ring), the
    erased users' lines also leave the landing zone; a ring that is not the warehouse's is
    refused (``pseudonym.KeyMismatch``) before anything changes.
    """
    wh = wh.rstrip("/")
    if landing is not None:
        if not key_ring:
            raise EraseError("erasing from the landing zone needs the key ring: pass "
                             f"--pseudonym-key-file or set ${pseudonym.KEY_ENV}")
        landing_erasure.landing_root(landing)  # a mistyped path fails before anything changes
        pseudonym.ensure_key_fingerprint(wh, key_ring)
    as_of = as_of or latest_request_date(wh)
    if as_of is None:
        return {"as_of": None, "requests": 0, "completed_now": 0}  # no request ever: nothing to do
    with partitions.DayLock(wh, "erase", f"erase-{as_of}",  # one erasure at a time
                            subject="the warehouse is being erased"):
        return _erase_locked(wh, as_of, config, tracking_uri, landing, key_ring)


def _erase_locked(wh: str, as_of: str, config: EraseConfig, tracking_uri: str | None,
                  landing: str | None, key_ring: list[bytes] | None) -> dict:
    # Rewrites of an erasure killed before its commit are nobody's: they go first.
    for table_name in (*config.user_tables, DELETIONS_TABLE):
        tables.remove_orphans_everywhere(wh, table_name, (ERASE_PREFIX,))
    requests = read_requests(wh, as_of)
    tombstones = read_tombstones(wh)
    done_requests = {t["request_event_id"] for t in tombstones}
    pending = [r for r in requests if r["event_id"] not in done_requests]
    pending_users = {r["user_pseudonym"] for r in pending}
    erased = pending_users | {t["user_pseudonym"] for t in tombstones}

    # 1. measure before anything changes, and remember it across a crash
    hits, _ = find_rows(wh, erased, config)
    dataset_hits = downstream.find_dataset_rows(wh, erased, config.dataset_user_columns)
    users = _measure(wh, pending_users, hits, dataset_hits, config)
    if pending:
        _write_plan(wh, _digest(sorted(r["event_id"] for r in pending), as_of), users)

    # 2. datasets: drop the rows, mark the manifest stale (both idempotent)
    dataset_rows_removed = downstream.scrub_datasets(
        wh, dataset_hits, erased, tombstones, users, as_of,
        columns=config.dataset_user_columns, compression=config.compression)

    rebuilds_removed = downstream.drop_rebuilds(wh, erased, config.dataset_user_columns)

    # 3. warehouse tables (a concurrent commit of the same files: read again, redo)
    for attempt in range(config.conflict_retries):
        try:
            run_ids = rewrite_partitions(wh, hits, erased, config)
            break
        except tables.ConcurrentChange:
            if attempt == config.conflict_retries - 1:
                raise
            hits, _ = find_rows(wh, erased, config)
    swept = sum(n for hit in hits for p, n in hit.rows_by_pseudonym.items() if p not in pending_users)

    # 4. models trained on any stale dataset
    tagged = downstream.tag_models(downstream.registry_uri(wh, tracking_uri),
                                  set(dataset_format.stale_dataset_ids(wh)), as_of)

    # 5. the raw lines in the landing zone (every erased user: later arrivals are swept too)
    landing_summary = (landing_erasure.erase_landing(landing, key_ring, erased, config.landing)
                       if landing is not None else None)

    # 6. tombstones, last: a request is completed only when everything else is done
    if pending:
        commit_tombstones(wh, as_of, _tombstone_rows(pending, users, tagged, as_of, config), config)
    # 7. physical removal: vacuum, checkpoint, log clean-up (also of an earlier run's leftovers)
    forgotten = forget_removed(wh, config) if (pending or hits) else {}
    for path in storage.list_files(storage.join(wh, PLAN_DIR, "plan-*.json")):
        storage.filesystems().delete([path])

    summary = {
        "as_of": as_of,
        "requests": len(requests),
        "completed_now": len(pending),
        "already_completed": len(requests) - len(pending),
        "rows_removed": {t: sum(u["rows_removed"][t] for u in users.values()) for t in config.user_tables},
        "rows_swept_of_earlier_erasures": swept,
        "partitions_rewritten": sorted({f"{h.table}/dt={h.dt}" for h in hits}),
        "commits": run_ids,
        "files_vacuumed": forgotten,
        "dataset_rows_removed": dataset_rows_removed,
        "datasets_marked_stale": sorted(dataset_hits),
        "rebuilds_removed": rebuilds_removed,
        "model_versions_tagged": sorted({v for vs in tagged.values() for v in vs}),
    }
    if landing_summary is not None:
        summary["landing"] = landing_summary
    return summary


def commit_tombstones(wh: str, as_of: str, rows: list[dict], config: EraseConfig) -> None:
    """Replace ``deletions/dt=<as_of>`` by its earlier rows plus ``rows`` (one Delta commit)."""
    existing = []
    for path in partitions.partition_files(wh, DELETIONS_TABLE).get(as_of, []):
        existing.extend(storage.read_parquet(path).to_pylist())
    known = {r["request_event_id"] for r in existing}
    merged = existing + [r for r in rows if r["request_event_id"] not in known]
    merged.sort(key=lambda r: (r["requested_at"], r["request_event_id"]))
    digest = _digest(sorted(r["request_event_id"] for r in merged))
    target = storage.join(tables.table_uri(wh, DELETIONS_TABLE), f"dt={as_of}",
                          f"{ERASE_PREFIX}tombstones-{digest}.parquet")
    storage.write_parquet(pa.Table.from_pylist(merged, schema=DELETIONS), target,
                          compression=config.compression)
    tables.commit(wh, DELETIONS_TABLE, add=[target], replace_day=as_of,
                  metadata={"job": "erase", "as_of": as_of})


# ---------------------------------------------------------------------------------------------
# CLI


def one_line(exc: BaseException) -> str:
    """An exception as one line (Beam's filesystem errors span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m governance.erase",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, help="warehouse root")
    parser.add_argument("--as-of", default=None,
                        help="complete requests of partitions up to this day, YYYY-MM-DD "
                             "(default: the latest deletion_requests partition)")
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow registry (default: $MLFLOW_TRACKING_URI, else WAREHOUSE/mlflow.db)")
    parser.add_argument("--landing", default=None,
                        help="local landing root: also remove the erased users' raw lines there")
    parser.add_argument("--pseudonym-key-file", default=None,
                        help=f"the warehouse's key ring (with --landing); else ${pseudonym.KEY_ENV}")
    parser.add_argument("--landing-retention-days", type=int, default=None,
                        help="with --landing: delete curated landing days more than N days before "
                             "--as-of (default: the latest curated day)")
    return parser


def _run(args) -> dict:
    key_ring = pseudonym.load_key_ring(args.pseudonym_key_file) if args.landing else None
    summary = erase(args.warehouse, args.as_of, tracking_uri=args.tracking_uri,
                    landing=args.landing, key_ring=key_ring)
    if args.landing_retention_days is not None:
        as_of = args.as_of or landing_erasure.latest_curated_day(args.warehouse)
        if as_of is None:
            raise EraseError(f"no curated day in {args.warehouse} to count the landing retention "
                             "from; pass --as-of")
        summary["landing_retention"] = landing_erasure.apply_retention(
            args.landing, args.warehouse, as_of, args.landing_retention_days)
    return summary


def main(argv: list[str] | None = None) -> int:
    umask.restrict_umask()  # outputs are never world-readable (FLYWHEEL_UMASK)
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.as_of and not days.is_day(args.as_of):
        print(f"error: --as-of {args.as_of!r} is not YYYY-MM-DD", file=sys.stderr)
        return 2
    if "://" not in args.warehouse and not Path(args.warehouse).is_dir():
        print(f"error: warehouse {args.warehouse} is not a directory", file=sys.stderr)
        return 2
    if args.landing_retention_days is not None and not args.landing:
        print("error: --landing-retention-days needs --landing DIR", file=sys.stderr)
        return 2
    if args.landing_retention_days is not None and args.landing_retention_days < 0:
        print(f"error: --landing-retention-days {args.landing_retention_days} is negative; pass "
              "0 or more", file=sys.stderr)
        return 2
    try:
        summary = _run(args)
    except (pseudonym.MissingKey, landing_erasure.LandingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (EraseError, downstream.RegistryError, partitions.DayLocked,
            tables.ConcurrentChange) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, pa.ArrowException) as exc:  # read-only, full or damaged storage
        print(f"error: {one_line(exc)}; fix it and rerun: the erasure completes where it stopped",
              file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
