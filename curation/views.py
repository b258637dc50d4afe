"""DuckDB over the Delta Lake warehouse: one connection, one view per table, read-only queries.

Every table is a Delta table ``WAREHOUSE/<table>/`` (schemas in ``warehouse.schemas``, see
``warehouse.tables``); ``WAREHOUSE/datasets/<id>/manifest.json`` appear once training has run.
``connect`` opens an in-memory DuckDB and reads each table's transaction log with delta-rs; a
view reads the data files the log names (local warehouses: DuckDB's Parquet reader over that
list) or the table's ``DeltaTable.to_pyarrow_dataset()`` registered on the connection (object
stores; ``ViewConfig.local_reader = "arrow"`` locally). No DuckDB extension is needed:

============================  ================================================================
view                          source
============================  ================================================================
``interactions``              Delta table ``interactions``
``feedback_events``           ``feedback`` (``interaction_dt`` cast to DATE)
``rejects``                   ``rejects``
``stats``                     ``stats``
``dedup_index``               ``dedup_index``
``deletion_requests``         ``deletion_requests``
``deployments``               ``deployments`` (only when present)
``dataset_manifests``         ``datasets/*/manifest.json`` (only when present)
``rated_interactions``        each interaction with its aggregated feedback
============================  ================================================================

Each table is read at one version (``warehouse.partitions.read_plan``): a day whose newest commit
``stats`` has not sealed yet (a run killed between its table commits) is read from the version
before it, so every view shows the same, whole day. ``dt`` is a DATE everywhere, and so is
``feedback_events.interaction_dt``, so joins and date filters never mix types. A table that has
no rows yet gets an empty view with its fixed schema, so queries over a young warehouse still bind.

``run_query`` accepts one SELECT statement (DuckDB's own parser decides, not a regex), and the
connection has external access off, limited to the warehouse directory, with its configuration
locked: COPY, ATTACH, CREATE, INSERT, SET and friends are refused.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

# warehouse table directory -> view name
PARTITIONED_TABLES = {
    "interactions": "interactions",
    "feedback": "feedback_events",
    "rejects": "rejects",
    "stats": "stats",
    "dedup_index": "dedup_index",
    "deletion_requests": "deletion_requests",
}
VIEW_TO_TABLE = {view: table for table, view in PARTITIONED_TABLES.items()}
DEPLOYMENTS = "deployments"
DATASETS = "datasets"
DATASET_VIEW = "dataset_manifests"
# Arrow datasets registered on a connection (the Delta tables' files) are named so.
DELTA_PREFIX = "_delta_"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
log = logging.getLogger("curation.views")

@dataclass(frozen=True)
class ViewConfig:
    # DuckDB worker threads; None lets DuckDB use every core (answers are small, scans are not).
    threads: int | None = None
    # Cap on DuckDB's memory; None keeps DuckDB's default (80% of RAM).
    memory_limit: str | None = None
    # Parquet files written on different days may gain columns; match them by name.
    union_by_name: bool = True
    # How DuckDB reads a local Delta table: "files" hands it the data files the log names
    # (DuckDB's own Parquet reader: importing pyarrow.dataset pulls in pandas, about 0.8 s of a
    # 2 s command budget); "arrow" registers DeltaTable.to_pyarrow_dataset(). Object-store
    # warehouses always use "arrow" (DuckDB would need its httpfs extension).
    local_reader: str = "files"


class WarehouseError(Exception):
    """A problem an analyst can fix: a missing warehouse, an unknown table, a refused query."""


def is_remote(warehouse: str | os.PathLike) -> bool:
    return "://" in str(warehouse)


def warehouse_root(warehouse: str | os.PathLike) -> str:
    """Absolute warehouse location without a trailing slash (URLs kept as given)."""
    text = str(warehouse)
    if is_remote(text):
        return text.rstrip("/")
    return str(Path(text).expanduser().resolve())


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# Values go into SQL as literals, not as Python-bound parameters: DuckDB's Python binding
# imports pandas on the first bound parameter (about 1 s), more than a whole query costs here.
def sql_literal(value: Any) -> str:
    import datetime as _dt

    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise WarehouseError(f"parameter value {value} is not a finite number")
        return repr(value)
    if isinstance(value, str):
        return _sql_str(value)
    if isinstance(value, _dt.datetime):
        return f"TIMESTAMPTZ {_sql_str(value.isoformat())}"
    if isinstance(value, _dt.date):
        return f"DATE {_sql_str(value.isoformat())}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise WarehouseError(f"cannot pass a {type(value).__name__} as a query parameter")


def _manifests_glob(root: str) -> str:
    return f"{root}/{DATASETS}/[!.]*/manifest.json"


def register_store(con: duckdb.DuckDBPyConnection, root: str) -> None:
    """Let DuckDB list and read ``root``'s objects (dataset manifests) through fsspec (s3fs,
    gcsfs, adlfs): no DuckDB extension is installed or downloaded. The tables themselves come
    from delta-rs as Arrow datasets; the client reads the standard cloud variables."""
    import fsspec

    scheme = root.split("://", 1)[0]
    try:
        filesystem = fsspec.filesystem(scheme, use_listings_cache=False, skip_instance_cache=True)
    except (ImportError, ValueError) as exc:
        raise WarehouseError(
            f"cannot read a {scheme}:// warehouse's dataset manifests: no fsspec filesystem for "
            f"{scheme}:// ({one_line(exc)}); install its package (s3fs, gcsfs or adlfs)") from None
    if not con.filesystem_is_registered(filesystem.protocol if isinstance(filesystem.protocol, str)
                                        else filesystem.protocol[0]):
        con.register_filesystem(filesystem)


def _files(con: duckdb.DuckDBPyConnection, pattern: str) -> list[str]:
    try:
        rows = con.execute(f"SELECT file FROM glob({_sql_str(pattern)}) ORDER BY file").fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot list {pattern}: {str(exc).splitlines()[0]}") from None
    return [row[0] for row in rows]


@dataclass(frozen=True)
class TableRead:
    """One table as the views read it: the Delta read plan, its files and their sizes."""

    plan: Any  # warehouse.partitions.ReadPlan
    files: list[dict]  # add actions read: path, size_bytes, num_records, partition.dt
    bad_days: tuple[str, ...] = ()  # partitions whose dt is not YYYY-MM-DD: skipped


def _read_table(root: str, table: str, storage_options, marker=None) -> TableRead:
    from deltalake.exceptions import DeltaError

    try:
        return _read_plan(root, table, storage_options, marker)
    except (DeltaError, OSError) as exc:
        raise WarehouseError(f"cannot read the Delta table {root}/{table}: {one_line(exc)}; "
                             "check the URL and its credentials (storage options)") from None


def _read_plan(root: str, table: str, storage_options, marker) -> TableRead:
    from warehouse import partitions, tables

    plan = partitions.read_plan(root, table, storage_options, marker)
    if plan.version is None:
        return TableRead(plan, [])
    actions = [a for a in tables.active_files(tables.open_table(root, table, plan.version, storage_options))
               if a["partition.dt"] not in plan.pinned]
    for day, version in plan.pinned.items():
        old = tables.open_table(root, table, version, storage_options)
        actions += [a for a in tables.active_files(old) if a["partition.dt"] == day]
    bad = tuple(sorted({a["partition.dt"] for a in actions if not real_day(a["partition.dt"] or "")}))
    for day in bad:
        log.warning("skipping %s/%s/dt=%s: its partition is not dt=YYYY-MM-DD", root, table, day)
    return TableRead(plan, [a for a in actions if a["partition.dt"] not in bad], bad)


def _marker(root: str, storage_options):
    from deltalake.exceptions import DeltaError

    from warehouse import partitions

    try:
        return partitions.marker_of(root, storage_options)
    except (DeltaError, OSError) as exc:
        raise WarehouseError(f"cannot read the Delta table {root}/{partitions.MARKER}: "
                             f"{one_line(exc)}; check the URL and its credentials "
                             "(storage options)") from None


def _check_warehouse(con: duckdb.DuckDBPyConnection, root: str,
                     storage_options=None) -> dict[str, Any]:
    """Each table's read (Delta tables) and the dataset manifests; raises when the warehouse is
    missing, holds nothing, or is in the previous (hive Parquet) layout."""
    if not is_remote(root) and not Path(root).is_dir():
        raise WarehouseError(f"warehouse {root} does not exist (pass --warehouse DIR)")
    marker = _marker(root, storage_options)  # read once for every table's plan
    reads = {table: _read_table(root, table, storage_options, marker)
             for table in [*PARTITIONED_TABLES, DEPLOYMENTS]}
    found: dict[str, Any] = dict(reads)
    if is_remote(root):
        register_store(con, root)
    found[DATASETS] = _files(con, _manifests_glob(root))
    if not any(r.plan.version is not None for r in reads.values()) and not found[DATASETS]:
        if not is_remote(root) and list(Path(root).glob("*/dt=*/*.parquet")):
            raise WarehouseError(
                f"warehouse {root} is in the previous layout (hive Parquet without a Delta log); "
                f"convert it once with `python -m warehouse.migrate --warehouse {root}`")
        raise WarehouseError(
            f"warehouse {root} holds no tables (expected Delta tables {root}/<table>/_delta_log "
            f"for one of {', '.join(PARTITIONED_TABLES)}); has the curation job run?"
        )
    return found


def real_day(text: str) -> bool:
    import datetime as _dt

    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        return False
    return bool(_DAY.match(text))


def _duckdb_type(arrow_type) -> str:
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "VARCHAR"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "BLOB"
    if pa.types.is_map(arrow_type):
        return f"MAP({_duckdb_type(arrow_type.key_type)}, {_duckdb_type(arrow_type.item_type)})"
    if pa.types.is_list(arrow_type):
        return f"{_duckdb_type(arrow_type.value_type)}[]"
    if pa.types.is_struct(arrow_type):
        fields = ", ".join(f'"{f.name}" {_duckdb_type(f.type)}' for f in arrow_type)
        return f"STRUCT({fields})"
    simple = {
        pa.int8(): "TINYINT", pa.int16(): "SMALLINT", pa.int32(): "INTEGER", pa.int64(): "BIGINT",
        pa.float32(): "FLOAT", pa.float64(): "DOUBLE", pa.date32(): "DATE",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    raise TypeError(f"no DuckDB type for arrow type {arrow_type}")


def _empty_select(table: str) -> str:
    """A typed, empty SELECT with the table's fixed schema (for tables with no rows yet)."""
    from warehouse.schemas import ALL_TABLES

    columns = [f'CAST(NULL AS {_duckdb_type(f.type)}) AS "{f.name}"' for f in ALL_TABLES[table]]
    columns.append('CAST(NULL AS DATE) AS "dt"')
    return f"SELECT {', '.join(columns)} WHERE false"


