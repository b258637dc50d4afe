"""The warehouse's tables as Delta Lake tables (delta-rs): one home for every table operation.

Every table is ``WAREHOUSE/<table>/``: Parquet data files in ``dt=YYYY-MM-DD/`` folders and the
transaction log in ``_delta_log/``. The log, not the folder listing, says which files make up the
table: a file a writer left behind and never committed is not part of it, and a file an overwrite
replaced stays readable by time travel until it is vacuumed. Every function takes a table location
(a path or an ``s3://``/``gs://``/``az://`` URL) and delta-rs ``storage_options``.

Writers write Parquet files into the table folder first (the Beam job's workers, erasure's
rewrites), then ``commit`` adds them in one transaction: ``replace_day`` replaces exactly one
``dt`` partition (curation), ``remove`` drops named files in the same commit (erasure, key
rotation). An ``app`` pair ``(app_id, version)`` is recorded as Delta's application transaction
and a commit whose app already reached that version adds nothing: a retried commit is a no-op.

Free-text and id columns never carry statistics: ``delta.dataSkippingStatsColumns`` names the only
column with min/max statistics (``ts``; tables without it keep none), and the statistics of the
files this module adds are computed here under the same rule. See docs/warehouse.md.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, CommitProperties, RemoveAction, Transaction

from warehouse import schemas

PARTITION = "dt"
# Commit-info keys this project writes (Delta keeps them in each commit's ``commitInfo``).
META_PREFIX = "flywheel."
# The only column that gets min/max statistics: time ranges skip files; values of free text or
# ids would be copies of user data in the log (the log outlives an erasure's file rewrite).
STATS_COLUMNS = ("ts",)

StorageOptions = Mapping[str, str] | None


@dataclass(frozen=True)
class CommitConfig:
    # Conflicting concurrent commits (another writer replaced or rewrote the same files) are
    # retried on a fresh snapshot this many times before giving up with ConcurrentChange.
    conflict_retries: int = 8
    # delta-rs's own retries for commits that do not conflict (another day's commit landed
    # first: the version number is taken, the content is compatible).
    max_commit_retries: int = 32
    # Seconds between conflict retries (times the attempt): writers that collided back off.
    backoff_s: float = 0.2


DEFAULT_COMMIT = CommitConfig()


class ConcurrentChange(RuntimeError):
    """Another writer changed the files this commit read; re-plan on the new version."""


class SchemaMismatch(ValueError):
    """A file to add does not have the table's schema; the table refuses it."""


def table_uri(warehouse: str, table: str) -> str:
    return f"{str(warehouse).rstrip('/')}/{table}"


def table_schema(table: str) -> pa.Schema:
    """The Delta table's schema: the data files' schema plus the partition column."""
    return schemas.ALL_TABLES[table].append(pa.field(PARTITION, pa.string()))


def configuration(table: str) -> dict[str, str]:
    """Table properties: statistics only on ``STATS_COLUMNS`` that the table has."""
    names = set(schemas.ALL_TABLES[table].names)
    stats = [c for c in STATS_COLUMNS if c in names]
    config = {"delta.dataSkippingStatsColumns": ",".join(stats)} if stats else {
        "delta.dataSkippingNumIndexedCols": "0"}
    return config


def _opts(storage_options: StorageOptions) -> dict[str, str] | None:
    return dict(storage_options) if storage_options else None


def is_table(warehouse: str, table: str, storage_options: StorageOptions = None) -> bool:
    return DeltaTable.is_deltatable(table_uri(warehouse, table), _opts(storage_options))


def open_table(warehouse: str, table: str, version: int | None = None,
               storage_options: StorageOptions = None) -> DeltaTable | None:
    """The table (at ``version``, else its latest), or None when it was never created."""
    try:
        return DeltaTable(table_uri(warehouse, table), version=version,
                          storage_options=_opts(storage_options))
    except TableNotFoundError:
        return None


