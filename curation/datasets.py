"""Build SFT and preference datasets from the warehouse (rules in docs/datasets.md).

    python -m curation.datasets build --warehouse DIR --as-of YYYY-MM-DD [--window-days N]
                                      [--eval-fraction F] [--seed S]
    python -m curation.datasets list --warehouse DIR
    python -m curation.datasets show --warehouse DIR ID
    python -m curation.datasets rebuild --warehouse DIR --dataset ID [--out DIR]

A build reads the ``interactions`` and ``feedback`` partitions of the window ending at ``as_of``
(plus every earlier ``interactions`` partition's consent columns, ``deletion_requests`` up to
``as_of`` and the ``deletions`` table), applies the rules of ``curation.rules`` and writes
``WAREHOUSE/datasets/<dataset_id>/{sft,preferences}/{train,eval}.parquet`` and
``manifest.json``. The id is a hash of the rows the dataset holds, the window, the config, the
rules version and the resulting counts, so the same inputs give the same id and the same bytes,
and so does a day re-curated after an erasure rewrote its landing files (other line numbers and
rejects, the same training rows). The manifest still names every source partition (lineage).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import uuid
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from curation import rules
from curation.dataset_format import (
    DATASETS_DIR,
    FORMAT_VERSION,
    MANIFEST,
    REBUILDS_DIR,
    DatasetError,
    list_datasets,
    load_manifest,
    sha256_file,
    split_counts,
    write_manifest,
    write_split,
)
from curation.pairs import DatasetConfig, build_rows
from warehouse import days, umask
from warehouse import files as storage

DEFAULT_CONFIG = DatasetConfig()
__all__ = ["DatasetConfig", "DatasetError", "MANIFEST", "build_dataset", "list_datasets", "load_manifest"]



INTERACTION_COLUMNS = [
    "event_id", "ts", "user_pseudonym", "model_version", "messages", "prompt", "response",
    "consent_training", "flagged", "dedup_cluster_id",
]
CONSENT_COLUMNS = ["user_pseudonym", "ts", "consent_training"]
FEEDBACK_COLUMNS = [
    "event_id", "ts", "user_pseudonym", "interaction_id", "kind", "value", "edited_response",
    "other_interaction_id", "preferred",
]

# ---------------------------------------------------------------------------------------------
# Reading the warehouse


@dataclass(frozen=True)
class SourceFile:
    table: str
    dt: str | None  # None for a file outside a dt= partition
    path: Path
    purpose: str  # rows | consent | deletions


SOURCE_TABLES = ("interactions", "feedback", "deletion_requests", "deletions")


def read_plans(warehouse: Path, versions: dict[str, dict] | None = None) -> dict[str, Any]:
    """table -> the Delta read plan a build reads: the tables as readers see them now
    (``partitions.read_plan``), or, for a rebuild, the versions a manifest recorded."""
    from warehouse import partitions

    if versions is None:
        marker = partitions.marker_of(str(warehouse))
        return {t: partitions.read_plan(str(warehouse), t, marker=marker) for t in SOURCE_TABLES}
    return {t: partitions.ReadPlan(t, v["version"], {d: int(n) for d, n in v["pinned"].items()})
            for t, v in versions.items()}


def _partition_files(warehouse: Path, plan) -> list[tuple[str, Path]]:
    from warehouse import partitions

    out = []
    for dt, paths in partitions.plan_files(str(warehouse), plan).items():
        if days.is_day(dt):  # a partition that is not a day is not read (views warn about it)
            out.extend((dt, storage.path(p)) for p in paths)
    return out


def _source_files(warehouse: Path, as_of: date, start: date, plans: dict[str, Any]) -> list[SourceFile]:
    files = []
    for dt, path in _partition_files(warehouse, plans["interactions"]):
        day = date.fromisoformat(dt)
        if day <= as_of:
            files.append(SourceFile("interactions", dt, path, "rows" if day >= start else "consent"))
    for dt, path in _partition_files(warehouse, plans["feedback"]):
        if start <= date.fromisoformat(dt) <= as_of:
            files.append(SourceFile("feedback", dt, path, "rows"))
    for dt, path in _partition_files(warehouse, plans["deletion_requests"]):
        if date.fromisoformat(dt) <= as_of:
            files.append(SourceFile("deletion_requests", dt, path, "deletions"))
    # Completed erasures bind every build, whatever its as_of.
    for dt, path in _partition_files(warehouse, plans["deletions"]):
        files.append(SourceFile("deletions", dt, path, "deletions"))
    return files


def _read(source: SourceFile, columns: list[str]) -> list[dict[str, Any]]:
    parquet = storage.parquet_file(source.path)
    missing = [c for c in columns if c not in parquet.schema_arrow.names]
    if missing:
        raise DatasetError(
            f"{source.path} lacks column(s) {', '.join(missing)} of table '{source.table}' "
            "(see warehouse/schemas.py); re-curate that partition"
        )
    rows = parquet.read(columns=columns).to_pylist()
    for row in rows:
        row["_dt"] = source.dt
    return rows


def _row_digests(path: Path) -> list[str]:
    """One digest per row over every column: the partition's content, whatever its file layout."""
    rows = storage.read_parquet(path).to_pylist()
    return [hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()
            for row in rows]


