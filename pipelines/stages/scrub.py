"""Scrub: PII in every free-text field becomes a typed placeholder; findings are counted."""

from __future__ import annotations

import apache_beam as beam

from pipelines.stages.base import METRICS, BundleTally, Stage
from pipelines.stages.parse import last_user_message


def text_slots(record: dict) -> list[tuple[str, object]]:
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


def slot_text(record: dict, slot) -> str:
    field, key = slot
    if field == "messages":
        return record["messages"][key]["content"]
    if field == "metadata":
        return record["metadata"][key]
    return record[field]


def set_slot_text(record: dict, slot, value: str) -> None:
    field, key = slot
    if field == "messages":
        record["messages"][key] = {**record["messages"][key], "content": value}
    elif field == "metadata":
        record["metadata"][key] = value
    else:
        record[field] = value


def slot_groups(record: dict) -> list[list[tuple[str, object]]]:
    """The text slots scrubbed together: all user messages as one group, every other slot alone.

    A user who types a phone number across two messages is still typing one phone number; the
    scrubber detects a group as one text and replaces the pieces in each message.
    """
    slots = text_slots(record)
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
        # Presidio and spaCy load on the worker, not in the launcher that builds the graph.
        from pipelines.pii import PiiScrubber

        self._scrubber = PiiScrubber(self._config)
        self._scrubber.setup()

    def process(self, batch: list[dict]):
        records = [dict(r, messages=list(r.get("messages") or []),
                        metadata=dict(r.get("metadata") or {})) for r in batch]
        groups = [(i, group) for i, r in enumerate(records) for group in slot_groups(r)]
        results = self._scrubber.scrub_groups(
            [[slot_text(records[i], slot) for slot in group] for i, group in groups])
        findings: list[dict[str, int]] = [{} for _ in records]
        for (i, group), group_results in zip(groups, results, strict=True):
            for slot, result in zip(group, group_results, strict=True):
                set_slot_text(records[i], slot, result.text)
                for entity, n in result.findings.items():
                    findings[i][entity] = findings[i].get(entity, 0) + n
        for record, found in zip(records, findings, strict=True):
            record["pii_findings"] = found
            if record.get("event_type") == "interaction":
                record["prompt"] = last_user_message(record["messages"])
            yield record


class _Findings(BundleTally):
    """PII findings per entity type, summed per bundle (counters ``scrub/pii_<TYPE>``)."""

    def tallies(self, record: dict):
        return [(("scrub", f"pii_{entity}", ""), n)
                for entity, n in (record.get("pii_findings") or {}).items()]


class ScrubPII(Stage):
    """Replaces PII in every free-text field with typed placeholders; counts findings per type."""

    stage = "scrub"

    def __init__(self, config, max_batch_size: int = 256):
        super().__init__()
        self._config = config
        self._max_batch_size = max_batch_size

    def transform(self, records):
        kept = (
            records
            | "Batch" >> beam.BatchElements(min_batch_size=8, max_batch_size=self._max_batch_size)
            | "Scrub" >> beam.ParDo(_ScrubFn(self._config))
        )
        return {"kept": kept, METRICS: kept | "Findings" >> beam.ParDo(_Findings())}
