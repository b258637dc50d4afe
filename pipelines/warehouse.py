"""Warehouse layout and atomic, idempotent partition commits.

A job writes each table's rows for a date into ``WAREHOUSE/_staging/<run_id>/<table>/`` and
only then commits: a journal names the partitions to swap, the old partition (if any) moves to
``_trash``, the staged one moves into ``<table>/dt=<date>/``, then trash and journal go. Readers
see either the previous partition or the new one. A run killed before the journal exists leaves
only staging debris (cleaned by the next run); a run killed after it is rolled forward by
``recover()``, which every job and reader calls first.

Paths are local paths or any Beam filesystem URL (``gs://``, ``s3://``): everything goes through
``apache_beam.io.filesystems.FileSystems``. On object stores a "rename" is copy+delete, so the
journal, not the rename, is what makes the commit recoverable there.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable

from apache_beam.io.filesystems import FileSystems

STAGING = "_staging"
TRASH = "_trash"
JOURNAL = "_journal"
LOCKS = "_locks"
_DT = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")


def join(*parts: str) -> str:
    base = parts[0].rstrip("/")
    if "://" in base:
        return posixpath.join(base, *parts[1:])
    import os

    return os.path.join(base, *parts[1:])


def partition_dir(warehouse: str, table: str, date: str) -> str:
    return join(warehouse, table, f"dt={date}")


def staging_dir(warehouse: str, run_id: str, table: str) -> str:
    return join(warehouse, STAGING, run_id, table)


def _exists(path: str) -> bool:
    return FileSystems.exists(path)


def list_files(pattern: str) -> list[str]:
    """Paths matching a glob; [] when nothing matches (never an error)."""
    try:
        results = FileSystems.match([pattern])
    except Exception:  # noqa: BLE001 - Beam raises a generic error for an unmatched glob
        return []
    return sorted(m.path for r in results for m in r.metadata_list)


def partition_files(warehouse: str, table: str) -> dict[str, list[str]]:
    """date -> parquet files of that table's committed partitions."""
    by_date: dict[str, list[str]] = {}
    for path in list_files(join(warehouse, table, "dt=*", "*.parquet")):
        match = _DT.search(path.replace("\\", "/"))
        if match:
            by_date.setdefault(match.group(1), []).append(path)
    return by_date


def _move_tree(src: str, dst: str) -> None:
    """Move a directory. Local: one atomic rename. Object stores: per-file rename."""
    if "://" not in src:
        import os

        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.replace(src, dst)
        return
    files = list_files(join(src, "**"))
    FileSystems.rename(files, [dst + f[len(src):] for f in files])


def _delete_tree(path: str) -> None:
    if _exists(path):
        FileSystems.delete([path])


def commit(warehouse: str, run_id: str, date: str, tables: Iterable[str]) -> None:
    """Swap every staged table partition of ``run_id`` into place for ``date``."""
    tables = sorted(tables)
    journal = join(warehouse, JOURNAL, f"{run_id}.json")
    FileSystems.mkdirs(join(warehouse, JOURNAL)) if not _exists(join(warehouse, JOURNAL)) else None
    with FileSystems.create(journal) as handle:
        handle.write(json.dumps({"run_id": run_id, "date": date, "tables": tables}).encode())
    _roll_forward(warehouse, run_id, date, tables)
    FileSystems.delete([journal])


def _roll_forward(warehouse: str, run_id: str, date: str, tables: list[str]) -> None:
    for table in tables:
        staged = staging_dir(warehouse, run_id, table)
        final = partition_dir(warehouse, table, date)
        if not _exists(staged):
            continue  # already moved by an earlier, interrupted roll-forward
        if _exists(final):
            _move_tree(final, join(warehouse, TRASH, run_id, table, f"dt={date}"))
        _move_tree(staged, final)
    _delete_tree(join(warehouse, TRASH, run_id))
    _delete_tree(join(warehouse, STAGING, run_id))


