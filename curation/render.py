"""Rendering rows for people and programs: terminal tables, csv and json cells, byte sizes.

Shared by the ``inspect`` command line (all three formats) and the HTML report (its tables use
the same cell text as the terminal).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import json
import math
from collections.abc import Callable, Sequence
from typing import Any, TextIO

FORMATS = ("table", "csv", "json")
# Longest cell in the terminal table; long text is cut with an ellipsis (csv/json keep all).
MAX_CELL_CHARS = 48


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "hex") and type(value).__name__ == "UUID":
        return str(value)
    return value


def flat(value: Any) -> str:
    """A cell for csv: scalars as text, nested values as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))
    value = jsonable(value)
    return value if isinstance(value, str) else str(value)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"


def cell(value: Any) -> tuple[str, bool]:
    """Terminal text of one value and whether it is a number (numbers align right)."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return str(value).lower(), False
    if isinstance(value, int):
        return f"{value:,}", True
    if isinstance(value, float | decimal.Decimal):
        value = float(value)
        if not math.isfinite(value):
            return "", True
        return (f"{value:,.3f}" if abs(value) < 1e6 else f"{value:,.0f}"), True
    if isinstance(value, dict) and all(isinstance(v, int) for v in value.values()):
        return ", ".join(f"{k} {v:,}" for k, v in value.items()), False
    text = flat(value).replace("\r", " ").replace("\n", "⏎")
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return text, False


def render_table(
    columns: Sequence[str], rows: Sequence[dict[str, Any]],
    formatters: dict[str, Callable[[Any], str]] | None = None,
) -> str:
    formatters = formatters or {}
    cells = []
    numeric = [True] * len(columns)
    for row in rows:
        line = []
        for index, column in enumerate(columns):
            value = row.get(column)
            if column in formatters and value is not None:
                text, is_number = formatters[column](value), True
            else:
                text, is_number = cell(value)
            if value is not None and not is_number:
                numeric[index] = False
            line.append(text)
        cells.append(line)
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]

    def fmt(line: Sequence[str]) -> str:
        parts = [text.rjust(w) if numeric[i] else text.ljust(w)
                 for i, (text, w) in enumerate(zip(line, widths, strict=True))]
        return "  ".join(parts).rstrip()

    out = [fmt(columns), "  ".join("-" * w for w in widths)]
    out.extend(fmt(line) for line in cells)
    out.append(f"({len(rows):,} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def emit(
    columns: Sequence[str], rows: Sequence[dict[str, Any]], fmt: str, stream: TextIO,
    formatters: dict[str, Callable[[Any], str]] | None = None,
) -> None:
    if fmt == "json":
        payload = [{c: jsonable(row.get(c)) for c in columns} for row in rows]
        stream.write(json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    elif fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([flat(row.get(c)) for c in columns])
    else:
        stream.write(render_table(columns, rows, formatters))