def ensure_table(warehouse: str, table: str, storage_options: StorageOptions = None) -> DeltaTable:
    """The table, created empty with its schema and properties when it does not exist yet."""
    existing = open_table(warehouse, table, storage_options=storage_options)
    if existing is not None:
        return existing
    uri = table_uri(warehouse, table)
    if "://" not in uri:
        os.makedirs(uri, exist_ok=True)
    try:
        return DeltaTable.create(uri, table_schema(table), mode="ignore", partition_by=[PARTITION],
                                 name=table, configuration=configuration(table),
                                 storage_options=_opts(storage_options))
    except (CommitFailedError, DeltaError):
        # Another process created it first (both tried to write version 0).
        created = open_table(warehouse, table, storage_options=storage_options)
        if created is None:
            raise
        return created


def relative_path(warehouse: str, table: str, path: str) -> str:
    root = table_uri(warehouse, table).rstrip("/") + "/"
    text = str(path)
    if text.startswith("file://"):
        text = text[len("file://"):]
    if not text.startswith(root):
        raise ValueError(f"{path} is not inside table {root}; write it there before committing")
    return text[len(root):]


def day_of(relative: str) -> str:
    head = relative.split("/", 1)[0]
    if not head.startswith(f"{PARTITION}="):
        raise ValueError(f"{relative} is not in a {PARTITION}=YYYY-MM-DD folder")
    return head[len(PARTITION) + 1:]


# ---------------------------------------------------------------------------------------------
# Reading what is committed


def active_files(dt: DeltaTable) -> list[dict]:
    """The add actions of ``dt``'s loaded version: path, size_bytes, num_records, partition.dt."""
    # Through the C stream and without the timestamp column: pa.table() and converting
    # timestamps would import pandas (most of a second of an analyst's command).
    actions = pa.RecordBatchReader.from_stream(dt.get_add_actions(flatten=True)).read_all()
    keep = [c for c in ("path", "size_bytes", "num_records", f"partition.{PARTITION}")
            if c in actions.column_names]
    return actions.select(keep).to_pylist()


def files_by_day(warehouse: str, table: str, version: int | None = None,
                 storage_options: StorageOptions = None) -> dict[str, list[str]]:
    """day -> data files (absolute paths or URLs) of the table's committed version."""
    dt = open_table(warehouse, table, version, storage_options)
    if dt is None:
        return {}
    root = table_uri(warehouse, table).rstrip("/")
    by_day: dict[str, list[str]] = {}
    for action in active_files(dt):
        by_day.setdefault(action[f"partition.{PARTITION}"], []).append(f"{root}/{action['path']}")
    return {day: sorted(paths) for day, paths in sorted(by_day.items())}


def versions(warehouse: str, names: Sequence[str] | None = None,
             storage_options: StorageOptions = None) -> dict[str, int]:
    """table -> its latest version, for every table that exists."""
    out = {}
    for name in names or schemas.ALL_TABLES:
        dt = open_table(warehouse, name, storage_options=storage_options)
        if dt is not None:
            out[name] = dt.version()
    return out


# ---------------------------------------------------------------------------------------------
# Committing


def _file_stats(path: str, table: str, storage_options: StorageOptions) -> tuple[int, str, pa.Schema]:
    """(size, Delta stats JSON, schema) of a data file; min/max only on ``STATS_COLUMNS``."""
    if "://" in path:
        from warehouse import files

        data = files.read_bytes(path)
        size, source = len(data), io.BytesIO(data)
    else:
        size, source = os.path.getsize(path), path
    parquet = pq.ParquetFile(source)
    stats: dict = {"numRecords": parquet.metadata.num_rows}
    columns = [c for c in STATS_COLUMNS if c in schemas.ALL_TABLES[table].names]
    if columns and parquet.metadata.num_rows:
        values = parquet.read(columns=columns)
        stats["minValues"], stats["maxValues"], stats["nullCount"] = {}, {}, {}
        for column in columns:
            array = values[column]
            stats["nullCount"][column] = array.null_count
            bounds = pc.min_max(array)
            if bounds["min"].is_valid:
                stats["minValues"][column] = _stat_value(bounds["min"].as_py())
                stats["maxValues"][column] = _stat_value(bounds["max"].as_py())
    return size, json.dumps(stats), parquet.schema_arrow


def _stat_value(value):
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value


