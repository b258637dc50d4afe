"""Field rules: one decoded JSON object to a normalized event, or ``Invalid`` with the reason.

Types, required fields, allowed values, id and model-version patterns, metadata keys, text caps and
the timestamp window. ``feedback.contract.parse_line`` calls ``build_event`` after decoding.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from feedback.terms import (
    EVENT_TYPES,
    FEEDBACK_FIELDS,
    FEEDBACK_KINDS,
    FLAG_REASONS,
    ID_PATTERN,
    INT32_MAX,
    INTERACTION_FIELDS,
    INVALID_ID,
    INVALID_METADATA_KEY,
    INVALID_MODEL_VERSION,
    INVALID_TIMESTAMP,
    INVALID_VALUE,
    METADATA_KEY_PATTERN,
    MISSING_EVENT_TYPE,
    MISSING_FIELD,
    MODEL_VERSION_PATTERN,
    NOT_AN_OBJECT,
    NUMBER_OUT_OF_RANGE,
    PREFERRED,
    ROLES,
    TEXT_TOO_LONG,
    TIMESTAMP_OUT_OF_WINDOW,
    TOO_MANY_MESSAGES,
    TOO_MANY_METADATA_KEYS,
    UNKNOWN_EVENT_TYPE,
    WRONG_TYPE,
    Invalid,
)

if TYPE_CHECKING:
    from feedback.contract import ContractLimits

_ID_RE = re.compile(ID_PATTERN)
_MODEL_VERSION_RE = re.compile(MODEL_VERSION_PATTERN)
_METADATA_KEY_RE = re.compile(METADATA_KEY_PATTERN)
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


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
    return value


def _kinds(kinds: tuple[type, ...]) -> str:
    names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
             dict: "object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _app_id(obj: dict, field: str, event_type: str, limits: ContractLimits) -> str:
    """An id the app chose: a token of ID_PATTERN, never free text such as an e-mail."""
    value = _require(obj, field, str, event_type)
    where = f"{event_type}.{field}"
    if not value.strip():
        raise Invalid(INVALID_ID, f"{where} is blank")
    if len(value) > limits.max_id_chars:
        raise Invalid(INVALID_ID, f"{where} is longer than {limits.max_id_chars} characters "
                                  "(ContractLimits.max_id_chars)")
    if not _ID_RE.fullmatch(value):
        raise Invalid(INVALID_ID, f"{where} must match {ID_PATTERN} (letters, digits, '.', '_', "
                                  "':' and '-'; no '@', '/' or spaces)")
    return value


def _user_id(obj: dict, event_type: str, limits: ContractLimits) -> str:
    # Free-form: the pipeline pseudonymizes it before anything stores it.
    value = _require(obj, "user_id", str, event_type)
    if not value.strip():
        raise Invalid(INVALID_ID, f"{event_type}.user_id is blank")
    if len(value) > limits.max_user_id_chars:
        raise Invalid(INVALID_ID, f"{event_type}.user_id is longer than "
                                  f"{limits.max_user_id_chars} characters "
                                  "(ContractLimits.max_user_id_chars)")
    return value


def _model_version(obj: dict, limits: ContractLimits) -> str:
    value = _require(obj, "model_version", str, "interaction")
    if len(value) > limits.max_model_version_chars:
        raise Invalid(INVALID_MODEL_VERSION, "interaction.model_version is longer than "
                      f"{limits.max_model_version_chars} characters "
                      "(ContractLimits.max_model_version_chars)")
    if not _MODEL_VERSION_RE.fullmatch(value):
        raise Invalid(INVALID_MODEL_VERSION, "interaction.model_version must match "
                      f"{MODEL_VERSION_PATTERN} (e.g. v2, flywheel-sft/3, vendor-model-2025-01)")
    return value


def _capped(text: str, where: str, cap_name: str, limits: ContractLimits) -> str:
    cap = getattr(limits, cap_name)
    if len(text) > cap:
        raise Invalid(TEXT_TOO_LONG, f"{where} holds {len(text)} characters, over the limit of "
                                     f"{cap} (ContractLimits.{cap_name})")
    return text


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
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        # 9999-12-31T23:00-05:00 is year 10000 in UTC; 0001-01-01T00:00+01:00 is year 0.
        raise Invalid(INVALID_TIMESTAMP, f"{where} is outside years 1..9999 once converted "
                                         "to UTC") from exc


@functools.lru_cache(maxsize=64)
def _window(day: date, limits: ContractLimits) -> tuple[datetime, datetime]:
    """[first, end) instants a timestamp may fall in for the partition of ``day`` (UTC)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    try:
        first = start - timedelta(days=limits.max_days_before)
    except OverflowError:
        first = datetime.min.replace(tzinfo=UTC)
    try:
        end = start + timedelta(days=1 + limits.max_days_after)
    except OverflowError:
        end = datetime.max.replace(tzinfo=UTC)
    return first, end


