"""A curated day across the warehouse's Delta tables: its files, its commit, its lock.

The curation job's workers write each table's Parquet files for day D straight into
``WAREHOUSE/<table>/dt=D/`` under a name unique to the attempt (``curate-<run>-<nonce>-part-*``);
nothing reads them until ``commit_day`` adds them to their tables. That is one Delta transaction
per table, replacing exactly the ``dt=D`` partition, each carrying the application transaction
``(app_id "curate/D", version N)`` (N = one more than the day's last commit), so a retried commit
adds nothing. The tables are committed in a fixed order with ``stats`` last: ``stats`` reaching
version N of ``curate/D`` is the day's marker.

Readers see one consistent day: ``read_plan`` reads a table's ``dt=D`` from the version before
any commit of ``curate/D`` that ``stats`` has not sealed yet. So a run killed between two table
commits leaves every reader (inspect, datasets, erasure, the next curation run) on the previous
day; the next run of D commits every table again and seals it. Files of attempts that never
committed are deleted by the next run of D (``clean_day``) under the day's lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from warehouse import schemas, tables

LOCKS = "_locks"
MARKER = "stats"  # committed last: the day's marker
CURATE_PREFIX = "curate-"
# Names Beam's file sink gives its temporary folders (``beam-temp-<prefix>-<uuid>``).
BEAM_TEMP_PREFIX = "beam-temp-curate-"
# An object store has no day lock, so a concurrent run of the same day may be writing files its
# commit has not added yet: its untracked files are deleted only once older than any run (6 h).
REMOTE_ORPHAN_AGE_S = 6 * 3600


def app_id(day: str) -> str:
    return f"curate/{day}"


def new_attempt(run_id: str) -> str:
    """A name prefix unique to this attempt: a rerun never overwrites a committed file."""
    return f"{CURATE_PREFIX}{run_id}-{uuid.uuid4().hex[:8]}"


def attempt_prefix(warehouse: str, table: str, day: str, attempt: str) -> str:
    """Where the workers write (Beam appends ``-SSSSS-of-NNNNN.parquet``)."""
    return f"{tables.table_uri(warehouse, table)}/{tables.PARTITION}={day}/{attempt}-part"


def attempt_files(warehouse: str, table: str, day: str, attempt: str) -> list[str]:
    from warehouse import files

    return files.list_files(attempt_prefix(warehouse, table, day, attempt) + "-*.parquet")


def commit_order(names) -> list[str]:
    """The order tables are committed in: the marker last."""
    return sorted(names, key=lambda t: (t == MARKER, t))


def commit_day(warehouse: str, day: str, run_id: str, attempt: str, names,
               storage_options: tables.StorageOptions = None,
               config: tables.CommitConfig = tables.DEFAULT_COMMIT) -> dict[str, int | None]:
    """Replace ``dt=day`` of every table in ``names`` by the attempt's files, marker last.

    Returns table -> new version (None: that table already had this commit). The caller holds
    the day's ``DayLock``.
    """
    names = commit_order(names)
    app = app_id(day)
    # Every table exists before the first commit, the marker included: a first run killed
    # after some commits still leaves a marker that says the day is not sealed.
    handles = [tables.ensure_table(warehouse, n, storage_options) for n in names]
    txn = 1 + max((_txn(t, app) for t in handles), default=0)
    return commit_attempt(warehouse, day, run_id, attempt, names, txn, storage_options, config)


def commit_attempt(warehouse: str, day: str, run_id: str, attempt: str, names, txn: int,
                   storage_options: tables.StorageOptions = None,
                   config: tables.CommitConfig = tables.DEFAULT_COMMIT) -> dict[str, int | None]:
    """``commit_day`` with the transaction version fixed: rerunning it after a crash or a
    failed commit adds nothing to the tables that already have it."""
    out = {}
    for name in commit_order(names):
        out[name] = tables.commit(
            warehouse, name, add=attempt_files(warehouse, name, day, attempt), replace_day=day,
            app=(app_id(day), txn), metadata={"run_id": run_id, "attempt": attempt},
            storage_options=storage_options, config=config)
    return out


def _txn(dt, app: str) -> int:
    return dt.transaction_version(app) or 0


def clean_day(warehouse: str, day: str, names, storage_options: tables.StorageOptions = None) -> int:
    """Delete the day's files that no commit ever referenced (attempts killed before their
    commit) and vacuum files removed longer ago than the retention; the caller holds the lock
    (on an object store, where there is none, only files older than ``REMOTE_ORPHAN_AGE_S``)."""
    removed = 0
    min_age_s = REMOTE_ORPHAN_AGE_S if "://" in str(warehouse) else 0
    for name in names:
        removed += len(tables.remove_orphans(warehouse, name, day, (CURATE_PREFIX, BEAM_TEMP_PREFIX),
                                             storage_options, min_age_s))
        tables.vacuum(warehouse, name, storage_options=storage_options)
    return removed


# ---------------------------------------------------------------------------------------------
# Reading one consistent view


@dataclass(frozen=True)
class ReadPlan:
    """What a reader reads of one table: its latest version, except days whose newest commit
    the marker has not sealed, read from the version before that commit."""

    table: str
    version: int | None  # None: the table does not exist yet
    pinned: dict[str, int] = field(default_factory=dict)  # day -> version to read it from

    def as_dict(self) -> dict:
        return {"version": self.version, "pinned": dict(sorted(self.pinned.items()))}


@dataclass(frozen=True)
class Marker:
    """The marker table and, per day, the attempts whose files it holds."""

    table: object  # deltalake.DeltaTable
    attempts: dict[str, set[str]]


# An attempt's file name (also inside the names erasure and rotation give their rewrites).
_ATTEMPT = re.compile(rf"({CURATE_PREFIX}.+?)-part-\d+-of-\d+")


def _attempts_by_day(actions: list[dict]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for action in actions:
        found = _ATTEMPT.search(action["path"].rsplit("/", 1)[-1])
        if found:
            out.setdefault(action[f"partition.{tables.PARTITION}"], set()).add(found.group(1))
    return out


def marker_of(warehouse: str, storage_options: tables.StorageOptions = None) -> Marker | None:
    dt = tables.open_table(warehouse, MARKER, storage_options=storage_options)
    return None if dt is None else Marker(dt, _attempts_by_day(tables.active_files(dt)))


def read_plan(warehouse: str, table: str, storage_options: tables.StorageOptions = None,
              marker: Marker | None = None) -> ReadPlan:
    """How a reader reads ``table`` (pass ``marker_of`` once when reading several tables).

    A day is sealed when the attempts that wrote the table's files of it are the marker's own
    (the common case, read from file names: no log lookup); otherwise the application
    transactions decide: a newer ``curate/D`` commit than the marker's is not read.
    """
    dt = tables.open_table(warehouse, table, storage_options=storage_options)
    if dt is None:
        return ReadPlan(table, None)
    if table == MARKER or table not in schemas.TABLES:
        return ReadPlan(table, dt.version())
    marker = marker or marker_of(warehouse, storage_options)
    if marker is None:
        return ReadPlan(table, dt.version())  # no marker table: not written by curation
    pinned = {}
    history = None
    for day, attempts in sorted(_attempts_by_day(tables.active_files(dt)).items()):
        if attempts <= marker.attempts.get(day, set()):
            continue  # written by the attempt that sealed the day (or rewritten from its files)
        sealed = _txn(marker.table, app_id(day))
        if _txn(dt, app_id(day)) > sealed:
            history = history if history is not None else dt.history()
            pinned[day] = _version_before(history, app_id(day), sealed)
    return ReadPlan(table, dt.version(), pinned)


def _version_before(history: list[dict], app: str, sealed: int) -> int:
    """The version just before the first commit of ``app`` newer than ``sealed``."""
    prefix = tables.META_PREFIX
    newer = [c["version"] for c in history if c.get(f"{prefix}app_id") == app
             and int(c.get(f"{prefix}txn_version", 0)) > sealed]
    return min(newer) - 1


def plan_files(warehouse: str, plan: ReadPlan,
               storage_options: tables.StorageOptions = None) -> dict[str, list[str]]:
    """day -> data files of ``plan``."""
    if plan.version is None:
        return {}
    by_day = tables.files_by_day(warehouse, plan.table, plan.version, storage_options)
    for day, version in plan.pinned.items():
        old = tables.files_by_day(warehouse, plan.table, version, storage_options)
        if day in old:
            by_day[day] = old[day]
        else:
            by_day.pop(day, None)
    return dict(sorted(by_day.items()))


def partition_files(warehouse: str, table: str,
                    storage_options: tables.StorageOptions = None) -> dict[str, list[str]]:
    """day -> committed data files of the table, as readers see it (``read_plan``)."""
    return plan_files(warehouse, read_plan(warehouse, table, storage_options), storage_options)


# ---------------------------------------------------------------------------------------------
# One writer per day


class DayLocked(RuntimeError):
    """Another run holds the day's lock."""


