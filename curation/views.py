"""DuckDB over the Parquet warehouse: one connection, one view per table, read-only queries.

The warehouse is ``WAREHOUSE/<table>/dt=YYYY-MM-DD/*.parquet`` (schemas in
``pipelines.schemas``), plus ``WAREHOUSE/deployments/*.parquet`` and
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

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from curation.stats import (
    mean_interval,
    t_quantile,  # noqa: F401 - tests/curation read it here; its home is curation.stats
    wilson_interval,
)

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

# Stages of the curation job in the order records flow through them (pipelines/curate.py's
# STAGES; copied, because importing the job would import Beam into every inspect command).
STAGES = (
    "read", "parse", "redelivery", "erasure", "attach", "filter", "scrub", "dedup_exact",
    "dedup_near", "resolve", "write",
)


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
    files = {table: _files(con, _table_glob(root, table)) for table in PARTITIONED_TABLES}
    files[DEPLOYMENTS] = _files(con, _deployments_glob(root))
    files[DATASETS] = _files(con, _manifests_glob(root))
    if not any(files.values()):
        raise WarehouseError(
            f"warehouse {root} holds no tables (expected {root}/<table>/dt=YYYY-MM-DD/*.parquet "
            f"for one of {', '.join(PARTITIONED_TABLES)}); has the curation job run?"
        )
    return files


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
    from pipelines.schemas import TABLES

    columns = [f'CAST(NULL AS {_duckdb_type(f.type)}) AS "{f.name}"' for f in TABLES[table]]
    columns.append('CAST(NULL AS DATE) AS "dt"')
    return f"SELECT {', '.join(columns)} WHERE false"


def _parquet_select(root: str, table: str, config: ViewConfig) -> str:
    return (
        f"SELECT * FROM read_parquet({_sql_str(_table_glob(root, table))}, "
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
        select = _parquet_select(root, table, config) if files[table] else _empty_select(table)
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


def run_query(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> tuple[list[str], list[tuple]]:
    """Column names and rows of one read-only SELECT with named ``$name`` parameters.

    Parameters are bound by DuckDB through PREPARE/EXECUTE with literal values (see
    ``sql_literal``), never pasted into the query's text.
    """
    statement = check_read_only(sql)
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
        raise WarehouseError(_one_line(exc)) from None


def _one_line(exc: Exception) -> str:
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


# ---------------------------------------------------------------------------------------------
# Named questions over the views. Each returns plain rows (dicts), so the CLI, the report and the
# demo format them however they like.

# Two-sided 95% intervals throughout.
FEEDBACK_GROUPS = {"model_version": "i.model_version", "day": "i.dt"}


def _check_date(con: duckdb.DuckDBPyConnection, date: str | None, view: str = "stats") -> None:
    if date is None:
        return
    import datetime as _dt

    try:
        _dt.date.fromisoformat(date)
    except ValueError:
        raise WarehouseError(f"bad --date {date!r} (expected YYYY-MM-DD)") from None
    dts = [str(r[0]) for r in con.execute(f"SELECT DISTINCT dt FROM {view} ORDER BY dt").fetchall()]
    if date not in dts:
        have = f"{dts[0]} .. {dts[-1]}" if dts else "no partitions"
        raise WarehouseError(f"no {view} partition for {date} ({view} has {have})")


def _stage_order(stage: str) -> tuple[int, str]:
    return (STAGES.index(stage) if stage in STAGES else len(STAGES), stage)


# A date re-curated twice could leave two runs' rows; count only the latest run of each day.
_LATEST_STATS = """
    SELECT * FROM stats
    WHERE ({date} IS NULL OR dt = CAST({date} AS DATE))
    QUALIFY run_id = max(run_id) OVER (PARTITION BY dt)
