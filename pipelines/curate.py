"""The curation job: landing JSONL of one day -> the warehouse's tables for that day.

    python -m pipelines.curate --landing DIR --warehouse DIR --date YYYY-MM-DD [Beam options]

Stages (composite PTransforms in ``pipelines.transforms`` and ``pipelines.dedup``):
read -> parse -> redelivery -> erasure -> scrub(feedback) -> attach -> filter -> scrub
-> dedup_exact -> dedup_near -> resolve -> write. Every rejected record becomes a ``rejects``
row with its stage and reason; ``stats`` holds per-stage in/out/dropped counts computed from
the data, and the job refuses to commit a day whose counts do not reconcile.

This module only wires I/O; the same code runs on the DirectRunner (default) or, with standard
pipeline options, on Dataflow, Flink or Spark with ``gs://``/``s3://`` paths.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date as Date
from datetime import timedelta

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipelines import pseudonym, schemas, warehouse
from pipelines.dedup import INDEX_COLUMNS, DedupConfig, DedupExact, DedupNearDuplicates
from pipelines.pii import ScrubConfig
from pipelines.quality import FilterConfig
from pipelines.transforms import (
    REJECTS_TAG,
    AttachFeedback,
    CollapseRedeliveries,
    DropErasedUsers,
    FilterQuality,
    ParseEvents,
    ReadLandingLines,
    ResolveFeedback,
    ScrubPII,
    TallyStage,
    reject_row,
)

log = logging.getLogger("pipelines.curate")

# The DirectRunner's batch engine, named directly: Beam's DirectRunner first tries the Prism
# runner, which downloads a binary at run time. `--direct_num_workers` and
# `--direct_running_mode multi_processing` work with it as with the DirectRunner.
LOCAL_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"

STAGES = ("read", "parse", "redelivery", "erasure", "attach", "filter", "scrub", "dedup_exact",
          "dedup_near", "resolve", "write")
OUTPUT_TABLES = ("interactions", "feedback", "deletion_requests", "rejects", "stats", "dedup_index")


@dataclass(frozen=True)
class CurateConfig:
    scrub: ScrubConfig = field(default_factory=ScrubConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    # Feedback may arrive days after its interaction; a month covers nearly all of it while
    # bounding the id set each run joins against.
    feedback_lookback_days: int = 30
    # Near-duplicates of records published up to this many days ago are caught.
    dedup_lookback_days: int = 90


class NotReconciled(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------

def to_row(record: dict, schema: pa.Schema) -> dict:
    """Exactly the schema's fields; maps as (key, value) pairs, missing fields as nulls."""
    row = {}
    for column in schema:
        value = record.get(column.name)
        if pa.types.is_map(column.type) and value is not None:
            value = sorted(value.items())
        row[column.name] = value
    return row


def _past_dates(by_date: dict[str, list[str]], day: str, days: int) -> list[str]:
    first = (Date.fromisoformat(day) - timedelta(days=days)).isoformat()
    return [d for d in sorted(by_date) if first <= d < day]


_DT_IN_PATH = re.compile(r"dt=(\d{4}-\d{2}-\d{2})")


def _dt_of(path: str) -> str:
    return _DT_IN_PATH.search(path).group(1)


def run_id_for(landing: str, day: str, config: CurateConfig) -> str:
    """Deterministic: the same inputs and config give the same run id, so reruns match."""
    files = warehouse.list_files(f"{landing.rstrip('/')}/dt={day}/*.jsonl*")
    sizes = [(f.rsplit("/", 1)[-1], FileSystems.match([f])[0].metadata_list[0].size_in_bytes)
             for f in files]
    digest = hashlib.sha256(json.dumps([day, sizes, asdict(config)], sort_keys=True,
                                       default=str).encode()).hexdigest()
    return f"{day}-{digest[:12]}"


# ---------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------

def _read_past(p, label: str, files: list[str], columns: list[str]):
    """(filename, record) of past partitions, or an empty PCollection."""
    if not files:
        return p | f"No{label}" >> beam.Create([])
    return (
        p
        | f"{label}Files" >> beam.Create(files)
        | f"Read{label}" >> beam.io.ReadAllFromParquet(columns=columns, with_filename=True)
    )


def _compose_duplicates(item):
    """(a -> b) from exact dedup and (b -> c) from near dedup give (a -> c)."""
    middle, groups = item
    final = sorted(groups["near"])
    for source in groups["exact"]:
        yield (source, final[0] if final else middle)
    for target in final:
        yield (middle, target)


