"""MinHash signatures on our shingles: datasketch, our numpy MinHasher, and the Rust ``rensa``.

    PYTHONPATH=$PWD[:DIR_WITH_RENSA] .venv/bin/python bench/minhash_rensa.py [--records 700]
        [--repeats 3] [--data ../shared/data] [--out bench/out/minhash_rensa.json]

The records are bench/dedup.py's speed set (real prompt/response pairs from ../shared/data),
shingled exactly as the dedup stage does (word 3-grams of the normalized exchange). Each engine
turns the same shingle lists into 128-permutation signatures; one thread each, best of
``--repeats`` interleaved runs, records per CPU-second (the box is shared, CPU time is the
steadier figure). ``rensa`` is optional (``pip install rensa``); without it its rows are
skipped. Its signatures are not datasketch's (other hash and permutations), so adopting it would
mean rebuilding every stored ``dedup_index`` signature; the estimate's error against exact
Jaccard on planted near-duplicate pairs is reported so the two can be compared on quality too.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dedup import _union_shingles, plant, speed_records  # noqa: E402
from pipelines.dedup import DedupConfig  # noqa: E402
from pipelines.dedup.minhash import MinHasher  # noqa: E402
from pipelines.dedup.text import dedup_text  # noqa: E402

OUT = REPO / "bench" / "out" / "minhash_rensa.json"


def engines(config: DedupConfig, hasher: MinHasher) -> dict:
    """name -> function(shingle lists) -> (n x num_perm) signatures."""
    from datasketch import MinHash

    def datasketch_bulk(lists):
        return np.array([m.hashvalues for m in MinHash.bulk(lists, num_perm=config.num_perm,
                                                             seed=config.seed)])

    out = {"datasketch MinHash.bulk": datasketch_bulk,
           "ours: MinHasher.sketch (numpy; also keeps the distinct hashes)":
               lambda lists: hasher.sketch(lists)[0]}
    try:
        from rensa import CMinHash, RMinHash
    except ImportError:
        return out

    def rensa_r(lists):
        sigs = []
        for shingles in lists:
            m = RMinHash(config.num_perm, config.seed)
            m.update(shingles)
            sigs.append(m.digest())
        return np.array(sigs, dtype=np.uint32)

    def rensa_c(lists):
        sigs = []
        for shingles in lists:
            m = CMinHash(config.num_perm, config.seed)
            m.update(shingles)
            sigs.append(m.digest())
        return np.array(sigs, dtype=np.uint32)

    def rensa_r_batch(lists):
        return np.array(RMinHash.digest_matrix_from_token_byte_sets(
            lists, config.num_perm, config.seed).to_rows(), dtype=np.uint32)

    out["rensa RMinHash, per record"] = rensa_r
    out["rensa CMinHash, per record"] = rensa_c
    out["rensa RMinHash.digest_matrix_from_token_byte_sets (batch)"] = rensa_r_batch
    return out


def estimate_error(fn, pairs: list[tuple[list[bytes], list[bytes]]]) -> float:
    """Mean absolute error of the signature-agreement estimate against exact Jaccard."""
    sigs_a = fn([a for a, _ in pairs])
    sigs_b = fn([b for _, b in pairs])
    errors = []
    for (a, b), sa, sb in zip(pairs, sigs_a, sigs_b, strict=True):
        exact = len(set(a) & set(b)) / len(set(a) | set(b))
        errors.append(abs(float(np.mean(np.asarray(sa) == np.asarray(sb))) - exact))
    return float(np.mean(errors))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=700)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"error: no shared data at {args.data}; pass --data DIR", file=sys.stderr)
        return 2
    config = DedupConfig()
    hasher = MinHasher(config.num_perm, config.seed)
    records = speed_records(args.data, args.records)
    lists = [_union_shingles(r, config) for r in records]
    # planted near-duplicates: each record against a copy with ~15 % of its words changed
    rng = random.Random(3)
    vocabulary = sorted({w for r in records for w in dedup_text(r).split()})
    pairs = [(s, _union_shingles(dict(r, response=plant(r["response"], 0.15, vocabulary, rng)),
                                 config)) for r, s in zip(records[:300], lists, strict=False)]
    runs = engines(config, hasher)
    best_cpu = dict.fromkeys(runs, float("inf"))
    best_wall = dict.fromkeys(runs, float("inf"))
    for _ in range(args.repeats):
        for name, fn in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn(lists)
            best_wall[name] = min(best_wall[name], time.perf_counter() - wall)
            best_cpu[name] = min(best_cpu[name], time.process_time() - cpu)
    base = best_cpu["datasketch MinHash.bulk"]
    rows = [{"engine": name, "records_per_cpu_s": len(lists) / best_cpu[name],
             "records_per_s_wall": len(lists) / best_wall[name],
             "x_datasketch_cpu": base / best_cpu[name],
             "mean_abs_error_vs_exact_jaccard": estimate_error(fn, pairs)}
            for name, fn in runs.items()]
    print(f"{len(lists)} records, {np.mean([len(s) for s in lists]):.0f} shingles each; "
          f"best of {args.repeats}; load {os.getloadavg()[0]:.1f}")
    print(f"{'engine':<62} {'rec/CPU-s':>10} {'x datasketch':>12} {'|est-exact|':>11}")
    for row in rows:
        print(f"{row['engine']:<62} {row['records_per_cpu_s']:>10.0f} "
              f"{row['x_datasketch_cpu']:>11.2f}x {row['mean_abs_error_vs_exact_jaccard']:>11.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "minhash_rensa", "records": len(lists),
                                    "rows": rows, "load_avg": os.getloadavg()}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
