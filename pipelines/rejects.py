"""One row of the ``rejects`` table: what every stage emits for a record it does not keep."""

from __future__ import annotations


def reject_row(stage: str, reason: str, detail: str, *, event: dict | None = None,
               source_file: str | None = None, source_line: int | None = None,
               raw_sha256: str | None = None, duplicate_of: str | None = None) -> dict:
    """One row of the ``rejects`` table; ``detail`` never quotes user text."""
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
