"""Registry, promotion, rollback and redeploy on a real embedded MLflow store under tmp_path."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.training.conftest import toy_pairs
from training import promote as promote_mod
from training import registry, rollback
from training.config import CHAMPION_ALIAS, SFT_MODEL_NAME, EvalConfig, GatePolicy
from training.data import resolve_dataset, write_dataset
from training.evaluate import evaluate

# Models trained for seconds ramble: sanity thresholds are opened so that the loss decides.
LENIENT = GatePolicy(max_empty_rate=1.0, max_degenerate_rate=1.0)
CONFIG = EvalConfig(max_prompts=6, max_new_tokens=8, bootstrap_samples=300)


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received.clear()
    yield f"http://127.0.0.1:{server.server_port}/redeploy", _Hook.received
    server.shutdown()


def _register(warehouse, tiny_models, path):
    dataset = resolve_dataset(dataset_path=tiny_models.dataset)
    meta = json.loads((path / "meta.json").read_text())
    return registry.log_and_register(
        warehouse, model_name=SFT_MODEL_NAME, model_dir=path, kind="sft", params={"base": "tiny"},
        metrics=meta["metrics"], dataset=dataset, tags={"dataset_id": dataset.dataset_id, "git_sha": meta["git_sha"]},
    )


def _evaluate(warehouse, tiny_models, candidate, champion):
    return evaluate(str(candidate), champion, tiny_models.reward, warehouse=warehouse,
                    dataset_path=tiny_models.dataset, config=CONFIG, policy=LENIENT)


@pytest.mark.slow
def test_promotion_rollback_and_redeploy(tiny_models, tmp_path, webhook):
    warehouse = tmp_path / "warehouse"
    url, received = webhook
    weak = _register(warehouse, tiny_models, tiny_models.weak)
    strong = _register(warehouse, tiny_models, tiny_models.strong)
    assert (weak["version"], strong["version"]) == (1, 2)
    client = MlflowClient(tracking_uri=registry.tracking_uri(warehouse))
    assert (warehouse / "mlflow.db").exists() and (warehouse / "mlruns").is_dir()
    run = client.get_run(strong["run_id"])
    assert run.inputs.dataset_inputs[0].dataset.name == "oasst-test"
    assert client.get_model_version(SFT_MODEL_NAME, "2").tags["dataset_id"] == "oasst-test"

    # no evaluation: refused before anything moves
    with pytest.raises(promote_mod.PromotionError, match="no evaluation"):
        promote_mod.promote(warehouse, 1)

    # first model: sanity only
    first = _evaluate(warehouse, tiny_models, 1, "champion")
    decision = promote_mod.promote(warehouse, 1, first, webhook=url)
    assert decision["promoted"] and decision["reason"] == "first_model_sanity_passed"
    assert int(client.get_model_version_by_alias(SFT_MODEL_NAME, CHAMPION_ALIAS).version) == 1

    # a worse candidate is refused (weak registered again as v3), the alias stays, the refusal is recorded once
    worse = _register(warehouse, tiny_models, tiny_models.weak)
    better_eval = _evaluate(warehouse, tiny_models, 2, "champion")
    promote_mod.promote(warehouse, 2, better_eval, command=f"cp \"$DEPLOYMENT_JSON\" {tmp_path / 'seen.json'}")
    worse_eval = _evaluate(warehouse, tiny_models, worse["version"], "champion")
    refused = promote_mod.promote(warehouse, worse["version"], worse_eval)
    assert (refused["promoted"], refused["reason"]) == (False, "loss_regression")
    assert promote_mod.promote(warehouse, worse["version"], worse_eval)["recorded"] is False  # idempotent
    assert int(client.get_model_version_by_alias(SFT_MODEL_NAME, CHAMPION_ALIAS).version) == 2

    # re-promoting the champion adds nothing
    again = promote_mod.promote(warehouse, 2, better_eval)
    assert (again["promoted"], again["reason"]) == (False, "already_champion")

    rows = promote_mod.read_deployments(warehouse)
    assert [(r["action"], r["from_version"], r["to_version"]) for r in rows] == [
        ("promote", None, 1), ("promote", 1, 2), ("refuse", 2, 3)]
    assert rows[1]["reason"] in ("win_rate_ci_above_threshold", "loss_improved")
    assert json.loads(rows[1]["metrics_json"])["version"] == 2
    assert len({r["deployment_id"] for r in rows}) == 3

    deployment = json.loads((warehouse / "serving" / "deployment.json").read_text())
    assert deployment["version"] == 2 and deployment["alias"] == "champion" and deployment["dataset_id"] == "oasst-test"
    assert deployment["artifact_uri"].endswith("/model")
    assert json.loads((tmp_path / "seen.json").read_text()) == deployment  # the shell hook saw it
    assert received[0]["version"] == 1 and received[0]["model_name"] == SFT_MODEL_NAME  # the webhook saw v1

    # rollback restores v1, records it, redeploys; a second rollback has nowhere to go
    back = rollback.rollback(warehouse, reason="bad_feedback_spike", webhook=url)
    assert (back["from_version"], back["to_version"]) == (2, 1)
    assert int(client.get_model_version_by_alias(SFT_MODEL_NAME, CHAMPION_ALIAS).version) == 1
    assert json.loads((warehouse / "serving" / "deployment.json").read_text())["version"] == 1
    assert received[-1]["action"] == "rollback"
    last = promote_mod.read_deployments(warehouse)[-1]
    assert (last["action"], last["from_version"], last["to_version"], last["reason"]) == (
        "rollback", 2, 1, "bad_feedback_spike")
    with pytest.raises(promote_mod.PromotionError, match="first one promoted"):
        rollback.rollback(warehouse)

    # an evaluation made against another champion is stale; promoting v2 again is a new deployment
    stale = promote_mod.promote(warehouse, worse["version"], worse_eval)  # evaluated against v2, champion is v1
    assert (stale["promoted"], stale["reason"]) == (False, "stale_evaluation_champion_changed")
    assert promote_mod.promote(warehouse, 2, better_eval)["promoted"]  # evaluated against v1: valid again
    moves = [(r["action"], r["from_version"], r["to_version"]) for r in promote_mod.read_deployments(warehouse)
             if r["action"] != "refuse"]
    assert moves == [("promote", None, 1), ("promote", 1, 2), ("rollback", 2, 1), ("promote", 1, 2)]

    # a version tagged with erased user data never becomes champion
    client.set_model_version_tag(SFT_MODEL_NAME, "3", "contains_erased_user_data", "true")
    better3 = promote_mod.promote(warehouse, 3, _evaluate(warehouse, tiny_models, 3, "champion"))
    assert (better3["promoted"], better3["reason"]) == (False, "contains_erased_user_data")


def test_promote_cli_names_a_missing_version(tmp_path, capsys):
    rc = promote_mod.main(["--warehouse", str(tmp_path), "--candidate-version", "7"])
    assert rc == 2
    # the last stderr line is ours (MLflow logs its first-use schema migration above it)
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: model '{SFT_MODEL_NAME}' has no version 7 in the registry"


def test_connecting_to_a_warehouse_leaves_the_environment_alone(tmp_path, monkeypatch):
    import os

    from training import registry

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    registry.connect(tmp_path / "a")
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert registry.tracking_uri(tmp_path / "b").endswith(str((tmp_path / "b").resolve() / "mlflow.db"))


def _registered_versions(tmp_path, count: int):
    """A warehouse whose registry holds ``count`` versions of flywheel-sft (checkpoints not needed)."""
    warehouse = tmp_path / "warehouse"
    folder = write_dataset(tmp_path / "datasets", "toy", preferences={"train": toy_pairs(4, 1)})
    dataset = resolve_dataset(dataset_path=folder)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "meta.json").write_text("{}")
    for _ in range(count):
        registry.log_and_register(warehouse, model_name=SFT_MODEL_NAME, model_dir=model_dir, kind="sft",
                                  params={}, metrics={}, dataset=dataset, tags={"dataset_id": "toy"})
    return warehouse


def _evaluation(tmp_path, name: str, candidate: int, champion: int | None, decision: dict) -> Path:
    result = {"model": f"v{candidate}", "version": candidate, "eval_loss": 2.0, "bits_per_byte": 1.0,
              "n_eval": 10, "n_prompts": 10, "empty_rate": 0.0, "degenerate_rate": 0.0, "flagged_rate": 0.0,
              "win_rate": 0.9, "win_rate_ci_low": 0.8, "win_rate_ci_high": 0.95}
    champ = {**result, "model": f"v{champion}", "version": champion, "bits_per_byte": 2.0} if champion else None
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"dataset_id": "toy", "candidate": result, "champion": champ, "decision": decision}))
    return path


def test_promotion_acts_on_the_recorded_decision_without_recomputing_it(tmp_path):
    warehouse = _registered_versions(tmp_path, 2)
    first = _evaluation(tmp_path, "first", 1, None, {"promote": True, "reason": "first_model_sanity_passed"})
    assert promote_mod.promote(warehouse, 1, first)["promoted"]
    # By its numbers v2 wins on every count, but the gate recorded a refusal: that is what happens.
    refused = _evaluation(tmp_path, "refused", 2, 1,
                          {"promote": False, "reason": "no_significant_improvement_reward_model_untrusted"})
    outcome = promote_mod.promote(warehouse, 2, refused)
    assert (outcome["promoted"], outcome["reason"]) == (False, "no_significant_improvement_reward_model_untrusted")
    client = registry.connect(warehouse)
    assert int(registry.alias_version(client, SFT_MODEL_NAME, CHAMPION_ALIAS).version) == 1
    # an evaluation without a recorded decision is refused before anything moves
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({k: v for k, v in json.loads(refused.read_text()).items() if k != "decision"}))
    with pytest.raises(promote_mod.PromotionError, match="records no gate decision"):
        promote_mod.promote(warehouse, 2, bare)


def test_keep_champion_only_records_the_decision(tmp_path):
    from flywheel.cycle import CycleConfig, keep_champion

    warehouse = _registered_versions(tmp_path, 2)
    config = CycleConfig(landing=str(tmp_path / "landing"), warehouse=str(warehouse))
    first = _evaluation(tmp_path, "first", 1, None, {"promote": True, "reason": "first_model_sanity_passed"})
    # The gate said promote: keeping the champion would contradict it, and nothing moves or is recorded.
    with pytest.raises(promote_mod.PromotionError, match="decided to promote"):
        keep_champion(config, "2026-11-02", 1, first)
    client = registry.connect(warehouse)
    assert registry.alias_version(client, SFT_MODEL_NAME, CHAMPION_ALIAS) is None
    assert promote_mod.read_deployments(warehouse) == []

    promote_mod.promote(warehouse, 1, first, run_key="cycle:2026-11-01")
    refused = _evaluation(tmp_path, "refused", 2, 1, {"promote": False, "reason": "loss_regression"})
    kept = keep_champion(config, "2026-11-02", 2, refused)
    assert (kept["promoted"], kept["reason"], kept["recorded"]) == (False, "loss_regression", True)
    assert keep_champion(config, "2026-11-02", 2, refused)["recorded"] is False  # a retry adds nothing
    assert int(registry.alias_version(client, SFT_MODEL_NAME, CHAMPION_ALIAS).version) == 1
    rows = promote_mod.read_deployments(warehouse)
    assert [(r["action"], r["to_version"], r["reason"]) for r in rows] == [
        ("promote", 1, "first_model_sanity_passed"), ("refuse", 2, "loss_regression")]
