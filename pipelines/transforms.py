"""The curation job's stages as composite PTransforms.

Every stage sends bad or dropped records to a ``rejects`` output (rows of
``pipelines.schemas.REJECTS``) and reports Beam counters ``<stage>/in``, ``<stage>/out`` and
``<stage>/dropped_<reason>``. The stage's tallies for the ``stats`` table are computed from the
data itself (``TallyStage``), so they reconcile exactly on any runner.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.metrics import Metrics

from feedback import contract
from pipelines import pseudonym
from pipelines.quality import FilterConfig, judge

REJECTS_TAG = "rejects"


def reject_row(stage: str, reason: str, detail: str, *, event: dict | None = None,
               source_file: str | None = None, source_line: int | None = None,
               raw_sha256: str | None = None, duplicate_of: str | None = None) -> dict:
    event = event or {}
    return {
        "stage": stage,
        "reason": reason,
        "detail": detail,
        "event_type": event.get("event_type"),
        "event_id": event.get("event_id"),
        "user_pseudonym": event.get("user_pseudonym"),
        "duplicate_of": duplicate_of,
        "source_file": source_file or event.get("source_file"),
        "source_line": source_line if source_line is not None else event.get("source_line"),
        "raw_sha256": raw_sha256 or event.get("raw_sha256"),
    }


def _count(stage: str, name: str, n: int = 1) -> None:
    Metrics.counter(stage, name).inc(n)


# ---------------------------------------------------------------------------------------------
# Read
# ---------------------------------------------------------------------------------------------


class _ReadLinesFn(beam.DoFn):
    """Yields (source_file, line_number, raw_bytes) for each line of one landing file.

    Bytes, not text: invalid UTF-8 must reach the parser to be rejected with its reason.
    """

    def __init__(self, landing: str):
        self._landing = landing.rstrip("/")

    def process(self, readable: fileio.ReadableFile) -> Iterable[tuple[str, int, bytes]]:
        path = readable.metadata.path
        name = path[len(self._landing):].lstrip("/") if path.startswith(self._landing) else path
        with readable.open(compression_type=beam.io.filesystem.CompressionTypes.UNCOMPRESSED) as raw:
            data = raw.read()
        if path.endswith(".gz"):
            try:
                data = gzip.GzipFile(fileobj=io.BytesIO(data)).read()
            except (OSError, EOFError) as exc:
                # A corrupt archive is one reject row, not a crashed job.
                yield beam.pvalue.TaggedOutput(REJECTS_TAG, reject_row(
                    "read", "unreadable_file", f"gzip error: {type(exc).__name__}",
                    source_file=name, source_line=0,
                    raw_sha256=hashlib.sha256(data).hexdigest()))
                return
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # the newline that ends the last line opens no new one
        for number, line in enumerate(lines, start=1):
            yield (name, number, line.rstrip(b"\r"))


class ReadLandingLines(beam.PTransform):
    """All lines of ``LANDING/dt=DATE/*.jsonl[.gz]``, spread across workers after reading."""

    def __init__(self, landing: str, date: str):
        super().__init__()
        self._landing = landing
        self._date = date

    def expand(self, pbegin):
        pattern = f"{self._landing.rstrip('/')}/dt={self._date}/*.jsonl*"
        files = (
            pbegin
            | "Match" >> fileio.MatchFiles(pattern, empty_match_treatment=fileio.EmptyMatchTreatment.ALLOW)
            | "ReadMatches" >> fileio.ReadMatches()
        )
        read = files | "ReadLines" >> beam.ParDo(_ReadLinesFn(self._landing)).with_outputs(
            REJECTS_TAG, main="lines")
        # Fusion would keep each file's lines on the worker that read it.
        lines = read.lines | "Spread" >> beam.Reshuffle()
        return {"lines": lines, REJECTS_TAG: read[REJECTS_TAG]}


# ---------------------------------------------------------------------------------------------
# Parse and validate
# ---------------------------------------------------------------------------------------------


class _ParseFn(beam.DoFn):
    def __init__(self, key_file: str | None):
        self._key_file = key_file
        self._key_ring = None

    def setup(self):
        self._key_ring = pseudonym.load_key_ring(self._key_file)

    def process(self, line: tuple[str, int, bytes]):
        source_file, number, raw = line
        sha = hashlib.sha256(raw).hexdigest()
        _count("parse", "in")
        parsed = contract.parse_line(raw)
        if not parsed.ok:
            _count("parse", f"dropped_{parsed.reason}")
            yield beam.pvalue.TaggedOutput(REJECTS_TAG, reject_row(
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
        _count("parse", "out")
        yield event


class ParseEvents(beam.PTransform):
    """Lines -> valid events (user id pseudonymized) and parse rejects."""

    def __init__(self, key_file: str | None):
        super().__init__()
        self._key_file = key_file

    def expand(self, lines):
        out = lines | "Parse" >> beam.ParDo(_ParseFn(self._key_file)).with_outputs(
            REJECTS_TAG, main="events")
        return {"events": out.events, REJECTS_TAG: out[REJECTS_TAG]}


# ---------------------------------------------------------------------------------------------
# Re-deliveries
# ---------------------------------------------------------------------------------------------


def _collapse(item):
    event_id, events = item
    ordered = sorted(events, key=lambda e: (e["source_file"], e["source_line"]))
    first = ordered[0]
    yield first
    for other in ordered[1:]:
        same = other["raw_sha256"] == first["raw_sha256"]
        _count("redelivery", "dropped_redelivered")
        yield beam.pvalue.TaggedOutput(REJECTS_TAG, reject_row(
            "redelivery", "redelivered",
            f"event_id seen first at {first['source_file']}:{first['source_line']}"
            + ("" if same else " (content differs; the first delivery wins)"),
            event=other, duplicate_of=first["event_id"]))


class CollapseRedeliveries(beam.PTransform):
    """Same ``event_id`` twice: the first delivery (by file, line) wins, the rest are rejects."""

    def expand(self, events):
        out = (
            events
            | "KeyById" >> beam.Map(lambda e: (e["event_id"], e))
            | "GroupById" >> beam.GroupByKey()
            | "KeepFirst" >> beam.FlatMap(_collapse).with_outputs(REJECTS_TAG, main="events")
        )
        return {"events": out.events, REJECTS_TAG: out[REJECTS_TAG]}


# ---------------------------------------------------------------------------------------------
# Erasure at ingest
# ---------------------------------------------------------------------------------------------


def _drop_erased(event, erased: Iterable[str]):
    erased_set = erased if isinstance(erased, (set, frozenset)) else set(erased)
    if event["event_type"] != "deletion_request" and event["user_pseudonym"] in erased_set:
        _count("erasure", "dropped_user_erased")
        yield beam.pvalue.TaggedOutput(REJECTS_TAG, reject_row(
            "erasure", "user_erased", "the user asked for erasure; their events are not kept",
            event=event))
        return
    yield event


class DropErasedUsers(beam.PTransform):
    """Events of users who asked to be erased (today or before) never enter the warehouse."""

    def __init__(self, erased_pseudonyms):
        super().__init__()
        self._erased = erased_pseudonyms

    def expand(self, events):
        out = events | "Drop" >> beam.FlatMap(
            _drop_erased, erased=beam.pvalue.AsList(self._erased)
        ).with_outputs(REJECTS_TAG, main="events")
        return {"events": out.events, REJECTS_TAG: out[REJECTS_TAG]}


# ---------------------------------------------------------------------------------------------
# Attach feedback to interactions
# ---------------------------------------------------------------------------------------------


def _attach(item):
    interaction_id, groups = item
    interactions = list(groups["interaction"])
    feedback = list(groups["feedback"])
    past_dates = sorted(groups["past"])
    if interactions and past_dates:
        for interaction in interactions:
            yield beam.pvalue.TaggedOutput(REJECTS_TAG, reject_row(
                "attach", "redelivered",
                f"event_id already in the warehouse (dt={past_dates[0]})",
                event=interaction, duplicate_of=interaction_id))
        interactions = []
    if interactions:
        interaction = dict(interactions[0])
        interaction["n_feedback"] = len(feedback)
        interaction["flag_reasons"] = sorted({f["reason"] for f in feedback if f["kind"] == "flag"})
        interaction["flagged"] = bool(interaction["flag_reasons"])
        yield interaction
        for item_feedback in feedback:
            yield beam.pvalue.TaggedOutput("pending", dict(item_feedback))
    elif past_dates:
        for item_feedback in feedback:
            attached = dict(item_feedback)
            attached.update(original_interaction_id=interaction_id,
                            interaction_dt=past_dates[0])
            yield beam.pvalue.TaggedOutput("attached", attached)
    else:
        for item_feedback in feedback:
            yield beam.pvalue.TaggedOutput(REJECTS_TAG, reject_row(
                "attach", "orphan_feedback",
                "interaction_id matches no interaction of this day or the look-back window",
                event=item_feedback))


class AttachFeedback(beam.PTransform):
    """Joins feedback to its interaction: today's (pending until dedup) or a past day's.

    ``past_ids`` is a PCollection of (event_id, dt) of interactions already in the warehouse.
    Outputs: ``interactions`` (with ``n_feedback``, ``flagged``), ``pending`` feedback (on
    today's interactions), ``attached`` feedback (on past interactions), ``rejects``.
    """

    def __init__(self, past_ids):
        super().__init__()
        self._past_ids = past_ids

    def expand(self, events):
        interactions = events["interactions"] | "KeyInteractions" >> beam.Map(
            lambda e: (e["event_id"], e))
        feedback = events["feedback"] | "KeyFeedback" >> beam.Map(lambda e: (e["interaction_id"], e))
        out = (
            {"interaction": interactions, "feedback": feedback, "past": self._past_ids}
            | "Join" >> beam.CoGroupByKey()
            | "Attach" >> beam.FlatMap(_attach).with_outputs(
                REJECTS_TAG, "pending", "attached", main="interactions")
        )
        return {"interactions": out.interactions, "pending": out.pending,
                "attached": out.attached, REJECTS_TAG: out[REJECTS_TAG]}


# ---------------------------------------------------------------------------------------------
# Quality filter
# ---------------------------------------------------------------------------------------------


class _FilterFn(beam.DoFn):
    def __init__(self, config: FilterConfig):
        self._config = config

    def process(self, record):
        _count("filter", "in")
        keep, reason, scores = judge(record, self._config)
        if not keep:
            _count("filter", f"dropped_{reason}")
            yield beam.pvalue.TaggedOutput(REJECTS_TAG, reject_row(
                "filter", reason, _filter_detail(reason, scores), event=record))
            return
        _count("filter", "out")
        kept = dict(record)
        kept.update({k: v for k, v in scores.items() if k != "q_mean_word_length"})
        yield kept


def _filter_detail(reason: str, scores: dict) -> str:
    shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in scores.items()}
    return f"{reason}: " + ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))


class FilterQuality(beam.PTransform):
    """Heuristic and feedback-aware quality filters; dropped records become rejects."""

    def __init__(self, config: FilterConfig):
        super().__init__()
        self._config = config

    def expand(self, records):
        out = records | "Judge" >> beam.ParDo(_FilterFn(self._config)).with_outputs(
            REJECTS_TAG, main="kept")
        return {"kept": out.kept, REJECTS_TAG: out[REJECTS_TAG]}


# ---------------------------------------------------------------------------------------------
# PII
# ---------------------------------------------------------------------------------------------


def _text_slots(record: dict) -> list[tuple[str, object]]:
    """The free-text fields of an interaction or feedback record, as (field, key) slots."""
    slots: list[tuple[str, object]] = []
    for index, _ in enumerate(record.get("messages") or ()):
        slots.append(("messages", index))
    for field in ("response", "edited_response", "comment"):
        if record.get(field):
            slots.append((field, None))
    for key in sorted(record.get("metadata") or {}):
        slots.append(("metadata", key))
    return slots


def _get(record: dict, slot) -> str:
    field, key = slot
    if field == "messages":
        return record["messages"][key]["content"]
    if field == "metadata":
        return record["metadata"][key]
    return record[field]


def _set(record: dict, slot, value: str) -> None:
    field, key = slot
    if field == "messages":
        record["messages"][key] = {**record["messages"][key], "content": value}
    elif field == "metadata":
        record["metadata"][key] = value
    else:
        record[field] = value


def _slot_groups(record: dict) -> list[list[tuple[str, object]]]:
    """The text slots scrubbed together: all user messages as one group, every other slot alone.

    A user who types a phone number across two messages is still typing one phone number; the
    scrubber detects a group as one text and replaces the pieces in each message.
    """
    slots = _text_slots(record)
    messages = record.get("messages") or ()
    user = [slot for slot in slots
            if slot[0] == "messages" and messages[slot[1]].get("role") == "user"]
    return ([user] if user else []) + [[slot] for slot in slots if slot not in user]


class _ScrubFn(beam.DoFn):
    """Scrubs a batch of records with one batched pass through the scrubber."""

    def __init__(self, config):
        self._config = config
        self._scrubber = None

    def setup(self):
        from pipelines.pii import PiiScrubber

        self._scrubber = PiiScrubber(self._config)
        self._scrubber.setup()

    def process(self, batch: list[dict]):
        records = [dict(r, messages=list(r.get("messages") or []),
                        metadata=dict(r.get("metadata") or {})) for r in batch]
        groups = [(i, group) for i, r in enumerate(records) for group in _slot_groups(r)]
        results = self._scrubber.scrub_groups(
            [[_get(records[i], slot) for slot in group] for i, group in groups])
        findings: list[dict[str, int]] = [{} for _ in records]
        for (i, group), group_results in zip(groups, results, strict=True):
            for slot, result in zip(group, group_results, strict=True):
                _set(records[i], slot, result.text)
                for entity, n in result.findings.items():
                    findings[i][entity] = findings[i].get(entity, 0) + n
                    _count("scrub", f"pii_{entity}", n)
        for record, found in zip(records, findings, strict=True):
            record["pii_findings"] = found
            if record.get("event_type") == "interaction":
                record["prompt"] = last_user_message(record["messages"])
            _count("scrub", "out")
            yield record


def last_user_message(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            return message["content"]
    return ""


class ScrubPII(beam.PTransform):
    """Replaces PII in every free-text field with typed placeholders; counts findings per type."""

    def __init__(self, config, max_batch_size: int = 256):
        super().__init__()
        self._config = config
        self._max_batch_size = max_batch_size

    def expand(self, records):
        return (
            records
            | "Batch" >> beam.BatchElements(min_batch_size=8, max_batch_size=self._max_batch_size)
            | "Scrub" >> beam.ParDo(_ScrubFn(self._config))
        )


# ---------------------------------------------------------------------------------------------
# Resolve today's feedback after dedup
# ---------------------------------------------------------------------------------------------


def _resolve(item):
    interaction_id, groups = item
    feedback = list(groups["feedback"])
    if not feedback:
        return
    representative = sorted(groups["duplicate_of"])
    dropped = sorted(groups["dropped"])
    if groups["kept"]:
        target = interaction_id
    elif representative:
        target = representative[0]  # a duplicate's feedback applies to the kept copy
    else:
        target = None
    for event in feedback:
        if target is None:
            reason = dropped[0] if dropped else "unknown"
            yield beam.pvalue.TaggedOutput(REJECTS_TAG, reject_row(
                "resolve", "interaction_dropped",
                f"its interaction was dropped ({reason})", event=event))
            continue
        yield (target, dict(event, original_interaction_id=interaction_id,
                            interaction_id=target))


def _date_feedback(item, date: str):
    target, groups = item
    past = sorted(groups["past"])
    # The representative is today's record unless dedup matched a published, earlier one.
    interaction_dt = date if groups["kept"] or not past else past[0]
    for event in groups["feedback"]:
        yield dict(event, interaction_dt=interaction_dt)


def _remap_other(item):
    _, groups = item
    representative = sorted(groups["duplicate_of"])
    for event in groups["feedback"]:
        yield dict(event, other_interaction_id=representative[0]) if representative else event


class ResolveFeedback(beam.PTransform):
    """Points today's feedback at the kept interaction: itself, or its dedup representative.

    ``duplicates`` are (dropped_id, kept_id) pairs from the dedup stages, ``dropped`` are
    (dropped_id, reason) for interactions the filter removed, ``past_ids`` (event_id, dt) of
    published interactions, because a representative can be an earlier day's record.
    """

    def __init__(self, date: str, kept, duplicates, dropped, past_ids):
        super().__init__()
        self._date = date
        self._kept = kept
        self._duplicates = duplicates
        self._dropped = dropped
        self._past_ids = past_ids

    def expand(self, pending):
        kept_ids = self._kept | "KeyKept" >> beam.Map(lambda r: (r["event_id"], 1))
        out = (
            {
                "feedback": pending | "KeyPending" >> beam.Map(lambda f: (f["interaction_id"], f)),
                "kept": kept_ids,
                "duplicate_of": self._duplicates,
                "dropped": self._dropped,
            }
            | "Join" >> beam.CoGroupByKey()
            | "Resolve" >> beam.FlatMap(_resolve).with_outputs(REJECTS_TAG, main="targeted")
        )
        dated = (
            {"feedback": out.targeted, "kept": kept_ids, "past": self._past_ids}
            | "JoinTargets" >> beam.CoGroupByKey()
            | "Date" >> beam.FlatMap(_date_feedback, date=self._date)
        )
        # A comparison's other answer may have been a duplicate too: point it at the kept copy,
        # or the A/B pick would name an answer the warehouse no longer holds.
        parts = dated | "SplitComparisons" >> beam.Partition(
            lambda f, _: 0 if f.get("other_interaction_id") else 1, 2)
        comparisons = (
            {"feedback": parts[0] | "KeyOther" >> beam.Map(
                lambda f: (f["other_interaction_id"], f)),
             "duplicate_of": self._duplicates}
            | "JoinOther" >> beam.CoGroupByKey()
            | "RemapOther" >> beam.FlatMap(_remap_other)
        )
        feedback = (comparisons, parts[1]) | "AllResolved" >> beam.Flatten()
        return {"feedback": feedback, REJECTS_TAG: out[REJECTS_TAG]}


# ---------------------------------------------------------------------------------------------
# Accounting
# ---------------------------------------------------------------------------------------------


class TallyStage(beam.PTransform):
    """((stage, metric, reason), 1) for every element: 'in' or 'out' counts for the stats table."""

    def __init__(self, stage: str, metric: str):
        super().__init__()
        self._key = (stage, metric, "")

    def expand(self, pcoll):
        key = self._key
        return pcoll | "Tally" >> beam.Map(lambda _: (key, 1))
