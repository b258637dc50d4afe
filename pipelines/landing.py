"""Which landing files a day's run reads, and why the others are skipped.

Applications write ``LANDING/dt=YYYY-MM-DD/*.jsonl`` or ``*.jsonl.gz``. Anything else in the
folder is skipped and counted in ``stats`` (stage ``read``, metric ``skipped_files``) with its
reason: dot-files and ``*.tmp`` are writes in progress (the gateway's open segments among
them), other suffixes are not ours, and a symlink that resolves outside the landing root could
make the job read any file the worker can. A day with no file to read is an error
(``NoLandingFiles``), never an empty success: a mistyped ``--landing`` must not commit empty
partitions over a curated day.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from warehouse import files as storage

SUFFIXES = (".jsonl", ".jsonl.gz")

# Reasons a file in the day's folder is not read (snake_case, recorded in stats).
HIDDEN_FILE = "hidden_file"
TEMPORARY_FILE = "temporary_file"
NOT_JSONL = "not_jsonl"
SYMLINK_OUTSIDE_LANDING = "symlink_outside_landing"
NOT_A_FILE = "not_a_file"
SKIP_REASONS = (HIDDEN_FILE, TEMPORARY_FILE, NOT_JSONL, SYMLINK_OUTSIDE_LANDING, NOT_A_FILE)


class NoLandingFiles(RuntimeError):
    """The day's landing folder is missing or holds no file to read."""


@dataclass(frozen=True)
class LandingFile:
    path: str  # where to read it
    size: int
    # What the warehouse records instead of the app-chosen name (which may hold anything, an
    # e-mail address included): the file's place in the day's sorted listing, and a hash of
    # the name. Sorting by it keeps "first delivery wins" in listing order.
    source_id: str


@dataclass(frozen=True)
class Selection:
    files: tuple[LandingFile, ...]
    skipped: tuple[tuple[str, str], ...]  # (source_id, reason)


def day_dir(landing: str, day: str) -> str:
    return f"{landing.rstrip('/')}/dt={day}"


def source_id(seq: int, name: str) -> str:
    return f"{seq:05d}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"


def _skip_reason(path: str, name: str, landing_root: str) -> str | None:
    if name.startswith("."):
        return HIDDEN_FILE
    if name.endswith(".tmp"):
        return TEMPORARY_FILE
    if not name.endswith(SUFFIXES):
        return NOT_JSONL
    if "://" not in path:
        if os.path.islink(path):
            real = os.path.realpath(path)
            if os.path.commonpath([real, landing_root]) != landing_root:
                return SYMLINK_OUTSIDE_LANDING
        if not os.path.isfile(path):
            return NOT_A_FILE
    return None


def select_files(landing: str, day: str, *, allow_empty: bool = False) -> Selection:
    """The day's files to read and the ones skipped; ``NoLandingFiles`` when none is left.

    ``allow_empty`` accepts a day with no files (a legitimately quiet day), which then
    commits empty partitions.
    """
    folder = day_dir(landing, day)
    remote = "://" in landing
    if not remote and not os.path.isdir(landing):
        raise NoLandingFiles(f"landing root {landing} does not exist (check --landing)")
    root = landing.rstrip("/") if remote else os.path.realpath(landing)
    names = _list(folder, remote)
    files, skipped = [], []
    for seq, name in enumerate(sorted(names or ())):
        path = f"{folder}/{name}"
        sid = source_id(seq, name)
        reason = _skip_reason(path, name, root)
        if reason:
            skipped.append((sid, reason))
            continue
        size = storage.filesystems().match([path])[0].metadata_list[0].size_in_bytes
        files.append(LandingFile(path, size, sid))
    if not files and not allow_empty:
        what = "does not exist" if names is None else (
            f"holds no *.jsonl or *.jsonl.gz file ({len(skipped)} other file(s) skipped)")
        raise NoLandingFiles(
            f"no landing files for dt={day}: {folder} {what}. Check --landing and --date; "
            f"pass --allow-empty to commit an empty day on purpose")
    return Selection(tuple(files), tuple(skipped))


def _list(folder: str, remote: bool) -> list[str] | None:
    """Names directly in ``folder`` (files and links), or None when it does not exist."""
    if not remote:
        if not os.path.isdir(folder):
            return None
        return [entry.name for entry in os.scandir(folder)]
    paths = storage.list_files(f"{folder}/*")
    if not paths:
        return None
    return [p[len(folder) + 1:] for p in paths if "/" not in p[len(folder) + 1:]]
