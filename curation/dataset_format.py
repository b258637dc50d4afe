"""The dataset contract: what ``curation.datasets`` writes and ``training.data`` reads, defined once.

Layout::

    WAREHOUSE/datasets/<dataset_id>/
        manifest.json                      MANIFEST_KEYS (+ STALE_KEYS once erasure touched it)
        sft/{train,eval}.parquet           SFT_SCHEMA
        preferences/{train,eval}.parquet   PREFERENCE_SCHEMA

A folder whose name starts with "." is a build in progress and is never listed. A dataset is
*stale* when an erasure removed rows from it after it was built (``mark_stale``): training
refuses it, and models trained on it carry the erased-user-data tag.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from curation import rules
from feedback.contract import MESSAGE_TYPE
from warehouse import files as storage
from warehouse.files import atomic_write, sha256_file

DATASETS_DIR = "datasets"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1  # bump when a schema below changes; it is part of every dataset id
KINDS = ("sft", "preferences")
SPLITS = (rules.TRAIN, rules.EVAL)

SFT_SCHEMA = pa.schema(
    [
        ("messages", pa.list_(MESSAGE_TYPE)),  # history + the target as the last assistant turn
        ("prompt", pa.string()),  # rules.render_prompt(history)
        ("completion", pa.string()),  # the target text
        ("rule", pa.string()),  # good_answer | user_edit (public-data builders name their source)
        ("user_pseudonym", pa.string()),
        ("source_event_id", pa.string()),  # the interaction
        ("feedback_event_ids", pa.list_(pa.string())),  # the feedback that selected it
        ("model_version", pa.string()),  # the model that answered
        ("source_dt", pa.string()),  # partition of the interaction
    ]
)

PREFERENCE_SCHEMA = pa.schema(
    [
        ("prompt", pa.string()),  # rules.render_prompt(history of the chosen interaction)
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        ("margin", pa.float64()),  # rating rule: rating gap / 4 (OASST: rank gap share); else null
        ("rule", pa.string()),  # edit | comparison | thumbs | rating (or a public-data source)
        ("user_pseudonym", pa.string()),  # owner of the chosen interaction
        ("rejected_user_pseudonym", pa.string()),  # owner of the rejected one
        ("source_event_id", pa.string()),  # the interaction the prompt comes from
        ("chosen_event_id", pa.string()),  # null for edit (the chosen text is the user's edit)
        ("rejected_event_id", pa.string()),
        ("feedback_event_ids", pa.list_(pa.string())),
    ]
)

SCHEMAS = {"sft": SFT_SCHEMA, "preferences": PREFERENCE_SCHEMA}
# Columns a row cannot do without; every other column may be null (public data has no users).
REQUIRED = {"sft": ("messages", "prompt", "completion"), "preferences": ("prompt", "chosen", "rejected")}

# manifest.json, as written by a build. ``files`` maps each split's relative path to its sha256.
MANIFEST_KEYS = (
    "dataset_id", "format_version", "rules_version", "as_of", "window", "config", "sources",
    "counts", "dropped", "created_from", "files", "stale",
)
ERASED_KEY = "contains_erased_user_data"  # true once an erasure removed rows from the dataset
# Added by mark_stale; the id and ``counts`` keep describing the dataset as built.
STALE_KEYS = ("stale", "stale_reason", "stale_since", ERASED_KEY, "erased_pseudonym_count")

# Fixed writer options: with sorted rows they make the files byte-identical run to run.
PARQUET_OPTIONS = dict(
    compression="zstd", compression_level=3, use_dictionary=True, write_statistics=True,
    version="2.6", data_page_version="1.0", row_group_size=64 * 1024,
)


class DatasetError(ValueError):
    """A dataset that is missing, stale or off the format; the message names it and the fix."""


def split_relpath(kind: str, split: str) -> str:
    if kind not in SCHEMAS or split not in SPLITS:
        raise DatasetError(f"unknown split {kind}/{split} (expected one of {KINDS} x {SPLITS})")
    return f"{kind}/{split}.parquet"


def sft_row(messages: list[dict], **columns: Any) -> dict[str, Any]:
    """An SFT row from a conversation ending with the assistant target; other columns as given."""
    if len(messages) < 2 or messages[-1]["role"] != "assistant":
        raise DatasetError("an SFT row needs a history and a last assistant message")
    return {"messages": messages, "prompt": rules.render_prompt(messages[:-1]),
            "completion": messages[-1]["content"], **columns}


def split_table(kind: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as a table of the kind's schema: unknown keys are left out, absent columns are null."""
    schema = SCHEMAS[kind]
    for index, row in enumerate(rows):
        missing = [name for name in REQUIRED[kind] if row.get(name) is None]
        if missing:
            raise DatasetError(f"{kind} row {index} lacks {', '.join(missing)} (see curation/dataset_format.py)")
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)


