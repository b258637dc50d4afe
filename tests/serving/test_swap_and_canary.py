"""Hot swap under load, failed loads, the admin endpoint, the sticky canary and side-by-side."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.serving.conftest import gateway_config, landing_lines, thread_gateway
from training.promote import redeploy

HELLO = [{"role": "user", "content": "hello there"}]
TOKEN = "test-admin-token"


async def _hammer(url: str, stop: asyncio.Event, results: list, clients: int = 6) -> None:
    async def one_client(index: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            n = 0
            while not stop.is_set():
                n += 1
                response = await http.post("/v1/chat/completions", json={
                    "model": "champion", "messages": HELLO, "user": f"load-{index}", "max_tokens": 3,
                    "stream": n % 2 == 0})
                if response.status_code != 200:
                    results.append((response.status_code, None, None))
                elif n % 2 == 0:
                    import json
                    chunks = [json.loads(line[6:]) for line in response.text.splitlines()
                              if line.startswith("data: {")]
                    results.append((200, chunks[0]["id"], chunks[0]["model"]))
                else:
                    body = response.json()
                    results.append((200, body["id"], body["model"]))

    await asyncio.gather(*(one_client(i) for i in range(clients)))


def _wait_for(url: str, predicate, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = httpx.get(f"{url}/healthz").json()
        if predicate(health):
            return health
        time.sleep(0.2)
    raise TimeoutError(f"healthz never matched: {health}")


def test_hot_swap_under_load_fails_nothing_and_logs_each_answer_under_its_version(
        warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("FLYWHEEL_GATEWAY_ADMIN_TOKEN", TOKEN)
    landing = tmp_path / "landing"
    config = gateway_config(warehouse, landing, watch_interval_s=0.2)
    results: list = []
    with thread_gateway(config) as url:
        async def scenario():
            stop = asyncio.Event()
            load = asyncio.create_task(_hammer(url, stop, results))
            await asyncio.sleep(1.0)
            # what training.promote does after moving the alias
            await asyncio.to_thread(redeploy, warehouse, {"model_name": "flywheel-sft", "version": 2})
            await asyncio.to_thread(_wait_for, url, lambda h: h["champion"] == "flywheel-sft/2")
            await asyncio.sleep(1.0)
            stop.set()
            await load

        asyncio.run(scenario())
        # a version that cannot load leaves v2 serving, and healthz says so
        redeploy(warehouse, {"model_name": "flywheel-sft", "version": 99})
        health = _wait_for(url, lambda h: h["last_reload"].get("failed_version") == "99")
        assert health["champion"] == "flywheel-sft/2" and health["last_reload"]["ok"] is False
        assert "99" in health["last_reload"]["error"]
        # the admin endpoint: bearer token, manifest body
        assert httpx.post(f"{url}/admin/reload", json={"version": 1}).status_code == 401
        wrong = httpx.post(f"{url}/admin/reload", json={"version": 1},
                           headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        back = httpx.post(f"{url}/admin/reload", json={"version": 1},
                          headers={"Authorization": f"Bearer {TOKEN}"})
        assert back.status_code == 200 and back.json()["version"] == "flywheel-sft/1"
        assert httpx.get(f"{url}/healthz").json()["champion"] == "flywheel-sft/1"
        # promote/rollback's webhook setting carries the token and the manifest
        outcome = redeploy(warehouse, {"model_name": "flywheel-sft", "version": 2},
                           webhook=f"{url}/admin/reload")
        assert outcome["webhook"] == "ok 200"
        assert httpx.get(f"{url}/healthz").json()["champion"] == "flywheel-sft/2"
    assert results and all(status == 200 for status, _, _ in results), \
        [r for r in results if r[0] != 200][:3]
    versions = {model for _, _, model in results}
    assert versions == {"flywheel-sft/1", "flywheel-sft/2"}
    logged = {e["event_id"]: e["model_version"] for e in landing_lines(landing)
              if e["event_type"] == "interaction"}
    assert len(logged) == len(results)  # exactly one line per 200
    assert all(logged[event_id] == model for _, event_id, model in results)


def test_canary_is_sticky_within_share_and_side_by_side_answers_twice(warehouse, tmp_path):
    landing = tmp_path / "landing"
    config = gateway_config(warehouse, landing, challenger="flywheel-sft/2", challenger_share=0.3)
    with thread_gateway(config) as url:
        from serving.models import ModelManager

        buckets = ModelManager(config, None)
        share = sum(buckets.canary_bucket(f"user-{i}") < 0.3 for i in range(20_000)) / 20_000
        assert abs(share - 0.3) < 0.015  # 3 standard errors at n = 20,000

        arms: dict[str, set] = {}
        with httpx.Client(base_url=url, timeout=60) as http:
            for _turn in range(2):
                for i in range(30):
                    user = f"user-{i}"
                    body = http.post("/v1/chat/completions", json={
                        "model": "champion", "messages": HELLO, "user": user, "max_tokens": 1}).json()
                    arms.setdefault(user, set()).add(body["model"])
                    expected = "flywheel-sft/2" if buckets.canary_bucket(user) < 0.3 else "flywheel-sft/1"
                    assert body["model"] == expected
            assert all(len(models) == 1 for models in arms.values())  # sticky
            assert {m for ms in arms.values() for m in ms} == {"flywheel-sft/1", "flywheel-sft/2"}

            pair = http.post("/v1/chat/completions", json={
                "model": "champion", "messages": HELLO, "user": "judge", "max_tokens": 3,
                "side_by_side": True}).json()
            first, second = pair["choices"]
            assert (first["model"], second["model"]) == ("flywheel-sft/1", "flywheel-sft/2")
            pick = http.post("/v1/feedback", json={
                "interaction_id": second["id"], "other_interaction_id": first["id"],
                "kind": "comparison", "preferred": "this", "user": "judge"})
            assert pick.status_code == 200, pick.text
            assert http.post("/v1/chat/completions", json={
                "messages": HELLO, "user": "judge", "side_by_side": True, "stream": True,
            }).json()["error"]["param"] == "stream"
    events = {e["event_id"]: e for e in landing_lines(landing)}
    assert events[first["id"]]["metadata"]["side_by_side_with"] == second["id"]
    assert events[second["id"]]["model_version"] == "flywheel-sft/2"
    assert events[pick.json()["id"]]["kind"] == "comparison"
    per_arm = {}
    for event in events.values():
        if event["event_type"] == "interaction":
            per_arm.setdefault(event["metadata"]["arm"], set()).add(event["model_version"])
    assert per_arm == {"champion": {"flywheel-sft/1"}, "challenger": {"flywheel-sft/2"}}


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_canary_share_extremes(share):
    from serving.config import GatewayConfig
    from serving.models import ModelManager

    manager = ModelManager(GatewayConfig(landing="x", warehouse="x", challenger_share=share), None)
    inside = sum(manager.canary_bucket(f"u{i}") < share for i in range(1000))
    assert inside == 1000 * share


def test_gateway_started_before_the_first_promotion_waits_then_serves(warehouse, tmp_path):
    from training import registry

    client = registry.connect(warehouse)
    client.delete_registered_model_alias("flywheel-sft", "champion")
    config = gateway_config(warehouse, tmp_path / "landing", retry_load_s=0.3)
    with thread_gateway(config, wait=False) as url:
        health = _wait_for(url, lambda h: h["last_reload"] is not None)
        assert health["status"] == "failed" and "training.promote" in health["last_reload"]["error"]
        assert httpx.get(f"{url}/healthz").status_code == 503
        refused = httpx.post(f"{url}/v1/chat/completions", json={"messages": HELLO, "user": "u"})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "model_not_ready"
        client.set_registered_model_alias("flywheel-sft", "champion", "2")
        assert _wait_for(url, lambda h: h["status"] == "ready")["champion"] == "flywheel-sft/2"
