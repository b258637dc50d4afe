"""Does a runner deliver every element of the near-dedup stage's shuffles? The stage's own DoFns
and components (``pipelines.dedup.stages.near_graph``, which ``DedupNearDuplicates`` builds on)
on generated short interactions, plus one check: a CoGroupByKey, per event id, of the fates
the components gave, the similarities taken from the verified edges, and the edges' ends.

    PYTHONPATH=$PWD .venv/bin/python bench/shuffle_loss.py --records 200000 --workers 2
                                     [--repeat 1] [--out bench/out/shuffle_loss.json]

Every fate belongs to an end of a verified edge and every similarity is taken from those same
edges, so on a runner that loses nothing the check finds no event id with a fate but without
its ends or its similarity, and the edge count is the same in every mode. ``--workers 1`` runs
in process; more run the local runner's ``multi_processing`` mode, whose losses come and go
from run to run (``--repeat``). Prints a table, writes JSON; exits 1 when any run lost data.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.short_day import _interaction  # noqa: E402
from pipelines.dedup import graph, stages  # noqa: E402
from pipelines.dedup.config import DedupConfig  # noqa: E402
from pipelines.dedup.stages import DedupExact  # noqa: E402

OUT = REPO / "bench" / "out" / "shuffle_loss.json"
NAMESPACE = "shuffle_check"
COLUMNS = ("edges", "fates", "ids_with_fate", "fate_without_similarity", "fate_without_edge")
SHARDS = 64
START = datetime(2026, 11, 2, tzinfo=UTC)


def shard_records(shard: int, per_shard: int):
    """One shard of the generated day: short-day interactions as the dedup stages see them."""
    rng = random.Random(shard)
    for k in range(per_shard):
        n = shard * per_shard + k
        event = _interaction(rng, n, "-", "-")
        yield {"event_id": event["event_id"], "ts": START + timedelta(microseconds=n * 80_000),
               "n_feedback": rng.choice((0, 0, 1)), "prompt": event["messages"][0]["content"],
               "response": event["response"], "user_pseudonym": "-"}


def check(element):
    """Per event id: counts what is missing that the graph says must be there."""
    _, grouped = element
    if not grouped["fate"]:
        return
    Metrics.counter(NAMESPACE, "ids_with_fate").inc()
    if not grouped["similarity"]:
        Metrics.counter(NAMESPACE, "fate_without_similarity").inc()
    if not grouped["ends"]:
        Metrics.counter(NAMESPACE, "fate_without_edge").inc()


def counted(name: str):
    def count(_):
        Metrics.counter(NAMESPACE, name).inc()
    return count


def near_graph(pipeline, records: int, config: DedupConfig):
    """The generated day through DedupExact and the near stage's own graph
    (``stages.near_graph``, which ``DedupNearDuplicates.expand`` builds on) -> (edges, fates,
    similarities, edge ends)."""
    ids = pipeline | beam.Create(list(range(SHARDS))) | beam.Reshuffle()
    kept = (ids | beam.FlatMap(shard_records, records // SHARDS) | DedupExact(config))["kept"]
    near = stages.near_graph(kept, config)
    ends = near.edges | "Ends" >> beam.FlatMap(
        lambda edge: [(edge[0][graph.EVENT_ID], 1), (edge[1][graph.EVENT_ID], 1)])
    return near.edges, near.fates, near.similarities, ends


def runner_args(workers: int) -> list[str]:
    args = ["--direct_num_workers", str(workers)]
    return args + (["--direct_running_mode", "multi_processing"] if workers > 1 else [])


def run(records: int, workers: int) -> dict:
    start = time.perf_counter()
    pipeline = beam.Pipeline(options=PipelineOptions(runner_args(workers)))
    edges, fates, similarities, ends = near_graph(pipeline, records, DedupConfig())
    ({"fate": fates, "similarity": similarities, "ends": ends}
     | "Check" >> beam.CoGroupByKey() | "Missing" >> beam.Map(check))
    edges | "CountEdges" >> beam.Map(counted("edges"))
    fates | "CountFates" >> beam.Map(counted("fates"))
    result = pipeline.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    row = {"records": records, "workers": workers,
           "mode": "multi_processing" if workers > 1 else "in_process",
           **dict.fromkeys(COLUMNS, 0)}
    for counter in counters:
        row[counter.key.metric.name] += counter.committed
    row["wall_s"] = round(time.perf_counter() - start, 1)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="runs of the same day")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = [run(args.records, args.workers) for _ in range(args.repeat)]
    header = ("mode", "records", *COLUMNS, "wall_s")
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row[column]) for column in header))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.out}")
    lost = [row["fate_without_similarity"] + row["fate_without_edge"] for row in rows]
    if any(lost):
        print(f"the runner lost shuffle data: event ids with a fate but without their edge or "
              f"similarity, per run: {lost}", file=sys.stderr)
    return 1 if any(lost) else 0


if __name__ == "__main__":
    sys.exit(main())
