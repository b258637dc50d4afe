"""The event contract: what applications send us, and how one line is judged.

Applications write JSON Lines into ``LANDING/dt=YYYY-MM-DD/*.jsonl`` (or ``.jsonl.gz``), one event
per line, types mixed and discriminated by ``event_type``. ``parse_line`` turns one raw line into
either a normalized event dict or a rejection ``(reason, detail)``. Details never quote values a
user sent (they could be PII): they name fields, types and allowed values only.

The pyarrow schemas here describe the normalized events; the warehouse tables that the pipeline
writes are in ``warehouse.schemas``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

EVENT_TYPES = ("interaction", "feedback", "deletion_request")
FEEDBACK_KINDS = ("thumbs", "rating", "edit", "comparison", "flag")
FLAG_REASONS = ("unsafe", "wrong", "offensive", "other")
ROLES = ("system", "user", "assistant", "tool", "developer")
PREFERRED = ("this", "other")

# Reject reasons produced by parse_line; snake_case, one per malformed class.
INVALID_UTF8 = "invalid_utf8"
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_EVENT_TYPE = "missing_event_type"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
INVALID_VALUE = "invalid_value"
INVALID_TIMESTAMP = "invalid_timestamp"
EMPTY_LINE = "empty_line"
PARSE_REASONS = (
    INVALID_UTF8,
    INVALID_JSON,
    NOT_AN_OBJECT,
    MISSING_EVENT_TYPE,
    UNKNOWN_EVENT_TYPE,
    MISSING_FIELD,
    WRONG_TYPE,
    INVALID_VALUE,
    INVALID_TIMESTAMP,
    EMPTY_LINE,
)

# Longest id we accept: ids are opaque strings, but a 1 MB "id" is an attack, not an id.
MAX_ID_CHARS = 256
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")

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


class Invalid(Exception):
    """One line breaks the contract; ``reason`` is a snake_case reject reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Parsed:
    """Outcome of ``parse_line``: an event, or a reason and detail."""

    event: dict[str, Any] | None
    reason: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.event is not None


def _shown(value: Any) -> str:
    """A value safe to echo in a reject detail: short tokens only, never free text."""
    if isinstance(value, str) and _SAFE_TOKEN.match(value):
        return repr(value)
    return f"a {type(value).__name__}"


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _require(obj: dict, field: str, kind: type | tuple[type, ...], event_type: str) -> Any:
    if field not in obj or obj[field] is None:
        raise Invalid(MISSING_FIELD, f"{event_type} is missing required field '{field}'")
    return _typed(obj, field, kind, event_type)


def _optional(obj: dict, field: str, kind: type | tuple[type, ...], event_type: str) -> Any:
    if obj.get(field) is None:
        return None
    return _typed(obj, field, kind, event_type)


def _typed(obj: dict, field: str, kind: type | tuple[type, ...], event_type: str) -> Any:
    value = obj[field]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int in Python; a JSON true is never a valid number here.
    if isinstance(value, bool) and bool not in kinds:
        raise Invalid(WRONG_TYPE, f"{event_type}.{field} must be {_kinds(kinds)}, got bool")
    if not isinstance(value, kinds):
        raise Invalid(
            WRONG_TYPE, f"{event_type}.{field} must be {_kinds(kinds)}, got {_type_name(value)}"
        )
    if isinstance(value, str) and field.endswith("_id") and not (0 < len(value) <= MAX_ID_CHARS):
        raise Invalid(
            INVALID_VALUE, f"{event_type}.{field} must be 1..{MAX_ID_CHARS} characters long"
        )
    return value


def _kinds(kinds: tuple[type, ...]) -> str:
    names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
             dict: "object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def parse_timestamp(value: str, where: str = "timestamp") -> datetime:
    """RFC 3339 with a zone ('Z' or an offset) to an aware UTC datetime."""
    text = value.strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", text):
        raise Invalid(
            INVALID_TIMESTAMP,
            f"{where} must be RFC 3339 with a time zone, e.g. 2026-11-28T09:15:00Z",
        )
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError as exc:
        raise Invalid(INVALID_TIMESTAMP, f"{where} is not a real date or time") from exc
    return parsed.astimezone(UTC)


