"""Read: the selected landing files, streamed line by line with bounded memory."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes

from pipelines.stages.base import METRICS, REJECTS, Stage, reject_row
from warehouse import files as storage


@dataclass(frozen=True)
class ReadConfig:
    # One event per line; a chat turn with a long context is a few hundred KB. Past this a
    # line is refused before it is held in memory whole (a 1 GiB line cannot exhaust a worker).
    max_line_bytes: int = 8 * 1024 * 1024
    # Decompressed bytes per file: a 1 MB .gz can inflate to gigabytes (a decompression bomb);
    # reading stops here and the rest of the file is one reject.
    max_file_bytes: int = 4 * 1024 * 1024 * 1024
    # Read size while skipping the rest of an oversize line.
    chunk_bytes: int = 1024 * 1024


UNREADABLE_FILE = "unreadable_file"
LINE_TOO_LONG = "line_too_long"
FILE_TOO_LARGE = "file_too_large"
_DETAIL = {
    LINE_TOO_LONG: "the line is longer than {cap} bytes",
    FILE_TOO_LARGE: "the file holds more than {cap} bytes (decompressed); the rest is not read",
}


def read_lines(stream, config: ReadConfig):
    """(line_number, bytes, problem) per line; ``problem`` is None or a read reject reason."""
    total = 0
    number = 0
    while True:
        line = stream.readline(config.max_line_bytes + 1)
        if not line:
            return
        number += 1
        total += len(line)
        if len(line) > config.max_line_bytes and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n") and total <= config.max_file_bytes:
                line = stream.readline(config.chunk_bytes)
                total += len(line)
            yield number, b"", (FILE_TOO_LARGE if total > config.max_file_bytes
                                else LINE_TOO_LONG)
            if total > config.max_file_bytes:
                return
            continue
        if total > config.max_file_bytes:
            yield number, b"", FILE_TOO_LARGE
            return
        yield number, line.rstrip(b"\n").rstrip(b"\r"), None


class _ReadLinesFn(beam.DoFn):
    """Yields (source_id, line_number, raw_bytes) for each line of one landing file.

    Bytes, not text: invalid UTF-8 must reach the parser to be rejected with its reason.
    """

    def __init__(self, config: ReadConfig):
        self._config = config

    def process(self, landing_file) -> Iterable[tuple[str, int, bytes]]:
        sid = landing_file.source_id
        number = 0
        try:
            with storage.filesystems().open(landing_file.path,
                                  compression_type=CompressionTypes.UNCOMPRESSED) as raw:
                stream = gzip.GzipFile(fileobj=raw) if landing_file.path.endswith(".gz") else raw
                for number, line, problem in read_lines(stream, self._config):
                    if problem is None:
                        yield (sid, number, line)
                        continue
                    cap = (self._config.max_line_bytes if problem == LINE_TOO_LONG
                           else self._config.max_file_bytes)
                    yield beam.pvalue.TaggedOutput(REJECTS, reject_row(
                        "read", problem, _DETAIL[problem].format(cap=cap),
                        source_file=sid, source_line=number))
        except (OSError, EOFError, zlib.error) as exc:
            # A corrupt archive (bad header, bad deflate stream, truncated, bad CRC) is one
            # reject row, not a crashed job; the lines before the damage were read.
            yield beam.pvalue.TaggedOutput(REJECTS, reject_row(
                "read", UNREADABLE_FILE,
                f"{type(exc).__name__} after line {number}: the rest of the file is unreadable",
                source_file=sid, source_line=number))


class ReadLandingLines(Stage):
    """Landing files -> their lines, spread across workers after reading.

    ``out`` counts lines (its input is files, so there is no ``in``); the files the selection
    skipped are counted as ``skipped_files`` per reason.
    """

    stage = "read"
    outputs = ("lines",)
    counts_in = False

    def __init__(self, skipped: tuple[tuple[str, str], ...] = (),
                 config: ReadConfig = ReadConfig()):
        super().__init__()
        self._skipped = tuple(skipped)
        self._config = config

    def transform(self, files):
        read = (
            files
            | "SpreadFiles" >> beam.Reshuffle()  # one worker streams each file
            | "ReadLines" >> beam.ParDo(_ReadLinesFn(self._config)).with_outputs(
                REJECTS, main="lines")
        )
        skipped = files.pipeline | "SkippedFiles" >> beam.Create(
            [(("read", "skipped_files", reason), 1) for _, reason in self._skipped])
        # Fusion would keep each file's lines on the worker that read it.
        lines = read.lines | "Spread" >> beam.Reshuffle()
        return {"lines": lines, REJECTS: read[REJECTS], METRICS: skipped}
