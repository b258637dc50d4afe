"""The landing zone's share of governance: erased users' raw lines go, and so do old curated days.

Landing files hold what the applications sent: the raw ``user_id`` and the text. The warehouse
holds pseudonyms only, so an erased user's lines are found by pseudonymizing every ``user_id``
a line names with the key ring and comparing with the erased pseudonyms; no raw id is written
anywhere (the summaries hold counts and dates only).

* ``erase_landing``: every ``*.jsonl`` / ``*.jsonl.gz`` file of ``LANDING/dt=*/`` holding a
  line of an erased user is rewritten without those lines, atomically (a private temporary file
  in the same folder, then a rename), every other line byte for byte. A ``.gz`` file is
  recompressed; the lines inside are kept byte for byte.
* ``apply_retention``: landing days more than N days before the reference day are deleted, but
  only days that are curated (the warehouse has a committed partition for them).

Both work on local folders and on object stores (``s3://``...: ``warehouse.files.path``): there
a rewrite is one PUT of the whole new object, which readers see whole or not at all, and a day
is deleted object by object (a reader listing it meanwhile sees fewer files, never a part of
one). ``governance.erase`` calls them (see docs/governance.md).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

from warehouse import files as storage
from warehouse import partitions, pseudonym

log = logging.getLogger("governance.landing_erasure")

# A rewrite in progress: hidden, and no ".jsonl" in the name, so curation never reads it.
TMP_PREFIX = ".erase-"
TMP_SUFFIX = ".tmp"
DELETING_SUFFIX = ".deleting"
_DAY_DIR = re.compile(r"dt=(\d{4}-\d{2}-\d{2})")
# A "user_id": "..." pair in raw bytes, for lines that are not valid JSON (curation rejects them,
# but they still hold the raw id). Linear: no nested quantifier can backtrack.
_USER_ID_PAIR = re.compile(rb'"user_id"\s*:\s*("(?:[^"\\]|\\.)*")')


@dataclass(frozen=True)
class LandingConfig:
    # The names the curation job reads (pipelines.landing.select_files), dot-files
    # included. A segment still being written (the gateway's ".jsonl.open") is never touched:
    # rewriting it would lose its next appends; it is swept by the first run after it is published.
    suffixes: tuple[str, ...] = (".jsonl", ".jsonl.gz")
    # A line up to this size is parsed as JSON; of a longer one (curation rejects it) only the
    # first max_line_bytes are searched. Memory stays bounded whatever the input.
    max_line_bytes: int = 8 << 20
    # Rewrites copy lines in chunks of this size, however long a line is.
    chunk_bytes: int = 1 << 20
    gzip_level: int = 6  # what the simulator and the gateway write
    # A day is curated when one of these tables has a committed partition for it: curation
    # commits them for every day; erasure and rotation only rewrite existing partitions.
    curated_tables: tuple[str, ...] = ("stats", "interactions", "feedback", "rejects")


class LandingError(RuntimeError):
    """A landing operation that cannot go ahead; the message names the value and the fix."""


def landing_root(landing: str) -> Path:
    """The landing root as a resolved local folder or a URL path; LandingError when it is
    not one."""
    root = storage.path(landing)
    if not root.is_dir():
        raise LandingError(f"landing {landing} is not a directory; pass the landing root "
                           "(the folder holding dt=YYYY-MM-DD/)")
    return root if storage.is_url(landing) else root.resolve()


def landing_files(landing: str, config: LandingConfig = LandingConfig()) -> list[Path]:
    """Every regular landing file of ``dt=*/`` with a landing suffix; a symlink counts as its
    target when that stays inside the landing root, and is skipped when it leaves it."""
    root = landing_root(landing)
    remote = storage.is_url(landing)  # an object store has no symlinks
    found: set[Path] = set()
    for day in sorted(root.glob("dt=*")):
        if (not remote and day.is_symlink()) or not day.is_dir():
            continue
        for path in sorted(day.iterdir()):
            if not path.name.endswith(config.suffixes):
                continue
            if not remote and path.is_symlink():
                path = path.resolve()
                if not path.is_relative_to(root):
                    continue
            if path.is_file():
                found.add(path)
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# Finding an erased user's lines


class _ErasedMatcher:
    """Says whether a raw user id belongs to an erased pseudonym (one HMAC chain per id)."""

    def __init__(self, ring: list[bytes], erased: set[str]):
        self._ring = ring
        self._erased = erased
        self._seen: dict[str, bool] = {}

    def any_erased(self, user_ids: set[str]) -> bool:
        for user_id in user_ids:
            if user_id not in self._seen:
                self._seen[user_id] = pseudonym.pseudonymize_ring(self._ring, user_id) in self._erased
            if self._seen[user_id]:
                return True
        return False


def line_user_ids(line: bytes) -> set[str]:
    """Every ``user_id`` string a line names: of a JSON line, each ``user_id`` member at any
    depth (duplicates and escaped keys included); of any other line, each ``"user_id": "..."``
    pair in its bytes."""
    found: set[str] = set()

    def collect(pairs):
        found.update(v for k, v in pairs if k == "user_id" and isinstance(v, str))
        return None  # the objects themselves are not needed

    try:
        json.loads(line, object_pairs_hook=collect)
        return found
    except (ValueError, RecursionError):
        pass  # not JSON (or too deep): fall back to the raw bytes
    for match in _USER_ID_PAIR.finditer(line):
        try:
            value = json.loads(match.group(1))
        except ValueError:
            continue
        if isinstance(value, str):
            found.add(value)
    return found


def _open(path: Path) -> BinaryIO:
    if storage.is_url(path):  # one GET; segments are at most tens of MiB
        raw = io.BytesIO(storage.read_bytes(path))
        return gzip.GzipFile(fileobj=raw, mode="rb") if path.name.endswith(".gz") else raw
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def _line_heads(stream: BinaryIO, cap: int) -> Iterator[bytes]:
    """Each line's bytes (terminator included), cut to its first ``cap`` bytes when longer."""
    while True:
        head = stream.readline(cap)
        if not head:
            return
        if len(head) == cap and not head.endswith(b"\n"):
            while (rest := stream.readline(cap)) and not rest.endswith(b"\n"):
                pass  # too long to parse: skip to its end
        yield head