def _check_window(ts: datetime, day: date | None, limits: ContractLimits) -> None:
    if day is None:
        return
    first, end = _window(day, limits)
    if not first <= ts < end:
        last = end - timedelta(microseconds=1)
        raise Invalid(TIMESTAMP_OUT_OF_WINDOW, f"timestamp falls on {ts.date()} (UTC), outside "
                      f"{first.date()}..{last.date()} around the partition day {day} "
                      "(ContractLimits.max_days_before / max_days_after)")


def _metadata(obj: dict, known: set[str], event_type: str,
              limits: ContractLimits) -> dict[str, str]:
    """``metadata`` and unknown top-level fields as one string map; the top level wins."""
    sent = _optional(obj, "metadata", dict, event_type) or {}
    extras = {key: value for key, value in obj.items() if key not in known}
    keys = sent.keys() | extras.keys()
    if len(keys) > limits.max_metadata_keys:
        raise Invalid(TOO_MANY_METADATA_KEYS, f"{event_type} has {len(keys)} metadata keys and "
                      f"unknown fields, over the limit of {limits.max_metadata_keys} "
                      "(ContractLimits.max_metadata_keys)")
    for key in keys:
        # Never echo the key: it is whatever the app (or an attacker) put there.
        where = "an unknown top-level field" if key in extras else f"a key of {event_type}.metadata"
        if len(key) > limits.max_metadata_key_chars:
            raise Invalid(INVALID_METADATA_KEY, f"{where} is longer than "
                          f"{limits.max_metadata_key_chars} characters "
                          "(ContractLimits.max_metadata_key_chars)")
        if not _METADATA_KEY_RE.fullmatch(key):
            raise Invalid(INVALID_METADATA_KEY,
                          f"{where} must match {METADATA_KEY_PATTERN} (no '@' or spaces)")
    out = {}
    for source in (sent, extras):
        for key, item in source.items():
            # Numbers and booleans are stringified: metadata is a string map downstream.
            if item is None:
                continue
            text = item if isinstance(item, str) else json.dumps(
                item, sort_keys=True, ensure_ascii=False)
            out[key] = _capped(text, f"a {event_type}.metadata value",
                               "max_metadata_value_chars", limits)
    return out


def _common(obj: dict, event_type: str, day: date | None,
            limits: ContractLimits) -> dict[str, Any]:
    event = {
        "event_id": _app_id(obj, "event_id", event_type, limits),
        "timestamp": parse_timestamp(_require(obj, "timestamp", str, event_type)),
        "user_id": _user_id(obj, event_type, limits),
    }
    _check_window(event["timestamp"], day, limits)
    return event


def _content(content: list, where: str) -> str:
    """OpenAI content parts: the text parts, in order; other types (images, audio) are not text."""
    texts = []
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        if not isinstance(part, dict):
            raise Invalid(WRONG_TYPE, f"{at} must be an object, got {_type_name(part)}")
        kind = part.get("type")
        if kind is None:
            raise Invalid(MISSING_FIELD, f"{at} is missing 'type'")
        if not isinstance(kind, str):
            raise Invalid(WRONG_TYPE, f"{at}.type must be string, got {_type_name(kind)}")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise Invalid(WRONG_TYPE, f"{at}.text must be string, got {_type_name(text)}")
            texts.append(text)
    return "\n".join(texts)


def _messages(obj: dict, limits: ContractLimits) -> list[dict[str, str]]:
    raw = _require(obj, "messages", list, "interaction")
    if not raw:
        raise Invalid(INVALID_VALUE, "interaction.messages must hold at least one message")
    if len(raw) > limits.max_messages:
        raise Invalid(TOO_MANY_MESSAGES, f"interaction.messages holds {len(raw)} messages, over "
                      f"the limit of {limits.max_messages} (ContractLimits.max_messages)")
    out = []
    total = 0
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
            content = _content(content, where)
        if not isinstance(content, str):
            raise Invalid(
                WRONG_TYPE, f"{where}.content must be string, got {_type_name(content)}"
            )
        _capped(content, f"{where}.content", "max_message_chars", limits)
        total += len(content)
        if total > limits.max_history_chars:
            raise Invalid(TEXT_TOO_LONG, f"interaction.messages hold over "
                          f"{limits.max_history_chars} characters together "
                          "(ContractLimits.max_history_chars)")
        out.append({"role": role, "content": content})
    return out