@dataclass
class Inputs:
    interactions: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    consent_rows: list[dict[str, Any]]
    deleted: set[str]
    created_from: list[dict[str, Any]]
    # (table, dt, purpose) -> sha256 of the sorted row digests: what the dataset id hashes.
    # A rerun of curation writes the same rows in other files and orders, so file bytes are no
    # identity; the rows are.
    partitions: list[dict[str, Any]]


def read_inputs(warehouse: Path, as_of: date, start: date, plans: dict[str, Any] | None = None) -> Inputs:
    interactions, feedback, consent_rows, deleted, created_from = [], [], [], set(), []
    digests: dict[tuple[str, str, str], list[str]] = {}
    for source in _source_files(warehouse, as_of, start, plans or read_plans(warehouse)):
        digests.setdefault((source.table, source.dt or "", source.purpose), []).extend(
            _row_digests(source.path))
        created_from.append({
            "table": source.table,
            "dt": source.dt,
            "path": source.path.relative_to(warehouse).as_posix(),
            "sha256": sha256_file(source.path),
            "purpose": source.purpose,
        })
        if source.table == "interactions" and source.purpose == "rows":
            rows = _read(source, INTERACTION_COLUMNS)
            interactions.extend(rows)
            consent_rows.extend(rows)
        elif source.table == "interactions":
            consent_rows.extend(_read(source, CONSENT_COLUMNS))
        elif source.table == "feedback":
            feedback.extend(_read(source, FEEDBACK_COLUMNS))
        else:
            deleted.update(r["user_pseudonym"] for r in _read(source, ["user_pseudonym"]))
    created_from.sort(key=lambda f: (f["table"], f["dt"] or "", f["path"]))
    partitions = [
        {"table": table, "dt": dt or None, "purpose": purpose, "rows": len(rows),
         "content_sha256": hashlib.sha256("".join(sorted(rows)).encode()).hexdigest()}
        for (table, dt, purpose), rows in sorted(digests.items())
    ]
    return Inputs(interactions, feedback, consent_rows, deleted, created_from, partitions)


# ---------------------------------------------------------------------------------------------
# Building rows


# ---------------------------------------------------------------------------------------------
# Writing


def _sort_sft(rows):
    return sorted(rows, key=lambda r: (r["source_event_id"], r["rule"]))


def _sort_pref(rows):
    return sorted(rows, key=lambda r: (
        r["rule"], r["source_event_id"], r["chosen_event_id"] or "", r["rejected_event_id"] or "",
    ))


