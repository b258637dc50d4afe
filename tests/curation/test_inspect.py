"""The analyst surface (`python -m curation.inspect`) on the real curated warehouse.

Every number is checked against an independent computation with pyarrow over the same Parquet
files (exactly) and, where the simulator knows it, against its ground truth (within a bound
derived from what the pipeline legitimately drops).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from curation import inspect, questions, report, stats, views

REPO = Path(__file__).resolve().parents[2]
TABLES = ("interactions", "feedback", "rejects", "stats", "dedup_index", "deletion_requests")


def run(warehouse, *argv: str, capsys=None) -> tuple[int, str, str]:
    """main(argv) with captured stdout; stderr via capsys when given."""
    out = io.StringIO()
    code = inspect.main(["--warehouse", str(warehouse), *argv], stdout=out)
    err = capsys.readouterr().err if capsys is not None else ""
    return code, out.getvalue(), err


def run_json(warehouse, *argv: str) -> list[dict]:
    code, out, _ = run(warehouse, *argv, "--format", "json")
    assert code == 0, out
    return json.loads(out)


def cli(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "curation.inspect", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def _files(warehouse: Path, table: str) -> list[Path]:
    return sorted((warehouse / table).glob("dt=*/*.parquet"))


def _read(warehouse: Path, table: str, columns: list[str] | None = None) -> list[dict]:
    """All rows of a table with pyarrow, plus their dt from the directory name."""
    rows = []
    for path in _files(warehouse, table):
        day = path.parent.name.split("=", 1)[1]
        for row in pq.read_table(path, columns=columns).to_pylist():
            row["dt"] = day
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def wh(curated_warehouse) -> Path:
    return curated_warehouse.warehouse


# --- tables, schema, sample -------------------------------------------------------------------

def test_tables_match_pyarrow_partitions_rows_and_bytes(wh):
    listed = {row["table"]: row for row in run_json(wh, "tables")}
    for table in TABLES:
        files = _files(wh, table)
        expected_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        partitions = sorted({f.parent.name.split("=", 1)[1] for f in files})
        row = listed[table]
        assert row["rows"] == expected_rows, table
        assert row["partitions"] == len(partitions), table
        assert row["bytes"] == sum(f.stat().st_size for f in files), table
        if partitions:
            assert (row["first_dt"], row["last_dt"]) == (partitions[0], partitions[-1])
    assert listed["interactions"]["rows"] > 0 and listed["feedback"]["rows"] > 0
    assert listed["interactions"]["partitions"] == 2


def test_tables_renders_an_aligned_human_table(wh):
    code, out, _ = run(wh, "tables")
    assert code == 0
    lines = out.splitlines()
    header, rule = lines[0], lines[1]
    assert header.split()[:3] == ["table", "view", "partitions"]
    assert set(rule.replace(" ", "")) == {"-"}
    body = [line for line in lines[2:] if not line.startswith("(")]
    rows_col = header.index("rows") + len("rows")  # numbers are right-aligned under the header
    for line in body:
        assert line[rows_col - 1].isdigit(), line
    n = sum(pq.ParquetFile(f).metadata.num_rows for f in _files(wh, "interactions"))
    interactions_line = next(line for line in body if line.startswith("interactions "))
    assert f"{n:,}" in interactions_line.split()
    assert any(unit in interactions_line for unit in ("KiB", "MiB"))


def test_schema_lists_fixed_columns_and_dt_as_date(wh):
    from warehouse.schemas import FEEDBACK

    rows = run_json(wh, "schema", "feedback")
    types = {r["column"]: r["type"] for r in rows}
    assert list(types) == [f.name for f in FEEDBACK] + ["dt"]
    assert types["dt"] == "DATE" and types["interaction_dt"] == "DATE"


def test_sample_with_where_and_n(wh):
    rows = run_json(wh, "sample", "feedback", "-n", "3", "--where", "kind = 'rating'")
    assert 0 < len(rows) <= 3
    assert all(r["kind"] == "rating" and 1 <= r["value"] <= 5 for r in rows)


def test_empty_table_still_has_a_typed_view(wh, tmp_path):
    # a young warehouse: only interactions written so far
    shutil.copytree(wh / "interactions", tmp_path / "interactions")
    con = views.connect(tmp_path)
    assert con.execute("SELECT count(*) FROM feedback_events").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM rated_interactions").fetchone()[0] == sum(
        pq.ParquetFile(f).metadata.num_rows for f in _files(wh, "interactions"))
    described = {r[0]: r[1] for r in con.execute("DESCRIBE feedback_events").fetchall()}
    assert described["interaction_dt"] == "DATE" and described["value"] == "INTEGER"


# --- funnel -----------------------------------------------------------------------------------

def test_funnel_reconciles_and_parse_drops_match_simulator(curated_warehouse, wh):
    rejects = _read(wh, "rejects", ["stage", "reason"])
    for day in curated_warehouse.days:
        rows = {r["stage"]: r for r in run_json(wh, "funnel", "--date", day)}
        flows = [r for r in rows.values() if r["records_in"] is not None]
        assert len(flows) >= 8, rows.keys()
        for r in flows:
            assert r["records_in"] == r["kept"] + r["dropped"], r
            assert r["unaccounted"] == 0
            assert sum(r["dropped_by_reason"].values()) == r["dropped"]
        truth_malformed = Counter(m["reason"] for m in curated_warehouse.truth[day]["malformed"])
        assert truth_malformed, "the simulator injects malformed lines every day"
        assert rows["parse"]["dropped_by_reason"] == dict(truth_malformed)
        # and the rejects table tells the same story, stage by stage and reason by reason
        rejected = Counter((r["stage"], r["reason"]) for r in rejects if r["dt"] == day)
        for stage, r in rows.items():
            for reason, n in r["dropped_by_reason"].items():
                assert rejected[(stage, reason)] == n, (day, stage, reason)


def test_funnel_all_days_is_the_sum_of_days(curated_warehouse, wh):
    total = {r["stage"]: r for r in run_json(wh, "funnel")}
    per_day = [{r["stage"]: r for r in run_json(wh, "funnel", "--date", d)}
               for d in curated_warehouse.days]
    for stage, r in total.items():
        assert r["dropped"] == sum(day[stage]["dropped"] for day in per_day if stage in day)
        if r["kept"] is not None:
            assert r["kept"] == sum(day[stage]["kept"] for day in per_day if stage in day)


# --- pii --------------------------------------------------------------------------------------

def test_pii_per_type_per_day_matches_stats_and_is_not_empty(curated_warehouse, wh):
    rows = run_json(wh, "pii")
    assert rows, "the simulator injects PII every day"
    stats = _read(wh, "stats")
    expected = Counter()
    for r in stats:
        if r["stage"] == "scrub" and r["metric"].startswith("pii_"):
            expected[(r["dt"], r["metric"][4:])] += r["value"]
    assert {(r["dt"], r["entity_type"]): r["findings"] for r in rows} == dict(expected)
    assert {r["dt"] for r in rows} == set(curated_warehouse.days)
    assert all(r["findings"] > 0 for r in rows)
    # every entity type the simulator planted often enough shows up that day (recall itself is
    # the scrubber's test; here a type that vanished from the listing would be a bug)
    for day in curated_warehouse.days:
        planted = Counter(p["entity_type"] for p in curated_warehouse.truth[day]["pii"])
        listed = {r["entity_type"] for r in rows if r["dt"] == day}
        assert {t for t, n in planted.items() if n >= 10} <= listed, (day, planted, listed)
    one_day = run_json(wh, "pii", "--date", curated_warehouse.days[0])
    assert one_day == [r for r in rows if r["dt"] == curated_warehouse.days[0]]


# --- feedback ---------------------------------------------------------------------------------

def _independent_feedback(wh: Path):
    """Per model version: thumbs up/down and ratings, joined with pyarrow and Python only."""
    version_of = {r["event_id"]: r["model_version"]
                  for r in _read(wh, "interactions", ["event_id", "model_version"])}
    counts = defaultdict(lambda: {"up": 0, "down": 0, "ratings": []})
    for f in _read(wh, "feedback", ["interaction_id", "kind", "value"]):
        version = version_of.get(f["interaction_id"])
        if version is None:
            continue
        if f["kind"] == "thumbs":
            counts[version]["up" if f["value"] == 1 else "down"] += 1
        elif f["kind"] == "rating":
            counts[version]["ratings"].append(f["value"])
    return counts


def test_feedback_by_model_version_matches_pyarrow_and_truth(curated_warehouse, wh):
    rows = run_json(wh, "feedback", "--by", "model_version")
    got = {(r["model_version"], r["metric"]): r for r in rows}
    mine = _independent_feedback(wh)
    assert set(mine) == {"v1", "v2"}
    truth = defaultdict(Counter)
    for day in curated_warehouse.days:
        for version, t in curated_warehouse.truth[day]["feedback_by_model_version"].items():
            truth[version].update({k: v for k, v in t.items() if isinstance(v, int | float)})
    for version, c in mine.items():
        thumbs = got[(version, "thumbs_up_rate")]
        n = c["up"] + c["down"]
        assert thumbs["n"] == n and n > 0
        assert thumbs["value"] == pytest.approx(c["up"] / n, abs=1e-12)
        assert thumbs["ci_low"] < thumbs["value"] < thumbs["ci_high"]
        rating = got[(version, "mean_rating")]
        assert rating["n"] == len(c["ratings"])
        assert rating["value"] == pytest.approx(sum(c["ratings"]) / len(c["ratings"]))
        assert rating["ci_low"] < rating["value"] < rating["ci_high"]
        # Ground truth counts every thumbs event the simulator sent; the pipeline drops some
        # (orphans, feedback on filtered junk, erased users). If d of the truth's n_t events
        # were dropped, the kept rate can differ from the true rate by at most d / n_t (all
        # dropped events of one sign), so that bound, not a guessed tolerance, is the check.
        t_up, t_n = truth[version]["thumbs_up"], truth[version]["thumbs_up"] + truth[
            version]["thumbs_down"]
        dropped = t_n - n
        assert 0 <= dropped <= 0.3 * t_n, (version, t_n, n)
        assert abs(thumbs["value"] - t_up / t_n) <= dropped / t_n + 1e-12


def test_feedback_by_day_counts_add_up_to_by_model_version(wh):
    by_version = {(r["model_version"], r["metric"]): r for r in
                  run_json(wh, "feedback", "--by", "model_version")}
    by_both = run_json(wh, "feedback", "--by", "model_version,day")
    for (version, metric), r in by_version.items():
        assert r["n"] == sum(x["n"] for x in by_both
                             if x["model_version"] == version and x["metric"] == metric)
    by_day = run_json(wh, "feedback", "--by", "day")
    assert {r["day"] for r in by_day} <= {r["day"] for r in by_both}
    metrics = {r["metric"] for r in by_day}
    assert metrics == {"thumbs_up_rate", "mean_rating", "edit_rate", "flag_rate", "ab_win_rate",
                       "ab_cross_win_rate"}


def test_rated_interactions_aggregates_feedback(wh):
    con = views.connect(wh)
    kept = {r["event_id"] for r in _read(wh, "interactions", ["event_id"])}
    fb = [f for f in _read(wh, "feedback", ["interaction_id", "kind", "value"])
          if f["interaction_id"] in kept]
    totals = con.execute(
        "SELECT sum(n_thumbs_up), sum(n_thumbs_down), sum(n_edits), sum(n_flags), count(*) "
        "FROM rated_interactions").fetchone()
    assert totals == (
        sum(f["kind"] == "thumbs" and f["value"] == 1 for f in fb),
        sum(f["kind"] == "thumbs" and f["value"] == -1 for f in fb),
        sum(f["kind"] == "edit" for f in fb),
        sum(f["kind"] == "flag" for f in fb),
        len(kept),
    )


def _comparisons(wh: Path) -> list[tuple[str, str, str, bool]]:
    """Every comparison between two kept interactions, with pyarrow: (winner, loser, winner's
    version, whether the two answers came from different versions)."""
    version = {r["event_id"]: r["model_version"]
               for r in _read(wh, "interactions", ["event_id", "model_version"])}
    out = []
    for f in _read(wh, "feedback", ["interaction_id", "kind", "other_interaction_id",
                                    "preferred"]):
        a, b = f["interaction_id"], f["other_interaction_id"]
        if f["kind"] == "comparison" and a in version and b in version:
            winner, loser = (a, b) if f["preferred"] == "this" else (b, a)
            out.append((winner, loser, version[winner], version[a] != version[b]))
    return out


def test_rated_interactions_tell_picks_across_versions_from_picks_within_one(wh):
    comparisons = _comparisons(wh)
    # day 1 serves v1 alone, so its pairs are two v1 answers; day 2's pair v1 with v2
    assert {cross for *_, cross in comparisons} == {True, False}
    con = views.connect(wh)
    got = {row[0]: row[1:] for row in con.execute(
        "SELECT event_id, ab_wins, ab_losses, ab_cross_wins, ab_cross_losses "
        "FROM rated_interactions WHERE ab_wins + ab_losses > 0").fetchall()}
    want = defaultdict(lambda: [0, 0, 0, 0])
    for winner, loser, _, cross in comparisons:
        want[winner][0] += 1
        want[loser][1] += 1
        want[winner][2] += cross
        want[loser][3] += cross
    assert got == {k: tuple(v) for k, v in want.items()}


def test_cross_version_win_rates_are_the_two_versions_share_of_their_picks(wh):
    comparisons = _comparisons(wh)
    rows = {r["model_version"]: r for r in run_json(wh, "feedback", "--by", "model_version")
            if r["metric"] == "ab_cross_win_rate"}
    cross = [c for c in comparisons if c[3]]
    assert cross and set(rows) == {"v1", "v2"}
    for version in ("v1", "v2"):
        assert rows[version]["n"] == len(cross)  # each such pick has one v1 and one v2 answer
        wins = sum(c[2] == version for c in cross)
        assert rows[version]["value"] == pytest.approx(wins / len(cross))
    assert rows["v1"]["value"] + rows["v2"]["value"] == pytest.approx(1.0)
    # the all-comparisons rate also counts v1's day-1 picks against itself, a win and a loss
    all_v1 = next(r for r in run_json(wh, "feedback", "--by", "model_version")
                  if r["metric"] == "ab_win_rate" and r["model_version"] == "v1")
    assert all_v1["n"] == len(cross) + 2 * sum(not c[3] for c in comparisons)


def test_confidence_intervals_match_textbook_values():
    # Wilson, 0 of 10 at 95%: [0, z^2 / (n + z^2)] = [0, 0.2775].
    low, high = questions.wilson_interval(0, 10)
    assert low == pytest.approx(0, abs=1e-12) and high == pytest.approx(0.2775, abs=1e-4)
    low, high = questions.wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    # Student t 0.975 quantiles from the standard table.
    for df, t in ((1, 12.706), (2, 4.303), (5, 2.571), (10, 2.228), (30, 2.042)):
        assert stats.t_quantile(0.975, df) == pytest.approx(t, abs=5e-3)
    assert all(math.isnan(x) for x in questions.mean_interval(3.0, None, 1))


# --- query and read-only enforcement ----------------------------------------------------------

def test_query_with_named_parameters(curated_warehouse, wh):
    day = curated_warehouse.days[1]
    rows = run_json(wh, "query",
                    "SELECT count(*) AS n FROM interactions WHERE dt = $day "
                    "AND model_version = $version", "-p", f"day={day}", "-p", "version=v2")
    expected = sum(r["dt"] == day and r["model_version"] == "v2"
                   for r in _read(wh, "interactions", ["model_version"]))
    assert rows == [{"n": expected}] and expected > 0


def test_two_columns_of_one_name_keep_both_values(wh):
    """A join selecting ``a.model_version, b.model_version`` must not show one of them twice."""
    sql = "SELECT 'x' AS v, 'y' AS v, 'z' AS v_1"
    assert run_json(wh, "query", sql) == [{"v": "x", "v_2": "y", "v_1": "z"}]
    code, out, _ = run(wh, "query", sql)
    assert code == 0
    header, _, row = out.splitlines()[:3]
    assert header.split() == ["v", "v_2", "v_1"] and row.split() == ["x", "y", "z"]


def test_parameters_are_values_never_sql(wh):
    sneaky = "v1' OR '1' = '1"
    rows = run_json(wh, "query", "SELECT count(*) AS n FROM interactions WHERE model_version = $v",
                    "-p", f"v={sneaky}")
    assert rows == [{"n": 0}]
    con = views.connect(wh)
    columns, got = views.run_query(
        con, "SELECT count(*) AS n FROM interactions WHERE turn >= $turn AND dt <= $day",
        {"turn": 0, "day": dt_utc(2026, 11, 2).date()})
    assert columns == ["n"]
    assert got == [(sum(pq.ParquetFile(f).metadata.num_rows for f in _files(wh, "interactions")),)]


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


@pytest.mark.parametrize("sql", [
    "COPY (SELECT * FROM interactions) TO '{wh}/interactions/dt=2099-01-01/evil.parquet'",
    "COPY stats TO '{wh}/evil.csv'",
    "CREATE TABLE t AS SELECT * FROM stats",
    "CREATE OR REPLACE VIEW stats AS SELECT 1",
    "INSERT INTO stats VALUES ('r', 'parse', 'in', '', 1, DATE '2026-01-01')",
    "DROP VIEW interactions",
    "ATTACH '{wh}/evil.duckdb' AS evil",
    "SET enable_external_access = true",
    "SELECT 1; DROP VIEW stats",
    "EXPLAIN ANALYZE COPY (SELECT 1) TO '{wh}/evil.csv'",
    "EXPORT DATABASE '{wh}/evil'",
    "SELECT * FROM read_csv('/etc/hostname')",
    "INSTALL httpfs",
])
def test_write_attempts_are_refused(wh, sql, capsys):
    before = _snapshot(wh)
    code, out, err = run(wh, "query", sql.format(wh=wh), capsys=capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "Traceback" not in err
    assert _snapshot(wh) == before


def test_sample_where_cannot_smuggle_a_statement(wh, capsys):
    code, _, err = run(wh, "sample", "stats", "--where", "true) LIMIT 1; DROP VIEW stats; --",
                       capsys=capsys)
    assert code == 1 and "error:" in err


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, needle", [
    (["schema", "nope"], "unknown table 'nope'"),
    (["query", "SELEC 1"], "syntax error"),
    (["query", "SELECT * FROM nope"], "nope"),
    (["funnel", "--date", "2031-01-01"], "no stats partition for 2031-01-01"),
    (["funnel", "--date", "yesterday"], "bad --date"),
    (["feedback", "--by", "colour"], "bad --by"),
    (["query", "SELECT 1", "-p", "oops"], "bad parameter"),
])
def test_errors_are_one_line_with_nonzero_exit(wh, argv, needle, capsys):
    code, out, err = run(wh, *argv, capsys=capsys)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and needle in err, err


def test_cli_errors_in_a_real_process(tmp_path, wh):
    missing = cli("--warehouse", str(tmp_path / "missing"), "tables")
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.strip() == f"error: warehouse {tmp_path / 'missing'} does not exist " \
                                     "(pass --warehouse DIR)"
    (tmp_path / "empty").mkdir()
    empty = cli("--warehouse", str(tmp_path / "empty"), "funnel")
    assert empty.returncode == 1 and "holds no tables" in empty.stderr
    assert empty.stderr.count("\n") == 1
    bad = cli("--warehouse", str(wh), "query", "DELETE FROM stats")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "read-only" in bad.stderr and "Traceback" not in bad.stderr
    usage = cli("--warehouse", str(wh), "frobnicate")
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1


def test_an_unreachable_remote_warehouse_is_one_clear_line(capsys, monkeypatch):
    # Tables are read through delta-rs (no DuckDB extension): without credentials the object
    # store refuses, and the analyst gets one line naming the table and the fix.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run("s3://no-such-bucket/warehouse", "tables", capsys=capsys)
    assert code == 1 and err.count("\n") == 1, err
    assert "s3://no-such-bucket/warehouse/" in err and "storage options" in err


# --- formats ----------------------------------------------------------------------------------

def test_csv_and_json_formats_parse_to_the_same_rows(wh):
    code, out, _ = run(wh, "tables", "--format", "csv")
    assert code == 0
    from_csv = list(csv.DictReader(io.StringIO(out)))
    from_json = run_json(wh, "tables")
    assert [r["table"] for r in from_csv] == [r["table"] for r in from_json]
    assert [int(r["rows"]) for r in from_csv] == [r["rows"] for r in from_json]
    code, out, _ = run(wh, "funnel", "--format", "csv")
    parse = next(r for r in csv.DictReader(io.StringIO(out)) if r["stage"] == "parse")
    reasons = dict(kv.split("=") for kv in parse["dropped_by_reason"].split(";"))
    json_parse = next(r for r in run_json(wh, "funnel") if r["stage"] == "parse")
    assert {k: int(v) for k, v in reasons.items()} == json_parse["dropped_by_reason"]


def test_format_is_accepted_before_the_command_too(wh):
    out = io.StringIO()
    assert inspect.main(["--warehouse", str(wh), "--format", "json", "pii"], stdout=out) == 0
    assert json.loads(out.getvalue()) == run_json(wh, "pii")


# --- catalog and report -----------------------------------------------------------------------

def test_catalog_opens_with_duckdb_and_lists_the_views(wh, tmp_path):
    out = tmp_path / "catalog.duckdb"
    proc = cli("--warehouse", str(wh), "catalog", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    con = duckdb.connect(str(out), read_only=True)
    names = {r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert {"interactions", "feedback_events", "rejects", "stats", "dedup_index",
            "deletion_requests", "rated_interactions"} <= names
    n = sum(pq.ParquetFile(f).metadata.num_rows for f in _files(wh, "interactions"))
    assert con.execute("SELECT count(*) FROM interactions").fetchone()[0] == n
    # it holds views, not data: the file stays small whatever the warehouse's size
    assert out.stat().st_size < 2 * 2**20


def test_report_has_every_plot_and_no_external_resources(wh, tmp_path):
    out = tmp_path / "report.html"
    code, _, _ = run(wh, "report", "--out", str(out))
    assert code == 0
    page = out.read_text(encoding="utf-8")
    for div_id in report.PLOT_IDS.values():
        assert f'id="{div_id}"' in page, div_id
    for title in ("Curation funnel", "PII findings", "Feedback per model version over time",
                  "Rating distribution", "Near-duplicate cluster sizes"):
        assert title in page
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # plotly.js is inlined
    lowered = page.lower()
    assert "<script src=" not in lowered and 'src="http' not in lowered
    assert "<link" not in lowered and "cdn.plot.ly" not in lowered.split("</head>")[1]
    # no raw text: the prompts of the warehouse never appear in the page
    prompts = [r["prompt"] for r in _read(wh, "interactions", ["prompt"]) if r["prompt"]]
    assert not [p for p in prompts if len(p) > 30 and p in page]


@pytest.mark.slow
def test_report_renders_in_headless_chromium(wh, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page, shot = tmp_path / "report.html", tmp_path / "report.png"
    report.write_report(wh, page)
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--window-size=1400,2400", "--virtual-time-budget=10000",
                    f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.exists() and shot.stat().st_size > 50_000  # a blank page is a few KB


def test_deployments_and_datasets_show_when_present(wh, tmp_path):
    from curation.datasets import DatasetConfig, build_dataset
    from training.promote import append_deployment

    copy = tmp_path / "warehouse"
    shutil.copytree(wh, copy, ignore=shutil.ignore_patterns("datasets", "deployments"))
    dataset_id, _ = build_dataset(copy, "2026-11-02", DatasetConfig(window_days=2))
    append_deployment(copy, dict(
        run_key="test", model_name="sft", action="promote", from_version=None, to_version=1,
        reason="first_champion", metrics_json="{}", dataset_id=dataset_id,
        at=dt_utc(2026, 11, 2, 6)))
    # a build in progress (renamed into place when complete) must not break the views
    (copy / "datasets" / ".tmp-halfway").mkdir()
    (copy / "datasets" / ".tmp-halfway" / "manifest.json").write_text('{"dataset_id": "ha')

    listed = {r["table"]: r for r in run_json(copy, "tables")}
    assert listed["deployments"]["rows"] == 1 and listed["datasets"]["rows"] == 1
    assert [r["dataset_id"] for r in run_json(copy, "sample", "datasets")] == [dataset_id]
    deployed = run_json(copy, "query", "SELECT action, to_version, dataset_id FROM deployments")
    assert deployed == [{"action": "promote", "to_version": 1, "dataset_id": dataset_id}]
    page = report.build_report(views.connect(copy), str(copy))
    assert "<h2>Deployments</h2>" in page and "<h2>Datasets</h2>" in page
    assert dataset_id in page


def dt_utc(*args):
    from datetime import UTC, datetime

    return datetime(*args, tzinfo=UTC)
