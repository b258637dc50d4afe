"""parse_line never raises: arbitrary JSON values at every field of every event type.

Whatever a field holds, the outcome is a ``Parsed``: either a reject whose reason is one of
``PARSE_REASONS`` with a detail, or an event that the event's pyarrow schema accepts (so the
warehouse write cannot fail on it either).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback import contract as c
from feedback.examples import EXAMPLES
from feedback.terms import CONTRACT_KEYS

# Values json.dumps cannot write but a hostile client can: injected as raw text.
RAW_TOKENS = (
    "1e999", "-1e999", "9" * 400, "-" + "9" * 400, "1" * 5000, "NaN", "-Infinity",
    "1.7976931348623157e308", "2147483648", "9223372036854775808", "-9223372036854775809",
    '{"a": 1, "a": 2}', "[" * 3000 + "]" * 3000, "[" * 40 + "]" * 40, '"\\ud800"', '"\\u0000"',
    '"9999-12-31T23:00:00-05:00"', '"0001-01-01T00:00:00+01:00"',
)
_TOKEN = "@RAW_TOKEN@"
_DROP = object()

HOSTILE = st.sampled_from([
    "", " ", "\t\n", "\x00", "jane.roe@example.com", "chatcmpl-9f8e", "flywheel-sft/3",
    "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-11-28T09:15:02Z", "x" * 60_000,
    2**31 - 1, 2**31, 2**63 - 1, -(2**63), 10**30, -1, 0, 1, 5, 1.5, -0.0, 1e308, True, False,
    None, [], {}, [None], {"type": "text"}, {"type": "text", "text": 1}, ["text"],
    {"training": "yes"}, {"": ""}, {"a@b.c": 1},
])
SCALARS = (st.none() | st.booleans() | st.integers() | st.text(max_size=30)
           | st.floats(allow_nan=False, allow_infinity=False) | HOSTILE)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
# A value to put in a field: an arbitrary JSON value, a raw token, or no field at all.
FIELD_VALUES = JSON_VALUES | st.sampled_from(RAW_TOKENS).map(lambda t: (_TOKEN, t)) | st.just(_DROP)


def _paths(example: dict) -> list[tuple]:
    """Every field of the example, nested ones included, plus a new unknown field."""
    paths: list[tuple] = [(key,) for key in example] + [("unknown_field",)]
    for key, value in example.items():
        if isinstance(value, dict):
            paths += [(key, inner) for inner in value] + [(key, "new_key")]
    for index, message in enumerate(example.get("messages", [])):
        paths += [("messages", index)] + [("messages", index, k) for k in message]
    if "messages" in example:
        paths += [("messages", 0, "content", 0), ("messages", 0, "content", 0, "text"),
                  ("messages", 0, "content", 0, "type")]
    return paths


CASES = [(name, path) for name, example in EXAMPLES.items() for path in _paths(example)]


def _line(name: str, path: tuple, value) -> bytes:
    record = json.loads(json.dumps(EXAMPLES[name]))
    if path[:3] == ("messages", 0, "content") and len(path) > 3:
        record["messages"][0]["content"] = [{"type": "text", "text": "part"}]
    parent = record
    for step in path[:-1]:
        parent = parent[step]
    token = None
    if isinstance(value, tuple):
        value, token = value
    if value is _DROP:
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            del parent[path[-1]]
    else:
        parent[path[-1]] = value
    line = json.dumps(record, ensure_ascii=False)
    if token is not None:
        line = line.replace(json.dumps(_TOKEN), token)
    return line.encode("utf-8")


def _assert_judged(parsed: c.Parsed) -> None:
    assert isinstance(parsed, c.Parsed)
    if parsed.ok:
        assert parsed.reason is None
        event = parsed.event
        schema = c.SCHEMA_BY_EVENT_TYPE[event["event_type"]]
        pa.Table.from_pylist([event], schema=schema)  # raises if a value does not fit
    else:
        assert parsed.reason in c.PARSE_REASONS, parsed.reason
        assert isinstance(parsed.detail, str) and parsed.detail


_FUZZ = settings(max_examples=40, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize(("name", "path"), CASES, ids=[f"{n}-{'.'.join(map(str, p))}"
                                                       for n, p in CASES])
@_FUZZ
@given(value=FIELD_VALUES, day=st.none() | st.dates())
def test_any_value_in_any_field_is_judged_never_raised(name, path, value, day):
    line = _line(name, path, value)
    _assert_judged(c.parse_line(line, day=day))
    _assert_judged(c.parse_line(line.decode("utf-8"), day=day))


@settings(max_examples=300, deadline=None, database=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=200) | JSON_VALUES.map(json.dumps))
def test_any_line_is_judged_never_raised(raw):
    _assert_judged(c.parse_line(raw))


@settings(max_examples=200, deadline=None, database=None)
@given(obj=st.dictionaries(st.sampled_from(sorted(CONTRACT_KEYS)) | st.text(max_size=8),
                           JSON_VALUES, max_size=12),
       event_type=st.sampled_from(c.EVENT_TYPES))
def test_any_object_of_contract_fields_is_judged_never_raised(obj, event_type):
    _assert_judged(c.parse_line(json.dumps({**obj, "event_type": event_type})))