def _add_action(warehouse: str, table: str, path: str, storage_options: StorageOptions) -> AddAction:
    size, stats, schema = _file_stats(path, table, storage_options)
    expected = schemas.ALL_TABLES[table]
    if not schema.remove_metadata().equals(expected, check_metadata=False):
        raise SchemaMismatch(
            f"{path} does not have table {table!r}'s schema (warehouse/schemas.py): it has "
            f"{schema.names}, expected {expected.names}; rewrite it with that schema")
    relative = relative_path(warehouse, table, path)
    mtime = int(os.path.getmtime(path) * 1000) if "://" not in path else int(time.time() * 1000)
    return AddAction(relative, size, {PARTITION: day_of(relative)}, mtime, True, stats)


def _remove_actions(dt: DeltaTable, relatives: Sequence[str]) -> list[RemoveAction]:
    active = {a["path"]: a for a in active_files(dt)}
    missing = [r for r in relatives if r not in active]
    if missing:
        raise ConcurrentChange(f"{missing[0]} is no longer part of the table; another writer "
                               "changed it: read the table again and redo the change")
    now = int(time.time() * 1000)
    return [RemoveAction(r, True, now, active[r]["size_bytes"],
                         {PARTITION: active[r][f"partition.{PARTITION}"]}) for r in relatives]


def commit(warehouse: str, table: str, *, add: Sequence[str] = (), remove: Sequence[str] = (),
           replace_day: str | None = None, app: tuple[str, int] | None = None,
           metadata: Mapping[str, str] | None = None, storage_options: StorageOptions = None,
           config: CommitConfig = DEFAULT_COMMIT) -> int | None:
    """One Delta transaction on ``table``; returns its version, None when ``app`` already did it.

    ``add``: data files already written inside the table folder (their schema is checked).
    ``replace_day``: the commit replaces exactly that ``dt`` partition (every file in it goes).
    ``remove``: files (paths/URLs) that leave the table in the same commit; if another writer
    removed one first, ``ConcurrentChange`` is raised so the caller re-reads and re-plans.
    A replace that collides with another writer is retried on the new snapshot.
    """
    if replace_day is not None and remove:
        raise ValueError("pass either replace_day or remove, not both")
    adds = [_add_action(warehouse, table, p, storage_options) for p in add]
    relatives = [relative_path(warehouse, table, p) for p in remove]
    custom = {f"{META_PREFIX}{k}": str(v) for k, v in (metadata or {}).items()}
    if app is not None:
        custom.update({f"{META_PREFIX}app_id": app[0], f"{META_PREFIX}txn_version": str(app[1])})
    for attempt in range(config.conflict_retries):
        dt = ensure_table(warehouse, table, storage_options)
        if app is not None and (dt.transaction_version(app[0]) or 0) >= app[1]:
            return None
        properties = CommitProperties(
            custom_metadata=custom or None, max_commit_retries=config.max_commit_retries,
            app_transactions=[Transaction(app[0], app[1])] if app is not None else None)
        try:
            if replace_day is not None:
                dt.create_write_transaction(
                    adds, "overwrite", table_schema(table), partition_by=[PARTITION],
                    partition_filters=[(PARTITION, "=", replace_day)],
                    commit_properties=properties)
            else:
                dt.create_write_transaction(
                    [*adds, *_remove_actions(dt, relatives)], "append", table_schema(table),
                    partition_by=[PARTITION], commit_properties=properties)
        except CommitFailedError as exc:
            if replace_day is None:
                raise ConcurrentChange(f"table {table}: {exc}; read it again and redo the change") from None
            time.sleep(config.backoff_s * (attempt + 1))
            continue
        dt.update_incremental()
        return dt.version()
    raise ConcurrentChange(f"table {table}: {config.conflict_retries} commits of dt={replace_day} "
                           "collided with other writers; rerun")


# ---------------------------------------------------------------------------------------------
# Maintenance: orphans, vacuum, log cleanup


