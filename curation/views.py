"""DuckDB over the Parquet warehouse: one connection, one view per table, read-only queries.

The warehouse is ``WAREHOUSE/<table>/dt=YYYY-MM-DD/*.parquet`` (schemas in
``warehouse.schemas``), plus ``WAREHOUSE/deployments/*.parquet`` and
``WAREHOUSE/datasets/<id>/manifest.json`` once training has run. ``connect`` opens an in-memory
DuckDB with these views:

============================  ================================================================
view                          source
============================  ================================================================
``interactions``              ``interactions/dt=*/*.parquet``
``feedback_events``           ``feedback/dt=*/*.parquet`` (``interaction_dt`` cast to DATE)
``rejects``                   ``rejects/dt=*/*.parquet``
``stats``                     ``stats/dt=*/*.parquet``
``dedup_index``               ``dedup_index/dt=*/*.parquet``
``deletion_requests``         ``deletion_requests/dt=*/*.parquet``
``deployments``               ``deployments/*.parquet`` (only when present)
``dataset_manifests``         ``datasets/*/manifest.json`` (only when present)
``rated_interactions``        each interaction with its aggregated feedback
============================  ================================================================

``dt`` is a DATE everywhere (``hive_types``), and so is ``feedback_events.interaction_dt``, so
joins and date filters never mix types. A table that has no files yet gets an empty view with
its fixed schema, so queries over a young warehouse still bind.

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

from warehouse import journal

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
_DT_FOLDER = re.compile(r"/dt=([^/]*)/[^/]*$")
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


# Names starting with "." are writes in progress (temporary files and folders renamed into place
# when complete): the globs skip them.
def _table_glob(root: str, table: str) -> str:
    return f"{root}/{table}/dt=*/[!.]*.parquet"


def _deployments_glob(root: str) -> str:
    return f"{root}/{DEPLOYMENTS}/[!.]*.parquet"


def _manifests_glob(root: str) -> str:
    return f"{root}/{DATASETS}/[!.]*/manifest.json"


def _load_remote_support(con: duckdb.DuckDBPyConnection, root: str) -> None:
    scheme = root.split("://", 1)[0]
    try:
        con.execute("LOAD httpfs")
    except duckdb.Error as exc:
        raise WarehouseError(
            f"reading a {scheme}:// warehouse needs DuckDB's httpfs extension, which is not "
            f"available here (run `INSTALL httpfs` once on a machine with network access): "
            f"{str(exc).splitlines()[0]}"
        ) from None


def _files(con: duckdb.DuckDBPyConnection, pattern: str) -> list[str]:
    try:
        rows = con.execute(f"SELECT file FROM glob({_sql_str(pattern)}) ORDER BY file").fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot list {pattern}: {str(exc).splitlines()[0]}") from None
    return [row[0] for row in rows]


def _check_warehouse(con: duckdb.DuckDBPyConnection, root: str) -> dict[str, list[str]]:
    """Files per table; raises when the warehouse is missing or holds nothing."""
    if not is_remote(root) and not Path(root).is_dir():
        raise WarehouseError(f"warehouse {root} does not exist (pass --warehouse DIR)")
    journals = _files(con, f"{root}/{journal.JOURNAL}/*.json")
    if journals:
        raise WarehouseError(
            f"warehouse {root} has an unfinished commit ({journals[0].rsplit('/', 1)[-1]}): "
            f"its tables are half swapped, so nothing is read. Finish it with "
            f"`python -m pipelines.recover --warehouse {root}`, then retry")
    files = {table: _dated(_files(con, _table_glob(root, table)), table)
             for table in PARTITIONED_TABLES}
    files[DEPLOYMENTS] = _files(con, _deployments_glob(root))
    files[DATASETS] = _files(con, _manifests_glob(root))
    if not any(files.values()):
        raise WarehouseError(
            f"warehouse {root} holds no tables (expected {root}/<table>/dt=YYYY-MM-DD/*.parquet "
            f"for one of {', '.join(PARTITIONED_TABLES)}); has the curation job run?"
        )
    return files


def _dated(files: list[str], table: str) -> list[str]:
    """Files whose partition folder is a real ``dt=YYYY-MM-DD``; warns about the others.

    A folder like ``dt=20261102`` (written by an older, laxer job) would make DuckDB's DATE
    cast fail for every query over the table: it is skipped and named, not read.
    """
    kept, bad = [], set()
    for path in files:
        match = _DT_FOLDER.search(path)
        if match and real_day(match.group(1)):
            kept.append(path)
        else:
            bad.add(path.rsplit("/", 1)[0])
    for folder in sorted(bad):
        log.warning("skipping %s: its partition folder is not dt=YYYY-MM-DD", folder)
    return kept


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
    """A typed, empty SELECT with the table's fixed schema (for tables with no files yet)."""
    from warehouse.schemas import TABLES

    columns = [f'CAST(NULL AS {_duckdb_type(f.type)}) AS "{f.name}"' for f in TABLES[table]]
    columns.append('CAST(NULL AS DATE) AS "dt"')
    return f"SELECT {', '.join(columns)} WHERE false"


def _parquet_select(files: list[str], config: ViewConfig) -> str:
    return (
        f"SELECT * FROM read_parquet({sql_literal(files)}, "
        f"hive_partitioning = true, hive_types = {{'dt': DATE}}, "
        f"union_by_name = {str(config.union_by_name).lower()})"
    )


