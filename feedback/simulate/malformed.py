"""Malformed lines: one mutation of a valid event each, with the reject reason that
``feedback.contract.parse_line`` must give."""

from __future__ import annotations

import json
import random

from feedback import contract as c
from feedback.simulate.lines import json_line


def malformed_line(kind: str, interaction: dict, feedback: dict, rng: random.Random) -> bytes:
    i, f = json.loads(json.dumps(interaction)), json.loads(json.dumps(feedback))
    if kind == "invalid_json":
        return json_line(i)[:-1] + b",}"
    if kind == "truncated_json":
        data = json_line(i)
        return data[: rng.randint(20, len(data) - 2)].decode("utf-8", "ignore").encode()
    if kind == "missing_field":
        target = rng.choice((i, f))
        del target[rng.choice(("user_id", "timestamp", "event_id"))]
        return json_line(target)
    if kind == "missing_response":
        del i["response"]
        return json_line(i)
    if kind == "wrong_type":
        choice = rng.randrange(3)
        if choice == 0:
            i["turn"] = str(i["turn"])
        elif choice == 1:
            i["messages"] = i["messages"][-1]["content"] if isinstance(
                i["messages"][-1]["content"], str) else "hello"
        else:
            i["latency_ms"] = f"{i['latency_ms']}ms"
        return json_line(i)
    if kind == "wrong_type_value":
        f["kind"], f["value"] = "rating", "5"
        return json_line(f)
    if kind == "invalid_utf8":
        data = json_line(i)
        at = data.index(b'"response":"') + len(b'"response":"')
        return data[:at] + b"caf\xe9 cr\xe8me " + data[at:]
    if kind == "unknown_event_type":
        i["event_type"] = rng.choice(("page_view", "click", "Interaction", "feedbacks"))
        return json_line(i)
    if kind == "invalid_timestamp":
        ts = i["timestamp"]
        i["timestamp"] = rng.choice((ts[:19], ts[:10] + " " + ts[11:19], "28/11/2026 09:15",
                                     ts[:11] + "25:61:00Z", ts[:5] + "02-30T10:00:00Z"))
        return json_line(i)
    if kind == "invalid_value":
        choice = rng.randrange(6)
        if choice == 0:
            f.update(kind="rating", value=rng.choice((0, 6, 7, 10)))
        elif choice == 1:
            f.update(kind="thumbs", value=rng.choice((0, 2, 5)))
        elif choice == 2:
            f.update(kind="like", value=1)
        elif choice == 3:
            i["turn"] = -1
            return json_line(i)
        elif choice == 4:
            i["latency_ms"] = -abs(i["latency_ms"])
            return json_line(i)
        else:
            f.update(kind="flag", reason="spam")
            f.pop("value", None)
        return json_line(f)
    if kind == "not_an_object":
        return json_line(rng.choice(([i], "interaction", None)))
    if kind == "missing_event_type":
        del i["event_type"]
        return json_line(i)
    if kind == "empty_line":
        return b"   "
    raise ValueError(kind)


MALFORMED_KINDS = {
    "invalid_json": c.INVALID_JSON,
    "truncated_json": c.INVALID_JSON,
    "missing_field": c.MISSING_FIELD,
    "missing_response": c.MISSING_FIELD,
    "wrong_type": c.WRONG_TYPE,
    "wrong_type_value": c.WRONG_TYPE,
    "invalid_utf8": c.INVALID_UTF8,
    "unknown_event_type": c.UNKNOWN_EVENT_TYPE,
    "invalid_timestamp": c.INVALID_TIMESTAMP,
    "invalid_value": c.INVALID_VALUE,
    "not_an_object": c.NOT_AN_OBJECT,
    "missing_event_type": c.MISSING_EVENT_TYPE,
    "empty_line": c.EMPTY_LINE,
}