def write_split(folder: Path, kind: str, split: str, rows: list[dict[str, Any]]) -> str:
    """Write one split file (atomically); returns its sha256 for the manifest's ``files``."""
    path = str(storage.path(folder) / split_relpath(kind, split))
    storage.write_parquet(split_table(kind, rows), path, **PARQUET_OPTIONS)
    return sha256_file(path)


def split_counts(kind: str, rows_by_split: dict[str, list[dict]], known_rules=()) -> dict[str, Any]:
    """``counts[kind]`` of the manifest: rows and rows per rule of each split."""
    out = {}
    for split in SPLITS:
        rows = rows_by_split.get(split, [])
        by_rule = Counter(row.get("rule") or "" for row in rows)
        out[split] = {"rows": len(rows), "by_rule": {rule: by_rule.get(rule, 0)
                                                    for rule in sorted(set(known_rules) | set(by_rule))}}
    return out


def manifest_text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, sort_keys=True, indent=2) + "\n"


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write manifest.json atomically (readers see the old one or the new one)."""
    atomic_write(str(storage.path(folder) / MANIFEST), manifest_text(manifest))


def read_manifest(folder: Path) -> dict[str, Any]:
    path = storage.path(folder) / MANIFEST
    if not path.is_file():
        raise DatasetError(f"no {MANIFEST} in {folder} (build it with `python -m curation.datasets build`)")
    return json.loads(path.read_text())


def is_stale(manifest: dict[str, Any]) -> bool:
    return bool(manifest.get("stale"))


REBUILDS_DIR = "_rebuilds"  # `curation.datasets rebuild` copies, inside the warehouse


def rebuild_dirs(warehouse: str | os.PathLike) -> list[Path]:
    """Folders of every dataset rebuilt into ``WAREHOUSE/_rebuilds/`` (complete or not)."""
    root = storage.path(warehouse) / REBUILDS_DIR
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if d.is_dir())


def dataset_dirs(warehouse: str | os.PathLike) -> list[Path]:
    """Folders of every complete dataset (builds in progress start with '.' and are skipped)."""
    root = storage.path(warehouse) / DATASETS_DIR
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and (d / MANIFEST).is_file())


def list_datasets(warehouse: str | os.PathLike) -> list[dict[str, Any]]:
    """Manifests of every complete dataset, oldest as_of first."""
    manifests = [read_manifest(folder) for folder in dataset_dirs(warehouse)]
    return sorted(manifests, key=lambda m: (m.get("as_of") or "", m["dataset_id"]))


def dataset_dir(warehouse: str | os.PathLike, dataset_id: str) -> Path:
    """The folder of a complete dataset; DatasetError naming the known ids otherwise."""
    path = storage.path(warehouse) / DATASETS_DIR / dataset_id
    if dataset_id.startswith(".") or "/" in dataset_id or not (path / MANIFEST).is_file():
        known = ", ".join(m["dataset_id"] for m in list_datasets(warehouse)) or "none"
        raise DatasetError(f"unknown dataset id '{dataset_id}' (known: {known})")
    return path


def load_manifest(warehouse: str | os.PathLike, dataset_id: str) -> dict[str, Any]:
    return read_manifest(dataset_dir(warehouse, dataset_id))


def mark_stale(folder: Path, *, reason: str, erased_pseudonym_count: int, as_of: str) -> dict[str, Any]:
    """Mark a dataset stale after rows were erased from it; idempotent (same manifest, no rewrite).

    ``files`` hashes follow the files as they are now; the id and ``counts`` keep describing the
    dataset as built, so lineage still finds it.
    """
    folder = storage.path(folder)
    before = read_manifest(folder)
    manifest = {**before, "stale": True, "stale_reason": reason, ERASED_KEY: True,
                "erased_pseudonym_count": erased_pseudonym_count}
    manifest.setdefault("stale_since", as_of)
    if isinstance(manifest.get("files"), dict):
        manifest["files"] = {rel: sha256_file(str(folder / rel)) for rel in manifest["files"] if (folder / rel).is_file()}
    if manifest_text(manifest) != manifest_text(before):
        write_manifest(folder, manifest)
    return manifest


def stale_dataset_ids(warehouse: str | os.PathLike) -> list[str]:
    """Ids of the datasets that hold rows of an erased user (or held them when built)."""
    return [folder.name for folder in dataset_dirs(warehouse) if read_manifest(folder).get(ERASED_KEY)]
