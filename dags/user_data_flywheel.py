"""The user-data flywheel, every night: curate yesterday's traffic, learn from it, and redeploy
only a better model.

Every task is a few lines calling ``flywheel.cycle``; heavy imports happen inside tasks, tasks
pass paths and ids (never data) through XCom, and each reads and writes only the partition of
the run's logical date, so a rerun or a backfill of a day is idempotent end to end.

Configuration: DAG params (set per run, e.g. ``airflow dags trigger -c '{...}'``), falling back
to Airflow Variables ``flywheel_<name>``, falling back to the defaults below. No secrets here: the
pseudonymization key comes from the worker's environment (``FLYWHEEL_PSEUDONYM_KEY``) or a key
file URL (``flywheel_pseudonym_key_file``). GPU tasks go to the pool/queue named by the
environment variables ``FLYWHEEL_GPU_POOL`` / ``FLYWHEEL_GPU_QUEUE`` on the scheduler.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

DEFAULTS = {
    "landing": "/data/flywheel/landing",
    "warehouse": "/data/flywheel/warehouse",
    "beam_args": "",  # e.g. "--runner=DataflowRunner --project=p --region=r --temp_location=gs://b/tmp"
    "sft_base": "tiny",  # "tiny" | "champion" | a model path or URL
    "reward_base": "minilm",
    "window_days": 7,
    "pseudonym_key_file": "",
    "webhook": "",
    "redeploy_command": "",
    "tracking_uri": "",
}
GPU_POOL = os.environ.get("FLYWHEEL_GPU_POOL", "default_pool")
GPU_QUEUE = os.environ.get("FLYWHEEL_GPU_QUEUE", "default")


def _config(context):
    """CycleConfig from params, then Variables, then defaults."""
    from airflow.sdk import Variable

    from flywheel.cycle import CycleConfig

    params = context["params"]

    def value(name):
        given = params.get(name)
        if given not in (None, ""):
            return given
        return Variable.get(f"flywheel_{name}", default=DEFAULTS[name])

    return CycleConfig(
        landing=value("landing"),
        warehouse=value("warehouse"),
        beam_args=tuple(str(value("beam_args")).split()),
        pseudonym_key_file=value("pseudonym_key_file") or None,
        window_days=int(value("window_days")),
        sft_base=value("sft_base"),
        reward_base=value("reward_base"),
        webhook=value("webhook") or None,
        redeploy_command=value("redeploy_command") or None,
        tracking_uri=value("tracking_uri") or None,
    )


def _say_what_failed(context):
    """Failure callback: one sentence an on-call engineer can act on, in the task log."""
    ti = context.get("ti") or context.get("task_instance")
    day = context.get("ds")
    error = context.get("exception")
    task_id = getattr(ti, "task_id", "?")
    print(f"FLYWHEEL FAILURE: task '{task_id}' failed for day {day}: "
          f"{type(error).__name__ if error else 'error'}: {error}. "
          f"Its task doc says what it does and how to rerun it; a rerun of the day is safe.")


@dag(
    dag_id="user_data_flywheel",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one writer per warehouse: erasure and commits assume it
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "on_failure_callback": _say_what_failed,
    },
    # Empty params fall back to Variables, then DEFAULTS (see _config).
    params={name: Param(None, type=["null", "string", "integer"]) for name in DEFAULTS},
    tags=["flywheel"],
    doc_md=__doc__,
)
def user_data_flywheel():
    @task(doc_md="Fails in words when the landing partition of the day is missing or empty.",
          retries=6, retry_delay=timedelta(minutes=30))
    def check_landing(**context):
        from flywheel import cycle

        return cycle.check_landing(_config(context), context["ds"])

    @task(doc_md="Beam curation job (parse, validate, scrub PII, dedup, filter) for the day: "
          "DirectRunner by default, Dataflow/Flink/Spark through `beam_args`. Replaces the day's "
          "partitions atomically; rerun safely.", execution_timeout=timedelta(hours=4))
    def curate(landing_info, **context):
        from flywheel import cycle

        return cycle.curate_day(_config(context), context["ds"])

    @task(doc_md="Completes pending deletion requests across all partitions, datasets and "
          "models (tombstones in `deletions`).")
    def erase(curated, **context):
        from flywheel import cycle

        return cycle.erase_requested(_config(context), context["ds"])

    @task(doc_md="Writes the analysts' DuckDB catalog and the day's HTML report.")
    def publish(erased, **context):
        from flywheel import cycle

        return cycle.publish(_config(context), context["ds"])

    @task(doc_md="Builds SFT and preference datasets from the last `window_days` of consented "
          "data; the id is a content hash, so a rerun reuses it.")
    def build_dataset(erased, **context):
        from flywheel import cycle

        return cycle.build_dataset(_config(context), context["ds"])

    @task(doc_md="Trains the Bradley-Terry reward model (TRL RewardTrainer) and registers it.",
          pool=GPU_POOL, queue=GPU_QUEUE, execution_timeout=timedelta(hours=6))
    def train_reward(dataset, **context):
        from flywheel import cycle

        return cycle.train_reward_model(_config(context), dataset["dataset_id"])

    @task(doc_md="Fine-tunes the candidate (TRL SFTTrainer) and registers it.",
          pool=GPU_POOL, queue=GPU_QUEUE, execution_timeout=timedelta(hours=12))
    def train_sft(dataset, **context):
        from flywheel import cycle

        return cycle.train_candidate(_config(context), dataset["dataset_id"])

    @task(doc_md="Held-out loss, reward-model win rate vs the champion, regression checks; "
          "writes the evaluation JSON and the gate's decision.", pool=GPU_POOL, queue=GPU_QUEUE)
    def evaluate(dataset, candidate, reward, **context):
        from flywheel import cycle

        return cycle.evaluate_candidate(_config(context), dataset["dataset_id"],
                                        candidate["version"], reward["version"])

    @task.branch(doc_md="Follows the decision the evaluation recorded (it is made there, once): "
                 "promote and redeploy, or keep the champion.")
    def gate(evaluation):
        return "promote_and_redeploy" if evaluation["decision"]["promote"] else "keep_champion"

    @task(doc_md="Moves the `champion` alias, appends to `deployments`, writes the serving "
          "manifest and calls the redeploy hooks.")
    def promote_and_redeploy(candidate, evaluation, **context):
        from flywheel import cycle

        return cycle.promote_or_keep(_config(context), context["ds"], candidate["version"],
                                     evaluation["evaluation"])

    @task(doc_md="Records 'champion kept' and the gate's reason in `deployments`; never moves "
          "the alias.")
    def keep_champion(candidate, evaluation, **context):
        from flywheel import cycle

        return cycle.keep_champion(_config(context), context["ds"], candidate["version"],
                                   evaluation["evaluation"])

    landing_info = check_landing()
    curated = curate(landing_info)
    erased = erase(curated)
    publish(erased)
    dataset = build_dataset(erased)
    reward = train_reward(dataset)
    candidate = train_sft(dataset)
    evaluation = evaluate(dataset, candidate, reward)
    gate(evaluation) >> [promote_and_redeploy(candidate, evaluation),
                         keep_champion(candidate, evaluation)]


user_data_flywheel()