def _delta_select(con: duckdb.DuckDBPyConnection, root: str, table: str, read: TableRead,
                  storage_options, persistent: bool = False, config: ViewConfig = ViewConfig()) -> str:
    """A SELECT over the table's Delta read plan.

    The latest version serves every day but the pinned ones (days whose newest commit is not
    sealed by ``stats`` yet), which come from their earlier version. Local tables (and
    ``persistent`` views of a catalog file, which cannot hold Arrow datasets): the data files the
    plan names, read by DuckDB; object stores: Arrow datasets registered on ``con``.
    """
    from warehouse import tables

    if read.plan.version is None or not read.files:
        return _empty_select(table)
    if persistent or (not is_remote(root) and config.local_reader == "files"):
        paths = [f"{root}/{table}/{a['path']}" for a in read.files]
        return (f"SELECT * FROM read_parquet({sql_literal(paths)}, hive_partitioning = true, "
                f"hive_types = {{'dt': DATE}}, "
                f"union_by_name = {str(config.union_by_name).lower()})")
    parts = []
    pinned = sorted(read.plan.pinned)
    skip = [*pinned, *read.bad_days]
    latest = tables.open_table(root, table, read.plan.version, storage_options)
    sources = [(latest, [("dt", "not in", skip)] if skip else None)]
    for day in pinned:
        old = tables.open_table(root, table, read.plan.pinned[day], storage_options)
        if any(a["partition.dt"] == day for a in read.files):
            sources.append((old, [("dt", "=", day)]))
    for n, (dt, partitions) in enumerate(sources):
        name = f"{DELTA_PREFIX}{table}_{n}"
        con.register(name, dt.to_pyarrow_dataset(partitions=partitions))
        parts.append(f'SELECT * REPLACE (CAST(dt AS DATE) AS dt) FROM "{name}"')
    return " UNION ALL BY NAME ".join(parts)