def _interaction(obj: dict, day: date | None, limits: ContractLimits) -> dict[str, Any]:
    event = _common(obj, "interaction", day, limits)
    turn = _require(obj, "turn", int, "interaction")
    if turn < 0:
        raise Invalid(INVALID_VALUE, "interaction.turn must be >= 0")
    if turn > INT32_MAX:
        raise Invalid(NUMBER_OUT_OF_RANGE, f"interaction.turn must be at most {INT32_MAX}")
    consent = _optional(obj, "consent", dict, "interaction") or {}
    training = consent.get("training")
    if training is not None and not isinstance(training, bool):
        raise Invalid(
            WRONG_TYPE, f"interaction.consent.training must be boolean, got {_type_name(training)}"
        )
    latency = _optional(obj, "latency_ms", (int, float), "interaction")
    if latency is not None and latency < 0:
        raise Invalid(INVALID_VALUE, "interaction.latency_ms must be >= 0")
    if latency is not None and latency > limits.max_latency_ms:
        raise Invalid(NUMBER_OUT_OF_RANGE, f"interaction.latency_ms must be at most "
                      f"{limits.max_latency_ms:.0f} (ContractLimits.max_latency_ms)")
    metadata = _metadata(obj, INTERACTION_FIELDS, "interaction", limits)
    conversation_id = _app_id(obj, "conversation_id", "interaction", limits)
    model_version = _model_version(obj, limits)
    messages = _messages(obj, limits)
    response = _require(obj, "response", str, "interaction")
    event.update(
        conversation_id=conversation_id,
        turn=turn,
        model_version=model_version,
        messages=messages,
        response=_capped(response, "interaction.response", "max_response_chars", limits),
        latency_ms=None if latency is None else float(latency),
        # Absent consent means no training use: opting in must be explicit.
        consent_training=bool(training) if training is not None else False,
        metadata=metadata,
    )
    return event


def _feedback_value(obj: dict, kind: str, event: dict, limits: ContractLimits) -> None:
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
        edited = _require(obj, "edited_response", str, "feedback")
        event["edited_response"] = _capped(edited, "feedback.edited_response",
                                           "max_edited_response_chars", limits)
    elif kind == "comparison":
        event["other_interaction_id"] = _app_id(obj, "other_interaction_id", "feedback", limits)
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


def _feedback(obj: dict, day: date | None, limits: ContractLimits) -> dict[str, Any]:
    event = _common(obj, "feedback", day, limits)
    event["interaction_id"] = _app_id(obj, "interaction_id", "feedback", limits)
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
    _feedback_value(obj, kind, event, limits)
    comment = _optional(obj, "comment", str, "feedback")
    event["comment"] = None if comment is None else _capped(
        comment, "feedback.comment", "max_comment_chars", limits)
    event["metadata"] = _metadata(obj, FEEDBACK_FIELDS, "feedback", limits)
    return event


def _deletion(obj: dict, day: date | None, limits: ContractLimits) -> dict[str, Any]:
    return _common(obj, "deletion_request", day, limits)


_BUILDERS = {"interaction": _interaction, "feedback": _feedback, "deletion_request": _deletion}


def build_event(obj: Any, day: date | None, limits: ContractLimits) -> dict[str, Any]:
    """Validate a decoded JSON value; return the normalized event or raise ``Invalid``.

    The checks that need the raw text (duplicate keys, number range, NUL, nesting) are the
    decoder's (``feedback.jsonline``).
    """
    if not isinstance(obj, dict):
        raise Invalid(NOT_AN_OBJECT, f"an event must be a JSON object, got {_type_name(obj)}")
    event_type = obj.get("event_type")
    if event_type is None:
        raise Invalid(MISSING_EVENT_TYPE, "event is missing 'event_type'")
    if not isinstance(event_type, str):
        # A list or an object is unhashable: it must not reach the lookup below.
        raise Invalid(WRONG_TYPE, f"event_type must be string, got {_type_name(event_type)}")
    if event_type not in _BUILDERS:
        raise Invalid(
            UNKNOWN_EVENT_TYPE,
            f"unknown event_type {_shown(event_type)} (expected one of {', '.join(EVENT_TYPES)})",
        )
    event = _BUILDERS[event_type](obj, day, limits)
    event["event_type"] = event_type
    return event
