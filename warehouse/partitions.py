"""Atomic, idempotent partition commits; one writer per day; recovery after a crash.

A job writes each table's rows for a date into ``WAREHOUSE/_staging/<run_id>/<table>/`` and
only then commits: a journal names the partitions to swap, the old partition (if any) moves to
``_trash``, the staged one moves into ``<table>/dt=<date>/``, then trash and journal go. Readers
see either the previous partition or the new one. A run killed before the journal exists leaves
only staging debris (cleaned by the next run); a run killed after it is rolled forward by
``recover()``, which the next run of that day (or ``python -m pipelines.recover``) calls;
readers refuse a warehouse with an unfinished commit (``check_committed``).

On object stores a "rename" is copy+delete, so the journal, not the rename, is what makes the
commit recoverable there.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from apache_beam.io.filesystems import FileSystems

from warehouse import files
from warehouse.journal import JOURNAL

STAGING = "_staging"
TRASH = "_trash"
LOCKS = "_locks"
_DT = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")


def partition_dir(warehouse: str, table: str, date: str) -> str:
    return files.join(warehouse, table, f"dt={date}")


def staging_dir(warehouse: str, run_id: str, table: str) -> str:
    return files.join(warehouse, STAGING, run_id, table)


def partition_files(warehouse: str, table: str) -> dict[str, list[str]]:
    """date -> parquet files of that table's committed partitions."""
    by_date: dict[str, list[str]] = {}
    for path in files.list_files(files.join(warehouse, table, "dt=*", "*.parquet")):
        match = _DT.search(path.replace("\\", "/"))
        if match:
            by_date.setdefault(match.group(1), []).append(path)
    return by_date


def commit(warehouse: str, run_id: str, date: str, tables: Iterable[str]) -> None:
    """Swap every staged table partition of ``run_id`` into place for ``date``."""
    tables = sorted(tables)
    journal = files.join(warehouse, JOURNAL, f"{run_id}.json")
    FileSystems.mkdirs(files.join(warehouse, JOURNAL)) if not files.exists(files.join(warehouse, JOURNAL)) else None
    with FileSystems.create(journal) as handle:
        handle.write(json.dumps({"run_id": run_id, "date": date, "tables": tables}).encode())
    _roll_forward(warehouse, run_id, date, tables)
    FileSystems.delete([journal])


def _roll_forward(warehouse: str, run_id: str, date: str, tables: list[str]) -> None:
    for table in tables:
        staged = staging_dir(warehouse, run_id, table)
        final = partition_dir(warehouse, table, date)
        if not files.exists(staged):
            continue  # already moved by an earlier, interrupted roll-forward
        if files.exists(final):
            files.move_tree(final, files.join(warehouse, TRASH, run_id, table, f"dt={date}"))
        files.move_tree(staged, final)
    files.delete_tree(files.join(warehouse, TRASH, run_id))
    files.delete_tree(files.join(warehouse, STAGING, run_id))


def recover(warehouse: str, date: str | None = None) -> list[str]:
    """Finish commits that a crash interrupted; drop staging of runs that never committed.

    Run ids start with their date, so ``date`` limits the roll-forward and the staging clean-up
    to that date's runs (jobs for other dates may be writing concurrently; the caller holds
    that date's ``DayLock``). Returns the run ids rolled forward.
    """
    rolled = []
    for journal in files.list_files(files.join(warehouse, JOURNAL, "*.json")):
        with FileSystems.open(journal) as handle:
            entry = json.loads(handle.read().decode())
        if date and entry["date"] != date:
            continue  # another day's commit: its own run (holding that day's lock) finishes it
        _roll_forward(warehouse, entry["run_id"], entry["date"], entry["tables"])
        FileSystems.delete([journal])
        rolled.append(entry["run_id"])
    pattern = f"{date}-*" if date else "*"
    for kind in (STAGING, TRASH):
        for path in sorted({_run_dir(p, kind) for p in files.list_files(files.join(warehouse, kind, pattern, "**"))}):
            files.delete_tree(path)
    return rolled


def _run_dir(path: str, kind: str) -> str:
    head, _, tail = path.replace("\\", "/").partition(f"/{kind}/")
    return f"{head}/{kind}/{tail.split('/')[0]}"


# ---------------------------------------------------------------------------------------------
# Days, locks, unfinished commits, permissions
# ---------------------------------------------------------------------------------------------

class DayLocked(RuntimeError):
    """Another run holds the day's lock."""


class DayLock:
    """An exclusive, per-day lock on a local warehouse: ``WAREHOUSE/_locks/dt=DAY.lock``.

    ``fcntl.flock`` on an open file: the kernel releases it when the holder exits, ``kill -9``
    included, so a crashed run never blocks the next one. The file's content (run id, pid,
    start) is only for the message the loser prints. Object-store warehouses have no such lock
    (the Delta warehouse's optimistic commit will guard them); there this is a no-op.
    """

    def __init__(self, warehouse: str, day: str, run_id: str):
        self._path = files.join(warehouse, LOCKS, f"dt={day}.lock")
        self._day = day
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
                f"day {self._day} is being curated by run {holder.get('run_id', '?')} since "
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
