"""The daily flywheel cycle as plain, idempotent steps keyed by the day.

The Airflow DAG (``dags/user_data_flywheel.py``) runs each step as one task and the demo
(``flywheel.demo``) calls them in order; both pass paths and ids, never data. Every step can be
rerun for the same day and gives the same result without duplicating anything: curation replaces
the day's partitions, dataset ids are content hashes, a model already trained on a dataset is
reused rather than registered again, and promotion records are keyed by the day.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

log = logging.getLogger("flywheel.cycle")


@dataclass(frozen=True)
class CycleConfig:
    landing: str
    warehouse: str
    # Extra Beam pipeline options for the curation job (e.g. "--runner=DataflowRunner", ...).
    beam_args: tuple[str, ...] = ()
    pseudonym_key_file: str | None = None
    # Training window: a week of feedback, as in curation.datasets.DatasetConfig.
    window_days: int = 7
    eval_fraction: float = 0.2  # small daily sets need a larger eval share for a usable CI
    sft_base: str = "tiny"  # "tiny" (built from config, demo/CI) | "champion" | a model path
    reward_base: str = "minilm"  # the pretrained MiniLM encoder the package ships
    # A model built from config learns from scratch: it needs a far higher rate and more passes
    # than fine-tuning a pretrained base (measured on the demo's data: 6 epochs at 3e-3 reach
    # 1.1 bits/byte and coherent answers; 2 epochs at 2e-4 answer nothing).
    sft_epochs: float = 6.0
    sft_learning_rate: float | None = None  # None: 3e-3 for "tiny", else SFTTrainConfig's
    sft_max_length: int = 256  # tokens; demo conversations are short, CPU time is linear in it
    reward_epochs: float | None = None  # None: RewardTrainConfig's (early stopping picks the epoch)
    max_reward_pairs: int | None = 2000  # bounds CPU time; GPUs lift it
    eval_prompts: int = 48
    # Curated landing days older than this many days are deleted after erasure; None keeps
    # the raw landing zone (it is the only copy that can re-curate a day).
    landing_retention_days: int | None = None
    webhook: str | None = None  # called with the deployment manifest on promotion
    redeploy_command: str | None = None
    tracking_uri: str | None = None  # default: sqlite under the warehouse
    extra: dict = field(default_factory=dict)


class NoLandingData(RuntimeError):
    pass


def check_landing(config: CycleConfig, day: str) -> dict:
    """Files and bytes in the day's landing partition; fails in words when there are none."""
    from pipelines import landing

    try:
        selection = landing.select_files(config.landing, day)
    except landing.NoLandingFiles as exc:
        raise NoLandingData(str(exc)) from None
    return {"day": day, "files": len(selection.files),
            "bytes": int(sum(f.size for f in selection.files)),
            "skipped_files": len(selection.skipped)}


def curate_day(config: CycleConfig, day: str) -> dict:
    from pipelines import curate

    argv = ["--landing", config.landing, "--warehouse", config.warehouse, "--date", day]
    if config.pseudonym_key_file:
        argv += ["--pseudonym-key-file", config.pseudonym_key_file]
    result = curate.run(argv + list(config.beam_args))
    return {"day": day, "run_id": result["run_id"], "seconds": round(result["seconds"], 1)}


def erase_requested(config: CycleConfig, day: str) -> dict:
    """Complete the day's deletion requests in the warehouse, its datasets, the registry and
    the landing zone; then drop curated landing days past the retention, when one is set."""
    from governance import erase, landing_erasure
    from warehouse import pseudonym

    ring = pseudonym.load_key_ring(config.pseudonym_key_file)
    summary = erase.erase(config.warehouse, as_of=day, tracking_uri=config.tracking_uri,
                          landing=config.landing, key_ring=ring)
    if config.landing_retention_days is not None:
        summary["retention"] = landing_erasure.apply_retention(
            config.landing, config.warehouse, day, config.landing_retention_days)
    return summary


def publish(config: CycleConfig, day: str) -> dict:
    """The analysts' DuckDB catalog and the day's HTML report."""
    from curation import report
    from curation.inspect import write_catalog

    out = Path(config.warehouse) / "reports" / f"dt={day}"
    out.mkdir(parents=True, exist_ok=True)
    html = report.write_report(config.warehouse, out / "report.html")
    catalog = write_catalog(config.warehouse, Path(config.warehouse) / "catalog.duckdb")
    return {"report": str(html), "catalog": str(catalog)}


def build_dataset(config: CycleConfig, day: str) -> dict:
    from curation.datasets import DatasetConfig, build_dataset, load_manifest

    dataset_id, path = build_dataset(
        config.warehouse, day,
        DatasetConfig(window_days=config.window_days, eval_fraction=config.eval_fraction))
    manifest = load_manifest(config.warehouse, dataset_id)
    return {"dataset_id": dataset_id, "path": str(path), "counts": manifest.get("counts", {})}


def _existing_version(config: CycleConfig, model_name: str, dataset_id: str, kind: str):
    """A registered version already trained on this dataset with this kind, if any."""
    from training import registry

    client = registry.connect(config.warehouse, config.tracking_uri)
    # An unknown model name is an empty list, not an error: any exception here is a real failure.
    versions = client.search_model_versions(f"name = '{model_name}'")
    matching = [v for v in versions
                if (v.tags or {}).get("dataset_id") == dataset_id
                and (v.tags or {}).get("kind", kind) == kind]
    return max(matching, key=lambda v: int(v.version)) if matching else None


