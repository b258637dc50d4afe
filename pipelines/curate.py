"""The curation job: landing JSONL of one day -> the warehouse's tables for that day.

    python -m pipelines.curate --landing DIR --warehouse DIR --date YYYY-MM-DD [--allow-empty]
                               [Beam options]

Stages (``pipelines.stages``, each a ``Stage`` that counts itself): read -> parse -> redelivery
-> erasure -> scrub(feedback) -> attach -> filter -> scrub -> dedup_exact -> dedup_near ->
resolve -> write. Every rejected record becomes a ``rejects`` row with its stage and reason;
``stats`` holds per-stage in/out/dropped counts computed from the data, and the job refuses to
commit a day whose counts do not reconcile.

This module only wires I/O; the same code runs on the DirectRunner (default) or, with standard
pipeline options, on Dataflow, Flink or Spark with ``gs://``/``s3://`` paths.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import logging
import re
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date as Date
from datetime import timedelta

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

from feedback.contract import ContractLimits
from pipelines import allocator, landing, stages
from pipelines.dedup import INDEX_COLUMNS, DedupConfig
from pipelines.pii import ScrubConfig
from pipelines.quality import FilterConfig
from pipelines.stages import REJECTS, STAGES, ReadConfig
from warehouse import days, partitions, pseudonym, tables, umask
from warehouse import files as storage

log = logging.getLogger("pipelines.curate")

# The DirectRunner's batch engine, named directly: Beam's DirectRunner first tries the Prism
# runner, which downloads a binary at run time. `--direct_num_workers` and
# `--direct_running_mode multi_processing` work with it as with the DirectRunner.
LOCAL_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
# Runners that keep the job's data in this process (``pipelines.allocator``).
_IN_PROCESS_RUNNERS = {LOCAL_RUNNER, "DirectRunner", "FnApiRunner", "BundleBasedDirectRunner"}

OUTPUT_TABLES = ("interactions", "feedback", "deletion_requests", "rejects", "stats", "dedup_index")


@dataclass(frozen=True)
class CurateConfig:
    scrub: ScrubConfig = field(default_factory=ScrubConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    read: ReadConfig = field(default_factory=ReadConfig)
    contract: ContractLimits = field(default_factory=ContractLimits)
    # Feedback may arrive days after its interaction; a month covers nearly all of it while
    # bounding the id set each run joins against.
    feedback_lookback_days: int = 30
    # Near-duplicates of records published up to this many days ago are caught.
    dedup_lookback_days: int = 90


class NotReconciled(RuntimeError):
    pass


def run_id_for(selection: landing.Selection, day: str, config: CurateConfig) -> str:
    """Deterministic: the same inputs and config give the same run id, so reruns match."""
    sizes = [(f.source_id, f.size) for f in selection.files]
    digest = hashlib.sha256(json.dumps([day, sizes, asdict(config)], sort_keys=True,
                                       default=str).encode()).hexdigest()
    return f"{day}-{digest[:12]}"


# ---------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------

_DT_IN_PATH = re.compile(r"dt=(\d{4}-\d{2}-\d{2})")


def _dt_of(path: str) -> str:
    return _DT_IN_PATH.search(path).group(1)


@dataclass(frozen=True)
class PastFiles:
    """Committed Parquet files the day's run reads back, chosen by date at launch."""

    interactions: list[str]  # event ids of the feedback look-back window
    index: list[str]  # dedup signatures of the dedup look-back window
    erased: list[str]  # earlier deletion requests, and every tombstone whatever its date

    @classmethod
    def of(cls, wh: str, day: str, config: CurateConfig) -> PastFiles:
        def window(table: str, days: int | None) -> list[str]:
            by_date = partitions.partition_files(wh, table)
            first = "" if days is None else (Date.fromisoformat(day) - timedelta(days=days)).isoformat()
            return [f for d in sorted(by_date) if first <= d < day for f in by_date[d]]

        tombstones = [f for fs in partitions.partition_files(wh, "deletions").values() for f in fs]
        return cls(window("interactions", config.feedback_lookback_days),
                   window("dedup_index", config.dedup_lookback_days),
                   window("deletion_requests", None) + tombstones)


def _read_past(p, label: str, files: list[str], columns: list[str]):
    """(filename, record) of past partitions, or an empty PCollection."""
    if not files:
        return p | f"No{label}" >> beam.Create([])
    return (
        p
        | f"{label}Files" >> beam.Create(files)
        | f"Read{label}" >> beam.io.ReadAllFromParquet(columns=columns, with_filename=True)
    )


def _by_type(events, label: str):
    parts = events | label >> beam.Partition(
        lambda e, _: 0 if e["event_type"] == "interaction" else 1, 2)
    return parts[0], parts[1]


