"""End to end: the real curation job on simulated days, scored against the simulator's truth."""

from __future__ import annotations

import glob
import shutil
from collections import Counter

import pyarrow.parquet as pq
import pytest

from pipelines import curate, landing
from pipelines.curate import reconcile
from tests.conftest import table_rows
from warehouse import tables


def file_names(landing_root, day) -> dict[str, str]:
    """source_id -> landing file name: the warehouse records ids, never the app-chosen names."""
    selection = landing.select_files(str(landing_root), day)
    names = sorted(p.name for p in (landing_root / f"dt={day}").iterdir())
    by_id = {landing.source_id(i, n): n for i, n in enumerate(names)}
    assert {f.source_id for f in selection.files} <= set(by_id)
    return by_id


def rows(wh, table, date=None):
    return table_rows(wh, table, date)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def all_text(root) -> str:
    """Every string cell of every Parquet file under ``root`` (maps and lists included)."""
    parts = []
    for path in glob.glob(f"{root}/**/*.parquet", recursive=True):
        for row in pq.read_table(path).to_pylist():
            parts.extend(_strings(list(row.values())))
    return "\n".join(parts)


def test_no_planted_pii_value_in_any_table(curated_warehouse):
    text = all_text(curated_warehouse.warehouse)
    leaked = Counter()
    examples = {}
    for truth in curated_warehouse.truth.values():
        for planted in truth["pii"]:
            if planted["value"] in text:
                leaked[planted["entity_type"]] += 1
                examples.setdefault(planted["entity_type"], planted["event_id"])
    assert not leaked, f"planted PII found in the warehouse: {dict(leaked)} (e.g. in {examples})"
    users = {i["user_id"] for t in curated_warehouse.truth.values()
             for i in t["interactions"].values()}
    assert not [u for u in users if u in text], "a raw user id reached the warehouse"


def test_every_day_reconciles_and_parse_rejects_match_truth(curated_warehouse):
    for day, truth in curated_warehouse.truth.items():
        stats = rows(curated_warehouse.warehouse, "stats", day)
        assert reconcile(stats) == []
        read = sum(r["value"] for r in stats if (r["stage"], r["metric"]) == ("read", "out"))
        assert read == truth["lines_total"]
        rejects = rows(curated_warehouse.warehouse, "rejects", day)
        names = file_names(curated_warehouse.landing, day)
        assert not set(names.values()) & {r["source_file"] for r in rejects}
        parse = sorted((names[r["source_file"]], r["source_line"], r["reason"])
                       for r in rejects if r["stage"] == "parse")
        assert parse == sorted((m["file"], m["line"], m["reason"]) for m in truth["malformed"])
        redelivered = {(names[r["source_file"]], r["source_line"])
                       for r in rejects if r["reason"] == "redelivered"}
        assert {(r["file"], r["line"]) for r in truth["redelivered"]} <= redelivered
        assert all(r["raw_sha256"] and len(r["raw_sha256"]) == 64 for r in rejects)


def test_duplicates_junk_and_orphans_removed_distinct_records_kept(curated_warehouse):
    wh = curated_warehouse.warehouse
    erased = set()  # deletion requests hold for every later day too
    for day, truth in curated_warehouse.truth.items():
        kept = {r["event_id"] for r in rows(wh, "interactions", day)}
        published = {r["event_id"] for r in rows(wh, "interactions")}
        rejects = {r["event_id"]: r for r in rows(wh, "rejects", day) if r["event_id"]}
        # A planted copy must go when its original is in the warehouse; when the original was
        # itself dropped (erased user, junk, or a day before the warehouse began) the copy is
        # the first of its kind and rightly stays.
        planted = {d["event_id"] for d in truth["near_duplicates"]
                   if d["duplicate_of"] in published}
        assert len(planted) >= 5, "the simulator planted near-duplicates"
        assert not planted & kept, "a planted near-duplicate survived"
        for event_id in planted:
            assert rejects[event_id]["stage"] in ("dedup_exact", "dedup_near", "filter",
                                                  "erasure")
        junk = {j["event_id"] for j in truth["junk"]}
        assert not junk & kept
        assert all(rejects[o]["reason"] == "orphan_feedback" for o in truth["orphan_feedback"])
        erased |= set(truth["deletion_requests"])
        clean = {
            event_id for event_id, info in truth["interactions"].items()
            if info["kind"] == "clean" and info["user_id"] not in erased
        }
        missing = clean - kept
        # A clean record may still lose to a planted copy of it (the copy had more feedback)
        # or be flagged unsafe by users; anything else is a wrongly dropped record.
        wrongly = {m: rejects[m]["reason"] for m in missing
                   if rejects[m]["reason"] not in ("near_duplicate", "exact_duplicate",
                                                   "flagged_unsafe")}
        assert not wrongly, f"distinct records dropped: {wrongly}"
        assert len(missing) <= 0.05 * len(clean)


