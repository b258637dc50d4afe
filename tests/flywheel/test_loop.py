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
    # Day 2 has no canary: with self_comparison, its side-by-side turns are two champion samples.
    config = LoopConfig(out=str(out), taste="concise", days=2, users=6, vendor_users=60, seed=5,
                        self_comparison=True, users_config=UsersConfig(workers=2, side_by_side_rate=0.5),
                        cycle_overrides=TINY_CYCLE)
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
def test_picks_between_two_champion_samples_become_pairs_and_never_canary_evidence(two_days):
    """Day 2's side-by-side picks (``self_comparison``): both answers are the champion's, the
    pick lands as a comparison pair in the day's dataset, and the online gate does not count it
    as a result of the champion against any challenger."""
    from curation import views
    from feedback.users import read_truth
    from flywheel import cycle
    from flywheel.loop import cycle_config
    from training import registry
    from training.config import SFT_MODEL_NAME
    from training.data import resolve_dataset

    config, result, _ = two_days
    day2 = result["days"][1]
    champion = f"flywheel-sft/{day2['champion']}"
    picks = [r for r in read_truth(config.truth_dir, day2["day"]) if r.get("reaction") == "comparison"]
    assert picks and {r["model_version"] for r in picks} == {champion}
    cconfig = cycle_config(config, None)
    con = views.connect(cconfig.warehouse)
    wins = con.execute("SELECT sum(ab_wins) FROM rated_interactions WHERE dt = CAST(? AS DATE)",
                       [day2["day"]]).fetchone()[0]
    assert wins > 0  # the picks reached the warehouse
    evidence = cycle.online_evidence(cconfig, day2["day"], champion, f"{SFT_MODEL_NAME}/999")
    assert evidence.champion_wins == evidence.challenger_wins == 0
    dataset_id = registry.get_version(registry.connect(cconfig.warehouse), SFT_MODEL_NAME,
                                      day2["gate"]["candidate"]).tags["dataset_id"]
    ref = resolve_dataset(cconfig.warehouse, dataset_id)
    day2_ids = {r["interaction_id"] for r in picks}
    pairs = [row for split in ("train", "eval") if ref.has("preferences", split)
             for row in pq.read_table(ref.split("preferences", split)).to_pylist()]
    own = [p for p in pairs if p["rule"] == "comparison"
           and {p["chosen_event_id"], p["rejected_event_id"]} <= day2_ids]
    assert own, "no pair between two of day 2's champion samples"


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


@pytest.mark.slow
def test_the_best_of_n_lever_continues_the_champion_on_its_own_samples_the_reward_model_picked(two_days):
    """Levers ``sft,bon`` on day 2's feedback from day 1's champion: the best-of-n step samples
    the SFT step's checkpoint on the users' prompts, scores with the reward model trained on
    day 2's dataset, and registers a version tagged with both levers and its base."""
    from dataclasses import replace

    from flywheel import cycle
    from flywheel.loop import cycle_config
    from training import registry
    from training.config import REWARD_MODEL_NAME, SFT_MODEL_NAME

    config, result, _ = two_days
    cconfig = replace(cycle_config(config, None), levers=("sft", "bon"))
    day2 = result["days"][1]
    client = registry.connect(cconfig.warehouse)
    champion = registry.get_version(client, SFT_MODEL_NAME, day2["champion"])
    dataset_id = registry.get_version(client, SFT_MODEL_NAME, day2["gate"]["candidate"]).tags["dataset_id"]
    path, as_of = cycle._champion_checkpoint(cconfig, champion)  # noqa: SLF001
    fresh = cycle.fresh_event_ids(cconfig, as_of, day2["day"])

    trained = cycle._continue_from_champion(cconfig, dataset_id, champion, path, fresh)  # noqa: SLF001
    assert trained["levers"] == ["sft", "bon"] and trained["version"] is not None, trained
    assert 0 < trained["metrics"]["bon_rows"] <= trained["metrics"]["bon_prompts"]
    version = registry.get_version(client, SFT_MODEL_NAME, trained["version"])
    assert version.tags["levers"] == "sft+bon" and version.tags["base_version"] == str(champion.version)
    assert version.tags["dataset_id"] == dataset_id
    meta = json.loads((registry.local_model_dir(version) / "meta.json").read_text())
    reward = cycle._existing_version(cconfig, REWARD_MODEL_NAME, dataset_id, "reward")  # noqa: SLF001
    assert meta["reward"] == str(registry.local_model_dir(reward))  # that day's users' reward model
    assert "sft-from-v" in meta["base"]  # sampled from the sft lever's checkpoint, not the champion


