"""The event contract: documented examples validate; each malformed class has its own reason."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re

import pytest

from feedback import contract as c
from feedback.examples import EXAMPLES, as_json
from tests.conftest import REPO

DOC = REPO / "docs" / "events.md"


def _doc_json_blocks() -> list[str]:
    return re.findall(r"^```json\n(.*?)\n```$", DOC.read_text(), flags=re.S | re.M)


def test_doc_examples_are_the_module_examples():
    blocks = _doc_json_blocks()
    assert blocks == [as_json(example) for example in EXAMPLES.values()]


@pytest.mark.parametrize("block", _doc_json_blocks())
def test_every_doc_json_block_parses(block):
    parsed = c.parse_line(json.dumps(json.loads(block)).encode())
    assert parsed.ok, (parsed.reason, parsed.detail)


def test_examples_cover_every_event_type_and_feedback_kind():
    types = {e["event_type"] for e in EXAMPLES.values()}
    kinds = {e["kind"] for e in EXAMPLES.values() if e["event_type"] == "feedback"}
    assert types == set(c.EVENT_TYPES)
    assert kinds == set(c.FEEDBACK_KINDS)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_module_examples_parse_and_round_trip(name):
    parsed = c.parse_line(json.dumps(EXAMPLES[name]))
    assert parsed.ok, (parsed.reason, parsed.detail)
    event = parsed.event
    assert event["event_type"] == EXAMPLES[name]["event_type"]
    # to_json_record is the inverse: it parses again to the same normalized event.
    again = c.parse_line(json.dumps(c.to_json_record(event)))
    assert again.ok and again.event == event


def test_unknown_fields_land_in_metadata():
    raw = dict(EXAMPLES["interaction"], client={"os": "ios", "build": 7}, ab_bucket=3)
    event = c.parse_line(json.dumps(raw)).event
    assert event["metadata"]["sdk"] == "flywheel-js/1.4.2"
    assert json.loads(event["metadata"]["client"]) == {"os": "ios", "build": 7}
    assert event["metadata"]["ab_bucket"] == "3"
    assert event["metadata"]["app"] == "web"
    assert "client" not in event and "sdk" not in event


def test_absent_consent_means_no_training_use():
    raw = {k: v for k, v in EXAMPLES["interaction"].items() if k != "consent"}
    assert c.parse_line(json.dumps(raw)).event["consent_training"] is False
    raw["consent"] = {}
    assert c.parse_line(json.dumps(raw)).event["consent_training"] is False
    raw["consent"] = {"training": True}
    assert c.parse_line(json.dumps(raw)).event["consent_training"] is True


def test_content_parts_are_joined():
    raw = json.loads(json.dumps(EXAMPLES["interaction"]))
    raw["messages"][-1]["content"] = [{"type": "text", "text": "a"}, {"type": "image_url"},
                                      {"type": "text", "text": "b"}]
    assert c.parse_line(json.dumps(raw)).event["messages"][-1]["content"] == "a\nb"


def _mutated(name: str, **changes) -> bytes:
    raw = json.loads(json.dumps(EXAMPLES[name]))
    for key, value in changes.items():
        if value is _DROP:
            raw.pop(key)
        else:
            raw[key] = value
    return json.dumps(raw).encode()


_DROP = object()
_GOOD = json.dumps(EXAMPLES["interaction"]).encode()

def _messages_with(content) -> list[dict]:
    return [{"role": "user", "content": content}]


def _text_at(name: str, token: str, **changes) -> bytes:
    """The example with one field's value replaced by raw JSON text json.dumps cannot write."""
    return _mutated(name, **changes).replace(b'"@TOKEN@"', token.encode())


_EMAIL = "jane.roe@example.com"
_DEEP = "[" * 40 + "]" * 40

