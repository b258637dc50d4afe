"""Governance queries: the state of deletion requests, and lineage from models back to landing files.

These functions return rows (lists of dicts); ``python -m curation.inspect deletions`` and
``python -m curation.inspect lineage --model NAME --version V`` / ``lineage --dataset ID`` print
them. The erasure itself is ``governance.erase``; the design is in docs/governance.md.

Lineage chain: a model version's MLflow tag ``dataset_id`` -> the dataset's manifest
``created_from`` (warehouse partition files with the sha256 they had at build time) -> the
distinct ``source_file`` values (landing files) of the rows in those partition files today.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from curation import dataset_format
from governance import erase_downstream as downstream
from warehouse import files as storage
from warehouse import partitions


def _erase():
    """governance.erase, imported on first use: it loads Beam's filesystems (about a second),
    which the inspect CLI's other commands should not pay for."""
    from governance import erase

    return erase

# Tables whose rows name the landing file they came from.
SOURCED_TABLES = ("interactions", "feedback")


class GovernanceError(Exception):
    """A lookup that cannot be answered; the message names the value and the fix."""


# ---------------------------------------------------------------------------------------------
# Deletions


def deletions(wh: str | Path) -> list[dict[str, Any]]:
    """One row per deletion request: pending, or completed with what its erasure removed."""
    wh = str(wh)
    requests = _erase().read_requests(wh)
    tombstones = {t["request_event_id"]: t for t in _erase().read_tombstones(wh)}
    rows = []
    for request in requests:
        tombstone = tombstones.pop(request["event_id"], None)
        rows.append(_deletion_row(request["event_id"], request["user_pseudonym"],
                                  request["requested_at"], tombstone))
    # A tombstone whose request partition is gone still proves the erasure happened.
    for event_id, tombstone in sorted(tombstones.items()):
        rows.append(_deletion_row(event_id, tombstone["user_pseudonym"], tombstone["requested_at"],
                                  tombstone))
    return rows


def _deletion_row(event_id, pseudonym, requested_at, tombstone) -> dict[str, Any]:
    removed = dict(tombstone["rows_removed"]) if tombstone else {}
    return {
        "request_event_id": event_id,
        "user_pseudonym": pseudonym,
        "requested_at": requested_at,
        "status": "completed" if tombstone else "pending",
        "completed_at": tombstone["completed_at"] if tombstone else None,
        "rows_removed": sum(removed.values()) if tombstone else None,
        "rows_removed_by_table": removed or None,
        "datasets_marked_stale": list(tombstone["datasets_marked_stale"] or []) if tombstone else [],
        "model_versions_tagged": list(tombstone["model_versions_tagged"] or []) if tombstone else [],
    }


# ---------------------------------------------------------------------------------------------
# Lineage


def _manifest(wh, dataset_id: str) -> dict[str, Any]:
    """The dataset's manifest; ``wh`` is a ``Path`` or, on an object store, a ``UPath``."""
    path = wh / dataset_format.DATASETS_DIR / dataset_id / dataset_format.MANIFEST
    if dataset_id.startswith(".") or "/" in dataset_id or not path.is_file():
        known = ", ".join(d.name for d in dataset_format.dataset_dirs(str(wh))) or "none"
        raise GovernanceError(f"unknown dataset id '{dataset_id}' (known: {known})")
    return json.loads(path.read_text())


def _landing_files(path, dt: str) -> list[str]:
    """``dt=D/<source id>`` of the landing files behind a partition file (never their names:
    ``pipelines.landing.source_id`` maps a day's files to these ids)."""
    table = storage.read_parquet(str(path), columns=["source_file"], present_only=True)
    if "source_file" not in table.column_names:
        return []
    values = table["source_file"].unique().to_pylist()
    return sorted(v if v.startswith("dt=") else f"dt={dt}/{v}" for v in values if v)


def dataset_sources(wh: str | Path, dataset_id: str) -> list[dict[str, Any]]:
    """One row per warehouse file a dataset was built from, with its landing files.

    ``hash_now`` says whether the file still has the bytes it had at build time: ``same``,
    ``changed`` (its day was rewritten since, e.g. by an erasure: a Delta commit replaced the
    file, whose successors are read for the landing files) or ``missing`` (the day is gone).
    """
    wh = storage.path(wh)
    manifest = _manifest(wh, dataset_id)
    versions = manifest.get("table_versions", {})
    rows = []
    for source in manifest.get("created_from", []):
        read = versions.get(source["table"], {})
        path = wh / source["path"]
        successors = []
        if not path.is_file():
            successors = [storage.path(p) for p in partitions.partition_files(str(wh), source["table"])
                          .get(source.get("dt"), [])]
            state = "changed" if successors else "missing"
        else:
            state = "same" if storage.sha256_file(str(path)) == source.get("sha256") else "changed"
        rows.append({
            "dataset_id": dataset_id,
            "table": source["table"],
            "dt": source.get("dt"),
            # the Delta version of the table the build read (time travel: curation.datasets rebuild)
            "table_version": read.get("pinned", {}).get(source.get("dt"), read.get("version")),
            "purpose": source.get("purpose"),
            "path": source["path"],
            "sha256": source.get("sha256"),
            "hash_now": state,
            "landing_files": sorted({f for p in successors or [path]
                                     for f in _landing_files(p, source.get("dt"))})
            if state != "missing" and source["table"] in SOURCED_TABLES else [],
        })
    return rows


