"""The event contract: what applications send us, and how one line is judged.

Applications write JSON Lines into ``LANDING/dt=YYYY-MM-DD/*.jsonl`` (or ``.jsonl.gz``), one event
per line, types mixed and discriminated by ``event_type``. ``parse_line`` turns one raw line into
either a normalized event dict or a rejection ``(reason, detail)``, and never raises. Details never
quote values a user sent (they could be PII): they name fields, types, limits and allowed values.

Every bound a line must respect is a field of ``ContractLimits``; docs/events.md lists them with
the reject reasons. The terms (event types, reasons, patterns) are ``feedback.terms``, the field
rules ``feedback.fields`` and the line decoder ``feedback.jsonline``; import them from here.

The pyarrow schemas here describe the normalized events; the warehouse tables that the pipeline
writes are in ``warehouse.schemas``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from feedback import fields as event_fields
from feedback.fields import parse_timestamp
from feedback.jsonline import decode, line_text
from feedback.terms import (
    DUPLICATE_KEY,
    EMPTY_LINE,
    EVENT_TYPES,
    FEEDBACK_KINDS,
    FLAG_REASONS,
    ID_PATTERN,
    INT32_MAX,
    INVALID_ID,
    INVALID_JSON,
    INVALID_METADATA_KEY,
    INVALID_MODEL_VERSION,
    INVALID_TIMESTAMP,
    INVALID_UTF8,
    INVALID_VALUE,
    MAX_ID_CHARS,
    METADATA_KEY_PATTERN,
    MISSING_EVENT_TYPE,
    MISSING_FIELD,
    MODEL_VERSION_PATTERN,
    NOT_AN_OBJECT,
    NUL_CHARACTER,
    NUMBER_OUT_OF_RANGE,
    PARSE_REASONS,
    PREFERRED,
    ROLES,
    TEXT_TOO_LONG,
    TIMESTAMP_OUT_OF_WINDOW,
    TOO_DEEPLY_NESTED,
    TOO_MANY_MESSAGES,
    TOO_MANY_METADATA_KEYS,
    UNKNOWN_EVENT_TYPE,
    WRONG_TYPE,
    Invalid,
)

__all__ = [
    "DEFAULT_LIMITS", "DELETION_SCHEMA", "DUPLICATE_KEY", "EMPTY_LINE", "EVENT_TYPES",
    "FEEDBACK_KINDS", "FEEDBACK_SCHEMA", "FLAG_REASONS", "ID_PATTERN", "INT32_MAX",
    "INTERACTION_SCHEMA", "INVALID_ID", "INVALID_JSON", "INVALID_METADATA_KEY",
    "INVALID_MODEL_VERSION", "INVALID_TIMESTAMP", "INVALID_UTF8", "INVALID_VALUE", "MAX_ID_CHARS",
    "MESSAGE_TYPE", "METADATA_KEY_PATTERN", "MISSING_EVENT_TYPE", "MISSING_FIELD",
    "MODEL_VERSION_PATTERN", "NOT_AN_OBJECT", "NUL_CHARACTER", "NUMBER_OUT_OF_RANGE",
    "PARSE_REASONS", "PREFERRED", "ROLES", "SCHEMA_BY_EVENT_TYPE", "TEXT_TOO_LONG",
    "TIMESTAMP_OUT_OF_WINDOW", "TOO_DEEPLY_NESTED", "TOO_MANY_MESSAGES", "TOO_MANY_METADATA_KEYS",
    "UNKNOWN_EVENT_TYPE", "WRONG_TYPE", "ContractLimits", "Invalid", "Parsed", "format_timestamp",
    "parse_line", "parse_timestamp", "to_json_record", "validate_event",
]


@dataclass(frozen=True)
class ContractLimits:
    """Every bound ``parse_line`` enforces; a line past one is rejected with the reason named.

    Caps on text are checked before any scrubbing, so that their worst case bounds the
    scrubber's cost (about 10 s per 100,000 characters) per event.
    """

    # event_id, conversation_id, interaction_id, other_interaction_id (invalid_id). A UUID
    # is 36; 256 leaves room for prefixed ids and is what the contract always documented.
    max_id_chars: int = MAX_ID_CHARS
    # user_id is free-form (pseudonymized at parse), only bounded (invalid_id).
    max_user_id_chars: int = 256
    # invalid_model_version: registry name plus version, with room for an org prefix.
    max_model_version_chars: int = 128
    # too_many_metadata_keys: `metadata` keys plus unknown top-level fields; apps send ~5.
    max_metadata_keys: int = 32
    # invalid_metadata_key: a field name, not a sentence.
    max_metadata_key_chars: int = 64
    # text_too_long: one metadata value (nested values count as their JSON text); 32 keys of
    # 1,024 bound metadata at ~3 s of scrubbing.
    max_metadata_value_chars: int = 1_024
    # text_too_long: a user's comment is a sentence or two, not a document.
    max_comment_chars: int = 5_000
    # text_too_long: an edit is a corrected response, so the same cap as a response.
    max_edited_response_chars: int = 50_000
    # text_too_long: ~12k tokens, above the longest answer common models return (the
    # simulator's over-long junk answers are ~20k characters and must still be curated).
    max_response_chars: int = 50_000
    # text_too_long: one message's content (a pasted document in a prompt).
    max_message_chars: int = 100_000
    # text_too_long: all messages' content together (~50k tokens of history).
    max_history_chars: int = 200_000
    # too_many_messages: messages in one interaction's history.
    max_messages: int = 256
    # number_out_of_range: one day; a longer latency is a clock bug, not a measurement.
    max_latency_ms: float = 86_400_000.0
    # too_deeply_nested: arrays/objects inside each other; the contract needs 5
    # (event > messages > message > content parts > part).
    max_nesting_depth: int = 32
    # timestamp_out_of_window, applied only when parse_line is given the partition's day.
    # Clients buffer offline and retry (a phone off the network for a week still delivers);
    # older events are more likely replays or broken clocks.
    max_days_before: int = 7
    # A UTC day ahead covers every time zone (+14:00) and small clock skew; further ahead
    # is a client clock that is wrong.
    max_days_after: int = 1

    def __post_init__(self):
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(
                    f"ContractLimits.{item.name} must be a number >= 0, got {value!r}"
                )


DEFAULT_LIMITS = ContractLimits()

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])

INTERACTION_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("user_id", pa.string()),
        ("conversation_id", pa.string()),
        ("turn", pa.int32()),
        ("model_version", pa.string()),
        ("messages", pa.list_(MESSAGE_TYPE)),
        ("response", pa.string()),
        ("latency_ms", pa.float64()),
        ("consent_training", pa.bool_()),
        ("metadata", pa.map_(pa.string(), pa.string())),
    ]
)

FEEDBACK_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("user_id", pa.string()),
        ("interaction_id", pa.string()),
        ("kind", pa.string()),
        ("value", pa.int32()),
        ("edited_response", pa.string()),
        ("other_interaction_id", pa.string()),
        ("preferred", pa.string()),
        ("reason", pa.string()),
        ("comment", pa.string()),
        ("metadata", pa.map_(pa.string(), pa.string())),
    ]
)

DELETION_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("user_id", pa.string()),
    ]
)

SCHEMA_BY_EVENT_TYPE = {
    "interaction": INTERACTION_SCHEMA,
    "feedback": FEEDBACK_SCHEMA,
    "deletion_request": DELETION_SCHEMA,
}


@dataclass(frozen=True)
class Parsed:
    """Outcome of ``parse_line``: an event, or a reason and detail."""

    event: dict[str, Any] | None
    reason: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.event is not None


def validate_event(obj: Any, *, day: date | None = None,
                   limits: ContractLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Validate a decoded JSON value; return the normalized event or raise ``Invalid``.

    For a landing line call ``parse_line``: the checks that need the text (duplicate keys,
    numbers that overflow, NUL, nesting) happen while decoding it.
    """
    return event_fields.build_event(obj, day, limits)


def parse_line(raw: bytes | str, *, day: date | None = None,
               limits: ContractLimits = DEFAULT_LIMITS) -> Parsed:
    """Judge one landing line. Never raises: bad input is data, with a reason.

    ``day`` is the partition's day (``dt=``); when given, a timestamp outside
    ``limits.max_days_before`` .. ``limits.max_days_after`` days around it (UTC) is rejected.
    """
    try:
        text = line_text(raw)
        if not text.strip():
            return Parsed(None, EMPTY_LINE, "the line is blank")
        return Parsed(event_fields.build_event(decode(text, limits), day, limits))
    except Invalid as exc:
        return Parsed(None, exc.reason, exc.detail)


def to_json_record(event: dict[str, Any]) -> dict[str, Any]:
    """Inverse of ``validate_event`` for documentation and the simulator: contract JSON."""
    out = {key: value for key, value in event.items() if value is not None}
    if isinstance(out.get("timestamp"), datetime):
        out["timestamp"] = format_timestamp(out["timestamp"])
    if "consent_training" in out:
        out["consent"] = {"training": out.pop("consent_training")}
    if not out.get("metadata"):
        out.pop("metadata", None)
    return out


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision and a 'Z'."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