# One case (or more) per reject reason; every reason constant must appear here.
CASES = [
    (c.INVALID_UTF8, _GOOD.replace(b"Thanks!", b"Danke sch\xf6n!")),
    (c.INVALID_UTF8, "{\"a\": \"\ud800\"}"),  # a str holding a lone surrogate
    (c.EMPTY_LINE, b"  \t "),
    (c.INVALID_JSON, _GOOD[:-1] + b",}"),
    (c.INVALID_JSON, _GOOD[: len(_GOOD) // 2]),
    (c.INVALID_JSON, _mutated("interaction").replace(b"1840.5", b"NaN")),
    (c.NOT_AN_OBJECT, b"[1, 2]"),
    (c.NOT_AN_OBJECT, b'"interaction"'),
    (c.MISSING_EVENT_TYPE, _mutated("interaction", event_type=_DROP)),
    (c.UNKNOWN_EVENT_TYPE, _mutated("interaction", event_type="page_view")),
    (c.MISSING_FIELD, _mutated("interaction", user_id=_DROP)),
    (c.MISSING_FIELD, _mutated("interaction", response=None)),
    (c.MISSING_FIELD, _mutated("feedback_edit", edited_response=_DROP)),
    (c.MISSING_FIELD, _mutated("interaction", messages=[{"role": "user"}])),
    (c.MISSING_FIELD, _mutated("interaction", messages=_messages_with([{"text": "a"}]))),
    (c.WRONG_TYPE, _mutated("interaction", turn="2")),
    (c.WRONG_TYPE, _mutated("feedback_rating", value="4")),
    (c.WRONG_TYPE, _mutated("feedback_rating", value=True)),
    (c.WRONG_TYPE, _mutated("interaction", messages="hello")),
    (c.WRONG_TYPE, _mutated("interaction", consent={"training": "yes"})),
    # A list or an object as event_type used to raise TypeError (unhashable) inside the job.
    (c.WRONG_TYPE, _mutated("interaction", event_type=["interaction"])),
    (c.WRONG_TYPE, _mutated("feedback_thumbs", event_type={"type": "feedback"})),
    # Content parts that are not objects used to be dropped silently.
    (c.WRONG_TYPE, _mutated("interaction", messages=_messages_with(["plain text part"]))),
    (c.WRONG_TYPE, _mutated("interaction", messages=_messages_with([{"type": 1, "text": "a"}]))),
    (c.INVALID_VALUE, _mutated("feedback_rating", value=7)),
    (c.INVALID_VALUE, _mutated("feedback_thumbs", value=0)),
    (c.INVALID_VALUE, _mutated("interaction", turn=-1)),
    (c.INVALID_VALUE, _mutated("interaction", latency_ms=-3)),
    (c.INVALID_VALUE, _mutated("feedback_flag", reason="spam")),
    (c.INVALID_VALUE, _mutated("feedback_comparison", preferred="both")),
    (c.INVALID_VALUE, _mutated("interaction", messages=[])),
    (c.INVALID_VALUE, _mutated("deletion_request").replace(b'"user_8c', b'"\\ud800user_8c')),
    (c.INVALID_TIMESTAMP, _mutated("interaction", timestamp="2026-11-28 09:15:02")),
    (c.INVALID_TIMESTAMP, _mutated("interaction", timestamp="2026-02-30T10:00:00Z")),
    (c.INVALID_TIMESTAMP, _mutated("feedback_thumbs", timestamp="28/11/2026 09:15")),
    # Years 10000 and 0 once in UTC: astimezone raised OverflowError inside the job.
    (c.INVALID_TIMESTAMP, _mutated("interaction", timestamp="9999-12-31T23:00:00-05:00")),
    (c.INVALID_TIMESTAMP, _mutated("deletion_request", timestamp="0001-01-01T00:30:00+01:00")),
    (c.NUL_CHARACTER, _GOOD.replace(b"Thanks!", b"Thanks\x00!")),
    (c.NUL_CHARACTER, _mutated("feedback_thumbs", comment="fine\x00")),
    (c.NUL_CHARACTER, _mutated("feedback_rating", metadata={"surface\x00": "x"})),
    (c.NUL_CHARACTER, "\x00".join('{"event_type": "feedback"}').encode()),  # UTF-16-ish
    (c.DUPLICATE_KEY, b'{"user_id": "user_evil", ' + _GOOD[1:]),
    (c.DUPLICATE_KEY, _GOOD.replace(b'"app": "web"', b'"app": "web", "app": "ios"')),
    (c.NUMBER_OUT_OF_RANGE, _text_at("interaction", "9" * 400, latency_ms="@TOKEN@")),
    (c.NUMBER_OUT_OF_RANGE, _text_at("interaction", "1e999", latency_ms="@TOKEN@")),
    (c.NUMBER_OUT_OF_RANGE, _text_at("feedback_rating", "-1e999", metadata={"x": "@TOKEN@"})),
    (c.NUMBER_OUT_OF_RANGE, _text_at("feedback_rating", "1" * 5000, value="@TOKEN@")),
    (c.NUMBER_OUT_OF_RANGE, _mutated("interaction", turn=2**31)),
    (c.NUMBER_OUT_OF_RANGE, _mutated("feedback_thumbs", metadata={"n": 2**63})),
    (c.NUMBER_OUT_OF_RANGE, _mutated("interaction", latency_ms=1e12)),
    (c.TOO_DEEPLY_NESTED, _text_at("feedback_rating", _DEEP, metadata={"x": "@TOKEN@"})),
    (c.TOO_DEEPLY_NESTED, _text_at("feedback_rating", "[" * 5000 + "]" * 5000,
                                   metadata={"x": "@TOKEN@"})),
    (c.INVALID_ID, _mutated("interaction", event_id="x" * (c.MAX_ID_CHARS + 1))),
    (c.INVALID_ID, _mutated("interaction", event_id=_EMAIL)),
    (c.INVALID_ID, _mutated("interaction", conversation_id=f"conv of {_EMAIL}")),
    (c.INVALID_ID, _mutated("interaction", conversation_id=" \t ")),
    (c.INVALID_ID, _mutated("feedback_thumbs", interaction_id="")),
    (c.INVALID_ID, _mutated("feedback_comparison", other_interaction_id="a/b")),
    (c.INVALID_ID, _mutated("deletion_request", user_id="   ")),
    (c.INVALID_ID, _mutated("deletion_request", user_id="u" * 257)),
    (c.INVALID_MODEL_VERSION, _mutated("interaction", model_version=_EMAIL)),
    (c.INVALID_MODEL_VERSION, _mutated("interaction", model_version="")),
    (c.INVALID_MODEL_VERSION, _mutated("interaction", model_version="v" * 129)),
    (c.INVALID_METADATA_KEY, _mutated("interaction", metadata={_EMAIL: "x"})),
    (c.INVALID_METADATA_KEY, _mutated("feedback_flag", **{f"contact {_EMAIL}": True})),
    (c.INVALID_METADATA_KEY, _mutated("feedback_rating", metadata={"k" * 65: "x"})),
    (c.TOO_MANY_METADATA_KEYS, _mutated("feedback_rating",
                                        metadata={f"k{i}": i for i in range(33)})),
    (c.TOO_MANY_METADATA_KEYS, _mutated("interaction", metadata={f"k{i}": i for i in range(31)},
                                        extra_1=1, extra_2=2)),
    (c.TOO_MANY_MESSAGES, _mutated("interaction", messages=_messages_with("hi") * 257)),
    (c.TEXT_TOO_LONG, _mutated("feedback_thumbs", comment="x" * 5_001)),
    (c.TEXT_TOO_LONG, _mutated("feedback_edit", edited_response="x" * 50_001)),
    (c.TEXT_TOO_LONG, _mutated("interaction", response="x" * 50_001)),
    (c.TEXT_TOO_LONG, _mutated("interaction", messages=_messages_with("x" * 100_001))),
    (c.TEXT_TOO_LONG, _mutated("interaction", messages=_messages_with("x" * 70_000) * 3)),
    (c.TEXT_TOO_LONG, _mutated("interaction", messages=_messages_with(
        [{"type": "text", "text": "x" * 60_000}] * 2))),
    (c.TEXT_TOO_LONG, _mutated("feedback_rating", metadata={"surface": "x" * 1_025})),
    (c.TEXT_TOO_LONG, _mutated("feedback_rating", metadata={"nested": ["x" * 1_023]})),
]

# The plausibility window needs the partition's day; with day=None it is not checked.
DAY = datetime.date(2026, 11, 28)
WINDOW_CASES = [
    (c.TIMESTAMP_OUT_OF_WINDOW, _mutated("interaction", timestamp="2026-11-20T23:59:59.999Z")),
    (c.TIMESTAMP_OUT_OF_WINDOW, _mutated("feedback_thumbs", timestamp="2026-11-30T00:00:00Z")),
    # 23:30 at -05:00 on the 29th is the 30th in UTC.
    (c.TIMESTAMP_OUT_OF_WINDOW, _mutated("deletion_request", timestamp="2026-11-29T23:30:00-05:00")),
    (c.TIMESTAMP_OUT_OF_WINDOW, _mutated("interaction", timestamp="9999-12-31T23:59:59Z")),
    (c.TIMESTAMP_OUT_OF_WINDOW, _mutated("interaction", timestamp="0001-01-01T00:00:00Z")),
]


def test_every_reason_has_a_case():
    reasons = [reason for reason, _ in CASES + WINDOW_CASES]
    assert set(reasons) == set(c.PARSE_REASONS)
    assert len(c.PARSE_REASONS) == len(set(c.PARSE_REASONS))


def test_every_reason_is_a_module_constant():
    constants = {value for name, value in vars(c).items() if name.isupper() and isinstance(
        value, str) and value in c.PARSE_REASONS}
    assert constants == set(c.PARSE_REASONS)
    assert all(re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", reason) for reason in c.PARSE_REASONS)


@pytest.mark.parametrize(("reason", "raw"), CASES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(CASES)])
def test_malformed_line_is_rejected_with_its_reason(reason, raw):
    parsed = c.parse_line(raw)
    assert not parsed.ok
    assert parsed.reason == reason, parsed.detail
    assert parsed.detail
    # The detail names fields and limits: never the planted e-mail, name or text.
    assert "example.com" not in parsed.detail and "jane" not in parsed.detail.lower()
    assert len(parsed.detail) < 300


@pytest.mark.parametrize(("reason", "raw"), WINDOW_CASES,
                         ids=[f"{r}-{i}" for i, (r, _) in enumerate(WINDOW_CASES)])
def test_timestamp_outside_the_window_is_rejected_only_for_a_day(reason, raw):
    parsed = c.parse_line(raw, day=DAY)
    assert (parsed.ok, parsed.reason) == (False, reason), parsed.detail
    assert "outside 2026-11-21..2026-11-29 around the partition day 2026-11-28" in parsed.detail
    assert c.parse_line(raw).ok  # day=None: no window


def test_reject_details_never_quote_user_text():
    raw = _mutated("interaction", turn="Jane Roe lives at 1 Main St")
    detail = c.parse_line(raw).detail
    assert "Jane" not in detail and "Main" not in detail


def test_paired_surrogate_escape_is_fine():
    raw = _mutated("feedback_thumbs", comment="\U0001f600 great")
    assert b"\\ud83d\\ude00" in raw
    assert c.parse_line(raw).event["comment"] == "\U0001f600 great"


def test_docs_list_every_reason_and_every_limit_with_its_default():
    text = DOC.read_text()
    for reason in c.PARSE_REASONS:
        assert re.search(rf"^\| `{reason}` \|", text, flags=re.M), reason
    for field in dataclasses.fields(c.ContractLimits):
        row = re.search(rf"^\| `{field.name}` \| ([0-9,]+) \|", text, flags=re.M)
        assert row, field.name
        assert float(row.group(1).replace(",", "")) == getattr(c.DEFAULT_LIMITS, field.name)
    for pattern in (c.ID_PATTERN, c.MODEL_VERSION_PATTERN, c.METADATA_KEY_PATTERN):
        assert f"`{pattern}`" in text