# Every side-by-side result per interaction, as CTEs after a WITH: ``comparison_results`` has
# ``interaction_id``, ``wins``, ``losses`` (on either side of the comparison) and
# ``cross_wins``/``cross_losses`` (only against an answer of another model version).
COMPARISON_RESULTS = """
-- Each comparison once, with whether its two answers came from different model versions
-- (false: two samples of one version, the gateway's --self-comparison; NULL: the other answer
-- is unknown).
comparisons AS (
    SELECT f.interaction_id, f.other_interaction_id, f.preferred,
           a.model_version <> b.model_version AS cross_version
    FROM feedback_events AS f
    LEFT JOIN interactions AS a ON a.event_id = f.interaction_id
    LEFT JOIN interactions AS b ON b.event_id = f.other_interaction_id
    WHERE f.kind = 'comparison'
),
-- A comparison sent on interaction A against B is also a result for B.
sides AS (
    SELECT interaction_id, preferred = 'this' AS won, cross_version FROM comparisons
    UNION ALL
    SELECT other_interaction_id, preferred = 'other', cross_version FROM comparisons
    WHERE other_interaction_id IS NOT NULL
),
comparison_results AS (
    SELECT interaction_id,
           count(*) FILTER (WHERE won) AS wins,
           count(*) FILTER (WHERE NOT won) AS losses,
           count(*) FILTER (WHERE won AND cross_version) AS cross_wins,
           count(*) FILTER (WHERE NOT won AND cross_version) AS cross_losses
    FROM sides
    GROUP BY interaction_id
)
"""