def untracked_files(warehouse: str, table: str, storage_options: StorageOptions = None) -> list[str]:
    """Files in the table folder that no version of the log mentions (left by dead writers).

    Delta's full vacuum lists files the log does not reference plus removed files; the light
    vacuum lists only the removed ones: the difference is what nobody ever committed.
    """
    dt = open_table(warehouse, table, storage_options=storage_options)
    if dt is None:
        return []
    everything = dt.vacuum(retention_hours=0, dry_run=True, enforce_retention_duration=False, full=True)
    removed = dt.vacuum(retention_hours=0, dry_run=True, enforce_retention_duration=False)
    root = table_uri(warehouse, table).rstrip("/")
    return sorted(f"{root}/{p}" for p in set(everything) - set(removed))


def remove_orphans(warehouse: str, table: str, day: str, prefixes: Sequence[str],
                   storage_options: StorageOptions = None, min_age_s: float = 0) -> list[str]:
    """Delete untracked files of ``dt=day`` whose names start with one of ``prefixes``.

    The caller holds what makes those names its own (the day's lock for curation's files): a
    concurrent writer's files of another day or another job are never touched. ``min_age_s``
    spares object-store files younger than that (where no lock exists, a young untracked file
    may be a running writer's, not committed yet).
    """
    from warehouse import files

    folder = f"{table_uri(warehouse, table).rstrip('/')}/{PARTITION}={day}/"
    doomed = [p for p in untracked_files(warehouse, table, storage_options)
              if p.startswith(folder) and p[len(folder):].startswith(tuple(prefixes))]
    if min_age_s and "://" in folder:
        now = time.time()
        doomed = [p for p in doomed if now - files.filesystems().match([p])[0]
                  .metadata_list[0].last_updated_in_seconds >= min_age_s]
    for path in doomed:
        if "://" in path:
            files.filesystems().delete([path])
        else:
            os.remove(path)
    if "://" not in folder and os.path.isdir(folder):
        for entry in os.listdir(folder):  # Beam's emptied temp folders
            sub = os.path.join(folder, entry)
            if entry.startswith(tuple(prefixes)) and os.path.isdir(sub) and not os.listdir(sub):
                os.rmdir(sub)
    return doomed


def remove_orphans_everywhere(warehouse: str, table: str, prefixes: Sequence[str],
                              storage_options: StorageOptions = None) -> list[str]:
    """``remove_orphans`` on every day folder of the table (a job that rewrites any day)."""
    found = {relative_path(warehouse, table, p).split("/", 1)[0][len(PARTITION) + 1:]
             for p in untracked_files(warehouse, table, storage_options)
             if relative_path(warehouse, table, p).startswith(f"{PARTITION}=")}
    return [p for day in sorted(found)
            for p in remove_orphans(warehouse, table, day, prefixes, storage_options)]


def vacuum(warehouse: str, table: str, retention_hours: int | None = None,
           storage_options: StorageOptions = None) -> list[str]:
    """Delete files removed from the table longer ago than the retention (default: the
    table's ``delta.deletedFileRetentionDuration``, a week); never untracked files, which may be
    a concurrent writer's files that are not committed yet."""
    dt = open_table(warehouse, table, storage_options=storage_options)
    if dt is None:
        return []
    return dt.vacuum(retention_hours=retention_hours, dry_run=False,
                     enforce_retention_duration=retention_hours is None)


def forget_history(warehouse: str, table: str, storage_options: StorageOptions = None) -> dict:
    """Make removals physical: vacuum removed files now, checkpoint, drop the older log files.

    Afterwards no data file and no commit file of the table describes a removed row, and time
    travel to versions before the checkpoint is gone (it is what an erasure asks for).
    """
    dt = open_table(warehouse, table, storage_options=storage_options)
    if dt is None:
        return {"files_deleted": 0, "version": None}
    deleted = dt.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)
    keep = dt.metadata().configuration.get("delta.logRetentionDuration")
    dt.alter.set_table_properties({"delta.logRetentionDuration": "interval 0 seconds"})
    dt = open_table(warehouse, table, storage_options=storage_options)
    dt.create_checkpoint()
    dt.cleanup_metadata()
    restore = {"delta.logRetentionDuration": keep or "interval 30 days"}
    dt = open_table(warehouse, table, storage_options=storage_options)
    dt.alter.set_table_properties(restore)  # a commit holding table properties only
    return {"files_deleted": len(deleted),
            "version": open_table(warehouse, table, storage_options=storage_options).version()}