@pytest.mark.slow
def test_a_canary_erased_from_is_retrained_without_those_users_and_promoted_on_its_evidence(two_days):
    """A user whose feedback trained day 2's candidate asks for erasure on its canary day:
    erasure tags the candidate, and the cycle retrains its recipe without that user (a rebuilt
    dataset, the same champion, the same seed), checks it offline, and acts on the canary's
    evidence for the retrained version, naming both versions. Runs last: it adds a day."""
    import datetime as dt

    import pyarrow.dataset as pads

    from flywheel import cycle
    from flywheel.loop import cycle_config
    from governance.erase_downstream import ERASED_TAG
    from serving import events
    from training import promote, registry
    from training.config import REWARD_MODEL_NAME, SFT_MODEL_NAME
    from warehouse import pseudonym

    config, result, _ = two_days
    cconfig = cycle_config(config, None)
    day2 = result["days"][1]
    client = registry.connect(cconfig.warehouse)
    canary = registry.get_version(client, SFT_MODEL_NAME, day2["gate"]["candidate"])
    champion = cycle.alias_version(cconfig, "champion")
    assert canary.tags["base_version"] == str(champion.version)  # day 2's continued candidate
    old_id = canary.tags["dataset_id"]

    # a user of day 2 whose rows are in the candidate's dataset asks for erasure on day 3
    landing = Path(cconfig.landing)
    users = {json.loads(line).get("user_id") for p in (landing / f"dt={day2['day']}").glob("*.jsonl")
             for line in p.read_text().splitlines()} - {None}
    key = pseudonym.load_key(None)
    in_dataset = set(pads.dataset(Path(cconfig.warehouse) / "datasets" / old_id / "sft",
                                  format="parquet").to_table(["user_pseudonym"])
                     .column("user_pseudonym").to_pylist())
    user = sorted(u for u in users if pseudonym.pseudonymize(key, u) in in_dataset)[0]
    erased = pseudonym.pseudonymize(key, user)
    day3 = config.day(3)
    (landing / f"dt={day3}").mkdir(parents=True)
    request = events.deletion(event_id="del-test-1", user=user,
                              at=dt.datetime.fromisoformat(f"{day3}T09:00:00+00:00"))
    (landing / f"dt={day3}" / "deletions.jsonl").write_text(json.dumps(request) + "\n")
    cycle.curate_day(cconfig, day3)
    cycle.erase_requested(cconfig, day3)
    canary = registry.get_version(client, SFT_MODEL_NAME, canary.version)
    assert canary.tags[ERASED_TAG] == "true"  # promotion would refuse it

    retrained = cycle.retrain_without_erased(cconfig, canary)
    assert retrained["version"] is not None, retrained
    assert retrained["dataset_id"] != old_id and retrained["erased_from_dataset_id"] == old_id
    rebuilt = pads.dataset(Path(cconfig.warehouse) / "datasets" / retrained["dataset_id"] / "sft",
                           format="parquet").to_table(["user_pseudonym"]).column("user_pseudonym")
    assert erased not in set(rebuilt.to_pylist()) and len(rebuilt) > 0
    new = registry.get_version(client, SFT_MODEL_NAME, retrained["version"])
    assert new.tags[cycle.RETRAIN_TAG] == str(canary.version)
    assert new.tags[ERASED_TAG] == "false" and new.tags["base_version"] == str(champion.version)
    assert new.tags["levers"] == canary.tags["levers"]  # the same recipe
    again = cycle.retrain_without_erased(cconfig, canary)  # a rerun of the day trains nothing
    assert again["version"] == retrained["version"] and again["reused"]

    # the canary won (the online gate's own decision on real traffic is tested elsewhere):
    # the retrained version takes the offline checks and carries the canary's evidence
    won = {"decision": {"promote": True, "reason": "approval_rate_ci_above_champion",
                        "stage": "online"}, "offline_evaluation": "canary.json"}
    reward = max(int(v.version) for v in client.search_model_versions(
        f"name = '{REWARD_MODEL_NAME}'"))  # the newest: trained after the erasure
    report = cycle._retrained_report(cconfig, won, retrained, int(champion.version),  # noqa: SLF001
                                     reward)
    offline = json.loads(Path(report["offline_evaluation"]).read_text())
    assert report["candidate"]["version"] == retrained["version"]
    assert report["decision"]["promote"] == bool(offline["decision"].get("canary")
                                                  or offline["decision"].get("promote"))
    assert f"canary v{canary.version}" in report["decision"]["reason"]
    assert f"v{retrained['version']}" in report["decision"]["reason"]
    path = cycle._write_online_report(cconfig, day3, retrained["version"],  # noqa: SLF001
                                      int(champion.version), report)
    outcome = cycle.promote_or_keep(cconfig, day3, retrained["version"], path, report["decision"])
    assert outcome["promoted"] == report["decision"]["promote"]
    row = promote.read_deployments(cconfig.warehouse)[-1]
    assert row["to_version"] == retrained["version"] and row["reason"] == report["decision"]["reason"]
    served = cycle.alias_version(cconfig, "champion").version
    assert served == (new.version if outcome["promoted"] else champion.version)
