"""The probe that found the shuffle losses (docs/benchmarks.md, "Short events"): the pipeline of
bench/shuffle_loss.py plus two more consumers of the verified edges, counts printed from the
workers, and one line per event id whose join misses something (NOSIM: a fate without its similarity; NOEDGE:
a fate without its edge ends; MULTINODE: two nodes for one id).

    PYTHONPATH=$PWD .venv/bin/python bench/shuffle_loss_probe.py RECORDS WORKERS | grep -v INFO
"""
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.short_day import _interaction
from pipelines.dedup import graph
from pipelines.dedup.config import DedupConfig
from pipelines.dedup.stages import (
    DedupExact,
    _hash_sets_per_bucket,
    _shared_bucket_members,
    _SketchRecords,
    _VerifyBuckets,
    connected_components,
)

N, SHARDS, WORKERS = int(sys.argv[1]), 64, int(sys.argv[2])
START = datetime(2026, 11, 2, tzinfo=UTC)

def shard(i):
    rng = random.Random(i)
    per = N // SHARDS
    for k in range(per):
        n = i * per + k
        ev = _interaction(rng, n, "x", "u")
        yield {"event_id": ev["event_id"], "ts": START + timedelta(microseconds=n * 80_000),
               "n_feedback": rng.choice((0, 0, 1)), "prompt": ev["messages"][0]["content"],
               "response": ev["response"], "user_pseudonym": "p"}

def check(element):
    key, g = element
    fate, sim, ends = list(g["fate"]), list(g["similarity"]), list(g["ends"])
    if any(f[0] == "duplicate" for f in fate) and not sim:
        yield f"NOSIM {key} fates={fate} ends={len(ends)} sims={sim}"
    if fate and not ends:
        yield f"NOEDGE {key} fates={fate}"
    if len(set(g["ends_nodes"])) > 1:
        yield f"MULTINODE {key} {set(g['ends_nodes'])}"

def main():
    config = DedupConfig()
    args = ["--direct_num_workers", str(WORKERS)]
    if WORKERS > 1:
        args += ["--direct_running_mode", "multi_processing"]
    t = time.time()
    with beam.Pipeline(options=PipelineOptions(args)) as p:
        records = (p | beam.Create(list(range(SHARDS))) | beam.Reshuffle()
                   | beam.FlatMap(shard))
        kept = (records | DedupExact(config))["kept"]
        today = kept | "Sketch" >> beam.ParDo(_SketchRecords(config)).with_outputs(
            "sketch", "band", "index")
        shared = (today.band | "GroupByBand" >> beam.GroupByKey()
                  | "SharedBuckets" >> beam.FlatMap(_shared_bucket_members))
        edges = ({"sketch": today.sketch, "bucket": shared} | "JoinBuckets" >> beam.CoGroupByKey()
                 | "SetsPerBucket" >> beam.FlatMap(_hash_sets_per_bucket)
                 | "GroupBuckets" >> beam.GroupByKey()
                 | "VerifyBuckets" >> beam.ParDo(_VerifyBuckets(config)))
        fates, unresolved = connected_components(edges, config.cc_rounds)
        sims = (edges | "Similarities" >> beam.FlatMap(graph.node_similarities)
                | "StrongestLink" >> beam.CombinePerKey(max))
        ends = edges | "Ends" >> beam.FlatMap(lambda e: [(e[0][3], 1), (e[1][3], 1)])
        ends_nodes = edges | "EndNodes" >> beam.FlatMap(lambda e: [(e[0][3], e[0]), (e[1][3], e[1])])
        (({"fate": fates, "similarity": sims, "ends": ends, "ends_nodes": ends_nodes})
         | "Diag" >> beam.CoGroupByKey() | beam.FlatMap(check)
         | beam.Map(lambda s: print(s, flush=True)))
        (ends | "CEnds" >> beam.combiners.Count.Globally() | beam.Map(lambda c: print("ENDS", c, flush=True)))
        (sims | "CSims" >> beam.combiners.Count.Globally() | beam.Map(lambda c: print("SIMKEYS", c, flush=True)))
        (ends | "EndKeys" >> beam.CombinePerKey(sum) | "CEK" >> beam.combiners.Count.Globally() | beam.Map(lambda c: print("ENDKEYS", c, flush=True)))
        (fates | beam.combiners.Count.Globally() | beam.Map(lambda c: print("FATES", c, flush=True)))
        (edges | "CE" >> beam.combiners.Count.Globally() | beam.Map(lambda c: print("EDGES", c, flush=True)))
        (unresolved | "CU" >> beam.CombineGlobally(sum) | beam.Map(lambda c: print("UNRESOLVED", c, flush=True)))
    print("DONE", time.time() - t, flush=True)

if __name__ == "__main__":
    main()
