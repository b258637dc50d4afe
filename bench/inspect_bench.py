"""Benchmark of the analyst query layer: `python -m curation.inspect` on a 1M-interaction warehouse.

Writes a synthetic warehouse with the fixed schemas of ``warehouse.schemas`` into a scratch
directory (this measures DuckDB over Parquet, not the curation job, so synthetic rows are fine
here), then times each command in a fresh process, as an analyst would run it. Prints a table and
writes ``bench/out/inspect.json``.

    .venv/bin/python bench/inspect_bench.py [--interactions 1000000] [--days 7] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from warehouse import schemas, tables  # noqa: E402

OUT = REPO / "bench" / "out" / "inspect.json"
# The target the task sets: interactive answers on a 1M-interaction warehouse.
TARGET_S = 2.0
PII_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "PERSON", "CREDIT_CARD", "IP_ADDRESS", "URL")
PARSE_REASONS = ("invalid_json", "missing_field", "wrong_type", "invalid_timestamp", "empty_line")
FILTER_REASONS = ("too_short", "low_alpha_ratio", "repetitive")
WORDS = ("the model answered the question about data pipelines and training with care "
         "while users asked for help on code travel cooking math history").split()


def _strings(rng: np.random.Generator, pool: list[str], n: int) -> pa.Array:
    return pa.array(pool).take(pa.array(rng.integers(0, len(pool), n)))


def _texts(rng: np.random.Generator, n: int, pool_size: int = 5000) -> pa.Array:
    pool = [" ".join(rng.choice(WORDS, rng.integers(5, 40))) for _ in range(pool_size)]
    return _strings(rng, pool, n)


def _ids(prefix: str, start: int, n: int) -> pa.Array:
    return pa.array([f"{prefix}{i:09d}" for i in range(start, start + n)])


def _timestamps(rng: np.random.Generator, day: str, n: int) -> pa.Array:
    base = np.datetime64(day, "us")
    offsets = rng.integers(0, 86_400_000_000, n).astype("timedelta64[us]")
    return pa.array(np.sort(base + offsets), type=schemas.TS)


def _write(root: Path, table: str, day: str, arrays: dict[str, pa.Array]) -> None:
    schema = schemas.TABLES[table]
    n = len(next(iter(arrays.values())))
    columns = [arrays[f.name] if f.name in arrays else pa.nulls(n, f.type) for f in schema]
    part = root / table / f"dt={day}"
    part.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays(columns, schema=schema), part / "part-00000.parquet")
    # The warehouse is Delta Lake: the file is part of its table once committed.
    tables.commit(str(root), table, add=[str(part / "part-00000.parquet")], replace_day=day)


def _map(keys: list[str], values: np.ndarray, value_type: pa.DataType) -> pa.Array:
    """One map per row with the same keys; values shaped (rows, len(keys))."""
    rows, width = values.shape
    offsets = pa.array(np.arange(0, rows * width + 1, width, dtype=np.int32))
    key_array = pa.array(keys * rows)
    return pa.MapArray.from_arrays(offsets, key_array, pa.array(values.ravel(), value_type))


def write_day(root: Path, day: str, start: int, n: int, seed: int, versions: list[str]) -> dict:
    """One day of every table; returns the day's counts (for the benchmark's sanity check)."""
    rng = np.random.default_rng(seed)
    event_ids = _ids(f"i{day.replace('-', '')}-", start, n)
    users = _strings(rng, [f"u{k:06x}" for k in range(20_000)], n)
    prompts, responses = _texts(rng, n), _texts(rng, n)
    role = pa.array(["user"] * n)
    messages = pa.ListArray.from_arrays(
        pa.array(np.arange(n + 1, dtype=np.int32)),
        pa.StructArray.from_arrays([role, prompts], names=["role", "content"]),
    )
    pii = rng.poisson(0.05, size=(n, len(PII_TYPES))).astype(np.int32)
    cluster = np.maximum(1, rng.geometric(0.85, n)).astype(np.int32)
    version_index = rng.integers(0, len(versions), n)
    _write(root, "interactions", day, {
        "event_id": event_ids, "ts": _timestamps(rng, day, n), "user_pseudonym": users,
        "conversation_id": pa.array(np.char.add("c", (np.arange(start, start + n) // 3).astype(str))),
        "turn": pa.array(np.arange(n) % 3, pa.int32()),
        "model_version": pa.array(np.array(versions)[version_index]),
        "messages": messages, "prompt": prompts, "response": responses,
        "latency_ms": pa.array(rng.gamma(2.0, 400.0, n)),
        "consent_training": pa.array(rng.random(n) < 0.7),
        "metadata": _map(["app"], np.array([["web"]] * n), pa.string()),
        "pii_findings": _map(list(PII_TYPES), pii, pa.int32()),
        "n_feedback": pa.array(np.zeros(n, np.int32)),
        "flagged": pa.array(np.zeros(n, bool)),
        "q_response_chars": pa.array(pc_len(responses), pa.int32()),
        "dedup_cluster_id": event_ids, "dedup_cluster_size": pa.array(cluster),
        "source_file": pa.array([f"landing/dt={day}/events.jsonl"] * n),
        "source_line": pa.array(np.arange(n, dtype=np.int64)),
    })
    # Feedback: ~40% of interactions get one event of a random kind.
    target = np.flatnonzero(rng.random(n) < 0.4)
    m = len(target)
    kinds = np.array(["thumbs", "thumbs", "rating", "edit", "comparison", "flag"])[
        rng.integers(0, 6, m)]
    # v2 is a little better, so the benchmark's answers are not all the same number.
    better = np.array(versions)[version_index[target]] != versions[0]
    value = np.where(kinds == "thumbs", np.where(rng.random(m) < 0.6 + 0.1 * better, 1, -1),
                     np.where(kinds == "rating", rng.integers(1, 6, m), 0))
    value_array = pa.array(value, pa.int32(), mask=~np.isin(kinds, ["thumbs", "rating"]))
    other = event_ids.take(pa.array(rng.integers(0, n, m)))
    is_cmp = kinds == "comparison"
    target_ids = event_ids.take(pa.array(target))
    _write(root, "feedback", day, {
        "event_id": _ids(f"f{day.replace('-', '')}-", start, m),
        "ts": _timestamps(rng, day, m), "user_pseudonym": users.take(pa.array(target)),
        "interaction_id": target_ids, "original_interaction_id": target_ids,
        "interaction_dt": pa.array([day] * m), "kind": pa.array(kinds), "value": value_array,
        "other_interaction_id": pa.array(other.to_numpy(zero_copy_only=False), mask=~is_cmp),
        "preferred": pa.array(np.where(rng.random(m) < 0.5, "this", "other"), mask=~is_cmp),
        "reason": pa.array(np.full(m, "wrong"), mask=kinds != "flag"),
    })
    # Rejects and stats consistent with one another: in = out + dropped at every stage.
    parse_drops = {r: int(rng.integers(5, 50)) for r in PARSE_REASONS}
    filter_drops = {r: int(rng.integers(100, 1000)) for r in FILTER_REASONS}
    near_drops = int((cluster - 1).sum())
    reject_reasons = ([r for r, k in parse_drops.items() for _ in range(k)]
                      + [r for r, k in filter_drops.items() for _ in range(k)])
    reject_stages = ["parse"] * sum(parse_drops.values()) + ["filter"] * sum(filter_drops.values())
    _write(root, "rejects", day, {
        "stage": pa.array(reject_stages), "reason": pa.array(reject_reasons),
        "detail": pa.array(["synthetic"] * len(reject_stages)),
    })
    stats_rows = []
    records = n + m + near_drops + sum(filter_drops.values())
    lines = records + sum(parse_drops.values())

    def stage(name: str, records_in: int, drops: dict[str, int]) -> int:
        out = records_in - sum(drops.values())
        stats_rows.extend([(name, "in", "", records_in), (name, "out", "", out)])
        stats_rows.extend((name, "dropped", r, k) for r, k in drops.items())
        return out

    flow = stage("read", lines, {})
    flow = stage("parse", flow, parse_drops)
    for name in ("redelivery", "erasure", "attach"):
        flow = stage(name, flow, {})
    flow = stage("filter", flow, filter_drops)
    flow = stage("scrub", flow, {})
    stats_rows.extend(("scrub", f"pii_{t}", "", int(k)) for t, k in zip(PII_TYPES, pii.sum(0), strict=True))
    flow = stage("dedup_exact", flow, {})
    flow = stage("dedup_near", flow, {"near_duplicate": near_drops})
    stage("write", flow, {})
    stage_col, metric_col, reason_col, value_col = zip(*stats_rows, strict=True)
    _write(root, "stats", day, {
        "run_id": pa.array([f"bench-{day}"] * len(stats_rows)), "stage": pa.array(stage_col),
        "metric": pa.array(metric_col), "reason": pa.array(reason_col),
        "value": pa.array(value_col, pa.int64()),
    })
    _write(root, "dedup_index", day, {
        "event_id": event_ids, "user_pseudonym": users,
        "signature": pa.array([b"\0" * 512] * n, pa.binary()),
    })
    return {"interactions": n, "feedback": m}


def pc_len(strings: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    return pc.cast(pc.utf8_length(strings), pa.int32())


def write_warehouse(root: Path, interactions: int, days: int, seed: int = 0) -> dict:
    first = date(2026, 11, 1)
    per_day = interactions // days
    counts = {}
    for index in range(days):
        day = (first + timedelta(days=index)).isoformat()
        n = per_day if index < days - 1 else interactions - per_day * (days - 1)
        versions = ["v1"] if index < days // 2 else ["v1", "v2"]
        counts[day] = write_day(root, day, index * per_day, n, seed + index, versions)
    at = datetime(2026, 11, 1 + days // 2, 6, tzinfo=UTC)
    deployments = pa.Table.from_pylist([{
        "deployment_id": "bench", "run_key": "bench", "model_name": "sft", "action": "promote",
        "from_version": 1, "to_version": 2, "reason": "gate passed",
        "metrics_json": '{"win_rate": 0.56}', "at": at}], schema=schemas.DEPLOYMENTS)
    part = root / "deployments" / f"dt={at.date().isoformat()}"
    part.mkdir(parents=True, exist_ok=True)
    pq.write_table(deployments, part / "part-00000.parquet")
    tables.commit(str(root), "deployments", add=[str(part / "part-00000.parquet")])
    return counts


COMMANDS = {
    "tables": ["tables"],
    "funnel": ["funnel"],
    "feedback": ["feedback", "--by", "model_version"],
    "feedback_by_day": ["feedback", "--by", "day"],
    "pii": ["pii"],
    "query_count": ["query", "SELECT model_version, count(*) AS n FROM interactions "
                             "WHERE dt >= $since GROUP BY ALL", "-p", "since=2026-11-03"],
}


def time_command(warehouse: Path, argv: list[str], repeats: int) -> list[float]:
    cmd = [sys.executable, "-m", "curation.inspect", "--warehouse", str(warehouse), *argv]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", help="write the warehouse here and keep it")
    args = parser.parse_args(argv)

    scratch = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="inspect_bench_"))
    try:
        start = time.perf_counter()
        counts = write_warehouse(scratch, args.interactions, args.days)
        build_s = time.perf_counter() - start
        size = sum(p.stat().st_size for p in scratch.rglob("*.parquet"))
        # Import time alone: the floor under every command.
        floor = time_command(scratch, ["--help"], args.repeats)
        results = [{"command": "--help (startup)", "median_s": statistics.median(floor),
                    "min_s": min(floor), "max_s": max(floor)}]
        for name, command in COMMANDS.items():
            seconds = time_command(scratch, command, args.repeats)
            results.append({"command": name, "argv": command,
                            "median_s": statistics.median(seconds), "min_s": min(seconds),
                            "max_s": max(seconds), "under_target": max(seconds) < TARGET_S})
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)

    print(f"warehouse: {args.interactions:,} interactions, "
          f"{sum(c['feedback'] for c in counts.values()):,} feedback events, {args.days} days, "
          f"{size / 2**20:,.1f} MiB parquet (built in {build_s:.1f} s)")
    print(f"{'command':<18} {'median s':>9} {'min s':>7} {'max s':>7}  < {TARGET_S:g} s")
    for row in results:
        ok = "" if "under_target" not in row else ("yes" if row["under_target"] else "NO")
        print(f"{row['command']:<18} {row['median_s']:>9.3f} {row['min_s']:>7.3f} "
              f"{row['max_s']:>7.3f}  {ok}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "interactions": args.interactions, "days": args.days, "repeats": args.repeats,
        "parquet_bytes": size, "target_s": TARGET_S, "cpus": os.cpu_count(),
        "python": platform.python_version(), "results": results,
    }, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