def _version(wh: str, name: str, version: int | str, tracking_uri: str | None) -> dict[str, Any]:
    uri = downstream.registry_uri(wh, tracking_uri)
    if uri is None:
        where = (f"{wh} is on an object store, which holds no registry," if storage.is_url(wh)
                 else f"{Path(wh) / 'mlflow.db'} does not exist and")
        raise GovernanceError(f"no model registry: {where} MLFLOW_TRACKING_URI is unset (train a "
                              "model first, or set it / pass --tracking-uri)")
    versions = downstream.model_versions(uri)
    for entry in versions:
        if entry["name"] == name and str(entry["version"]) == str(version):
            return entry
    known = ", ".join(f"{v['name']}/{v['version']}" for v in versions) or "none"
    raise GovernanceError(f"no model version {name}/{version} in the registry (known: {known})")


def model_lineage(wh: str | Path, name: str, version: int | str,
                  tracking_uri: str | None = None) -> list[dict[str, Any]]:
    """Model version -> dataset -> warehouse partition files (hashes) -> landing files."""
    entry = _version(str(wh), name, version, tracking_uri)
    dataset_id = entry["tags"].get("dataset_id")
    if not dataset_id:
        raise GovernanceError(f"model version {name}/{version} has no dataset_id tag; it was not "
                              "registered by the training package")
    manifest = _manifest(storage.path(wh), dataset_id)
    head = {
        "model": f"{name}/{entry['version']}",
        "contains_erased_user_data": entry["tags"].get(downstream.ERASED_TAG) == "true",
        "dataset_stale": bool(manifest.get("stale")),
    }
    return [{**head, **row} for row in dataset_sources(wh, dataset_id)]


def dataset_lineage(wh: str | Path, dataset_id: str,
                    tracking_uri: str | None = None) -> list[dict[str, Any]]:
    """The model versions (MLflow tag ``dataset_id``) trained on a dataset."""
    manifest = _manifest(storage.path(wh), dataset_id)
    uri = downstream.registry_uri(str(wh), tracking_uri)
    return [
        {
            "dataset_id": dataset_id,
            "dataset_stale": bool(manifest.get("stale")),
            "model": f"{v['name']}/{v['version']}",
            "run_id": v["run_id"],
            "aliases": v["aliases"],
            "contains_erased_user_data": v["tags"].get(downstream.ERASED_TAG) == "true",
        }
        for v in downstream.model_versions(uri)
        if v["tags"].get("dataset_id") == dataset_id
    ]


def version_contains_erased_user_data(wh: str | Path, name: str, version: int | str,
                                      tracking_uri: str | None = None) -> bool:
    """What a promotion gate must ask the registry: the erasure job tags versions, not folders."""
    return _version(str(wh), name, version, tracking_uri)["tags"].get(downstream.ERASED_TAG) == "true"



# ---------------------------------------------------------------------------------------------
# Hooks for ``curation.inspect`` (it owns parsing and formatting; these keep its edit to a few lines)

DELETION_COLUMNS = ["request_event_id", "user_pseudonym", "requested_at", "status", "completed_at",
                    "rows_removed", "rows_removed_by_table", "datasets_marked_stale",
                    "model_versions_tagged"]
MODEL_LINEAGE_COLUMNS = ["model", "contains_erased_user_data", "dataset_id", "dataset_stale",
                         "table", "dt", "table_version", "purpose", "path", "sha256", "hash_now",
                         "landing_files"]
DATASET_LINEAGE_COLUMNS = ["dataset_id", "dataset_stale", "model", "run_id", "aliases",
                           "contains_erased_user_data"]


def add_inspect_commands(sub, common) -> None:
    """Register ``deletions`` and ``lineage`` on the inspect CLI's sub-parsers."""
    sub.add_parser("deletions", parents=[common],
                   help="deletion requests: pending or completed, with what was removed")
    p = sub.add_parser("lineage", parents=[common],
                       help="model version -> dataset -> partitions -> landing files, or "
                            "dataset -> model versions")
    p.add_argument("--model", help="registered model name, with --version")
    p.add_argument("--version", help="model version number")
    p.add_argument("--dataset", help="dataset id: the model versions trained on it")
    p.add_argument("--tracking-uri", help="MLflow registry (default: WAREHOUSE/mlflow.db)")


def inspect_command(args) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of ``deletions`` / ``lineage``; raises GovernanceError on a bad request."""
    if args.command == "deletions":
        return DELETION_COLUMNS, deletions(args.warehouse)
    if args.dataset and not args.model:
        return DATASET_LINEAGE_COLUMNS, dataset_lineage(args.warehouse, args.dataset,
                                                        args.tracking_uri)
    if args.model and args.version and not args.dataset:
        return MODEL_LINEAGE_COLUMNS, model_lineage(args.warehouse, args.model, args.version,
                                                    args.tracking_uri)
    raise GovernanceError("lineage needs either --model NAME --version V or --dataset ID")