def recover(warehouse: str, date: str | None = None) -> list[str]:
    """Finish commits that a crash interrupted; drop staging of runs that never committed.

    Run ids start with their date, so ``date`` limits the roll-forward and the staging clean-up
    to that date's runs (jobs for other dates may be writing concurrently; the caller holds
    that date's ``DayLock``). Returns the run ids rolled forward.
    """
    rolled = []
    for journal in list_files(join(warehouse, JOURNAL, "*.json")):
        with FileSystems.open(journal) as handle:
            entry = json.loads(handle.read().decode())
        if date and entry["date"] != date:
            continue  # another day's commit: its own run (holding that day's lock) finishes it
        _roll_forward(warehouse, entry["run_id"], entry["date"], entry["tables"])
        FileSystems.delete([journal])
        rolled.append(entry["run_id"])
    pattern = f"{date}-*" if date else "*"
    for kind in (STAGING, TRASH):
        for path in sorted({_run_dir(p, kind) for p in list_files(join(warehouse, kind, pattern, "**"))}):
            _delete_tree(path)
    return rolled


def _run_dir(path: str, kind: str) -> str:
    head, _, tail = path.replace("\\", "/").partition(f"/{kind}/")
    return f"{head}/{kind}/{tail.split('/')[0]}"


# ---------------------------------------------------------------------------------------------
# Days, locks, unfinished commits, permissions
# ---------------------------------------------------------------------------------------------

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadDay(ValueError):
    """A ``--date``/``--as-of`` that is not exactly ``YYYY-MM-DD``."""


def parse_day(text: str, option: str = "--date") -> str:
    """``text`` if it is exactly ``YYYY-MM-DD`` and a real day, else ``BadDay``.

    Python 3.11's ``date.fromisoformat`` also takes ``20261102`` and ``2026-W44-1``; a
    partition named like that breaks every reader, so only the one form is accepted.
    """
    import datetime as _dt

    if not isinstance(text, str) or not _DAY.match(text):
        raise BadDay(f"{option} {text!r} is not YYYY-MM-DD (for example 2026-11-02)")
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        raise BadDay(f"{option} {text!r} is not a real day") from None
    return text


def is_day(text: str) -> bool:
    try:
        parse_day(text)
    except BadDay:
        return False
    return True


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
        self._path = join(warehouse, LOCKS, f"dt={day}.lock")
        self._day = day
        self._run_id = run_id
        self._handle = None

    def __enter__(self) -> DayLock:
        if "://" in self._path:
            return self
        import fcntl
        import os
        from datetime import UTC, datetime

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


class UnfinishedCommit(RuntimeError):
    """A commit was interrupted; readers must not read until it is finished."""


def unfinished_commits(warehouse: str) -> list[dict]:
    """Journals of commits that started and did not finish: ``[{run_id, date, tables}]``."""
    entries = []
    for journal in list_files(join(warehouse, JOURNAL, "*.json")):
        with FileSystems.open(journal) as handle:
            entries.append(json.loads(handle.read().decode()))
    return entries


def check_committed(warehouse: str) -> None:
    """Raise ``UnfinishedCommit`` naming the day and the fix if any commit is half done."""
    pending = unfinished_commits(warehouse)
    if pending:
        days = ", ".join(sorted({e["date"] for e in pending}))
        raise UnfinishedCommit(
            f"warehouse {warehouse} has an unfinished commit of dt={days} (run "
            f"{pending[0]['run_id']}): its tables are half swapped. Finish it with "
            f"`python -m pipelines.recover --warehouse {warehouse}` (or rerun curation of that "
            f"day), then read again")


# Group may read, others get nothing: the warehouse holds pseudonymous personal data.
DEFAULT_UMASK = 0o027
UMASK_ENV = "FLYWHEEL_UMASK"


def restrict_umask(value: str | None = None) -> int:
    """Set the process umask (``FLYWHEEL_UMASK`` in octal, default 027); returns the one set."""
    import os

    text = value if value is not None else os.environ.get(UMASK_ENV)
    if text is None:
        mask = DEFAULT_UMASK
    else:
        try:
            mask = int(text, 8)
        except ValueError:
            raise ValueError(f"{UMASK_ENV}={text!r} is not an octal umask such as 027") from None
        if not 0 <= mask <= 0o777:
            raise ValueError(f"{UMASK_ENV}={text!r} is not an octal umask such as 027")
    os.umask(mask)
    return mask
