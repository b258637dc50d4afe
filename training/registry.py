"""MLflow tracking and model registry for the training loop.

Embedded by default: tracking and registry in ``sqlite:///WAREHOUSE/mlflow.db``, artifacts under
``WAREHOUSE/mlruns``. ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` points at any server instead.
A warehouse on an object store cannot hold a sqlite database, so there the registry must be
named (a sqlite file on the training machine, or an MLflow server); a sqlite registry outside
the warehouse keeps its artifacts beside the database (``<db folder>/mlruns``).
Models are registered as ``flywheel-sft`` / ``flywheel-reward``; serving follows the ``champion``
alias (MLflow 3 aliases, no stages).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from dataclasses import asdict, is_dataclass
from pathlib import Path

from training.config import EXPERIMENT_NAME
from training.data import DatasetRef

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
# A model version's tag, "true" once an erasure removed rows of the data it was trained on
# (governance sets it; the gate refuses such a version).
ERASED_TAG = "contains_erased_user_data"


class RegistryError(RuntimeError):
    """A registry lookup that cannot be answered (unknown version, no champion, ...)."""


def is_not_found(error) -> bool:
    """True for MLflow's "no such model / version / alias" answers, False for any other failure.

    A missing model or version is ``RESOURCE_DOES_NOT_EXIST``; a missing alias on an existing
    model is ``INVALID_PARAMETER_VALUE`` with "alias ... not found" (MLflow 3). Anything else
    (server down, database locked, HTTP 5xx) is not an answer and must fail the step: read as
    "absent", it would make a candidate look like the first model and skip the comparison.
    """
    from mlflow.exceptions import MlflowException

    if not isinstance(error, MlflowException):
        return False
    if error.error_code == "RESOURCE_DOES_NOT_EXIST":
        return True
    message = str(error.message).lower()
    return error.error_code == "INVALID_PARAMETER_VALUE" and "alias" in message and "not found" in message


def git_sha() -> str:
    """The commit the code runs from, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def tracking_uri(warehouse: str | Path, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    if "://" in str(warehouse):
        raise RegistryError(
            f"warehouse {warehouse} is on an object store, which cannot hold the embedded sqlite "
            "registry: set MLFLOW_TRACKING_URI (e.g. sqlite:////var/lib/flywheel/mlflow.db or "
            "http://mlflow:5000) or pass --tracking-uri")
    return f"sqlite:///{Path(warehouse).resolve() / 'mlflow.db'}"


def connect(warehouse: str | Path, uri: str | None = None):
    """Point mlflow (tracking + registry) at the warehouse's store; returns an MlflowClient."""
    import mlflow
    from mlflow import MlflowClient

    resolved = tracking_uri(warehouse, uri)
    if "://" not in str(warehouse):
        Path(warehouse).mkdir(parents=True, exist_ok=True)
    # mlflow.set_*_uri also export MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI to the environment;
    # left there, the next warehouse in this process (or a child process) would silently use
    # this one's registry. Restore whatever the user had set.
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return MlflowClient(tracking_uri=resolved, registry_uri=resolved)


def _experiment_id(client, warehouse: str | Path, uri: str | None) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is not None:
        return experiment.experiment_id
    location = artifact_location(warehouse, tracking_uri(warehouse, uri))
    return client.create_experiment(EXPERIMENT_NAME, artifact_location=location)


def artifact_location(warehouse: str | Path, resolved: str) -> str | None:
    """Where a sqlite registry keeps model artifacts: ``WAREHOUSE/mlruns`` for a local warehouse,
    beside the database for one on an object store (serving loads checkpoints from local disk);
    None for a server, which has its own artifact store."""
    if not resolved.startswith("sqlite:///"):
        return None
    if "://" not in str(warehouse):
        return (Path(warehouse).resolve() / "mlruns").as_uri()
    return (Path(resolved[len("sqlite:///"):]).resolve().parent / "mlruns").as_uri()


def flatten_params(config) -> dict[str, str]:
    """A (nested) config dataclass or dict as MLflow params (dotted keys, values <= 500 chars)."""
    data = asdict(config) if is_dataclass(config) else dict(config)
    flat: dict[str, str] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}{key}.", inner)
        else:
            flat[prefix[:-1]] = str(value)[:500]

    walk("", data)
    return flat