def _by_split(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {split: [r for r in rows if r["split"] == split] for split in (rules.TRAIN, rules.EVAL)}


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=str).encode()


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """A row as written: without the builder's bookkeeping keys (``_users``, ``_order``...)."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def build_dataset(
    warehouse: str | os.PathLike, as_of: str | date, config: DatasetConfig = DEFAULT_CONFIG
) -> tuple[str, Path]:
    """Build (or find) the dataset for ``as_of``; return ``(dataset_id, path)``.

    Idempotent: an id that already exists is returned untouched. Writes go to a temporary
    folder renamed into place, so readers never see half a dataset.
    """
    config.validate()
    warehouse = storage.path(warehouse)
    if not warehouse.is_dir():
        raise DatasetError(f"warehouse {warehouse} is not a directory")
    as_of_day = as_of if isinstance(as_of, date) else _parse_day(as_of)
    dataset_id, rows, identity, inputs, plans = _prepare(warehouse, as_of_day, config)
    final = warehouse / DATASETS_DIR / dataset_id
    if (final / MANIFEST).exists():
        return dataset_id, final
    return dataset_id, _write(warehouse / DATASETS_DIR, dataset_id, rows, identity, inputs, plans)


def _prepare(warehouse: Path, as_of_day: date, config: DatasetConfig,
             versions: dict[str, dict] | None = None):
    """(dataset_id, (sft, preference) rows, identity, inputs, read plans) of a build."""
    start = as_of_day - timedelta(days=config.window_days - 1)
    # One read plan per table, taken once: the whole build reads the same versions, and the
    # manifest records them (time travel: ``rebuild``).
    plans = read_plans(warehouse, versions)
    inputs = read_inputs(warehouse, as_of_day, start, plans)
    if not inputs.interactions:
        raise DatasetError(
            f"no interactions partitions in {warehouse / 'interactions'} between {start} and "
            f"{as_of_day}; curate those days first or widen --window-days"
        )
    sft_rows, pref_rows, dropped = build_rows(inputs, config)
    counts = {
        "sft": split_counts("sft", _by_split(sft_rows), rules.SFT_RULES),
        "preferences": split_counts("preferences", _by_split(pref_rows), rules.PREF_RULES),
    }
    identity = {
        "format_version": FORMAT_VERSION,
        "rules_version": rules.RULES_VERSION,
        "as_of": as_of_day.isoformat(),
        "window": {"start": start.isoformat(), "end": as_of_day.isoformat(),
                   "days": config.window_days},
        "config": asdict(config),
        "counts": counts,
        "dropped": dropped,
    }
    # The id hashes the rows the dataset holds, not the partitions they came from: a day
    # re-curated after its landing files were erased holds other line numbers, rejects and
    # deletion requests, yet the same training rows, and must not train a second candidate.
    rows_digest = hashlib.sha256(_canonical(
        [_public(r) for r in _sort_sft(sft_rows)] + [_public(r) for r in _sort_pref(pref_rows)]
    )).hexdigest()
    dataset_id = hashlib.sha256(_canonical({**identity, "rows": rows_digest})).hexdigest()[:16]
    identity["sources"] = inputs.partitions
    return dataset_id, (sft_rows, pref_rows), identity, inputs, plans


def _write(root: Path, dataset_id: str, rows, identity: dict, inputs: Inputs, plans: dict) -> Path:
    """Write the dataset's splits and manifest into ``root/dataset_id`` (renamed into place)."""
    sft_rows, pref_rows = rows
    final = root / dataset_id
    # An object store has no folder rename: there the files go straight into place and the
    # manifest, written last, publishes the dataset (a folder without one is never listed).
    remote = storage.is_url(root)
    tmp = final if remote else root / f".tmp-{dataset_id}-{uuid.uuid4().hex[:8]}"
    try:
        files = {}
        for kind, kind_rows, order in (("sft", sft_rows, _sort_sft), ("preferences", pref_rows, _sort_pref)):
            for split, split_rows in _by_split(kind_rows).items():
                files[f"{kind}/{split}.parquet"] = write_split(tmp, kind, split, order(split_rows))
        manifest = {"dataset_id": dataset_id, **identity, "created_from": inputs.created_from,
                    "table_versions": {t: p.as_dict() for t, p in sorted(plans.items())},
                    "files": files, "stale": False}
        write_manifest(tmp, manifest)
        try:
            if not remote:
                os.rename(tmp, final)
        except OSError:
            if not (final / MANIFEST).exists():
                raise
            # Another build of the same id won the race; its bytes are the same as ours.
    finally:
        if not remote and tmp.exists():
            shutil.rmtree(tmp)
    return final


# ---------------------------------------------------------------------------------------------
# Rebuild (time travel)


def rebuild_dataset(warehouse: str | os.PathLike, dataset_id: str,
                    out: str | os.PathLike | None = None) -> dict[str, Any]:
    """Build ``dataset_id`` again from the table versions its manifest recorded, into ``out``
    (default ``WAREHOUSE/_rebuilds/``); compare its files with the manifest's hashes.

    When a version can no longer be read (an erasure vacuumed its files and cleaned the log),
    the rebuild reads the tables as they are now, which lack the erased users, and says so.
    """
    from warehouse import tables

    warehouse = storage.path(warehouse)  # a local Path, or a UPath on an object store
    manifest = load_manifest(warehouse, dataset_id)
    versions = manifest.get("table_versions")
    if not versions:
        raise DatasetError(f"dataset {dataset_id} was built before manifests recorded table "
                           "versions; it cannot be rebuilt by time travel")
    erased = [t for t, v in versions.items() if not _readable(warehouse, t, v, tables)]
    config = DatasetConfig(**manifest["config"])
    as_of = _parse_day(manifest["as_of"])
    new_id, rows, identity, inputs, plans = _prepare(warehouse, as_of, config,
                                                     None if erased else versions)
    root = storage.path(out) if out else warehouse / REBUILDS_DIR
    storage.delete_tree(str(root / new_id))  # a stale copy of this rebuild, on disk or a store
    path = _write(root, new_id, rows, identity, inputs, plans)
    files = load_manifest_at(path)["files"]
    identical = new_id == dataset_id and files == manifest["files"]
    return {"dataset_id": dataset_id, "rebuilt_id": new_id, "path": str(path),
            "identical": identical, "erasure_intervened": erased,
            "versions_read": {t: p.as_dict() for t, p in sorted(plans.items())}}


