"""The commit journal as readers see it: is any commit half done?

``warehouse.partitions.commit`` writes ``WAREHOUSE/_journal/<run_id>.json`` before it swaps a
day's partitions and removes it after; a journal that is still there names a commit that a
crash interrupted. Readers call ``check_committed`` and refuse to read until it is finished.
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

JOURNAL = "_journal"


class UnfinishedCommit(RuntimeError):
    """A commit was interrupted; readers must not read until it is finished."""


def unfinished_commits(warehouse: str) -> list[dict]:
    """Journals of commits that started and did not finish: ``[{run_id, date, tables}]``."""
    if "://" not in warehouse:
        paths = sorted(glob.glob(os.path.join(warehouse, JOURNAL, "*.json")))
        return [json.loads(Path(p).read_text()) for p in paths]
    # Beam's filesystems only for URLs: importing them costs seconds that a local reader
    # (inspect, datasets) should not pay.
    from warehouse import files

    return [json.loads(files.read_bytes(p).decode())
            for p in files.list_files(files.join(warehouse, JOURNAL, "*.json"))]


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
