"""The contract's terms: event types, allowed values, field names, id patterns, reject reasons.

``feedback.contract`` re-exports all of them; the field rules (``feedback.fields``) and the line
decoder (``feedback.jsonline``) raise ``Invalid`` with one of these reasons.
"""

from __future__ import annotations

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
NUL_CHARACTER = "nul_character"
DUPLICATE_KEY = "duplicate_key"
NUMBER_OUT_OF_RANGE = "number_out_of_range"
TOO_DEEPLY_NESTED = "too_deeply_nested"
INVALID_ID = "invalid_id"
INVALID_MODEL_VERSION = "invalid_model_version"
INVALID_METADATA_KEY = "invalid_metadata_key"
TOO_MANY_METADATA_KEYS = "too_many_metadata_keys"
TOO_MANY_MESSAGES = "too_many_messages"
TEXT_TOO_LONG = "text_too_long"
TIMESTAMP_OUT_OF_WINDOW = "timestamp_out_of_window"
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
    NUL_CHARACTER,
    DUPLICATE_KEY,
    NUMBER_OUT_OF_RANGE,
    TOO_DEEPLY_NESTED,
    INVALID_ID,
    INVALID_MODEL_VERSION,
    INVALID_METADATA_KEY,
    TOO_MANY_METADATA_KEYS,
    TOO_MANY_MESSAGES,
    TEXT_TOO_LONG,
    TIMESTAMP_OUT_OF_WINDOW,
)

# App-chosen ids (event_id, conversation_id, interaction_id, other_interaction_id) are opaque
# tokens: UUIDs, `chatcmpl-<hex>`, `req:42`. No '@', '/', spaces or other punctuation, so an
# e-mail address or a name can never pass as an id and reach dedup_index or a report verbatim.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:-]*"
# Model versions are registry names, optionally with a version: `v2`, `flywheel-sft/3`,
# `vendor-model-2025-01`, `org/model:tag`. They are printed in report.html.
MODEL_VERSION_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:/+-]*"
# Metadata keys (and unknown top-level field names, which become metadata keys) are field names.
METADATA_KEY_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"

# Longest id we accept: ids are opaque strings, but a 1 MB "id" is an attack, not an id.
MAX_ID_CHARS = 256
# `turn` and feedback `value` are int32 columns in the warehouse.
INT32_MAX = 2**31 - 1

COMMON_FIELDS = {"event_type", "event_id", "timestamp", "user_id", "metadata"}
INTERACTION_FIELDS = COMMON_FIELDS | {
    "conversation_id", "turn", "model_version", "messages", "response", "latency_ms", "consent",
}
FEEDBACK_FIELDS = COMMON_FIELDS | {
    "interaction_id", "kind", "value", "edited_response", "other_interaction_id", "preferred",
    "reason", "comment",
}
DELETION_FIELDS = COMMON_FIELDS
# Names a reject detail may quote: the contract's own, never an app's key.
CONTRACT_KEYS = INTERACTION_FIELDS | FEEDBACK_FIELDS | {
    "role", "content", "type", "text", "training"}


class Invalid(Exception):
    """One line breaks the contract; ``reason`` is a snake_case reject reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
