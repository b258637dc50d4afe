"""Side-by-side without a canary: two samples of the champion, picked by the user (``--self-comparison``)."""

from __future__ import annotations

import json

import httpx

from tests.serving.conftest import gateway_config, landing_lines, thread_gateway

HELLO = [{"role": "user", "content": "hello there"}]


def _pair(http: httpx.Client, seed: int | None) -> dict:
    body = {"model": "champion", "messages": HELLO, "user": "judge", "max_tokens": 12,
            "temperature": 1.0, "side_by_side": True}
    if seed is not None:
        body["seed"] = seed
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_without_a_challenger_side_by_side_is_refused_unless_asked_for(warehouse, tmp_path):
    with thread_gateway(gateway_config(warehouse, tmp_path / "landing")) as url, \
            httpx.Client(base_url=url, timeout=60) as http:
        assert all(not card["side_by_side"] for card in http.get("/v1/models").json()["data"])
        refused = http.post("/v1/chat/completions", json={
            "messages": HELLO, "user": "judge", "side_by_side": True, "max_tokens": 3})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "no_challenger"


def test_self_comparison_answers_twice_with_the_champion_and_the_pick_lands(warehouse, tmp_path):
    landing = tmp_path / "landing"
    with thread_gateway(gateway_config(warehouse, landing, self_comparison=True)) as url, \
            httpx.Client(base_url=url, timeout=60) as http:
        cards = http.get("/v1/models").json()["data"]
        assert [(c["arm"], c["side_by_side"]) for c in cards] == [("champion", True)]
        pair = _pair(http, seed=7)
        first, second = pair["choices"]
        assert first["model"] == second["model"] == "flywheel-sft/1"
        assert first["id"] != second["id"]
        # a seeded request draws two different samples, and the same two again on a rerun
        texts = (first["message"]["content"], second["message"]["content"])
        assert texts[0] != texts[1]
        again = _pair(http, seed=7)["choices"]
        assert tuple(c["message"]["content"] for c in again) == texts
        assert len({c["message"]["content"] for c in _pair(http, seed=None)["choices"]}) == 2
        pick = http.post("/v1/feedback", json={
            "interaction_id": second["id"], "other_interaction_id": first["id"],
            "kind": "comparison", "preferred": "this", "user": "judge"})
        assert pick.status_code == 200, pick.text
    events = {e["event_id"]: e for e in landing_lines(landing)}
    assert events[first["id"]]["metadata"]["side_by_side_with"] == second["id"]
    assert events[second["id"]]["metadata"]["side_by_side_with"] == first["id"]
    assert {events[c["id"]]["metadata"]["arm"] for c in (first, second)} == {"champion"}
    assert events[pick.json()["id"]]["kind"] == "comparison"


def test_with_a_challenger_the_pair_is_champion_against_challenger_even_when_self_comparison_is_on(
        warehouse, tmp_path):
    config = gateway_config(warehouse, tmp_path / "landing", challenger="flywheel-sft/2",
                            self_comparison=True)
    with thread_gateway(config) as url, httpx.Client(base_url=url, timeout=60) as http:
        first, second = _pair(http, seed=7)["choices"]
        assert (first["model"], second["model"]) == ("flywheel-sft/1", "flywheel-sft/2")


def test_simulated_users_pick_between_two_champion_samples(warehouse, tmp_path):
    from feedback.users import load_taste, run_day
    from feedback.users.session import UsersConfig

    config = UsersConfig(side_by_side_rate=1.0, max_tokens=8, conversations_per_user=(1, 1),
                         turn_weights=(1.0,), opt_out_share=0.0, deletion_rate=0.0)
    prompts = tmp_path / "prompts.jsonl"  # short: the fixture's tiny models read 128 tokens
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in ("hello there", "any tips?")))
    with thread_gateway(gateway_config(warehouse, tmp_path / "landing", self_comparison=True)) as url:
        summary = run_day(url, "2026-11-02", 4, 3, load_taste("polite"), tmp_path / "truth",
                          prompts_file=prompts, config=config)
    assert summary["side_by_side"] is True and summary["errors"] == {}
    lines = (tmp_path / "truth" / "dt=2026-11-02.jsonl").read_text().splitlines()
    truth = [json.loads(line) for line in lines]
    assert len(truth) == 8 and all(r["reaction"] == "comparison" for r in truth)
    assert {r["model_version"] for r in truth} == {"flywheel-sft/1"}
    assert sum(r["picked"] for r in truth) == 4  # one pick per pair