def build(p, *, selection: landing.Selection, wh: str, day: str, attempt: str,
          key_file: str | None, config: CurateConfig) -> None:
    """Wire the stages; each counts itself, so the job only connects outputs to inputs."""
    past = PastFiles.of(wh, day, config)
    past_ids = _read_past(p, "PastIds", past.interactions, ["event_id"]) | (
        "KeyPastIds" >> beam.Map(lambda fr: (fr[1]["event_id"], _dt_of(fr[0]))))
    past_erased = _read_past(p, "PastErased", past.erased, ["user_pseudonym"]) | (
        "ErasedUsers" >> beam.Map(lambda fr: fr[1]["user_pseudonym"]))
    past_index = _read_past(p, "PastIndex", past.index, list(INDEX_COLUMNS)) | (
        "PastIndexRows" >> beam.Map(lambda fr: dict(fr[1], dt=_dt_of(fr[0]))))

    read = p | "Files" >> beam.Create(selection.files) | "Read" >> stages.ReadLandingLines(
        selection.skipped, config.read)
    parsed = read["lines"] | "Parse" >> stages.ParseEvents(key_file, day, config.contract)
    unique = parsed["kept"] | "Redelivery" >> stages.CollapseRedeliveries()
    erasure = unique["kept"] | "Erasure" >> stages.DropErasedUsers(past_erased)
    interactions_raw, feedback_raw = _by_type(erasure["kept"], "SplitTypes")
    feedback_scrubbed = feedback_raw | "ScrubFeedback" >> stages.ScrubPII(config.scrub)
    attach = ((interactions_raw, feedback_scrubbed["kept"]) | "AttachInput" >> beam.Flatten()
              | "Attach" >> stages.AttachFeedback(past_ids))
    filtered = attach["interactions"] | "Filter" >> stages.FilterQuality(config.filters)
    scrubbed = filtered["kept"] | "ScrubInteractions" >> stages.ScrubPII(config.scrub)
    exact = scrubbed["kept"] | "DedupExact" >> stages.DedupExactDuplicates(config.dedup)
    near = exact["kept"] | "DedupNear" >> stages.DedupNear(config.dedup, past_index)
    dropped = filtered[REJECTS] | "DroppedIds" >> beam.Map(lambda r: (r["event_id"], r["reason"]))
    resolved = attach["pending"] | "Resolve" >> stages.ResolveFeedback(
        day, near["kept"], stages.duplicate_of(exact["pairs"], near["pairs"]), dropped, past_ids)

    counted = (read, parsed, unique, erasure, feedback_scrubbed, attach, filtered, scrubbed,
               exact, near, resolved)
    tables = {
        "interactions": near["kept"],
        "feedback": (resolved["kept"], attach["attached"]) | "AllFeedback" >> beam.Flatten(),
        "deletion_requests": erasure["deletions"] | "DeletionRows" >> beam.Map(lambda e: {
            "event_id": e["event_id"], "user_pseudonym": e["user_pseudonym"],
            "requested_at": e["ts"]}),
        "rejects": [s[REJECTS] for s in counted] | "AllRejects" >> beam.Flatten(),
    }
    tallies = [s[stages.TALLIES] for s in counted] + stages.row_tallies(tables)
    tables["stats"] = (tallies | "AllTallies" >> beam.Flatten()
                       | "Stats" >> stages.ComputeStats(attempt_run_id(attempt)))
    tables["dedup_index"] = near["index"]
    _ = tables | "Write" >> stages.WriteTables(wh, day, attempt)


# ---------------------------------------------------------------------------------------------
# Accounting and commit
# ---------------------------------------------------------------------------------------------

def attempt_run_id(attempt: str) -> str:
    """The run id inside an attempt's name (``curate-<run_id>-<nonce>``): stats carry the run
    id, so that reruns of the same inputs write the same rows."""
    return attempt[len(partitions.CURATE_PREFIX):].rsplit("-", 1)[0]


def read_staged_stats(wh: str, day: str, attempt: str) -> list[dict]:
    rows = []
    for path in partitions.attempt_files(wh, "stats", day, attempt):
        with storage.filesystems().open(path) as handle:
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


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m pipelines.curate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", required=True, help="landing root (path or URL)")
    parser.add_argument("--warehouse", required=True, help="warehouse root (path or URL)")
    parser.add_argument("--date", required=True, help="the day to curate, YYYY-MM-DD")
    parser.add_argument("--allow-empty", action="store_true",
                        help="commit the day even when it has no landing files (a quiet day)")
    parser.add_argument("--pseudonym-key-file", default=None,
                        help=f"key file (path or URL); else ${pseudonym.KEY_ENV}")
    parser.add_argument("--spacy-model", default=None, help="spaCy model for PII NER")
    parser.add_argument("--pii-score-threshold", type=float, default=None)
    parser.add_argument("--pii-entities", default=None, help="comma-separated entity types")
    parser.add_argument("--pii-token-classifier", default=None,
                        help="folder from python -m pipelines.pii.train_ner (opt-in, slower)")
    return parser.parse_known_args(argv)