def _string_map(obj: dict, field: str, event_type: str) -> dict[str, str]:
    value = _optional(obj, field, dict, event_type)
    if value is None:
        return {}
    out = {}
    for key, item in value.items():
        # Numbers and booleans are stringified: metadata is a string map downstream.
        if isinstance(item, (dict, list)):
            out[str(key)] = json.dumps(item, sort_keys=True, ensure_ascii=False)
        elif item is None:
            continue
        else:
            out[str(key)] = item if isinstance(item, str) else json.dumps(item)
    return out


def _extras(obj: dict, known: set[str]) -> dict[str, str]:
    """Unknown top-level fields are kept in metadata (JSON-encoded when not a string)."""
    out = {}
    for key, value in obj.items():
        if key in known or value is None:
            continue
        out[key] = value if isinstance(value, str) else json.dumps(
            value, sort_keys=True, ensure_ascii=False
        )
    return out


_COMMON = {"event_type", "event_id", "timestamp", "user_id", "metadata"}
_INTERACTION_FIELDS = _COMMON | {
    "conversation_id", "turn", "model_version", "messages", "response", "latency_ms", "consent",
}
_FEEDBACK_FIELDS = _COMMON | {
    "interaction_id", "kind", "value", "edited_response", "other_interaction_id", "preferred",
    "reason", "comment",
}
_DELETION_FIELDS = _COMMON


def _common(obj: dict, event_type: str) -> dict[str, Any]:
    return {
        "event_id": _require(obj, "event_id", str, event_type),
        "timestamp": parse_timestamp(_require(obj, "timestamp", str, event_type)),
        "user_id": _require(obj, "user_id", str, event_type),
    }


def _messages(obj: dict) -> list[dict[str, str]]:
    raw = _require(obj, "messages", list, "interaction")
    if not raw:
        raise Invalid(INVALID_VALUE, "interaction.messages must hold at least one message")
    out = []
    for index, message in enumerate(raw):
        where = f"interaction.messages[{index}]"
        if not isinstance(message, dict):
            raise Invalid(WRONG_TYPE, f"{where} must be an object, got {_type_name(message)}")
        role = message.get("role")
        content = message.get("content")
        if role is None or content is None:
            missing = "role" if role is None else "content"
            raise Invalid(MISSING_FIELD, f"{where} is missing '{missing}'")
        if not isinstance(role, str):
            raise Invalid(WRONG_TYPE, f"{where}.role must be string, got {_type_name(role)}")
        if role not in ROLES:
            raise Invalid(
                INVALID_VALUE, f"{where}.role {_shown(role)} is not one of {', '.join(ROLES)}"
            )
        if isinstance(content, list):
            # OpenAI content parts: keep the text parts, in order.
            texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
            if not all(isinstance(t, str) for t in texts):
                raise Invalid(WRONG_TYPE, f"{where}.content parts must carry string text")
            content = "\n".join(texts)
        if not isinstance(content, str):
            raise Invalid(
                WRONG_TYPE, f"{where}.content must be string, got {_type_name(content)}"
            )
        out.append({"role": role, "content": content})
    return out


def _interaction(obj: dict) -> dict[str, Any]:
    event = _common(obj, "interaction")
    turn = _require(obj, "turn", int, "interaction")
    if turn < 0:
        raise Invalid(INVALID_VALUE, "interaction.turn must be >= 0")
    consent = _optional(obj, "consent", dict, "interaction") or {}
    training = consent.get("training")
    if training is not None and not isinstance(training, bool):
        raise Invalid(
            WRONG_TYPE, f"interaction.consent.training must be boolean, got {_type_name(training)}"
        )
    latency = _optional(obj, "latency_ms", (int, float), "interaction")
    if latency is not None and latency < 0:
        raise Invalid(INVALID_VALUE, "interaction.latency_ms must be >= 0")
    metadata = _string_map(obj, "metadata", "interaction")
    metadata.update(_extras(obj, _INTERACTION_FIELDS))
    event.update(
        conversation_id=_require(obj, "conversation_id", str, "interaction"),
        turn=turn,
        model_version=_require(obj, "model_version", str, "interaction"),
        messages=_messages(obj),
        response=_require(obj, "response", str, "interaction"),
        latency_ms=None if latency is None else float(latency),
        # Absent consent means no training use: opting in must be explicit.
        consent_training=bool(training) if training is not None else False,
        metadata=metadata,
    )
    return event


