"""The official openai client against a live gateway: answers, streams and every error class."""

from __future__ import annotations

import httpx
import openai
import pytest

from feedback.contract import parse_line
from tests.serving.conftest import gateway_config, landing_lines, thread_gateway

HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def live(tmp_path_factory, registry_db):
    import shutil

    root = tmp_path_factory.mktemp("api")
    (root / "warehouse").mkdir()
    shutil.copy(registry_db, root / "warehouse" / "mlflow.db")
    config = gateway_config(root / "warehouse", root / "landing", max_body_bytes=20_000,
                            max_messages=8)
    with thread_gateway(config) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        yield url, client, root / "landing"


def logged(landing, event_id):
    found = [e for e in landing_lines(landing, include_open=True) if e["event_id"] == event_id]
    assert len(found) == 1, f"{event_id} logged {len(found)} times"
    assert parse_line(__import__("json").dumps(found[0])).ok
    return found[0]


def test_completion_is_logged_under_its_id_and_exact_version(live):
    _, client, landing = live
    answer = client.chat.completions.create(
        model="champion", messages=HELLO, user="user-1", max_tokens=6, temperature=0,
        metadata={"consent_training": "true", "app": "docs"})
    assert answer.model == "flywheel-sft/1"
    assert answer.usage.completion_tokens == 6 and answer.choices[0].finish_reason == "length"
    event = logged(landing, answer.id)
    assert event["model_version"] == "flywheel-sft/1" and event["user_id"] == "user-1"
    assert event["response"] == answer.choices[0].message.content
    assert event["messages"] == HELLO and event["consent"] == {"training": True}
    assert event["metadata"]["app"] == "docs" and event["metadata"]["arm"] == "champion"
    # greedy is deterministic
    again = client.chat.completions.create(model="flywheel-sft/1", messages=HELLO, user="user-1",
                                           max_tokens=6, temperature=0)
    assert again.choices[0].message.content == answer.choices[0].message.content
    assert again.id != answer.id


def test_streamed_completion_matches_what_was_logged(live):
    _, client, landing = live
    chunks = list(client.chat.completions.create(
        model="champion", messages=HELLO, user="user-2", max_tokens=5, stream=True,
        stream_options={"include_usage": True}))
    ids = {c.id for c in chunks}
    assert len(ids) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage.completion_tokens == 5
    assert {c.model for c in chunks} == {"flywheel-sft/1"}
    event = logged(landing, ids.pop())
    assert event["response"] == text and event["consent"] == {"training": False}


def test_stop_sequence_cuts_the_answer(live):
    _, client, _ = live
    full = client.chat.completions.create(model="champion", messages=HELLO, user="u", max_tokens=12,
                                          temperature=0).choices[0].message.content
    stop = full[3:5]
    cut = client.chat.completions.create(model="champion", messages=HELLO, user="u", max_tokens=12,
                                         temperature=0, stop=[stop]).choices[0].message.content
    assert cut == full[:full.find(stop)]


@pytest.mark.parametrize("kwargs, param, code", [
    ({"n": 2}, "n", "unsupported_parameter"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools",
     "unsupported_parameter"),
    ({"messages": HELLO * 9}, "messages", "too_many_messages"),
    ({"messages": [{"role": "user", "content": "hello there " * 200}]}, "messages",
     "context_length_exceeded"),
    ({"user": None}, "user", "missing_field"),
    ({"temperature": "hot"}, "temperature", "invalid_type"),
    ({"max_tokens": 100_000}, "max_tokens", "invalid_value"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role", "invalid_value"),
    ({"metadata": {"consent_training": "maybe"}}, "metadata.consent_training", "invalid_value"),
])
def test_bad_requests_get_400_naming_the_field(live, kwargs, param, code):
    _, client, landing = live
    before = len(landing_lines(landing, include_open=True))
    request = {"model": "champion", "messages": HELLO, "user": "user-3", "max_tokens": 4, **kwargs}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**request)
    error = caught.value.body
    assert (error["param"], error["code"]) == (param, code), error
    assert len(landing_lines(landing, include_open=True)) == before  # nothing written


def test_malformed_oversize_and_unknown_model(live):
    url, client, _ = live
    bad = httpx.post(f"{url}/v1/chat/completions", content=b"{not json",
                     headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    wrong = httpx.post(f"{url}/v1/chat/completions", json=[1, 2])
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_type"
    huge = {"model": "champion", "user": "u", "messages": [{"role": "user", "content": "x" * 30_000}]}
    too_big = httpx.post(f"{url}/v1/chat/completions", json=huge)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "request_too_large"
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="flywheel-sft/9", messages=HELLO, user="u")
    assert caught.value.body["param"] == "model"
    assert httpx.get(f"{url}/healthz").json()["status"] == "ready"  # nothing crashed it


def test_feedback_and_deletion_are_contract_events(live):
    url, client, landing = live
    answer = client.chat.completions.create(model="champion", messages=HELLO, user="user-4", max_tokens=3)
    thumbs = httpx.post(f"{url}/v1/feedback", json={"interaction_id": answer.id, "kind": "thumbs",
                                                   "value": -1, "user": "user-4"})
    assert thumbs.status_code == 200, thumbs.text
    event = logged(landing, thumbs.json()["id"])
    assert (event["event_type"], event["interaction_id"], event["value"]) == ("feedback", answer.id, -1)
    for body, param in (({"kind": "thumbs", "value": 3}, "value"), ({"kind": "like"}, "kind"),
                        ({"kind": "flag", "reason": "ugly"}, "reason"), ({"kind": "edit"}, "edited_response"),
                        ({"kind": "thumbs", "value": 1, "colour": "red"}, "colour")):
        refused = httpx.post(f"{url}/v1/feedback", json={"interaction_id": answer.id, "user": "user-4", **body})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == param, refused.text
    erase = httpx.post(f"{url}/v1/deletions", json={"user": "user-4"})
    assert erase.status_code == 200
    assert logged(landing, erase.json()["id"])["event_type"] == "deletion_request"
    assert httpx.post(f"{url}/v1/deletions", json={}).json()["error"]["param"] == "user"


def test_models_health_and_metrics(live):
    url, client, _ = live
    assert [m.id for m in client.models.list()] == ["flywheel-sft/1"]
    health = httpx.get(f"{url}/healthz").json()
    assert health["champion"] == "flywheel-sft/1" and health["last_reload"]["ok"]
    client.chat.completions.create(model="champion", messages=HELLO, user="user-5", max_tokens=2)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="champion", user="user-5", max_tokens=2,
                                       messages=[{"role": "user", "content": "hello there " * 200}])
    text = httpx.get(f"{url}/metrics").text
    for name in ("flywheel_gateway_requests_total", "flywheel_gateway_latency_seconds_bucket",
                 "flywheel_gateway_time_to_first_token_seconds_bucket",
                 "flywheel_gateway_prompt_tokens_total", "flywheel_gateway_completion_tokens_total"):
        assert f'{name}{{' in text and 'model_version="flywheel-sft/1"' in text, name
    assert "user-5" not in text
    assert 'flywheel_gateway_errors_total{code="context_length_exceeded",endpoint="/v1/chat/completions",model_version="flywheel-sft/1",status="400"}' in text