def _with_overrides(config: CurateConfig, args: argparse.Namespace) -> CurateConfig:
    scrub_overrides = {}
    if args.spacy_model:
        scrub_overrides["spacy_model"] = args.spacy_model
    if args.pii_score_threshold is not None:
        scrub_overrides["score_threshold"] = args.pii_score_threshold
    if args.pii_token_classifier:
        scrub_overrides["token_classifier"] = args.pii_token_classifier
    if args.pii_entities:
        scrub_overrides["entities"] = tuple(e.strip() for e in args.pii_entities.split(","))
    if not scrub_overrides:
        return config
    return replace(config, scrub=replace(config.scrub, **scrub_overrides))


def run(argv: list[str] | None = None, config: CurateConfig | None = None) -> dict:
    """Curate one day; raises (``CURATE_ERRORS``) without changing the warehouse on a problem."""
    args, beam_args = parse_args(argv)
    day = days.parse_day(args.date)
    config = _with_overrides(config or CurateConfig(), args)
    umask.restrict_umask()
    ring = pseudonym.load_key_ring(args.pseudonym_key_file)  # refuse to start without a key
    selection = landing.select_files(args.landing, day, allow_empty=args.allow_empty)
    wh = args.warehouse.rstrip("/")
    run_id = run_id_for(selection, day, config)
    options = PipelineOptions(beam_args)
    if not options.view_as(StandardOptions).runner:
        options.view_as(StandardOptions).runner = LOCAL_RUNNER
    if options.view_as(DirectOptions).direct_running_mode == "multi_processing":
        print("curate: warning: the local runner's multi_processing mode has lost shuffle "
              "elements on 200k-record days (docs/scale.md); for big days use one process or "
              "a distributed runner", file=sys.stderr)

    started = time.monotonic()
    with partitions.DayLock(wh, day, run_id):
        # A key that is not the warehouse's would split every user in two.
        pseudonym.ensure_key_fingerprint(wh, ring)
        # Files of earlier attempts of this day that died before their commit.
        partitions.clean_day(wh, day, OUTPUT_TABLES)
        attempt = partitions.new_attempt(run_id)
        print(f"curate {day}: run {run_id} on {options.view_as(StandardOptions).runner}",
              file=sys.stderr)
        try:
            stats, versions, commit_s = _run_and_commit(options, selection, wh, day, attempt,
                                                        args.pseudonym_key_file, config)
        finally:
            # Whatever did not get committed (a failed run, a refused day) goes now; the
            # committed files are the log's and are untouched.
            partitions.clean_day(wh, day, OUTPUT_TABLES)
    elapsed = time.monotonic() - started
    print(summary_table(stats), file=sys.stderr)
    print(f"committed dt={day} to {wh} in {elapsed:.1f}s (commit {commit_s:.2f}s)", file=sys.stderr)
    return {"run_id": run_id, "date": day, "stats": stats, "seconds": elapsed,
            "commit_seconds": commit_s, "versions": versions}


def _run_and_commit(options, selection, wh: str, day: str, attempt: str, key_file: str | None,
                    config: CurateConfig) -> tuple[list[dict], dict, float]:
    local = options.view_as(StandardOptions).runner in _IN_PROCESS_RUNNERS
    with (allocator.returning_freed_memory() if local else contextlib.nullcontext()), \
            beam.Pipeline(options=options) as p:
        build(p, selection=selection, wh=wh, day=day, attempt=attempt, key_file=key_file,
              config=config)
    stats = read_staged_stats(wh, day, attempt)
    problems = reconcile(stats)
    if problems:
        raise NotReconciled(f"run {attempt_run_id(attempt)} does not reconcile, nothing "
                            "committed: " + "; ".join(problems))
    started = time.monotonic()
    versions = partitions.commit_day(wh, day, attempt_run_id(attempt), attempt, OUTPUT_TABLES)
    return stats, versions, time.monotonic() - started


# What a run raises for a problem an operator can fix; the CLI prints each as one line.
CURATE_ERRORS = (pseudonym.MissingKey, NotReconciled, days.BadDay, partitions.DayLocked,
                 landing.NoLandingFiles, tables.ConcurrentChange, OSError, ValueError)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    try:
        run(argv)
    except CURATE_ERRORS as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return 0


def _one_line(exc: BaseException) -> str:
    """The first line of an error; Beam wraps a worker's OSError in its own message."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"cannot write the warehouse: {exc.strerror}{where}; nothing was committed"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