RATED_INTERACTIONS_SQL = (
    """
CREATE OR REPLACE VIEW rated_interactions AS
WITH on_this AS (
    SELECT interaction_id,
           count(*) FILTER (WHERE kind = 'thumbs' AND value = 1) AS n_thumbs_up,
           count(*) FILTER (WHERE kind = 'thumbs' AND value = -1) AS n_thumbs_down,
           count(*) FILTER (WHERE kind = 'rating') AS n_ratings,
           avg(value) FILTER (WHERE kind = 'rating') AS mean_rating,
           count(*) FILTER (WHERE kind = 'edit') AS n_edits,
           count(*) FILTER (WHERE kind = 'flag') AS n_flags
    FROM feedback_events
    GROUP BY interaction_id
),"""
    + COMPARISON_RESULTS
    + """SELECT i.*,
       coalesce(t.n_thumbs_up, 0) AS n_thumbs_up,
       coalesce(t.n_thumbs_down, 0) AS n_thumbs_down,
       coalesce(t.n_ratings, 0) AS n_ratings,
       t.mean_rating AS mean_rating,
       coalesce(t.n_edits, 0) AS n_edits,
       coalesce(t.n_flags, 0) AS n_flags,
       coalesce(r.wins, 0) AS ab_wins,
       coalesce(r.losses, 0) AS ab_losses,
       coalesce(r.cross_wins, 0) AS ab_cross_wins,
       coalesce(r.cross_losses, 0) AS ab_cross_losses
FROM interactions AS i
LEFT JOIN on_this AS t ON t.interaction_id = i.event_id
LEFT JOIN comparison_results AS r ON r.interaction_id = i.event_id
"""
)


