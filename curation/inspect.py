"""The analyst's command line over the warehouse (DuckDB views over Parquet).

    python -m curation.inspect --warehouse DIR tables
    python -m curation.inspect --warehouse DIR schema interactions
    python -m curation.inspect --warehouse DIR sample feedback -n 5 --where "kind = 'rating'"
    python -m curation.inspect --warehouse DIR query "SELECT ... WHERE dt = \\$day" -p day=2026-11-01
    python -m curation.inspect --warehouse DIR funnel [--date D]
    python -m curation.inspect --warehouse DIR pii [--date D]
    python -m curation.inspect --warehouse DIR feedback [--by model_version|day|model_version,day]
    python -m curation.inspect --warehouse DIR report --out report.html
    python -m curation.inspect --warehouse DIR catalog --out warehouse.duckdb

Every listing takes ``--format table|csv|json``. The logic lives in ``curation.views`` and
``curation.report``, the formatting in ``curation.render``; this module parses arguments and turns
errors into one line on stderr with a non-zero exit. See docs/inspect.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import duckdb

from curation import questions, report, views
from curation.render import FORMATS, emit, human_bytes
from governance import lineage as governance
from warehouse import umask

EXIT_ERROR = 1
EXIT_USAGE = 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not usage + traceback-looking text
        raise UsageError(message)


def _unique(columns: Sequence[str]) -> list[str]:
    """Column names made unique the way DuckDB names a table's columns (``v``, ``v_1``, ...):
    a query may select two columns of one name (``a.model_version, b.model_version``), and
    rows keyed by name would otherwise show one value twice."""
    seen, out = set(columns), []
    for name in columns:
        if name in out:
            n = 1
            while f"{name}_{n}" in seen:
                n += 1
            name = f"{name}_{n}"
            seen.add(name)
        out.append(name)
    return out


def _rows(columns: Sequence[str],
          tuples: Sequence[tuple]) -> tuple[list[str], list[dict[str, Any]]]:
    columns = _unique(columns)
    return columns, [dict(zip(columns, values, strict=True)) for values in tuples]


# ---------------------------------------------------------------------------------------------
# Commands: each returns (columns, rows, table formatters) or writes a file and returns None.


def cmd_tables(con, args):
    rows = views.inventory(con)
    columns = ["table", "view", "partitions", "first_dt", "last_dt", "files", "rows", "bytes"]
    return columns, rows, {"bytes": human_bytes}


def cmd_schema(con, args):
    view = views.resolve_view(con, args.table)
    described = con.execute(f'DESCRIBE SELECT * FROM "{view}"').fetchall()
    rows = [dict(column=r[0], type=r[1], nullable=r[2] == "YES") for r in described]
    return ["column", "type", "nullable"], rows, None


def cmd_sample(con, args):
    view = views.resolve_view(con, args.table)
    if args.n < 0:
        raise views.WarehouseError(f"bad -n {args.n} (expected a count >= 0)")
    where = f" WHERE ({args.where})" if args.where else ""
    columns, tuples = views.run_query(
        con, f'SELECT * FROM "{view}"{where} LIMIT {int(args.n)}'
    )
    return *_rows(columns, tuples), None


def _params(pairs: Sequence[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise views.WarehouseError(
                f"bad parameter {pair!r} (expected name=value, used in SQL as $name)"
            )
        params[name] = value
    return params


def cmd_query(con, args):
    columns, tuples = views.run_query(con, args.sql, _params(args.param), args.timeout)
    return *_rows(columns, tuples), None


def cmd_funnel(con, args):
    rows = questions.funnel(con, args.date)
    if not rows:
        raise views.WarehouseError("the stats table is empty: has the curation job run?")
    columns = ["stage", "records_in", "kept", "dropped", "unaccounted", "dropped_by_reason"]
    if args.format == "csv":
        rows = [dict(r, dropped_by_reason=";".join(f"{k}={v}" for k, v in
                                                   r["dropped_by_reason"].items())) for r in rows]
    elif args.format == "table":
        # one line per drop reason under its stage reads better than a long cell
        lines = []
        for r in rows:
            lines.append(r)
            lines.extend({"stage": f"  {reason}", "dropped": n}
                         for reason, n in r["dropped_by_reason"].items())
        return columns[:-1], lines, None
    return columns, rows, None


def cmd_pii(con, args):
    return ["dt", "entity_type", "findings"], questions.pii_findings(con, args.date), None


def cmd_feedback(con, args):
    rows = questions.feedback_summary(con, args.by)
    keys = [k.strip() for k in args.by.split(",")]
    return [*keys, "metric", "value", "ci_low", "ci_high", "n"], rows, None


def cmd_report(con, args):
    path = report.write_report(args.warehouse, args.out, con=con)
    print(f"wrote {path}", file=sys.stderr)


def cmd_catalog(con, args):
    path = write_catalog(args.warehouse, args.out)
    print(f"wrote {path} (open it with: duckdb {path})", file=sys.stderr)


def write_catalog(warehouse: str | os.PathLike, out: str | os.PathLike) -> Path:
    """A DuckDB database file holding only views over the warehouse's absolute paths.

    It holds no data, so it is tiny: each view names the data files of its Delta table's
    version at the time of writing (a snapshot); re-run it after new commits (a table with no
    files yet is an empty view with the fixed schema).
    """
    out_path = Path(out).expanduser().resolve()
    if out_path.is_dir():
        raise views.WarehouseError(f"--out {out_path} is a directory (expected a .duckdb file)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        views.create_views(con, warehouse, persistent=True)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, out_path)
    return out_path


COMMANDS = {
    "tables": cmd_tables, "schema": cmd_schema, "sample": cmd_sample, "query": cmd_query,
    "funnel": cmd_funnel, "pii": cmd_pii, "feedback": cmd_feedback, "report": cmd_report,
    "catalog": cmd_catalog,
}


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    # Accepted before or after the command; SUPPRESS keeps the sub-parser from resetting them.
    common.add_argument("--warehouse", default=argparse.SUPPRESS,
                        help="warehouse root: a directory, s3://bucket/prefix or gs://...")
    common.add_argument("--format", choices=FORMATS, default=argparse.SUPPRESS,
                        help="output format of listings (default: table)")
    parser = _Parser(prog="python -m curation.inspect", parents=[common],
                     description="Query the curated warehouse (DuckDB over Parquet).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("tables", parents=[common], help="tables with partitions, rows and bytes")
    p = sub.add_parser("schema", parents=[common], help="columns and types of a table")
    p.add_argument("table")
    p = sub.add_parser("sample", parents=[common], help="a few rows of a table")
    p.add_argument("table")
    p.add_argument("-n", type=int, default=10, help="rows (default 10)")
    p.add_argument("--where", help="SQL filter, e.g. \"kind = 'rating' AND dt = '2026-11-01'\"")
    p = sub.add_parser("query", parents=[common], help="one read-only SELECT over the views")
    p.add_argument("sql")
    p.add_argument("--timeout", type=float, default=views.DEFAULT_QUERY_TIMEOUT_S,
                   metavar="SECONDS", help="interrupt the query after this long (default "
                   f"{views.DEFAULT_QUERY_TIMEOUT_S:g}; 0 = no limit)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="named parameter, used in the SQL as $NAME (repeatable)")
    for name, text in (("funnel", "records in, kept and dropped by reason per stage"),
                       ("pii", "PII findings per entity type per day")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("--date", help="one day, YYYY-MM-DD (default: all days)")
    p = sub.add_parser("feedback", parents=[common],
                       help="feedback rates with 95%% intervals per model version or day")
    p.add_argument("--by", default="model_version",
                   help="model_version, day or model_version,day (default model_version)")
    for name, text in (("report", "write the HTML report"),
                       ("catalog", "write a DuckDB file of views for the duckdb CLI")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("--out", required=True)
    governance.add_inspect_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    umask.restrict_umask()  # outputs are never world-readable (FLYWHEEL_UMASK)
    stdout = stdout or sys.stdout
    try:
        args = build_parser().parse_args(argv)
        args.format = getattr(args, "format", "table")
        if not getattr(args, "warehouse", None):
            args.warehouse = os.environ.get("FLYWHEEL_WAREHOUSE")
            if not args.warehouse:
                raise UsageError("--warehouse DIR is required (or set FLYWHEEL_WAREHOUSE)")
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    con = None
    try:
        if args.command == "catalog":
            cmd_catalog(None, args)
            return 0
        if args.command in ("deletions", "lineage"):
            columns, rows = governance.inspect_command(args)
            emit(columns, rows, args.format, stdout)
            return 0
        con = views.connect(args.warehouse)
        result = COMMANDS[args.command](con, args)
        if result is not None:
            columns, rows, formatters = result
            emit(columns, rows, args.format, stdout, formatters)
        return 0
    except (views.WarehouseError, views.QueryTimeout, governance.GovernanceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except duckdb.Error as exc:
        print(f"error: {views.one_line(exc)}", file=sys.stderr)
    except OSError as exc:
        print(f"error: {exc.strerror or exc} ({exc.filename or ''})".rstrip(" ()"),
              file=sys.stderr)
    finally:
        if con is not None:
            con.close()
    return EXIT_ERROR


def _entry() -> int:
    try:
        code = main()
        sys.stdout.flush()
        return code
    except BrokenPipeError:  # `... | head` closed the pipe: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(_entry())