class DayLock:
    """An exclusive, per-day lock on a local warehouse: ``WAREHOUSE/_locks/dt=DAY.lock``.

    ``fcntl.flock`` on an open file: the kernel releases it when the holder exits, ``kill -9``
    included, so a crashed run never blocks the next one. The file's content (run id, pid,
    start) is only for the message the loser prints. Object stores have no flock: there Delta's
    optimistic commit is the guard (two runs of a day conflict at commit, see docs/warehouse.md)
    and this is a no-op.
    """

    def __init__(self, warehouse: str, day: str, run_id: str, subject: str | None = None):
        self._path = os.path.join(str(warehouse), LOCKS, f"dt={day}.lock")
        self._subject = subject or f"day {day} is being curated"
        self._run_id = run_id
        self._handle = None

    def __enter__(self) -> DayLock:
        if "://" in self._path:
            return self
        os.makedirs(os.path.dirname(self._path), exist_ok=True)
        handle = open(self._path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _holder(handle.read())
            handle.close()
            raise DayLocked(
                f"{self._subject} by run {holder.get('run_id', '?')} since "
                f"{holder.get('since', '?')} (pid {holder.get('pid', '?')}); wait for it to "
                f"finish, then rerun") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"run_id": self._run_id, "pid": os.getpid(),
                                 "since": datetime.now(UTC).isoformat(timespec="seconds")}))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.close()  # closing releases the flock
            self._handle = None


def _holder(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