RATED_INTERACTIONS_SQL = """
CREATE OR REPLACE VIEW rated_interactions AS
WITH on_this AS (
    SELECT interaction_id,
           count(*) FILTER (WHERE kind = 'thumbs' AND value = 1) AS n_thumbs_up,
           count(*) FILTER (WHERE kind = 'thumbs' AND value = -1) AS n_thumbs_down,
           count(*) FILTER (WHERE kind = 'rating') AS n_ratings,
           avg(value) FILTER (WHERE kind = 'rating') AS mean_rating,
           count(*) FILTER (WHERE kind = 'edit') AS n_edits,
           count(*) FILTER (WHERE kind = 'flag') AS n_flags,
           count(*) FILTER (WHERE kind = 'comparison' AND preferred = 'this') AS wins,
           count(*) FILTER (WHERE kind = 'comparison' AND preferred = 'other') AS losses
    FROM feedback_events
    GROUP BY interaction_id
),
-- A comparison sent on interaction A against B is also a result for B.
on_other AS (
    SELECT other_interaction_id AS interaction_id,
           count(*) FILTER (WHERE preferred = 'other') AS wins,
           count(*) FILTER (WHERE preferred = 'this') AS losses
    FROM feedback_events
    WHERE kind = 'comparison' AND other_interaction_id IS NOT NULL
    GROUP BY other_interaction_id
)
SELECT i.*,
       coalesce(t.n_thumbs_up, 0) AS n_thumbs_up,
       coalesce(t.n_thumbs_down, 0) AS n_thumbs_down,
       coalesce(t.n_ratings, 0) AS n_ratings,
       t.mean_rating AS mean_rating,
       coalesce(t.n_edits, 0) AS n_edits,
       coalesce(t.n_flags, 0) AS n_flags,
       coalesce(t.wins, 0) + coalesce(o.wins, 0) AS ab_wins,
       coalesce(t.losses, 0) + coalesce(o.losses, 0) AS ab_losses
FROM interactions AS i
LEFT JOIN on_this AS t ON t.interaction_id = i.event_id
LEFT JOIN on_other AS o ON o.interaction_id = i.event_id
"""


def create_views(
    con: duckdb.DuckDBPyConnection, warehouse: str | os.PathLike, config: ViewConfig = ViewConfig()
) -> dict[str, list[str]]:
    """Create every view on ``con``; returns the data files found per table."""
    root = warehouse_root(warehouse)
    if is_remote(root):
        _load_remote_support(con, root)
    files = _check_warehouse(con, root)
    for table, view in PARTITIONED_TABLES.items():
        select = _parquet_select(files[table], config) if files[table] else _empty_select(table)
        if table == "feedback":
            select = (
                f"SELECT * REPLACE (CAST(interaction_dt AS DATE) AS interaction_dt) "
                f"FROM ({select})"
            )
        con.execute(f'CREATE OR REPLACE VIEW "{view}" AS {select}')
    if files[DEPLOYMENTS]:
        con.execute(
            f"CREATE OR REPLACE VIEW {DEPLOYMENTS} AS SELECT * FROM read_parquet("
            f"{_sql_str(_deployments_glob(root))}, union_by_name = true)"
        )
    if files[DATASETS]:
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
    return files


def connect(
    warehouse: str | os.PathLike, config: ViewConfig = ViewConfig(), *, locked: bool = True
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the warehouse views; locked down unless ``locked=False``.

    Locked means: the only files reachable are under the warehouse, settings cannot be changed
    back, and ``run_query`` refuses anything but SELECT (see module docstring).
    """
    con = duckdb.connect(":memory:")
    if config.threads:
        con.execute(f"SET threads = {int(config.threads)}")
    if config.memory_limit:
        con.execute(f"SET memory_limit = {_sql_str(config.memory_limit)}")
    root = warehouse_root(warehouse)
    create_views(con, root, config)
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
    return [row[0] for row in rows]


def inventory(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Each table with its partitions, rows and bytes (from Parquet footers, no scan)."""
    root = con.execute("SELECT getvariable('warehouse_root')").fetchone()[0]
    if root is None:
        raise WarehouseError("connection was not opened with views.connect")
    files_by_table = _check_warehouse(con, root)
    out = []
    for table, files in files_by_table.items():
        view = PARTITIONED_TABLES.get(table, DEPLOYMENTS if table == DEPLOYMENTS else DATASET_VIEW)
        if not files:
            out.append(dict(table=table, view=view, partitions=0, first_dt=None, last_dt=None,
                            files=0, rows=0, bytes=0))
            continue
        if table == DATASETS:
            rows = len(files)
            size = con.execute(
                f"SELECT coalesce(sum(size), 0) FROM read_blob({sql_literal(files)})"
            ).fetchone()[0]
            dts = []
        else:
            rows, size = con.execute(
                f"SELECT coalesce(sum(num_rows), 0), coalesce(sum(file_size_bytes), 0) "
                f"FROM parquet_file_metadata({sql_literal(files)})"
            ).fetchone()
            dts = sorted({part.split("dt=", 1)[1].split("/", 1)[0]
                          for part in files if "/dt=" in part})
        out.append(dict(
            table=table, view=view, partitions=len(dts), first_dt=dts[0] if dts else None,
            last_dt=dts[-1] if dts else None, files=len(files), rows=int(rows), bytes=int(size),
        ))
    return out
