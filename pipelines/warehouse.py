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

    Run ids start with their date, so ``date`` limits the staging clean-up to that date's runs
    (jobs for other dates may be writing concurrently). Returns the run ids rolled forward.
    """
    rolled = []
    for journal in list_files(join(warehouse, JOURNAL, "*.json")):
        with FileSystems.open(journal) as handle:
            entry = json.loads(handle.read().decode())
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