def create_views(
    con: duckdb.DuckDBPyConnection, warehouse: str | os.PathLike, config: ViewConfig = ViewConfig(),
    storage_options: dict[str, str] | None = None, *, persistent: bool = False,
) -> dict[str, Any]:
    """Create every view on ``con``; returns each table's read (``TableRead``) and the manifests.

    ``persistent``: views that survive the connection (a catalog file), see ``_delta_select``.
    """
    root = warehouse_root(warehouse)
    found = _check_warehouse(con, root, storage_options)
    for table, view in PARTITIONED_TABLES.items():
        select = _delta_select(con, root, table, found[table], storage_options, persistent, config)
        if table == "feedback":
            select = (
                f"SELECT * REPLACE (CAST(interaction_dt AS DATE) AS interaction_dt) "
                f"FROM ({select})"
            )
        con.execute(f'CREATE OR REPLACE VIEW "{view}" AS {select}')
    if found[DEPLOYMENTS].files:
        select = _delta_select(con, root, DEPLOYMENTS, found[DEPLOYMENTS], storage_options,
                               persistent, config)
        con.execute(f"CREATE OR REPLACE VIEW {DEPLOYMENTS} AS SELECT * EXCLUDE (dt) FROM ({select})")
    if found[DATASETS]:
        try:
            con.execute(
                f"CREATE OR REPLACE VIEW {DATASET_VIEW} AS SELECT "
                f"regexp_extract(filename, '([^/]+)/manifest\\.json$', 1) AS dataset_id, * "
                f"EXCLUDE (filename) FROM read_json_auto("
                f"{_sql_str(_manifests_glob(root))}, filename = true, "
                f"union_by_name = true)"
            )
        except duckdb.Error as exc:
            raise WarehouseError(
                f"cannot read dataset manifests under {root}/{DATASETS}: "
                f"{str(exc).splitlines()[0]}"
            ) from None
    con.execute(RATED_INTERACTIONS_SQL)
    return found


