"""Contract events built from API calls, validated by the pipeline's own contract code.

Every record the gateway writes has passed ``feedback.contract.validate_event``, so curation never
rejects a gateway line for its shape. Ids: ``chatcmpl-<32 hex>`` (the completion id is the
interaction's ``event_id``), ``fb-<32 hex>``, ``del-<32 hex>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets

from feedback.contract import Invalid, format_timestamp, parse_line, validate_event

# Keys of the request's ``metadata`` that the gateway reads itself; the rest is kept as is.
CONSENT_KEY, CONVERSATION_KEY, TURN_KEY = "consent_training", "conversation_id", "turn"
# Event field -> the request field a client must fix.
_REQUEST_FIELD = {"user_id": "user", "conversation_id": "metadata.conversation_id",
                  "turn": "metadata.turn", "messages": "messages", "interaction_id": "interaction_id",
                  "other_interaction_id": "other_interaction_id"}


class BadEvent(ValueError):
    """A request whose event would break the contract: ``param`` names the request field."""

    def __init__(self, message: str, param: str | None, code: str):
        super().__init__(message)
        self.param = param
        self.code = code


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(16)}"


def _param(error: Invalid) -> str | None:
    match = re.search(r"(?:interaction|feedback|deletion_request)\.(\w+)|field '(\w+)'", error.detail)
    if match is None:
        return None
    field = match.group(1) or match.group(2)
    return _REQUEST_FIELD.get(field, field)


def checked(record: dict) -> dict:
    """``record`` unchanged when it satisfies the contract; else ``BadEvent`` naming the field."""
    try:
        validate_event(record)
    except Invalid as error:
        raise BadEvent(error.detail, _param(error), error.reason) from error
    # The line as the landing writer writes it, judged as curation will judge it (NUL
    # characters, nesting and the other line-level rules are not validate_event's).
    parsed = parse_line(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    if not parsed.ok:
        raise BadEvent(parsed.detail, None, parsed.reason)
    return record


def conversation_id(user: str, messages: list[dict]) -> str:
    """Stable over a conversation's turns: a hash of the user and its first message, never text."""
    first = messages[0]["content"] if messages else ""
    return "conv-" + hashlib.sha256(f"{user}\x00{first}".encode()).hexdigest()[:24]


def interaction(*, event_id: str, at: dt.datetime, user: str, messages: list[dict], response: str,
                model_version: str, latency_ms: float, metadata: dict[str, str],
                extra: dict[str, str]) -> dict:
    metadata = dict(metadata)
    consent = metadata.pop(CONSENT_KEY, None)
    if consent not in (None, "true", "false"):
        raise BadEvent("metadata.consent_training must be 'true' or 'false'",
                       "metadata.consent_training", "invalid_value")
    conversation = metadata.pop(CONVERSATION_KEY, None) or conversation_id(user, messages)
    turn_text = metadata.pop(TURN_KEY, None)
    if turn_text is None:
        turn = sum(m["role"] == "assistant" for m in messages)
    elif turn_text.isdigit():
        turn = int(turn_text)
    else:
        raise BadEvent("metadata.turn must be a non-negative integer", "metadata.turn", "invalid_value")
    record = {
        "event_type": "interaction", "event_id": event_id, "timestamp": format_timestamp(at),
        "user_id": user, "conversation_id": conversation, "turn": turn,
        "model_version": model_version, "messages": messages, "response": response,
        "latency_ms": round(latency_ms, 3), "consent": {"training": consent == "true"},
        "metadata": {**metadata, **extra},
    }
    return checked(record)


def feedback(*, event_id: str, at: dt.datetime, body: dict) -> dict:
    record = {"event_type": "feedback", "event_id": event_id, "timestamp": format_timestamp(at),
              "user_id": body.pop("user")}
    record.update({key: value for key, value in body.items() if value is not None})
    return checked(record)


def deletion(*, event_id: str, at: dt.datetime, user: str) -> dict:
    return checked({"event_type": "deletion_request", "event_id": event_id,
                    "timestamp": format_timestamp(at), "user_id": user})
