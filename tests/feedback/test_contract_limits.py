"""ContractLimits and the documented patterns: what passes at a bound, what fails one past it."""

from __future__ import annotations

import dataclasses
import datetime
import json

import pytest

from feedback import contract as c
from feedback.examples import EXAMPLES

DAY = datetime.date(2026, 11, 28)


def _line(name: str, **changes) -> str:
    record = json.loads(json.dumps(EXAMPLES[name]))
    record.update(changes)
    return json.dumps(record)


def _reason(line: str, **kwargs) -> str | None:
    return c.parse_line(line, **kwargs).reason


@pytest.mark.parametrize(("field", "value"), [
    ("event_id", "chatcmpl-9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
    ("event_id", "req:2026-11-28:000042"),
    ("conversation_id", "conv_01HZX3KQ9V.7"),
    ("model_version", "flywheel-sft/3"),
    ("model_version", "vendor-model-2025-01"),
    ("model_version", "meta-llama/Llama-3.1-8B-Instruct"),
    ("model_version", "llama3:8b+lora"),
    ("user_id", "Jane Roe <jane.roe@example.com>"),  # free-form: pseudonymized at parse
])
def test_gateway_ids_and_model_versions_pass(field, value):
    parsed = c.parse_line(_line("interaction", **{field: value}))
    assert parsed.ok, parsed.detail
    assert parsed.event[field] == value


@pytest.mark.parametrize(("name", "field"), [
    ("interaction", "event_id"), ("interaction", "conversation_id"),
    ("feedback_thumbs", "interaction_id"), ("feedback_comparison", "other_interaction_id"),
    ("deletion_request", "event_id"),
])
@pytest.mark.parametrize("value", ["jane.roe@example.com", "Jane Roe", "a/b", "-leading", "é1"])
def test_an_app_id_that_is_not_a_token_is_rejected(name, field, value):
    parsed = c.parse_line(_line(name, **{field: value}))
    assert parsed.reason == c.INVALID_ID, parsed.detail
    assert value not in parsed.detail


@pytest.mark.parametrize("value", ["jane.roe@example.com", "model v2", "v2\n", "-v2", "/v2"])
def test_a_model_version_outside_the_pattern_is_rejected(value):
    assert _reason(_line("interaction", model_version=value)) == c.INVALID_MODEL_VERSION


def _metadata(n_keys: int, key_chars: int = 4, value_chars: int = 3) -> dict:
    return {f"k{i:0{key_chars - 1}d}": "v" * value_chars for i in range(n_keys)}


def _messages(n: int, chars: int) -> list[dict]:
    return [{"role": "user", "content": "m" * chars} for _ in range(n)]


# (limit, reason past it, line at the limit given the limit's value)
BOUNDS = [
    ("max_id_chars", c.INVALID_ID, lambda n: _line("interaction", event_id="e" * n)),
    ("max_user_id_chars", c.INVALID_ID, lambda n: _line("deletion_request", user_id="u" * n)),
    ("max_model_version_chars", c.INVALID_MODEL_VERSION,
     lambda n: _line("interaction", model_version="v" * n)),
    ("max_metadata_keys", c.TOO_MANY_METADATA_KEYS,
     lambda n: _line("feedback_rating", metadata=_metadata(n))),
    ("max_metadata_key_chars", c.INVALID_METADATA_KEY,
     lambda n: _line("feedback_rating", metadata=_metadata(1, key_chars=n))),
    ("max_metadata_value_chars", c.TEXT_TOO_LONG,
     lambda n: _line("feedback_rating", metadata=_metadata(1, value_chars=n))),
    ("max_comment_chars", c.TEXT_TOO_LONG, lambda n: _line("feedback_flag", comment="c" * n)),
    ("max_edited_response_chars", c.TEXT_TOO_LONG,
     lambda n: _line("feedback_edit", edited_response="e" * n)),
    ("max_response_chars", c.TEXT_TOO_LONG, lambda n: _line("interaction", response="r" * n)),
    ("max_message_chars", c.TEXT_TOO_LONG,
     lambda n: _line("interaction", messages=_messages(1, n))),
    ("max_history_chars", c.TEXT_TOO_LONG,
     lambda n: _line("interaction",
                     messages=_messages(3, n // 4) + _messages(1, n - 3 * (n // 4)))),
    ("max_messages", c.TOO_MANY_MESSAGES, lambda n: _line("interaction", messages=_messages(n, 1))),
    ("max_latency_ms", c.NUMBER_OUT_OF_RANGE,
     lambda n: _line("interaction", latency_ms=n)),
    ("max_nesting_depth", c.TOO_DEEPLY_NESTED,
     # the event object and metadata are two levels; the value holds the rest
     lambda n: _line("feedback_rating").replace(
         '"sidebar"', "[" * (n - 2) + "]" * (n - 2))),
]


@pytest.mark.parametrize(("limit", "reason", "make"), BOUNDS, ids=[b[0] for b in BOUNDS])
def test_a_line_at_a_limit_passes_and_one_past_it_is_rejected(limit, reason, make):
    default = getattr(c.DEFAULT_LIMITS, limit)
    parsed = c.parse_line(make(default))
    assert parsed.ok, (limit, parsed.reason, parsed.detail)
    past = c.parse_line(make(default + 1))
    assert past.reason == reason, (limit, past.reason, past.detail)
    assert f"ContractLimits.{limit}" in past.detail
    # The same limit, configured lower, rejects the line the default accepted.
    tighter = dataclasses.replace(c.DEFAULT_LIMITS, **{limit: default - 4})
    assert _reason(make(default), limits=tighter) == reason


def test_every_limit_has_a_bound_test_or_a_window_test():
    tested = {b[0] for b in BOUNDS} | {"max_days_before", "max_days_after"}
    assert tested == {f.name for f in dataclasses.fields(c.ContractLimits)}


@pytest.mark.parametrize(("timestamp", "ok"), [
    ("2026-11-21T00:00:00Z", True),  # first instant, 7 days before
    ("2026-11-20T23:59:59.999Z", False),
    ("2026-11-29T23:59:59.999Z", True),  # last instant, 1 day after
    ("2026-11-30T00:00:00Z", False),
    ("2026-11-21T01:00:00+02:00", False),  # 2026-11-20T23:00Z
    ("2026-11-29T20:00:00-03:00", True),  # 2026-11-29T23:00Z
    ("2026-11-28T09:15:02.412Z", True),
])
def test_the_window_is_seven_days_before_and_one_after_the_utc_day(timestamp, ok):
    parsed = c.parse_line(_line("feedback_thumbs", timestamp=timestamp), day=DAY)
    assert parsed.ok is ok, parsed.detail
    assert ok or parsed.reason == c.TIMESTAMP_OUT_OF_WINDOW


def test_the_window_is_configurable():
    same_day = c.ContractLimits(max_days_before=0, max_days_after=0)
    line = _line("deletion_request", timestamp="2026-11-27T23:59:59Z")
    assert c.parse_line(line, day=DAY).ok
    assert _reason(line, day=DAY, limits=same_day) == c.TIMESTAMP_OUT_OF_WINDOW
    assert c.parse_line(_line("deletion_request", timestamp="2026-11-28T23:59:59Z"),
                        day=DAY, limits=same_day).ok


@pytest.mark.parametrize("day", [datetime.date.min, datetime.date.max])
def test_a_window_at_the_ends_of_the_calendar_does_not_overflow(day):
    far = _line("interaction", timestamp=f"{day.isoformat()}T12:00:00Z")
    assert c.parse_line(far, day=day).ok
    assert _reason(_line("interaction"), day=day) == c.TIMESTAMP_OUT_OF_WINDOW


def test_limits_are_frozen_and_refuse_nonsense():
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.DEFAULT_LIMITS.max_comment_chars = 10
    with pytest.raises(ValueError, match="max_comment_chars must be a number >= 0"):
        c.ContractLimits(max_comment_chars=-1)
    with pytest.raises(ValueError, match="max_messages"):
        c.ContractLimits(max_messages="10")


def test_non_text_content_parts_are_left_out_but_text_parts_are_capped():
    record = json.loads(_line("interaction"))
    record["messages"][-1]["content"] = [{"type": "image_url", "image_url": {"url": "x"}},
                                         {"type": "text", "text": "hi"}]
    assert c.parse_line(json.dumps(record)).event["messages"][-1]["content"] == "hi"


def test_a_line_that_is_not_bytes_or_text_is_judged():
    for raw in (None, 42, ["{}"], bytearray(b"{}")):
        parsed = c.parse_line(raw)
        assert not parsed.ok and parsed.reason in c.PARSE_REASONS
    assert c.parse_line(memoryview(json.dumps(EXAMPLES["deletion_request"]).encode())).ok
