"""What the erasure reaches beyond the warehouse tables: built datasets and registered models.

Datasets under ``WAREHOUSE/datasets/<id>/`` lose the erased users' rows and are marked stale in
their manifest (a count, never an id); MLflow model versions trained on a stale dataset are
tagged ``contains_erased_user_data=true`` so that the promotion gate refuses them.
``governance.erase`` drives both; ``governance.rotate_key`` and ``governance.lineage`` read the
same layout. See docs/governance.md.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from curation.dataset_format import (
    DATASETS_DIR,
    MANIFEST,
    dataset_dirs,
    mark_stale,
    rebuild_dirs,
)
from training import registry
from warehouse import files as storage

ERASED_TAG = registry.ERASED_TAG  # the model-version tag this job sets
STALE_REASON = "contains_erased_user_data"


class RegistryError(RuntimeError):
    """The model registry refused a tag; the message names the registry and the fix."""


def member_mask(column: pa.ChunkedArray, values: pa.Array) -> pa.ChunkedArray:
    """True where ``column`` holds one of ``values`` (nulls: False)."""
    return pc.fill_null(pc.is_in(column, value_set=values), False)


# ---------------------------------------------------------------------------------------------
# Datasets


def _rows_in(folders, erased: set[str], columns: Iterable[str]) -> dict[str, dict[str, set[str]]]:
    """folder name -> {relative parquet path -> erased pseudonyms found in it}."""
    found: dict[str, dict[str, set[str]]] = {}
    if not erased:
        return found
    columns = tuple(columns)
    values = pa.array(sorted(erased), pa.string())
    for folder in folders:
        for path in sorted(folder.rglob("*.parquet")):
            names = storage.parquet_file(path).schema_arrow.names
            present = [c for c in columns if c in names]
            if not present:
                continue
            table = storage.read_parquet(path, present)
            users = set()
            for column in present:
                users |= set(table[column].filter(member_mask(table[column], values)).to_pylist())
            if users:
                found.setdefault(folder.name, {})[path.relative_to(folder).as_posix()] = users
    return found


def find_dataset_rows(wh: str, erased: set[str],
                      columns: Iterable[str]) -> dict[str, dict[str, set[str]]]:
    """dataset id -> {relative parquet path -> erased pseudonyms found in it}."""
    return _rows_in(dataset_dirs(wh) if erased else [], erased, columns)


def drop_rebuilds(wh: str, erased: set[str], columns: Iterable[str]) -> list[str]:
    """Delete every rebuild copy (``WAREHOUSE/_rebuilds/<id>/``) that holds an erased user.

    A rebuild is a verification copy, not a dataset anything trains on: it is removed whole
    rather than scrubbed, and ``curation.datasets rebuild`` makes it again (without the users).
    Returns the ids removed.
    """
    folders = {folder.name: folder for folder in (rebuild_dirs(wh) if erased else [])}
    holders = sorted(_rows_in(folders.values(), erased, columns))
    for name in holders:
        storage.delete_tree(str(folders[name]))
    return holders


def scrub_dataset(folder: Path, files: list[str], erased: set[str], columns: Iterable[str],
                  compression: str) -> int:
    """Drop the erased users' rows from ``files`` of one dataset; returns rows removed."""
    values = pa.array(sorted(erased), pa.string())
    removed = 0
    for relative in files:
        path = folder / relative
        table = storage.read_parquet(path)
        mask = None
        for column in columns:
            if column in table.column_names:
                hit = member_mask(table[column], values)
                mask = hit if mask is None else pc.or_(mask, hit)
        if mask is None:
            continue
        kept = table.filter(pc.invert(mask))
        removed += table.num_rows - kept.num_rows
        storage.write_parquet(kept, path, compression=compression)
    return removed


def scrub_datasets(wh: str, dataset_hits: dict[str, dict[str, set[str]]], erased: set[str],
                   tombstones: list[dict], users: dict[str, dict], as_of: str, *,
                   columns: Iterable[str], compression: str) -> int:
    """Scrub every dataset that holds (or ever held) an erased user and mark it stale; returns
    rows removed. Both steps are idempotent."""
    columns = tuple(columns)
    holders: dict[str, int] = defaultdict(int)  # dataset -> erased users it ever held
    for tombstone in tombstones:
        for dataset_id in tombstone["datasets_marked_stale"] or []:
            holders[dataset_id] += 1
    for entry in users.values():
        for dataset_id in entry["datasets"]:
            holders[dataset_id] += 1
    removed = 0
    for dataset_id in sorted(set(holders) | set(dataset_hits)):
        folder = storage.path(wh) / DATASETS_DIR / dataset_id
        if not (folder / MANIFEST).is_file():
            continue  # deleted since: nothing left to mark
        files = sorted(dataset_hits.get(dataset_id, {}))
        removed += scrub_dataset(folder, files, erased, columns, compression)
        mark_stale(folder, reason=STALE_REASON, erased_pseudonym_count=max(holders[dataset_id], 1),
                   as_of=as_of)
    return removed


# ---------------------------------------------------------------------------------------------
# Models (MLflow registry)


def registry_uri(wh: str, explicit: str | None = None) -> str | None:
    """The registry the training package writes to; None when there is none yet."""
    if explicit:
        return explicit
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    db = Path(wh).resolve() / "mlflow.db"
    return f"sqlite:///{db}" if "://" not in wh and db.is_file() else None


def model_versions(uri: str | None) -> list[dict]:
    """Every registered model version: {name, version, tags, aliases, run_id}."""
    if uri is None:
        return []
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    out, token = [], None
    while True:
        page = client.search_model_versions(page_token=token)
        out.extend({"name": v.name, "version": int(v.version), "tags": dict(v.tags or {}),
                    "aliases": list(v.aliases or []), "run_id": v.run_id} for v in page)
        token = page.token
        if not token:
            break
    return sorted(out, key=lambda v: (v["name"], v["version"]))


def tag_models(uri: str | None, stale_ids: set[str], as_of: str) -> dict[str, list[str]]:
    """Tag versions trained on a stale dataset; returns dataset id -> ["name/version", ...]."""
    tagged: dict[str, list[str]] = defaultdict(list)
    if uri is None or not stale_ids:
        return tagged
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        for version in model_versions(uri):
            dataset_id = version["tags"].get("dataset_id")
            if dataset_id not in stale_ids:
                continue
            if version["tags"].get(ERASED_TAG) != "true":
                name, number = version["name"], str(version["version"])
                client.set_model_version_tag(name, number, ERASED_TAG, "true")
                client.set_model_version_tag(name, number, "erased_data_as_of", as_of)
            tagged[dataset_id].append(f"{version['name']}/{version['version']}")
    except MlflowException as exc:
        message = " ".join(str(exc.message).split())
        raise RegistryError(f"cannot tag model versions in the registry {uri}: {message}; fix "
                            "it or pass --tracking-uri, then rerun") from exc
    return tagged