def build(p, *, landing: str, wh: str, day: str, run_id: str, key_file: str | None,
          config: CurateConfig) -> None:
    interactions_by_date = warehouse.partition_files(wh, "interactions")
    index_by_date = warehouse.partition_files(wh, "dedup_index")
    deletions_by_date = warehouse.partition_files(wh, "deletion_requests")
    past_interaction_files = [f for d in _past_dates(interactions_by_date, day,
                                                      config.feedback_lookback_days)
                              for f in interactions_by_date[d]]
    past_index_files = [f for d in _past_dates(index_by_date, day, config.dedup_lookback_days)
                        for f in index_by_date[d]]
    past_deletion_files = [f for d, fs in sorted(deletions_by_date.items()) if d < day for f in fs]

    # --- read, parse, collapse re-deliveries
    read = p | "ReadLandingLines" >> ReadLandingLines(landing, day)
    lines = read["lines"]
    parsed = lines | "ParseEvents" >> ParseEvents(key_file)
    unique = parsed["events"] | "CollapseRedeliveries" >> CollapseRedeliveries()

    # --- erasure at ingest: today's and earlier deletion requests
    by_type = unique["events"] | "SplitByType" >> beam.Partition(
        lambda e, _: ("interaction", "feedback", "deletion_request").index(e["event_type"]), 3)
    interactions_raw, feedback_raw, deletions = by_type[0], by_type[1], by_type[2]
    past_erased = _read_past(p, "PastDeletions", past_deletion_files, ["user_pseudonym"]) | (
        "PastErased" >> beam.Map(lambda fr: fr[1]["user_pseudonym"]))
    erased = (deletions | "TodayErased" >> beam.Map(lambda e: e["user_pseudonym"]),
              past_erased) | "Erased" >> beam.Flatten()
    kept_events = (interactions_raw, feedback_raw) | "NonDeletion" >> beam.Flatten()
    after_erasure = kept_events | "DropErasedUsers" >> DropErasedUsers(erased)
    split = after_erasure["events"] | "SplitAgain" >> beam.Partition(
        lambda e, _: 0 if e["event_type"] == "interaction" else 1, 2)

    # --- feedback is scrubbed first, then joined to its interaction
    feedback_scrubbed = split[1] | "ScrubFeedback" >> ScrubPII(config.scrub)
    past_ids = _read_past(p, "PastIds", past_interaction_files, ["event_id"]) | (
        "KeyPastIds" >> beam.Map(lambda fr: (fr[1]["event_id"], _dt_of(fr[0]))))
    joined = {"interactions": split[0], "feedback": feedback_scrubbed} | (
        "AttachFeedback" >> AttachFeedback(past_ids))

    # --- quality filter on raw text, then scrub the survivors
    filtered = joined["interactions"] | "FilterQuality" >> FilterQuality(config.filters)
    interactions = filtered["kept"] | "ScrubInteractions" >> ScrubPII(config.scrub)

    # --- dedup: exact, then near (against earlier days' signatures too)
    exact = interactions | "DedupExact" >> DedupExact(config.dedup)
    past_index = _read_past(p, "PastIndex", past_index_files, list(INDEX_COLUMNS)) | (
        "PastIndexRows" >> beam.Map(lambda fr: dict(fr[1], dt=_dt_of(fr[0]))))
    near = exact["kept"] | "DedupNearDuplicates" >> DedupNearDuplicates(config.dedup, past_index)

    def duplicate_rejects(stage):
        return lambda d: reject_row(
            stage, d["reason"], f"{d['reason']} of {d['duplicate_of']}"
            f" (similarity {d.get('similarity', 1.0):.3f})", event=d["record"],
            duplicate_of=d["duplicate_of"])

    exact_rejects = exact["duplicates"] | "ExactRejects" >> beam.Map(duplicate_rejects("dedup_exact"))
    near_rejects = near["duplicates"] | "NearRejects" >> beam.Map(duplicate_rejects("dedup_near"))
    duplicate_of = (
        {
            "exact": exact["duplicates"] | "ExactPairs" >> beam.Map(
                lambda d: (d["duplicate_of"], d["record"]["event_id"])),
            "near": near["duplicates"] | "NearPairs" >> beam.Map(
                lambda d: (d["record"]["event_id"], d["duplicate_of"])),
        }
        | "JoinDuplicateMaps" >> beam.CoGroupByKey()
        | "ComposeDuplicateMaps" >> beam.FlatMap(_compose_duplicates)
    )
    filter_dropped = filtered[REJECTS_TAG] | "DroppedIds" >> beam.Map(
        lambda r: (r["event_id"], r["reason"]))
    resolved = joined["pending"] | "ResolveFeedback" >> ResolveFeedback(
        day, near["kept"], duplicate_of, filter_dropped, past_ids)
    feedback = (resolved["feedback"], joined["attached"]) | "AllFeedback" >> beam.Flatten()

    # --- rejects and accounting
    rejects = (
        read[REJECTS_TAG], parsed[REJECTS_TAG], unique[REJECTS_TAG], after_erasure[REJECTS_TAG],
        joined[REJECTS_TAG], filtered[REJECTS_TAG], exact_rejects, near_rejects,
        resolved[REJECTS_TAG],
    ) | "AllRejects" >> beam.Flatten()

    tallies = [
        lines | "T_read_out" >> TallyStage("read", "out"),
        lines | "T_parse_in" >> TallyStage("parse", "in"),
        parsed["events"] | "T_parse_out" >> TallyStage("parse", "out"),
        parsed["events"] | "T_redelivery_in" >> TallyStage("redelivery", "in"),
        unique["events"] | "T_redelivery_out" >> TallyStage("redelivery", "out"),
        unique["events"] | "T_erasure_in" >> TallyStage("erasure", "in"),
        after_erasure["events"] | "T_erasure_out" >> TallyStage("erasure", "out"),
        deletions | "T_erasure_out_deletions" >> TallyStage("erasure", "out"),
        after_erasure["events"] | "T_attach_in" >> TallyStage("attach", "in"),
        joined["interactions"] | "T_attach_out_i" >> TallyStage("attach", "out"),
        joined["pending"] | "T_attach_out_p" >> TallyStage("attach", "out"),
        joined["attached"] | "T_attach_out_a" >> TallyStage("attach", "out"),
        joined["interactions"] | "T_filter_in" >> TallyStage("filter", "in"),
        filtered["kept"] | "T_filter_out" >> TallyStage("filter", "out"),
        filtered["kept"] | "T_scrub_in_i" >> TallyStage("scrub", "in"),
        split[1] | "T_scrub_in_f" >> TallyStage("scrub", "in"),
        interactions | "T_scrub_out_i" >> TallyStage("scrub", "out"),
        feedback_scrubbed | "T_scrub_out_f" >> TallyStage("scrub", "out"),
        interactions | "T_dedup_exact_in" >> TallyStage("dedup_exact", "in"),
        exact["kept"] | "T_dedup_exact_out" >> TallyStage("dedup_exact", "out"),
        exact["kept"] | "T_dedup_near_in" >> TallyStage("dedup_near", "in"),
        near["kept"] | "T_dedup_near_out" >> TallyStage("dedup_near", "out"),
        joined["pending"] | "T_resolve_in" >> TallyStage("resolve", "in"),
        resolved["feedback"] | "T_resolve_out" >> TallyStage("resolve", "out"),
        near["kept"] | "T_rows_interactions" >> TallyStage("write", "rows_interactions"),
        feedback | "T_rows_feedback" >> TallyStage("write", "rows_feedback"),
        deletions | "T_rows_deletion_requests" >> TallyStage("write", "rows_deletion_requests"),
        rejects | "T_rows_rejects" >> TallyStage("write", "rows_rejects"),
        rejects | "T_dropped" >> beam.Map(lambda r: ((r["stage"], "dropped", r["reason"]), 1)),
        (interactions, feedback_scrubbed) | "ScrubbedRecords" >> beam.Flatten()
        | "T_pii" >> beam.FlatMap(lambda r: [(("scrub", f"pii_{e}", ""), n)
                                             for e, n in (r.get("pii_findings") or {}).items()]),
    ]
    stats = (
        tallies
        | "AllTallies" >> beam.Flatten()
        | "Sum" >> beam.CombinePerKey(sum)
        | "StatsRows" >> beam.Map(lambda kv: {"run_id": run_id, "stage": kv[0][0],
                                              "metric": kv[0][1], "reason": kv[0][2],
                                              "value": kv[1]})
    )

    # --- write every table to staging; the launcher commits after checking the accounts
    deletion_rows = deletions | "DeletionRows" >> beam.Map(lambda e: {
        "event_id": e["event_id"], "user_pseudonym": e["user_pseudonym"],
        "requested_at": e["ts"]})
    outputs = {
        "interactions": near["kept"],
        "feedback": feedback,
        "deletion_requests": deletion_rows,
        "rejects": rejects,
        "stats": stats,
        "dedup_index": near["index"],
    }
    for table, pcoll in outputs.items():
        schema = schemas.TABLES[table]
        _ = (
            pcoll
            | f"Rows_{table}" >> beam.Map(to_row, schema)
            | f"Write_{table}" >> beam.io.WriteToParquet(
                warehouse.join(warehouse.staging_dir(wh, run_id, table), "part"), schema,
                file_name_suffix=".parquet")
        )