def _readable(warehouse: Path, table: str, version: dict, tables) -> bool:
    """Whether ``table`` at the recorded version (and pinned days) still has all its files."""
    from deltalake.exceptions import DeltaError

    if version.get("version") is None:
        return True
    for v in {version["version"], *version.get("pinned", {}).values()}:
        try:
            paths = [p for day in tables.files_by_day(str(warehouse), table, int(v)).values()
                     for p in day]
        except (DeltaError, OSError):
            return False
        if not tables.is_table(str(warehouse), table) or not all(
                storage.path(p).is_file() for p in paths):
            return False
        if tables.open_table(str(warehouse), table, int(v)) is None:
            return False
    return True


def load_manifest_at(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text())


# ---------------------------------------------------------------------------------------------
# CLI


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(days.parse_day(text, "--as-of"))
    except days.BadDay as exc:
        raise DatasetError(str(exc)) from None


def _summary(manifest: dict[str, Any]) -> str:
    c = manifest["counts"]
    return (
        f"{manifest['dataset_id']}  as_of={manifest['as_of']}  days={manifest['window']['days']}  "
        f"sft={c['sft']['train']['rows']}/{c['sft']['eval']['rows']}  "
        f"preferences={c['preferences']['train']['rows']}/{c['preferences']['eval']['rows']}"
        f"{'  STALE' if manifest.get('stale') else ''}"
    )


def main(argv: list[str] | None = None) -> int:
    umask.restrict_umask()  # outputs are never world-readable (FLYWHEEL_UMASK)
    parser = argparse.ArgumentParser(prog="python -m curation.datasets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the dataset of a day's window")
    build.add_argument("--warehouse", required=True)
    build.add_argument("--as-of", required=True, help="last day of the window, YYYY-MM-DD")
    defaults = DatasetConfig()
    build.add_argument("--window-days", type=int, default=defaults.window_days)
    build.add_argument("--eval-fraction", type=float, default=defaults.eval_fraction)
    build.add_argument("--seed", type=int, default=defaults.seed)
    listing = sub.add_parser("list", help="list built datasets (train/eval row counts)")
    listing.add_argument("--warehouse", required=True)
    show = sub.add_parser("show", help="print a dataset's manifest")
    show.add_argument("--warehouse", required=True)
    show.add_argument("dataset_id")
    again = sub.add_parser("rebuild", help="rebuild a dataset from the table versions it read")
    again.add_argument("--warehouse", required=True)
    again.add_argument("--dataset", required=True, help="dataset id")
    again.add_argument("--out", default=None, help="folder for the rebuild (default "
                                                     "WAREHOUSE/_rebuilds)")
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            config = DatasetConfig(window_days=args.window_days, eval_fraction=args.eval_fraction,
                                   seed=args.seed)
            dataset_id, path = build_dataset(args.warehouse, _parse_day(args.as_of), config)
            print(_summary(load_manifest(args.warehouse, dataset_id)))
            print(path)
        elif args.command == "rebuild":
            result = rebuild_dataset(args.warehouse, args.dataset, args.out)
            if result["erasure_intervened"]:
                print(f"dataset {args.dataset}: an erasure removed data from "
                      f"{', '.join(result['erasure_intervened'])} since the build (those versions "
                      f"are gone); rebuilt from the tables as they are now, without the erased "
                      f"users: {result['rebuilt_id']}")
            elif result["identical"]:
                print(f"dataset {args.dataset}: rebuilt byte for byte from the versions it read")
            else:
                print(f"dataset {args.dataset}: rebuilt as {result['rebuilt_id']}, which differs")
            print(result["path"])
        elif args.command == "list":
            for manifest in list_datasets(args.warehouse):
                print(_summary(manifest))
        else:
            print(json.dumps(load_manifest(args.warehouse, args.dataset_id), indent=2,
                             sort_keys=True))
    except (DatasetError, OSError, pa.ArrowException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
