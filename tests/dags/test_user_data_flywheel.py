"""The daily DAG: imports cleanly and light, and a whole run on CPU does the whole cycle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow_home")
    env = dict(os.environ, AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
               AIRFLOW__CORE__UNIT_TEST_MODE="False")
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                   capture_output=True)
    return env


def test_dagbag_imports_without_errors_or_heavy_modules(airflow_home):
    code = (
        "import sys, json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS)!r})\n"
        "dag = bag.get_dag('user_data_flywheel')\n"
        "heavy = sorted(m for m in ('torch', 'apache_beam', 'transformers', 'trl', 'mlflow',"
        " 'presidio_analyzer', 'spacy', 'duckdb') if m in sys.modules)\n"
        "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()},"
        " 'tasks': sorted(dag.task_ids), 'heavy': heavy, 'catchup': dag.catchup,"
        " 'schedule': str(dag.schedule)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=airflow_home, check=True,
                         capture_output=True, text=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["errors"] == {}
    assert info["heavy"] == [], f"heavy imports at DAG module level: {info['heavy']}"
    assert info["catchup"] is False
    from flywheel.cycle import STEPS

    # One task per step of the cycle; the promote step is the gate and its two branches.
    assert set(info["tasks"]) == (set(STEPS) - {"promote"}) | {
        "gate", "promote_and_redeploy", "keep_champion"}


RUN_DAG = """
import json, sys, pendulum
sys.path.insert(0, {dags!r})
from user_data_flywheel import user_data_flywheel
dag = user_data_flywheel()
conf = json.loads({conf!r})
run = dag.test(logical_date=pendulum.datetime(2026, 11, 1, tz="UTC"), run_conf=conf)
states = {{ti.task_id: str(ti.state) for ti in run.get_task_instances()}}
print("RESULT " + json.dumps({{"state": str(run.state), "tasks": states}}))
"""


@pytest.mark.slow
def test_dag_test_runs_the_whole_cycle_for_a_simulated_day(airflow_home, tmp_path):
    from feedback import simulate

    landing, wh = tmp_path / "landing", tmp_path / "warehouse"
    # Enough traffic for the from-config model to pass the first-model sanity gate (at 40 users
    # it answers degenerately and is rightly refused; 200 pass, and cost 2/3 of 300's CPU).
    simulate.simulate_day(landing=landing, date="2026-11-01", users=200, seed=42,
                          model_versions=("v1",))
    conf = {"landing": str(landing), "warehouse": str(wh), "reward_base": "tiny",
            "sft_base": "tiny", "window_days": 7}
    env = dict(airflow_home, FLYWHEEL_PSEUDONYM_KEY="dag-test-key-0123456789abcdef",
               HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    code = RUN_DAG.format(dags=str(DAGS), conf=json.dumps(conf))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=str(REPO), timeout=1200)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, out.stdout[-3000:] + out.stderr[-5000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert "success" in result["state"], result
    tasks = result["tasks"]
    assert all("success" in tasks[t] for t in (
        "check_landing", "curate", "erase", "publish", "build_dataset", "train_reward",
        "train_sft", "evaluate", "gate", "promote_and_redeploy")), json.dumps(tasks)
    assert "skipped" in tasks["keep_champion"]  # the first model becomes champion

    # The warehouse, the dataset, the registry and the alias are all there.
    for table in ("interactions", "feedback", "rejects", "stats"):
        assert list((wh / table / "dt=2026-11-01").glob("*.parquet")), table
    datasets = [p for p in (wh / "datasets").iterdir() if (p / "manifest.json").exists()]
    assert len(datasets) == 1
    from training import registry
    from training.config import CHAMPION_ALIAS, REWARD_MODEL_NAME, SFT_MODEL_NAME

    client = registry.connect(str(wh))
    assert str(registry.alias_version(client, SFT_MODEL_NAME, CHAMPION_ALIAS).version) == "1"
    assert len(client.search_model_versions(f"name = '{REWARD_MODEL_NAME}'")) == 1
    manifest = json.loads((wh / "serving" / "deployment.json").read_text())
    assert str(manifest["version"]) == "1"
    assert (wh / "reports" / "dt=2026-11-01" / "report.html").exists()

    # A rerun of the same day duplicates nothing: same dataset, same versions, same deployment rows.
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=str(REPO), timeout=1200)
    assert "success" in json.loads([line for line in out.stdout.splitlines()
                                    if line.startswith("RESULT ")][-1][7:])["state"]
    assert len([p for p in (wh / "datasets").iterdir() if (p / "manifest.json").exists()]) == 1
    assert len(client.search_model_versions(f"name = '{SFT_MODEL_NAME}'")) == 1
    from training.promote import read_deployments

    assert len(read_deployments(str(wh))) == 1
    shutil.rmtree(wh / "reports", ignore_errors=True)