def lines_to_drop(path: Path, matcher: _ErasedMatcher, config: LandingConfig) -> set[int]:
    """1-based numbers of the lines of ``path`` that belong to an erased user."""
    drop = set()
    with _open(path) as stream:
        for number, head in enumerate(_line_heads(stream, config.max_line_bytes), start=1):
            if matcher.any_erased(line_user_ids(head)):
                drop.add(number)
    return drop


# ---------------------------------------------------------------------------------------------
# Rewriting a file


def _tmp_path(path: Path) -> Path:
    digest = hashlib.sha256(path.name.encode()).hexdigest()[:16]
    return path.with_name(f"{TMP_PREFIX}{digest}{TMP_SUFFIX}")


def rewrite_without(path: Path, drop: set[int], config: LandingConfig = LandingConfig()) -> None:
    """Replace ``path`` by a copy without the lines numbered ``drop``; atomic, same mode."""
    if storage.is_url(path):
        buffer = io.BytesIO()
        _copy_without(path, drop, buffer, config)
        storage.atomic_write(str(path), buffer.getvalue())  # one PUT
        return
    tmp = _tmp_path(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw_out:
            _copy_without(path, drop, raw_out, config)
            raw_out.flush()
            os.fsync(raw_out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _copy_without(path: Path, drop: set[int], raw_out: BinaryIO, config: LandingConfig) -> None:
    """``path``'s lines but those numbered ``drop`` into ``raw_out`` (recompressed for .gz)."""
    out = (gzip.GzipFile(filename="", mode="wb", fileobj=raw_out, mtime=0,
                         compresslevel=config.gzip_level)
           if path.name.endswith(".gz") else raw_out)
    with _open(path) as src:
        number = 1
        while chunk := src.readline(config.chunk_bytes):
            if number not in drop:
                out.write(chunk)
            if chunk.endswith(b"\n"):
                number += 1
    if out is not raw_out:
        out.close()  # writes the gzip trailer into raw_out


def _clear_debris(root: Path) -> None:
    """Temporary files of a rewrite, and days half deleted, that a killed run left."""
    if storage.is_url(root):
        return  # object-store rewrites and deletions leave no temporary files
    for tmp in root.glob(f"dt=*/{TMP_PREFIX}*{TMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)
    for folder in root.glob(f".dt=*{DELETING_SUFFIX}"):
        shutil.rmtree(folder)


def erase_landing(landing: str, ring: list[bytes], erased: set[str],
                  config: LandingConfig = LandingConfig()) -> dict:
    """Remove every line of the ``erased`` pseudonyms from the landing zone; returns counts.

    Idempotent: a rerun finds nothing and rewrites nothing. A file whose compressed stream is
    damaged cannot be rewritten line by line; it is counted in ``unreadable_files`` and left as
    it is (retention deletes it with its day).
    """
    root = landing_root(landing)
    _clear_debris(root)
    summary = {"files_scanned": 0, "files_rewritten": 0, "lines_removed": 0,
               "unreadable_files": 0}
    if not erased:
        return summary
    matcher = _ErasedMatcher(ring, erased)
    for path in landing_files(str(root), config):
        try:
            drop = lines_to_drop(path, matcher, config)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            summary["unreadable_files"] += 1
            # The file name is the application's choice: log its folder and a hash only.
            log.warning("landing file %s/<sha256 %s> is damaged (%s); its lines cannot be erased "
                        "one by one: delete the file, or let retention delete its day",
                        path.parent.name, hashlib.sha256(path.name.encode()).hexdigest()[:12],
                        type(exc).__name__)
            continue
        summary["files_scanned"] += 1
        if drop:
            rewrite_without(path, drop, config)
            summary["files_rewritten"] += 1
            summary["lines_removed"] += len(drop)
    return summary


# ---------------------------------------------------------------------------------------------
# Retention


def curated_days(wh: str, config: LandingConfig = LandingConfig()) -> set[str]:
    return {dt for table in config.curated_tables for dt in partitions.partition_files(wh, table)}


def latest_curated_day(wh: str, config: LandingConfig = LandingConfig()) -> str | None:
    days = curated_days(wh, config)
    return max(days) if days else None


def _day_of(folder: Path) -> date | None:
    match = _DAY_DIR.fullmatch(folder.name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def apply_retention(landing: str, wh: str, as_of: str, retention_days: int,
                    config: LandingConfig = LandingConfig()) -> dict:
    """Delete the landing days more than ``retention_days`` before ``as_of`` that are curated.

    A day the warehouse has no committed partition for is kept (and reported): deleting it
    would lose data nobody curated. Each day goes atomically: renamed out of ``dt=*`` first.
    """
    if retention_days < 0:
        raise LandingError(f"--landing-retention-days {retention_days} is negative; pass 0 or more")
    root = landing_root(landing)
    _clear_debris(root)
    cutoff = date.fromisoformat(as_of) - timedelta(days=retention_days)
    curated = curated_days(wh, config)
    deleted, kept_uncurated = [], []
    for folder in sorted(root.glob("dt=*")):
        day = _day_of(folder)
        if day is None or day >= cutoff or folder.is_symlink() or not folder.is_dir():
            continue
        if day.isoformat() not in curated:
            kept_uncurated.append(day.isoformat())
            log.warning("landing day %s is past retention but not curated; kept (curate it "
                        "or delete it by hand)", day.isoformat())
            continue
        if storage.is_url(folder):
            folder.fs.rm(folder.path, recursive=True)
        else:
            doomed = folder.with_name(f".{folder.name}{DELETING_SUFFIX}")
            os.replace(folder, doomed)
            shutil.rmtree(doomed)
        deleted.append(day.isoformat())
    return {"as_of": as_of, "retention_days": retention_days, "cutoff": cutoff.isoformat(),
            "days_deleted": deleted, "days_kept_uncurated": kept_uncurated}