def _feedback(obj: dict) -> dict[str, Any]:
    event = _common(obj, "feedback")
    event["interaction_id"] = _require(obj, "interaction_id", str, "feedback")
    kind = _require(obj, "kind", str, "feedback")
    if kind not in FEEDBACK_KINDS:
        raise Invalid(
            INVALID_VALUE,
            f"feedback.kind {_shown(kind)} is not one of {', '.join(FEEDBACK_KINDS)}",
        )
    event.update(
        kind=kind, value=None, edited_response=None, other_interaction_id=None, preferred=None,
        reason=None,
    )
    if kind == "thumbs":
        value = _require(obj, "value", int, "feedback")
        if value not in (1, -1):
            raise Invalid(INVALID_VALUE, "feedback.value for kind 'thumbs' must be 1 or -1")
        event["value"] = value
    elif kind == "rating":
        value = _require(obj, "value", int, "feedback")
        if not 1 <= value <= 5:
            raise Invalid(INVALID_VALUE, "feedback.value for kind 'rating' must be 1..5")
        event["value"] = value
    elif kind == "edit":
        event["edited_response"] = _require(obj, "edited_response", str, "feedback")
    elif kind == "comparison":
        event["other_interaction_id"] = _require(obj, "other_interaction_id", str, "feedback")
        preferred = _require(obj, "preferred", str, "feedback")
        if preferred not in PREFERRED:
            raise Invalid(INVALID_VALUE, "feedback.preferred must be 'this' or 'other'")
        event["preferred"] = preferred
    elif kind == "flag":
        reason = _require(obj, "reason", str, "feedback")
        if reason not in FLAG_REASONS:
            raise Invalid(
                INVALID_VALUE, f"feedback.reason {_shown(reason)} is not one of "
                f"{', '.join(FLAG_REASONS)}",
            )
        event["reason"] = reason
    event["comment"] = _optional(obj, "comment", str, "feedback")
    metadata = _string_map(obj, "metadata", "feedback")
    metadata.update(_extras(obj, _FEEDBACK_FIELDS))
    event["metadata"] = metadata
    return event


def _deletion(obj: dict) -> dict[str, Any]:
    return _common(obj, "deletion_request")


_BUILDERS = {"interaction": _interaction, "feedback": _feedback, "deletion_request": _deletion}


def validate_event(obj: Any) -> dict[str, Any]:
    """Validate a decoded JSON value; return the normalized event or raise ``Invalid``."""
    if not isinstance(obj, dict):
        raise Invalid(NOT_AN_OBJECT, f"an event must be a JSON object, got {_type_name(obj)}")
    event_type = obj.get("event_type")
    if event_type is None:
        raise Invalid(MISSING_EVENT_TYPE, "event is missing 'event_type'")
    if event_type not in _BUILDERS:
        raise Invalid(
            UNKNOWN_EVENT_TYPE,
            f"unknown event_type {_shown(event_type)} (expected one of {', '.join(EVENT_TYPES)})",
        )
    event = _BUILDERS[event_type](obj)
    event["event_type"] = event_type
    return event


# A \uD8xx..\uDFxx escape in the raw text: only then is the (slower) encodability check run.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; RFC 8259 and every other reader do not.
    raise ValueError(f"{name} is not a JSON value")


def _encodable(obj: Any) -> bool:
    """False if a decoded string holds a lone surrogate: it cannot be written as UTF-8."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_line(raw: bytes | str) -> Parsed:
    """Judge one landing line. Never raises: bad input is data, with a reason."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Parsed(None, INVALID_UTF8, f"byte {exc.start} is not valid UTF-8")
    else:
        text = raw
    if not text.strip():
        return Parsed(None, EMPTY_LINE, "the line is blank")
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        # JSONDecodeError is a ValueError; so is our NaN/Infinity refusal.
        detail = getattr(exc, "msg", None) or str(exc) or "too deeply nested"
        return Parsed(None, INVALID_JSON, f"not JSON: {detail}")
    if _SURROGATE_ESCAPE.search(text) and not _encodable(obj):
        return Parsed(
            None, INVALID_VALUE,
            "a string holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff); "
            "send real characters or paired escapes",
        )
    try:
        return Parsed(validate_event(obj))
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
