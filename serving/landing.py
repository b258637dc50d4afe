"""The durable landing writer: append events to an open segment, close it whole.

An event is one JSON line appended with a single ``write(2)`` to the open segment
``LANDING/dt=YYYY-MM-DD/.gateway-<instance>-<seq>.jsonl.open`` (a dot-file that does not match
``*.jsonl``, so the curation job never reads it). Closing a segment flushes it, fsyncs it and
publishes it under its final name ``gateway-<instance>-<seq>.jsonl`` with a no-clobber hard link
(then fsyncs the folder). A segment closes when it reaches ``max_segment_bytes`` or
``max_segment_age_s``, when the event day (UTC, from the clock) moves past its partition, and on
shutdown.

Guarantees: a line is in the page cache before the request that produced it is answered, so a
process crash (``kill -9`` included) loses nothing written; a closed segment only ever holds
whole lines; an open segment left by a dead process is recovered at the next start of any
gateway on that landing zone (cut back to its last newline, then closed); instances with
different ids never write the same file. When the landing zone is an object store (any fsspec
URL but a local one), segments are written in a local spool folder and each closed segment is
uploaded whole under its final name; a failed upload is retried at the next rotation.
"""

from __future__ import annotations

import fcntl
import glob
import json
import logging
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import fsspec

from serving.clock import Clock
from serving.config import LandingConfig

log = logging.getLogger("serving.landing")
INSTANCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$")
OPEN_SUFFIX = ".jsonl.open"


def segment_name(instance: str, seq: int) -> str:
    return f"gateway-{instance}-{seq:06d}.jsonl"


@dataclass
class _Segment:
    day: str
    path: Path  # the open (dot) file
    fd: int
    seq: int
    opened_at: float  # Clock.monotonic()
    size: int = 0
    lines: int = 0


class SegmentWriter:
    """Thread-safe; ``write`` is a few microseconds (one ``write(2)``), safe to call from a handler."""

    def __init__(self, config: LandingConfig, clock: Clock | None = None):
        self.config = config
        self.clock = clock or Clock()
        self.instance = config.instance or secrets.token_hex(4)
        if not INSTANCE_PATTERN.match(self.instance):
            raise ValueError(f"bad landing instance id {self.instance!r}: letters, digits, '_' or '.', "
                             "at most 64, starting with a letter or digit")
        self.fs, self.root = fsspec.core.url_to_fs(config.landing)
        self.local = "file" in _protocols(self.fs)
        if self.local:
            self.stage = Path(self.root)
        else:
            self.stage = Path(config.spool or tempfile.mkdtemp(prefix="flywheel-spool-"))
        self.stage.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._segment: _Segment | None = None
        self._seq = 0
        self.closed_segments: list[str] = []  # final names (URLs for object stores), in order

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> list[str]:
        """Recover open segments that dead writers left behind; the closed names."""
        recovered = recover_open_segments(self.stage)
        if not self.local:
            self._upload_pending()
        return recovered

    def close(self) -> None:
        with self._lock:
            self._close_locked()
        if not self.local:
            self._upload_pending()

    # -- writing ------------------------------------------------------------------------------
    def write(self, record: dict) -> None:
        """Append one contract event (its JSON form, with an RFC 3339 ``timestamp``)."""
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        day = record["timestamp"][:10]
        with self._lock:
            segment = self._segment
            if segment is not None and (segment.day != day
                                        or segment.size + len(line) > self.config.max_segment_bytes):
                self._close_locked()
                segment = None
            if segment is None:
                segment = self._open_locked(day)
            _write_all(segment.fd, line)
            if self.config.fsync_every_line:
                os.fsync(segment.fd)
            segment.size += len(line)
            segment.lines += 1

    def rotate_if_due(self) -> bool:
        """Close the open segment when it is too old or its day is over; True when one closed."""
        closed = False
        with self._lock:
            segment = self._segment
            if segment is not None:
                age = self.clock.monotonic() - segment.opened_at
                today = self.clock.now().strftime("%Y-%m-%d")
                if age >= self.config.max_segment_age_s or segment.day < today:
                    self._close_locked()
                    closed = True
        if not self.local:
            self._upload_pending()
        return closed

    # -- internals ----------------------------------------------------------------------------
    def _open_locked(self, day: str) -> _Segment:
        folder = self.stage / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        while True:
            path = folder / f".{segment_name(self.instance, self._seq)[:-len('.jsonl')]}{OPEN_SUFFIX}"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                self._seq += 1
                continue
            # Held for the segment's life: recovery skips segments whose writer is alive.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._segment = _Segment(day, path, fd, self._seq, self.clock.monotonic())
            self._seq += 1
            return self._segment

    def _close_locked(self) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        try:
            if segment.lines == 0:
                os.unlink(segment.path)
                return
            os.fsync(segment.fd)
            final = _publish(segment.path, self.instance, segment.seq)
        finally:
            os.close(segment.fd)
        log.info("segment closed %s lines=%d bytes=%d", final.name, segment.lines, segment.size)
        if self.local:
            self.closed_segments.append(str(final))

    def _upload_pending(self) -> None:
        for local in sorted(self.stage.glob("dt=*/gateway-*.jsonl")):
            remote = f"{self.root.rstrip('/')}/{local.parent.name}/{local.name}"
            try:
                self.fs.makedirs(f"{self.root.rstrip('/')}/{local.parent.name}", exist_ok=True)
                self.fs.put_file(str(local), remote)  # one object PUT: readers see all or nothing
            except OSError as error:
                log.warning("segment upload of %s failed (%s), retried at the next rotation",
                            local.name, type(error).__name__)
                continue
            local.unlink()
            self.closed_segments.append(self.fs.unstrip_protocol(remote))


