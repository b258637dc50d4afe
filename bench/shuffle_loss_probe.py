"""The probe that found the shuffle losses (docs/benchmarks.md, "Short events"): the pipeline of
bench/shuffle_loss.py plus two more consumers of the verified edges, counts printed from the
workers, and one line per event id whose join misses something (NOSIM: a fate without its similarity; NOEDGE:
a fate without its edge ends; MULTINODE: two nodes for one id).

    PYTHONPATH=$PWD .venv/bin/python bench/shuffle_loss_probe.py RECORDS WORKERS | grep -v INFO
"""
import sys
import time
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.shuffle_loss import near_graph, runner_args  # noqa: E402
from pipelines.dedup.config import DedupConfig  # noqa: E402

N, WORKERS = int(sys.argv[1]), int(sys.argv[2])


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
    t = time.time()
    with beam.Pipeline(options=PipelineOptions(runner_args(WORKERS))) as p:
        edges, fates, sims, ends = near_graph(p, N, DedupConfig())
        ends_nodes = edges | "EndNodes" >> beam.FlatMap(lambda e: [(e[0][3], e[0]), (e[1][3], e[1])])
        (({"fate": fates, "similarity": sims, "ends": ends, "ends_nodes": ends_nodes})
         | "Diag" >> beam.CoGroupByKey() | beam.FlatMap(check)
         | beam.Map(lambda s: print(s, flush=True)))
        (ends | "CEnds" >> beam.combiners.Count.Globally() | beam.Map(lambda c: print("ENDS", c, flush=True)))
        (sims | "CSims" >> beam.combiners.Count.Globally() | beam.Map(lambda c: print("SIMKEYS", c, flush=True)))
        (ends | "EndKeys" >> beam.CombinePerKey(sum) | "CEK" >> beam.combiners.Count.Globally() | beam.Map(lambda c: print("ENDKEYS", c, flush=True)))
        (fates | beam.combiners.Count.Globally() | beam.Map(lambda c: print("FATES", c, flush=True)))
        (edges | "CE" >> beam.combiners.Count.Globally() | beam.Map(lambda c: print("EDGES", c, flush=True)))
    print("DONE", time.time() - t, flush=True)

if __name__ == "__main__":
    main()
