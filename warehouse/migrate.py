"""Convert a warehouse written by the previous version (hive Parquet) into Delta tables, in place.

    python -m warehouse.migrate --warehouse DIR

Every table folder ``WAREHOUSE/<table>/dt=YYYY-MM-DD/*.parquet`` becomes a Delta table over the
same files (delta-rs ``convert_to_deltalake``: one commit that adds them, statistics only on
``ts``), so no row moves and no data file is rewritten, except:

* a file that lacks columns added since it was written (an older job) is rewritten with them as
  nulls, so the table has one schema; ``dedup_index`` files without the verification hashes are
  rebuilt from that day's interactions (``pipelines.dedup.index_rows``), as the curation job
  would have written them;
* ``deployments/deployments.parquet`` (one file) becomes one file per day of ``at``.

A table that already has a Delta log is left alone, so a rerun (or a run after an interrupted
one) converts only what is left. The previous version's commit machinery must be idle: an
unfinished journal (``_journal/*.json``) stops the migration with the fix; its ``_staging`` and
``_trash`` folders hold nothing committed and are deleted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import Schema, convert_to_deltalake

from warehouse import days, schemas, tables, umask

OLD_MACHINERY = ("_staging", "_trash")
OLD_JOURNAL = "_journal"
HASH_COLUMNS = ("prompt_hashes", "response_hashes")


class MigrateError(RuntimeError):
    """A warehouse that cannot be converted as it is; the message names the fix."""


def _hive_files(folder: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for part in sorted(folder.glob("dt=*")):
        if part.is_dir():
            out[part.name[3:]] = sorted(p for p in part.glob("*.parquet") if not p.name.startswith("."))
    return out


def _conform(path: Path, schema: pa.Schema) -> bool:
    """Rewrite ``path`` with ``schema`` (missing columns as nulls); False when it already has it."""
    have = pq.read_schema(path)
    if have.remove_metadata().equals(schema):
        return False
    extra = set(have.names) - set(schema.names)
    if extra:
        raise MigrateError(f"{path} has columns {sorted(extra)} that table schema "
                           f"{schema.names} does not know; move the file out and rerun")
    table = pq.read_table(path)
    columns = [table[f.name].cast(f.type) if f.name in have.names else pa.nulls(len(table), f.type)
               for f in schema]
    tmp = path.with_name(f".{path.name}.migrate.tmp")
    pq.write_table(pa.Table.from_arrays(columns, schema=schema), tmp, compression="zstd")
    os.replace(tmp, path)
    return True


def _rebuild_dedup_index(wh: Path, files_by_day: dict[str, list[Path]]) -> int:
    """dedup_index days whose files lack the hash columns, rebuilt from their interactions."""
    from pipelines.dedup import DedupConfig, index_rows

    rebuilt = 0
    interactions = _hive_files(wh / "interactions")
    for day, paths in files_by_day.items():
        if all(set(HASH_COLUMNS) <= set(pq.read_schema(p).names) for p in paths):
            continue
        records = [r for p in interactions.get(day, []) for r in pq.read_table(p).to_pylist()]
        rows = index_rows(records, DedupConfig())
        out = wh / "dedup_index" / f"dt={day}" / "part-00000-migrated.parquet"
        tmp = out.with_name(f".{out.name}.tmp")
        pq.write_table(pa.Table.from_pylist(rows, schema=schemas.DEDUP_INDEX), tmp, compression="zstd")
        for path in paths:
            path.unlink()
        os.replace(tmp, out)
        files_by_day[day] = [out]
        rebuilt += 1
    return rebuilt


def _migrate_deployments(wh: Path) -> int:
    old = wh / "deployments" / "deployments.parquet"
    if not old.is_file():
        return 0
    rows = pq.read_table(old, schema=schemas.DEPLOYMENTS).to_pylist()
    written = []
    for index, row in enumerate(rows):
        folder = wh / "deployments" / f"dt={row['at'].date().isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"deploy-{index:08d}-{row['deployment_id']}.parquet"
        pq.write_table(pa.Table.from_pylist([row], schema=schemas.DEPLOYMENTS), path)
        written.append(str(path))
    tables.commit(str(wh), "deployments", add=written, metadata={"job": "migrate"})
    old.unlink()  # after the commit: a rerun finds the table and the rows once
    return len(rows)


def migrate(warehouse: str | os.PathLike) -> dict[str, str]:
    """Convert every table of a local warehouse; table -> what was done."""
    wh = Path(warehouse)
    if not wh.is_dir():
        raise MigrateError(f"warehouse {wh} is not a directory")
    if list((wh / OLD_JOURNAL).glob("*.json")):
        raise MigrateError(f"{wh / OLD_JOURNAL} names an unfinished commit of the previous "
                           "version: finish it with that version's `python -m pipelines.recover "
                           f"--warehouse {wh}`, then migrate")
    for name in (*OLD_MACHINERY, OLD_JOURNAL):
        shutil.rmtree(wh / name, ignore_errors=True)
    done = {}
    for table, schema in schemas.ALL_TABLES.items():
        if tables.is_table(str(wh), table):
            done[table] = "already a Delta table"
            continue
        if table == "deployments":
            n = _migrate_deployments(wh)
            done[table] = f"{n} rows" if n else "absent"
            continue
        files_by_day = _hive_files(wh / table)
        if not any(files_by_day.values()):
            done[table] = "absent"
            continue
        bad = [d for d in files_by_day if not days.is_day(d)]
        if bad:
            raise MigrateError(f"{wh / table}/dt={bad[0]} is not a dt=YYYY-MM-DD partition; "
                               "rename or remove it, then rerun")
        rebuilt = _rebuild_dedup_index(wh, files_by_day) if table == "dedup_index" else 0
        conformed = sum(_conform(p, schema) for paths in files_by_day.values() for p in paths)
        convert_to_deltalake(
            str(wh / table), mode="ignore",
            partition_by=Schema.from_arrow(pa.schema([(tables.PARTITION, pa.string())])),
            partition_strategy="hive", name=table, configuration=tables.configuration(table))
        files = sum(len(v) for v in files_by_day.values())
        done[table] = (f"converted {files} files in {len(files_by_day)} days"
                       + (f", {conformed} given missing columns" if conformed else "")
                       + (f", {rebuilt} days of signatures rebuilt" if rebuilt else ""))
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m warehouse.migrate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, help="a local warehouse root")
    args = parser.parse_args(argv)
    umask.restrict_umask()
    try:
        done = migrate(args.warehouse)
    except (MigrateError, OSError, pa.ArrowException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for table, what in done.items():
        print(f"{table}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