def _mlflow_dataset(dataset: DatasetRef, kind: str):
    import mlflow.data
    import pandas as pd

    from warehouse import files as storage

    # A model's kind names the dataset it learns from: SFT rows, or preference pairs.
    path = dataset.split({"reward": "preferences"}.get(kind, kind), "train")
    frame = storage.read_parquet(path).to_pandas() if path.exists() else pd.DataFrame()
    if "messages" in frame.columns:  # nested structs: log the text, MLflow infers a flat schema
        frame["messages"] = frame["messages"].map(lambda ms: json.dumps([dict(m) for m in ms]))
    digest = hashlib.sha256(json.dumps(dataset.manifest, sort_keys=True).encode()).hexdigest()[:16]
    return mlflow.data.from_pandas(frame, source=str(dataset.path if "://" in str(dataset.path) else dataset.path.resolve()), name=dataset.dataset_id, digest=digest)


def log_and_register(
    warehouse: str | Path,
    *,
    model_name: str,
    model_dir: str | Path,
    kind: str,
    params: dict[str, str],
    metrics: dict[str, float],
    dataset: DatasetRef,
    tags: dict[str, str],
    uri: str | None = None,
) -> dict:
    """One MLflow run (params, metrics, dataset input, checkpoint artifacts) + one model version."""
    import mlflow

    client = connect(warehouse, uri)
    experiment_id = _experiment_id(client, warehouse, uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{kind}-{dataset.dataset_id}") as run:
        mlflow.log_params(params)
        mlflow.log_metrics({key: float(value) for key, value in metrics.items() if value is not None})
        mlflow.log_input(_mlflow_dataset(dataset, kind), context="training")
        mlflow.set_tags(tags)
        mlflow.log_artifacts(str(model_dir), artifact_path="model")
        artifact_uri = f"{run.info.artifact_uri}/model"
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(model_name)
    except MlflowException as error:
        if not is_not_found(error):
            raise
        client.create_registered_model(model_name, tags={"managed_by": "user-data-flywheel"})
    version = client.create_model_version(
        model_name, source=artifact_uri, run_id=run.info.run_id, tags=tags, await_creation_for=0
    )
    return {
        "run_id": run.info.run_id,
        "model_name": model_name,
        "version": int(version.version),
        "artifact_uri": artifact_uri,
        "model_dir": str(model_dir),
        "tracking_uri": tracking_uri(warehouse, uri),
    }


def get_version(client, model_name: str, version: int | str):
    """The model version; RegistryError when the registry says it does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(model_name, str(version))
    except MlflowException as error:
        if not is_not_found(error):
            raise
        raise RegistryError(f"model {model_name!r} has no version {version!r} in the registry") from error


def alias_version(client, model_name: str, alias: str):
    """The model version an alias points at, or None when the registry says the alias is unset."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException as error:
        if not is_not_found(error):
            raise
        return None


def local_model_dir(model_version, dst: str | Path | None = None) -> Path:
    """A local folder holding the version's checkpoint (downloaded when the store is remote)."""
    import mlflow.artifacts

    source = model_version.source
    if source.startswith("file://"):
        from urllib.parse import unquote, urlparse

        path = Path(unquote(urlparse(source).path))
        if path.exists():
            return path
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(dst) if dst else None))


def resolve_model(warehouse: str | Path, spec: str, model_name: str, uri: str | None = None) -> tuple[Path, int | None]:
    """A model given as a local path, a registry version number, or an alias ("champion")."""
    path = Path(spec)
    if path.exists():
        return path, None
    client = connect(warehouse, uri)
    if spec.isdigit():
        version = get_version(client, model_name, spec)
    else:
        version = alias_version(client, model_name, spec)
        if version is None:
            raise RegistryError(f"model {model_name!r} has no {spec!r} alias yet (and {spec!r} is not a path)")
    return local_model_dir(version), int(version.version)