def connect(
    warehouse: str | os.PathLike, config: ViewConfig = ViewConfig(), *, locked: bool = True,
    storage_options: dict[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the warehouse views; locked down unless ``locked=False``.

    Locked means: the only files reachable are under the warehouse, settings cannot be changed
    back, and ``run_query`` refuses anything but SELECT (see module docstring).
    """
    con = duckdb.connect(":memory:")
    # Nothing is fetched at run time: an object-store warehouse is read through delta-rs and
    # fsspec (``register_store``), never through an extension DuckDB would download.
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    if config.threads:
        con.execute(f"SET threads = {int(config.threads)}")
    if config.memory_limit:
        con.execute(f"SET memory_limit = {_sql_str(config.memory_limit)}")
    root = warehouse_root(warehouse)
    create_views(con, root, config, storage_options)
    con.execute(f"SET VARIABLE warehouse_root = {_sql_str(root)}")
    if locked:
        con.execute(f"SET allowed_directories = [{_sql_str(root + '/')}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


def check_read_only(sql: str) -> str:
    """The statement's text if ``sql`` is exactly one SELECT (DESCRIBE/SHOW/SUMMARIZE count
    as SELECT); raises otherwise."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise WarehouseError(f"bad SQL: {str(exc).splitlines()[0]}") from None
    if not statements:
        raise WarehouseError("empty query: pass one SELECT statement")
    if len(statements) > 1:
        raise WarehouseError(
            f"got {len(statements)} statements; the warehouse answers one SELECT at a time"
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise WarehouseError(
            f"refused a statement of type {kind.name}: the warehouse is read-only through inspect "
            f"(only SELECT queries run)"
        )
    return statements[0].query


# An analyst's ad-hoc query gets a minute: long enough for a scan of a big warehouse, short
# enough that `range(1e11)` typed by mistake does not hold a shared machine until killed.
DEFAULT_QUERY_TIMEOUT_S = 60.0


def run_query(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None,
    timeout_s: float | None = DEFAULT_QUERY_TIMEOUT_S,
) -> tuple[list[str], list[tuple]]:
    """Column names and rows of one read-only SELECT with named ``$name`` parameters.

    Parameters are bound by DuckDB through PREPARE/EXECUTE with literal values (see
    ``sql_literal``), never pasted into the query's text. A query still running after
    ``timeout_s`` seconds is interrupted (``QueryTimeout``); None or 0 means no limit.
    """
    statement = check_read_only(sql)
    if not timeout_s:
        return _execute(con, statement, params)
    import threading

    timer = threading.Timer(timeout_s, con.interrupt)
    timer.start()
    try:
        return _execute(con, statement, params)
    except WarehouseError:
        if not timer.is_alive():  # the timer fired: the interrupt is why the query failed
            raise QueryTimeout(
                f"query interrupted after {timeout_s:g} s (--timeout); narrow it with a WHERE "
                f"on dt, or raise --timeout") from None
        raise
    finally:
        timer.cancel()


class QueryTimeout(Exception):
    """A query ran past its time limit and was interrupted."""


def _execute(
    con: duckdb.DuckDBPyConnection, statement: str, params: dict[str, Any] | None
) -> tuple[list[str], list[tuple]]:
    try:
        if params:
            for name in params:
                if not str(name).isidentifier():
                    raise WarehouseError(f"bad parameter name {name!r} (expected an identifier)")
            con.execute(f"PREPARE inspect_query AS {statement}")
            try:
                args = ", ".join(f"{name} := {sql_literal(v)}" for name, v in params.items())
                cursor = con.execute(f"EXECUTE inspect_query({args})")
                columns = [d[0] for d in cursor.description]
                return columns, cursor.fetchall()
            finally:
                con.execute("DEALLOCATE PREPARE inspect_query")
        cursor = con.execute(statement)
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(one_line(exc)) from None


def one_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def resolve_view(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """A warehouse table or view name to its view; unknown names list the choices."""
    views = list_views(con)
    view = PARTITIONED_TABLES.get(name, name)
    if view == DATASETS:
        view = DATASET_VIEW
    if view not in views:
        raise WarehouseError(f"unknown table {name!r} (expected one of {', '.join(views)})")
    return view


def list_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name"
    ).fetchall()
    return [row[0] for row in rows if not row[0].startswith(DELTA_PREFIX)]


def inventory(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Each table with its version, partitions, rows and bytes (from the Delta log, no scan)."""
    root = con.execute("SELECT getvariable('warehouse_root')").fetchone()[0]
    if root is None:
        raise WarehouseError("connection was not opened with views.connect")
    found = _check_warehouse(con, root)
    out = []
    for table, read in found.items():
        view = PARTITIONED_TABLES.get(table, DEPLOYMENTS if table == DEPLOYMENTS else DATASET_VIEW)
        if table == DATASETS:
            size = con.execute(
                f"SELECT coalesce(sum(size), 0) FROM read_blob({sql_literal(read)})"
            ).fetchone()[0] if read else 0
            out.append(dict(table=table, view=view, version=None, partitions=0, first_dt=None,
                            last_dt=None, files=len(read), rows=len(read), bytes=int(size)))
            continue
        dts = sorted({a["partition.dt"] for a in read.files})
        out.append(dict(
            table=table, view=view, version=read.plan.version, partitions=len(dts),
            first_dt=dts[0] if dts else None, last_dt=dts[-1] if dts else None,
            files=len(read.files), rows=int(sum(a["num_records"] or 0 for a in read.files)),
            bytes=int(sum(a["size_bytes"] for a in read.files)),
        ))
    return out
