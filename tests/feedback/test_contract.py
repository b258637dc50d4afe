"""The event contract: documented examples validate; each malformed class has its own reason."""

from __future__ import annotations

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

# One case (or more) per reject reason; every reason constant must appear here.
CASES = [
    (c.INVALID_UTF8, _GOOD.replace(b"Thanks!", b"Danke sch\xf6n!")),
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
    (c.WRONG_TYPE, _mutated("interaction", turn="2")),
    (c.WRONG_TYPE, _mutated("feedback_rating", value="4")),
    (c.WRONG_TYPE, _mutated("feedback_rating", value=True)),
    (c.WRONG_TYPE, _mutated("interaction", messages="hello")),
    (c.WRONG_TYPE, _mutated("interaction", consent={"training": "yes"})),
    (c.INVALID_VALUE, _mutated("feedback_rating", value=7)),
    (c.INVALID_VALUE, _mutated("feedback_thumbs", value=0)),
    (c.INVALID_VALUE, _mutated("interaction", turn=-1)),
    (c.INVALID_VALUE, _mutated("interaction", latency_ms=-3)),
    (c.INVALID_VALUE, _mutated("feedback_flag", reason="spam")),
    (c.INVALID_VALUE, _mutated("feedback_comparison", preferred="both")),
    (c.INVALID_VALUE, _mutated("interaction", messages=[])),
    (c.INVALID_VALUE, _mutated("interaction", event_id="x" * (c.MAX_ID_CHARS + 1))),
    (c.INVALID_VALUE, _mutated("deletion_request").replace(b'"user_8c', b'"\\ud800user_8c')),
    (c.INVALID_TIMESTAMP, _mutated("interaction", timestamp="2026-11-28 09:15:02")),
    (c.INVALID_TIMESTAMP, _mutated("interaction", timestamp="2026-02-30T10:00:00Z")),
    (c.INVALID_TIMESTAMP, _mutated("feedback_thumbs", timestamp="28/11/2026 09:15")),
]


def test_every_reason_has_a_case():
    assert {reason for reason, _ in CASES} == set(c.PARSE_REASONS)


@pytest.mark.parametrize(("reason", "raw"), CASES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(CASES)])
def test_malformed_line_is_rejected_with_its_reason(reason, raw):
    parsed = c.parse_line(raw)
    assert not parsed.ok
    assert parsed.reason == reason, parsed.detail
    assert parsed.detail


def test_reject_details_never_quote_user_text():
    raw = _mutated("interaction", turn="Jane Roe lives at 1 Main St")
    detail = c.parse_line(raw).detail
    assert "Jane" not in detail and "Main" not in detail


def test_paired_surrogate_escape_is_fine():
    raw = _mutated("feedback_thumbs", comment="\U0001f600 great")
    assert b"\\ud83d\\ude00" in raw
    assert c.parse_line(raw).event["comment"] == "\U0001f600 great"
