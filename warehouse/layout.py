"""Where everything lives under a warehouse root: one home for every path.

    WAREHOUSE/<table>/_delta_log/, dt=YYYY-MM-DD/  Delta tables (warehouse.tables): curated ones
    WAREHOUSE/deletions/                           erasure tombstones (a Delta table)
    WAREHOUSE/deployments/                         promotions, refusals, rollbacks (a Delta table)
    WAREHOUSE/datasets/<dataset_id>/manifest.json  training sets (curation.dataset_format)
    WAREHOUSE/evaluations/<dataset_id>/<a>-vs-<b>.json
    WAREHOUSE/mlflow.db, WAREHOUSE/mlruns/         the embedded MLflow registry
    WAREHOUSE/serving/deployment.json              what serving should run now
    WAREHOUSE/reports/dt=YYYY-MM-DD/report.html, WAREHOUSE/catalog.duckdb
    WAREHOUSE/_meta/                               warehouse facts (the key fingerprint)
    WAREHOUSE/_locks                               per-day locks (warehouse.partitions)

Functions take and return strings so they work for local paths and URLs alike.
"""

from __future__ import annotations

import posixpath

DELETIONS = "deletions"
DEPLOYMENTS = "deployments"
DATASETS = "datasets"
EVALUATIONS = "evaluations"
SERVING = "serving"
REPORTS = "reports"
META = "_meta"
MANIFEST = "manifest.json"


def _join(root: str, *parts: str) -> str:
    return posixpath.join(str(root).rstrip("/"), *parts)


def table_dir(warehouse: str, table: str) -> str:
    return _join(warehouse, table)


def partition_dir(warehouse: str, table: str, day: str) -> str:
    return _join(warehouse, table, f"dt={day}")


def datasets_dir(warehouse: str) -> str:
    return _join(warehouse, DATASETS)


def dataset_dir(warehouse: str, dataset_id: str) -> str:
    return _join(warehouse, DATASETS, dataset_id)


def manifest_path(warehouse: str, dataset_id: str) -> str:
    return _join(warehouse, DATASETS, dataset_id, MANIFEST)


def evaluation_path(warehouse: str, dataset_id: str, name: str, against: str) -> str:
    return _join(warehouse, EVALUATIONS, dataset_id, f"{name}-vs-{against}.json")


def deployments_dir(warehouse: str) -> str:
    return _join(warehouse, DEPLOYMENTS)


def serving_manifest_path(warehouse: str) -> str:
    return _join(warehouse, SERVING, "deployment.json")


def registry_db(warehouse: str) -> str:
    return _join(warehouse, "mlflow.db")


def report_path(warehouse: str, day: str) -> str:
    return _join(warehouse, REPORTS, f"dt={day}", "report.html")


def catalog_path(warehouse: str) -> str:
    return _join(warehouse, "catalog.duckdb")


def meta_path(warehouse: str, name: str) -> str:
    return _join(warehouse, META, name)