"""


def funnel(con: duckdb.DuckDBPyConnection, date: str | None = None) -> list[dict[str, Any]]:
    """Per stage, in flow order: records in, kept, dropped, dropped by reason (from ``stats``).

    ``unaccounted`` is ``in - kept - dropped``; a correct job makes it 0 at every stage.
    Without ``date`` every day is summed.
    """
    _check_date(con, date)
    latest = _LATEST_STATS.format(date=sql_literal(date))
    totals = con.execute(f"""
        SELECT stage,
               sum(value) FILTER (WHERE metric = 'in') AS records_in,
               sum(value) FILTER (WHERE metric = 'out') AS kept,
               coalesce(sum(value) FILTER (WHERE metric = 'dropped'), 0) AS dropped
        FROM ({latest}) GROUP BY stage
    """).fetchall()
    reasons = con.execute(f"""
        SELECT stage, reason, sum(value) AS n FROM ({latest})
        WHERE metric = 'dropped' GROUP BY ALL ORDER BY stage, n DESC, reason
    """).fetchall()
    by_stage: dict[str, dict[str, int]] = {}
    for stage, reason, n in reasons:
        by_stage.setdefault(stage, {})[reason or "unspecified"] = int(n)
    rows = []
    for stage, records_in, kept, dropped in sorted(totals, key=lambda r: _stage_order(r[0])):
        if records_in is None and kept is None and not dropped:
            continue  # a stage with only pii_* metrics has no flow of its own
        unaccounted = None
        if records_in is not None and kept is not None:
            unaccounted = int(records_in) - int(kept) - int(dropped)
        rows.append(dict(
            stage=stage, records_in=records_in, kept=kept, dropped=int(dropped),
            unaccounted=unaccounted, dropped_by_reason=by_stage.get(stage, {}),
        ))
    return rows


def pii_findings(con: duckdb.DuckDBPyConnection, date: str | None = None) -> list[dict[str, Any]]:
    """PII findings per entity type per day (the scrub stage's ``pii_<ENTITY>`` counters)."""
    _check_date(con, date)
    rows = con.execute(f"""
        SELECT dt, substr(metric, 5) AS entity_type, sum(value) AS findings
        FROM ({_LATEST_STATS.format(date=sql_literal(date))})
        WHERE stage = 'scrub' AND starts_with(metric, 'pii_')
        GROUP BY ALL ORDER BY dt, findings DESC, entity_type
    """).fetchall()
    return [dict(dt=dt.isoformat(), entity_type=entity, findings=int(n)) for dt, entity, n in rows]


def _group_keys(by: str) -> list[str]:
    keys = [key.strip() for key in by.split(",") if key.strip()]
    unknown = [key for key in keys if key not in FEEDBACK_GROUPS]
    if not keys or unknown:
        raise WarehouseError(
            f"bad --by {by!r} (expected model_version, day or model_version,day)"
        )
    return keys


def feedback_summary(
    con: duckdb.DuckDBPyConnection, by: str = "model_version"
) -> list[dict[str, Any]]:
    """Feedback metrics per group, long format: one row per (group, metric).

    ``by`` is ``model_version``, ``day`` or ``model_version,day``; ``day`` is the day of the
    interaction the feedback is about (its partition), so a day's rates describe that day's
    traffic even when feedback arrives later. Metrics, each with its 95% interval and count n:

    - ``thumbs_up_rate``: thumbs-up events / thumbs events (Wilson)
    - ``mean_rating``: mean of 1..5 rating events (Student t)
    - ``edit_rate``: interactions with at least one edit / interactions (Wilson)
    - ``flag_rate``: interactions flagged at least once / interactions (Wilson)
    - ``ab_win_rate``: comparisons won / comparisons the interaction took part in, on either
      side (Wilson); a comparison between two answers of one version counts a win and a loss.
    """
    keys = _group_keys(by)
    select = ", ".join(f"{FEEDBACK_GROUPS[k]} AS {k}" for k in keys)
    group = ", ".join(keys)
    # One pass over interactions: feedback is first folded per interaction (small), then
    # joined to the interactions once (a second join for the events costs ~40% more at 1M).
    totals = con.execute(f"""
        WITH on_this AS (
            SELECT interaction_id AS id,
                   count(*) FILTER (WHERE kind = 'thumbs' AND value = 1) AS up,
                   count(*) FILTER (WHERE kind = 'thumbs') AS thumbs_n,
                   sum(value) FILTER (WHERE kind = 'rating') AS r_sum,
                   sum(value * value) FILTER (WHERE kind = 'rating') AS r_sq,
                   count(*) FILTER (WHERE kind = 'rating') AS r_n,
                   count(*) FILTER (WHERE kind = 'edit') > 0 AS edited,
                   count(*) FILTER (WHERE kind = 'flag') > 0 AS flagged,
                   count(*) FILTER (WHERE kind = 'comparison' AND preferred = 'this') AS wins,
                   count(*) FILTER (WHERE kind = 'comparison' AND preferred = 'other') AS losses
            FROM feedback_events GROUP BY interaction_id
        ),
        on_other AS (  -- same definition as rated_interactions.ab_wins / ab_losses
            SELECT other_interaction_id AS id,
                   count(*) FILTER (WHERE preferred = 'other') AS wins,
                   count(*) FILTER (WHERE preferred = 'this') AS losses
            FROM feedback_events
            WHERE kind = 'comparison' AND other_interaction_id IS NOT NULL
            GROUP BY other_interaction_id
        )
        SELECT {select},
               count(*) AS n_interactions,
               coalesce(sum(t.up), 0), coalesce(sum(t.thumbs_n), 0),
               coalesce(sum(t.r_sum), 0), coalesce(sum(t.r_sq), 0), coalesce(sum(t.r_n), 0),
               count(*) FILTER (WHERE t.edited), count(*) FILTER (WHERE t.flagged),
               coalesce(sum(t.wins), 0) + coalesce(sum(o.wins), 0),
               coalesce(sum(t.wins + t.losses), 0) + coalesce(sum(o.wins + o.losses), 0)
        FROM interactions AS i
        LEFT JOIN on_this AS t ON t.id = i.event_id
        LEFT JOIN on_other AS o ON o.id = i.event_id
        GROUP BY {group}
    """).fetchall()
    width = len(keys)
    rows = []
    for row in sorted(totals, key=lambda r: tuple(str(v) for v in r[:width])):
        key = row[:width]
        n_inter, up, thumbs_n, r_sum, r_sq, r_n, edited, flagged, wins, ab_n = (
            int(v) for v in row[width:])
        r_mean = r_sum / r_n if r_n else None
        # sample variance from exact integer sums: no cancellation error with 1..5 ratings
        r_sd = math.sqrt((r_sq * r_n - r_sum * r_sum) / (r_n * (r_n - 1))) if r_n > 1 else None
        group_values = {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in zip(keys, key, strict=True)
        }

        def rate(metric: str, k: int, n: int, group=group_values) -> dict[str, Any]:
            low, high = wilson_interval(int(k), int(n))
            return dict(**group, metric=metric, value=(k / n) if n else None,
                        ci_low=low if n else None, ci_high=high if n else None, n=int(n))

        r_low, r_high = mean_interval(r_mean, r_sd, int(r_n)) if r_n else (None, None)
        rows.append(rate("thumbs_up_rate", up, thumbs_n))
        rows.append(dict(**group_values, metric="mean_rating", value=r_mean,
                         ci_low=None if r_n < 2 else r_low, ci_high=None if r_n < 2 else r_high,
                         n=int(r_n)))
        rows.append(rate("edit_rate", edited, n_inter))
        rows.append(rate("flag_rate", flagged, n_inter))
        rows.append(rate("ab_win_rate", wins, ab_n))
    return rows