def test_feedback_points_at_kept_interactions(curated_warehouse):
    wh = curated_warehouse.warehouse
    kept = {(r["event_id"]) for r in rows(wh, "interactions")}
    feedback = rows(wh, "feedback")
    assert feedback
    assert all(f["interaction_id"] in kept for f in feedback)
    day2 = curated_warehouse.days[1]
    cross = set(curated_warehouse.truth[day2]["cross_day_feedback"])
    attached = [f for f in rows(wh, "feedback", day2) if f["event_id"] in cross]
    assert attached and all(f["interaction_dt"] == curated_warehouse.days[0] for f in attached)


def test_cross_day_duplicates_are_caught(curated_warehouse):
    day2 = curated_warehouse.days[1]
    truth = curated_warehouse.truth[day2]
    cross = [d for d in truth["near_duplicates"] if d["kind"] == "cross_day"]
    assert cross
    rejects = {r["event_id"]: r for r in rows(curated_warehouse.warehouse, "rejects", day2)}
    day1_ids = {r["event_id"] for r in rows(curated_warehouse.warehouse, "interactions",
                                             curated_warehouse.days[0])}
    for dup in cross:
        assert rejects[dup["event_id"]]["duplicate_of"] in day1_ids | {dup["duplicate_of"]}


def _table_rows(wh, day):
    out = {}
    for table in curate.OUTPUT_TABLES:
        out[table] = sorted(repr(sorted(r.items())) for r in rows(wh, table, day))
    return out


@pytest.mark.slow
def test_rerun_gives_identical_rows_and_a_crash_leaves_no_partial_partition(
        curated_warehouse, tmp_path, monkeypatch):
    wh = tmp_path / "warehouse"
    shutil.copytree(curated_warehouse.warehouse, wh)
    day = curated_warehouse.days[1]
    before = _table_rows(wh, day)
    args = ["--landing", str(curated_warehouse.landing), "--warehouse", str(wh), "--date", day]

    real_commit = tables.commit
    commits = []

    def dying_commit(*a, **k):
        commits.append(a[1])
        if len(commits) == 3:  # two tables committed, killed before the third
            raise KeyboardInterrupt("killed mid-commit")
        return real_commit(*a, **k)

    monkeypatch.setattr(tables, "commit", dying_commit)
    with pytest.raises(KeyboardInterrupt):
        curate.run(args)
    monkeypatch.setattr(tables, "commit", real_commit)
    # Two tables hold the new commit, but stats (the day's marker, committed last) does not:
    # readers still see the whole previous day in every table.
    assert all(tables.open_table(str(wh), t).transaction_version(f"curate/{day}") == 2
               for t in commits[:2])
    assert _table_rows(wh, day) == before
    curate.run(args)  # commits every table again and seals the day
    assert _table_rows(wh, day) == before
    assert all(tables.open_table(str(wh), t).transaction_version(f"curate/{day}") == 3
               for t in curate.OUTPUT_TABLES)
    # Nothing a dead attempt wrote stays behind: every file in the folders is in some commit.
    assert not [f for t in curate.OUTPUT_TABLES for f in tables.untracked_files(str(wh), t)]