# ---------------------------------------------------------------------------------------------
# Accounting and commit
# ---------------------------------------------------------------------------------------------

def read_staged_stats(wh: str, run_id: str) -> list[dict]:
    rows = []
    for path in warehouse.list_files(warehouse.join(warehouse.staging_dir(wh, run_id, "stats"),
                                                    "*.parquet")):
        with FileSystems.open(path) as handle:
            rows.extend(pq.read_table(io.BytesIO(handle.read())).to_pylist())
    return rows


def reconcile(stats: list[dict]) -> list[str]:
    """Problems with the day's accounts; [] when everything adds up."""
    value: dict[tuple[str, str], int] = {}
    dropped: dict[str, int] = {}
    for row in stats:
        if row["metric"] == "dropped":
            dropped[row["stage"]] = dropped.get(row["stage"], 0) + row["value"]
        else:
            value[(row["stage"], row["metric"])] = value.get((row["stage"], row["metric"]), 0) + row["value"]
    problems = []
    for stage in STAGES:
        if stage in ("read", "write"):
            continue
        n_in, n_out = value.get((stage, "in"), 0), value.get((stage, "out"), 0)
        n_dropped = dropped.get(stage, 0)
        if n_in != n_out + n_dropped:
            problems.append(f"{stage}: in {n_in} != out {n_out} + dropped {n_dropped}")
    lines = value.get(("read", "out"), 0)
    written = sum(value.get(("write", f"rows_{t}"), 0)
                  for t in ("interactions", "feedback", "deletion_requests"))
    rejected = sum(n for stage, n in dropped.items() if stage != "read")
    if lines != written + rejected:
        problems.append(f"lines read {lines} != rows written {written} + rejected {rejected}")
    return problems