def train_reward_model(config: CycleConfig, dataset_id: str) -> dict:
    from training.config import REWARD_MODEL_NAME, RewardTrainConfig
    from training.reward import train_reward

    existing = _existing_version(config, REWARD_MODEL_NAME, dataset_id, "reward")
    if existing is not None:
        return {"version": int(existing.version), "reused": True,
                "metrics": _metrics_of(config, existing)}
    # The improved reward model's defaults (bench/reward_real.py); the cycle sets base and size.
    reward_config = RewardTrainConfig(base=config.reward_base, max_train_pairs=config.max_reward_pairs)
    if config.reward_epochs is not None:
        reward_config = replace(reward_config, epochs=config.reward_epochs)
    info = train_reward(config.warehouse, dataset_id, tracking_uri=config.tracking_uri,
                        config=reward_config)
    return {"version": int(info["version"]), "reused": False, "metrics": info["metrics"]}


def train_candidate(config: CycleConfig, dataset_id: str) -> dict:
    from training.config import SFT_MODEL_NAME, SFTTrainConfig
    from training.sft import train_sft

    existing = _existing_version(config, SFT_MODEL_NAME, dataset_id, "sft")
    if existing is not None:
        return {"version": int(existing.version), "reused": True,
                "metrics": _metrics_of(config, existing)}
    learning_rate = config.sft_learning_rate or (
        3e-3 if config.sft_base == "tiny" else SFTTrainConfig.learning_rate)
    info = train_sft(config.warehouse, dataset_id, tracking_uri=config.tracking_uri,
                     config=SFTTrainConfig(base=config.sft_base, epochs=config.sft_epochs,
                                           learning_rate=learning_rate,
                                           max_length=config.sft_max_length))
    return {"version": int(info["version"]), "reused": False, "metrics": info["metrics"]}


def _metrics_of(config: CycleConfig, version) -> dict:
    from training import registry

    client = registry.connect(config.warehouse, config.tracking_uri)
    if not version.run_id:
        return {}
    return dict(client.get_run(version.run_id).data.metrics)


def evaluate_candidate(config: CycleConfig, dataset_id: str, candidate_version: int,
                       reward_version: int) -> dict:
    from training.config import EvalConfig
    from training.evaluate import evaluate

    path = evaluate(str(candidate_version), "champion", str(reward_version),
                    warehouse=config.warehouse, dataset_id=dataset_id,
                    config=EvalConfig(max_prompts=config.eval_prompts),
                    tracking_uri=config.tracking_uri)
    report = json.loads(Path(path).read_text())
    return {"evaluation": path, "decision": report["decision"],
            "candidate": report["candidate"], "champion": report["champion"]}


def promote_or_keep(config: CycleConfig, day: str, candidate_version: int,
                    evaluation: str) -> dict:
    """Acts on the gate decision the evaluation recorded: moves the alias when it says promote,
    records the refusal otherwise."""
    from training.promote import promote

    return promote(config.warehouse, candidate_version, evaluation, run_key=f"cycle:{day}",
                   webhook=config.webhook, command=config.redeploy_command,
                   tracking_uri=config.tracking_uri)


def keep_champion(config: CycleConfig, day: str, candidate_version: int, evaluation: str) -> dict:
    """Records the gate's refusal and its reason; never touches the alias."""
    from training.promote import record_kept

    return record_kept(config.warehouse, candidate_version, evaluation, run_key=f"cycle:{day}",
                       tracking_uri=config.tracking_uri)


# The day's steps, in order: run_cycle runs them, the demo's progress bar counts them, and the
# DAG has one task per step (its "promote" step is the gate with two branches,
# promote_and_redeploy and keep_champion). tests/dags checks the DAG against this list.
STEPS = ("check_landing", "curate", "erase", "publish", "build_dataset", "train_reward",
         "train_sft", "evaluate", "promote")


def run_cycle(config: CycleConfig, day: str, progress=None) -> dict:
    """Every step for one day, in ``STEPS`` order; returns what each step returned."""
    steps: dict[str, dict] = {}

    def step(name, fn, *args):
        if name != STEPS[len(steps)]:
            raise RuntimeError(f"step {name!r} out of order (STEPS says {STEPS[len(steps)]!r})")
        if progress is not None:
            progress(name)
        steps[name] = fn(*args)
        return steps[name]

    step("check_landing", check_landing, config, day)
    step("curate", curate_day, config, day)
    step("erase", erase_requested, config, day)
    step("publish", publish, config, day)
    dataset = step("build_dataset", build_dataset, config, day)
    reward = step("train_reward", train_reward_model, config, dataset["dataset_id"])
    candidate = step("train_sft", train_candidate, config, dataset["dataset_id"])
    evaluation = step("evaluate", evaluate_candidate, config, dataset["dataset_id"],
                      candidate["version"], reward["version"])
    step("promote", promote_or_keep, config, day, candidate["version"], evaluation["evaluation"])
    return steps