def _protocols(fs) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _publish(open_path: Path, instance: str, seq: int) -> Path:
    """Hard-link the open segment to its final name (never over another file), drop the dot-file."""
    final = open_path.with_name(segment_name(instance, seq))
    suffix = 0
    while True:
        try:
            os.link(open_path, final)
            break
        except FileExistsError:  # only after a recovery of the same instance id: keep both
            suffix += 1
            final = open_path.with_name(f"{segment_name(instance, seq)[:-6]}.r{suffix}.jsonl")
    os.unlink(open_path)
    folder = os.open(open_path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename survives a power loss too
    finally:
        os.close(folder)
    return final


_OPEN_NAME = re.compile(r"^\.gateway-(?P<instance>.+)-(?P<seq>\d+)\.jsonl\.open$")


def recover_open_segments(stage: str | Path) -> list[str]:
    """Close the open segments of dead writers under ``stage`` (cut to the last whole line)."""
    recovered = []
    for name in sorted(glob.glob(f"{stage}/dt=*/.gateway-*{OPEN_SUFFIX}")):
        path = Path(name)
        match = _OPEN_NAME.match(path.name)
        if match is None:
            continue
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:  # closed by its writer meanwhile
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its writer is alive
                continue
            whole = _last_newline_end(fd)
            os.ftruncate(fd, whole)
            os.fsync(fd)
            if whole == 0:
                os.unlink(path)
                continue
            final = _publish(path, match["instance"], int(match["seq"]))
            recovered.append(str(final))
            log.warning("recovered %s (%d bytes) left open by a dead writer", final.name, whole)
        finally:
            os.close(fd)
    return recovered


def _last_newline_end(fd: int) -> int:
    """Length of the file up to and including its last newline (0 when there is none)."""
    size = os.fstat(fd).st_size
    block = 64 * 1024
    end = size
    while end > 0:
        start = max(0, end - block)
        chunk = os.pread(fd, end - start, start)
        index = chunk.rfind(b"\n")
        if index >= 0:
            return start + index + 1
        end = start
    return 0