def summary_table(stats: list[dict]) -> str:
    by_stage: dict[str, dict[str, int]] = {}
    for row in stats:
        name = row["metric"] if row["metric"] != "dropped" else f"dropped:{row['reason']}"
        by_stage.setdefault(row["stage"], {})[name] = row["value"]
    lines = [f"{'stage':<12} {'in':>8} {'out':>8}  dropped / other"]
    for stage in STAGES:
        metrics = by_stage.get(stage, {})
        extra = ", ".join(f"{k}={v}" for k, v in sorted(metrics.items()) if k not in ("in", "out"))
        lines.append(f"{stage:<12} {metrics.get('in', ''):>8} {metrics.get('out', ''):>8}  {extra}")
    return "\n".join(lines)


def run(argv: list[str] | None = None, config: CurateConfig | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m pipelines.curate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", required=True, help="landing root (path or URL)")
    parser.add_argument("--warehouse", required=True, help="warehouse root (path or URL)")
    parser.add_argument("--date", required=True, help="the day to curate, YYYY-MM-DD")
    parser.add_argument("--pseudonym-key-file", default=None,
                        help=f"key file (path or URL); else ${pseudonym.KEY_ENV}")
    parser.add_argument("--spacy-model", default=None, help="spaCy model for PII NER")
    parser.add_argument("--pii-score-threshold", type=float, default=None)
    parser.add_argument("--pii-entities", default=None, help="comma-separated entity types")
    args, beam_args = parser.parse_known_args(argv)
    try:
        Date.fromisoformat(args.date)
    except ValueError:
        parser.error(f"--date {args.date!r} is not YYYY-MM-DD")

    config = config or CurateConfig()
    scrub_overrides = {}
    if args.spacy_model:
        scrub_overrides["spacy_model"] = args.spacy_model
    if args.pii_score_threshold is not None:
        scrub_overrides["score_threshold"] = args.pii_score_threshold
    if args.pii_entities:
        scrub_overrides["entities"] = tuple(e.strip() for e in args.pii_entities.split(","))
    if scrub_overrides:
        from dataclasses import replace

        config = replace(config, scrub=replace(config.scrub, **scrub_overrides))

    pseudonym.load_key(args.pseudonym_key_file)  # refuse to start without a key
    wh = args.warehouse.rstrip("/")
    warehouse.recover(wh, args.date)
    run_id = run_id_for(args.landing, args.date, config)
    options = PipelineOptions(beam_args)
    if not options.view_as(StandardOptions).runner:
        options.view_as(StandardOptions).runner = LOCAL_RUNNER

    started = time.monotonic()
    print(f"curate {args.date}: run {run_id} on {options.view_as(StandardOptions).runner}",
          file=sys.stderr)
    with beam.Pipeline(options=options) as p:
        build(p, landing=args.landing, wh=wh, day=args.date, run_id=run_id,
              key_file=args.pseudonym_key_file, config=config)
    stats = read_staged_stats(wh, run_id)
    problems = reconcile(stats)
    if problems:
        raise NotReconciled(f"run {run_id} does not reconcile, nothing committed: "
                            + "; ".join(problems))
    warehouse.commit(wh, run_id, args.date, OUTPUT_TABLES)
    elapsed = time.monotonic() - started
    print(summary_table(stats), file=sys.stderr)
    print(f"committed dt={args.date} to {wh} in {elapsed:.1f}s", file=sys.stderr)
    return {"run_id": run_id, "date": args.date, "stats": stats, "seconds": elapsed}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    try:
        run(argv)
    except (pseudonym.MissingKey, NotReconciled) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
