"""The flywheel turning on 127.0.0.1: the vendor day, then simulated users talking to a real
gateway (started and stopped by the loop on a free port), the real cycle after each day."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import PSEUDONYM_KEY

# A loop small enough for a test: few users, a tiny reward encoder, few passes after day 1.
# Day 1's from-scratch model needs about as many steps as the demo's (300 steps): at 8 epochs
# on 60 vendor users it answered empty too often and the first gate refused it.
TINY_CYCLE = {"reward_base": "tiny", "max_reward_pairs": 100, "reward_epochs": 1.0, "sft_epochs": 16.0,
              "eval_prompts": 8, "continue_epochs": 1.0, "dpo_epochs": 1.0}


@pytest.fixture(scope="module")
def two_days(tmp_path_factory):
    from feedback.users.session import UsersConfig
    from flywheel.loop import LoopConfig, run_loop

    os.environ["FLYWHEEL_PSEUDONYM_KEY"] = PSEUDONYM_KEY
    out = tmp_path_factory.mktemp("loop")
    config = LoopConfig(out=str(out), taste="concise", days=2, users=6, vendor_users=60, seed=5,
                        users_config=UsersConfig(workers=2), cycle_overrides=TINY_CYCLE)
    served_after: list[int | None] = []

    def runner(cconfig, day):
        from flywheel import cycle
        from flywheel.loop import served_versions

        steps = cycle.run_cycle(cconfig, day)
        served_after.append(served_versions(cconfig)[0])
        return steps

    result = run_loop(config, None, cycle_runner=runner, say=lambda line: None)
    return config, result, served_after


@pytest.mark.slow
def test_served_version_changes_only_when_the_gate_passes(two_days):
    config, result, served_after = two_days
    before = None
    for day, served in zip(result["days"], served_after, strict=True):
        gate = day["gate"]
        if gate["promoted"]:
            assert served == gate["candidate"] != before
        else:
            assert served == before, f"{day['day']}: served changed without a promotion ({gate})"
        before = served
    day2 = result["days"][1]
    assert day2["champion"] == result["days"][0]["gate"]["to_version"]
    # the users talked to the champion the registry says was served that day
    assert {row["model_version"] for row in day2["scores"]} == {f"flywheel-sft/{day2['champion']}"}
    assert day2["users"]["answers"] > 0 and not day2["users"]["errors"]


@pytest.mark.slow
def test_users_feedback_reaches_the_warehouse(two_days):
    from curation import views

    config, result, _ = two_days
    con = views.connect(Path(config.out) / "warehouse")
    day = result["days"][1]["day"]
    kinds = dict(con.execute("SELECT kind, count(*) FROM feedback_events WHERE dt = CAST(? AS DATE) "
                             "GROUP BY kind", [day]).fetchall())
    assert sum(kinds.values()) > 0
    versions = {r[0] for r in con.execute("SELECT DISTINCT model_version FROM interactions WHERE "
                                          "dt = CAST(? AS DATE)", [day]).fetchall()}
    assert versions == {f"flywheel-sft/{result['days'][1]['champion']}"}


@pytest.mark.slow
def test_taste_truth_never_reaches_the_landing_zone_or_the_warehouse(two_days):
    config, result, _ = two_days
    assert_truth_stays_outside(Path(config.out), config.truth_dir)


def assert_truth_stays_outside(out: Path, truth: Path) -> None:
    lines = [line for p in truth.glob("dt=*.jsonl") for line in p.read_text().splitlines()]
    rows = [json.loads(line) for line in lines]
    assert rows and all("score" in r for r in rows if "interaction_id" in r)
    for root in (out / "landing", out / "warehouse"):
        assert not str(truth.resolve()).startswith(str(root.resolve()))
        for path in root.rglob("*"):
            if not path.is_file():
                continue
            assert "taste" not in path.name
            if path.suffix == ".parquet":
                names = set(pq.read_schema(path).names)
                assert not names & {"score", "edit_score", "taste"}, path
            elif path.suffix in (".jsonl", ".json"):
                text = path.read_bytes()
                # a truth key no event or model file has, and no whole truth row
                assert b'"edit_score"' not in text, path
                assert not any(line.encode() in text for line in lines[:50]), path


def test_a_vetoed_promotion_reports_the_veto_not_the_gates_yes():
    """The online gate said promote, the promote step refused (a user in the candidate's data
    asked for erasure): the summary must not read as if the gate had kept the champion for the
    online reason."""
    from flywheel.loop import describe_gate, gate_outcome

    steps = {"train_sft": {"version": 3, "stage": "canary"},
             "evaluate": {"decision": {"promote": True, "reason": "side_by_side_win_rate_ci_above_half",
                                       "stage": "online"}},
             "promote": {"promoted": False, "reason": "contains_erased_user_data", "to_version": 1}}
    gate = gate_outcome(steps)
    assert not gate["promoted"]
    assert gate["reason"] == "contains_erased_user_data (after side_by_side_win_rate_ci_above_half)"
    assert describe_gate(gate).startswith("KEEP CHAMPION (v3 refused): contains_erased_user_data")
