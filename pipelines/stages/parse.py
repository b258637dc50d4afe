"""Parse: contract validation, pseudonyms; redelivery: one event per ``event_id``."""

from __future__ import annotations

import hashlib
from datetime import date as Date

import apache_beam as beam

from feedback import contract
from pipelines.stages.base import REJECTS, Stage, reject_row
from warehouse import pseudonym


def last_user_message(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            return message["content"]
    return ""


class _ParseFn(beam.DoFn):
    def __init__(self, key_file: str | None, day: str | None,
                 limits: contract.ContractLimits):
        self._key_file = key_file
        self._day = day
        self._limits = limits
        self._key_ring = None

    def setup(self):
        self._key_ring = pseudonym.load_key_ring(self._key_file)

    def process(self, line: tuple[str, int, bytes]):
        source_file, number, raw = line
        sha = hashlib.sha256(raw).hexdigest()
        parsed = contract.parse_line(
            raw, day=Date.fromisoformat(self._day) if self._day else None, limits=self._limits)
        if not parsed.ok:
            yield beam.pvalue.TaggedOutput(REJECTS, reject_row(
                "parse", parsed.reason, parsed.detail, source_file=source_file,
                source_line=number, raw_sha256=sha))
            return
        event = parsed.event
        # The raw user id goes no further than this line.
        event["user_pseudonym"] = pseudonym.pseudonymize_ring(self._key_ring, event.pop("user_id"))
        event["ts"] = event.pop("timestamp")  # the warehouse's column name
        if event["event_type"] == "interaction":
            event["prompt"] = last_user_message(event["messages"])  # re-set after scrubbing
        event.update(source_file=source_file, source_line=number, raw_sha256=sha)
        yield event


class ParseEvents(Stage):
    """Lines -> valid events (user id pseudonymized) and parse rejects.

    ``day`` is the partition being curated: events timestamped outside the contract's
    plausibility window around it are rejected (None skips that check).
    """

    stage = "parse"

    def __init__(self, key_file: str | None, day: str | None = None,
                 limits: contract.ContractLimits = contract.DEFAULT_LIMITS):
        super().__init__()
        self._key_file = key_file
        self._day = day
        self._limits = limits

    def transform(self, lines):
        parse = _ParseFn(self._key_file, self._day, self._limits)
        out = lines | "Parse" >> beam.ParDo(parse).with_outputs(REJECTS, main="kept")
        return {"kept": out.kept, REJECTS: out[REJECTS]}


def _collapse(item):
    _, events = item
    ordered = sorted(events, key=lambda e: (e["source_file"], e["source_line"]))
    first = ordered[0]
    yield first
    for other in ordered[1:]:
        same = other["raw_sha256"] == first["raw_sha256"]
        yield beam.pvalue.TaggedOutput(REJECTS, reject_row(
            "redelivery", "redelivered",
            f"event_id seen first at {first['source_file']}:{first['source_line']}"
            + ("" if same else " (content differs; the first delivery wins)"),
            event=other, duplicate_of=first["event_id"]))


class CollapseRedeliveries(Stage):
    """Same ``event_id`` twice: the first delivery (by file, line) wins, the rest are rejects."""

    stage = "redelivery"

    def transform(self, events):
        out = (
            events
            | "KeyById" >> beam.Map(lambda e: (e["event_id"], e))
            | "GroupById" >> beam.GroupByKey()
            | "KeepFirst" >> beam.FlatMap(_collapse).with_outputs(REJECTS, main="kept")
        )
        return {"kept": out.kept, REJECTS: out[REJECTS]}
