"""Does the near-dedup stage's connected components settle? The stage's own graph functions
(``pipelines.dedup.graph``, driven in memory by ``bench/dedup_core.components``, as
``bench/dedup.py`` drives them) on graphs whose components are known: chains and random trees
of n near-duplicates, every edge verified.

    PYTHONPATH=$PWD .venv/bin/python bench/cc_convergence.py [--sizes 16,64,256,1024]
                                     [--rounds 6,12] [--out bench/out/cc_convergence.json]

Each graph is one component, so a converged run keeps exactly one record (the best-ranked) and
drops the n - 1 others as its duplicates. Printed per shape, size and rounds: the records kept,
how many duplicates point at a record other than the component's best (a kept one: the
component was split), and how many point at a record that was itself dropped (never, by the
resolution rule). Shapes: ``chain-ranked`` (a chain whose
nodes are in rank order along it), ``chain-random`` (the same chain, ranks shuffled),
``tree-random`` (each node joined to a random earlier one).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dedup_core import components  # noqa: E402
from pipelines.dedup.graph import TODAY  # noqa: E402

OUT = REPO / "bench" / "out" / "cc_convergence.json"
SHAPES = ("chain-ranked", "chain-random", "tree-random")


def _node(rank: int) -> tuple:
    return (TODAY, 0, rank, f"e{rank:07d}", 1)  # as graph.today_node: smaller ranks first


def edges_of(shape: str, n: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    if shape == "tree-random":
        return [(_node(i), _node(rng.randrange(i)), 0.9) for i in range(1, n)]
    order = list(range(n))
    if shape == "chain-random":
        rng.shuffle(order)
    return [(_node(order[i]), _node(order[i + 1]), 0.9) for i in range(n - 1)]


def measure(shape: str, n: int, rounds: int, seed: int) -> dict:
    unresolved = []
    duplicate_of = components(edges_of(shape, n, seed), rounds, unresolved)
    best = _node(0)[3]
    return {"shape": shape, "n": n, "rounds": rounds, "kept": n - len(duplicate_of),
            "unresolved": unresolved[0],
            "dropped": len(duplicate_of),
            "not_to_best": sum(1 for target in duplicate_of.values() if target != best),
            "to_dropped": sum(1 for target in duplicate_of.values() if target in duplicate_of),
            "converged": len(duplicate_of) == n - 1
            and all(target == best for target in duplicate_of.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,64,256,1024,10000")
    parser.add_argument("--rounds", default="4,6,8,12")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    results = [measure(shape, int(n), int(r), args.seed) for shape in SHAPES
               for n in args.sizes.split(",") for r in args.rounds.split(",")]
    print(f"{'shape':<13} {'n':>5} {'rounds':>6} {'kept':>5} {'dropped':>7} "
          f"{'to another':>10} {'to a dropped':>12} {'unresolved':>10}  converged (keeps 1)")
    for r in results:
        print(f"{r['shape']:<13} {r['n']:>5} {r['rounds']:>6} {r['kept']:>5} {r['dropped']:>7} "
              f"{r['not_to_best']:>10} {r['to_dropped']:>12} {r['unresolved']:>10}  "
              f"{'yes' if r['converged'] else 'NO'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "cc_convergence", "seed": args.seed,
                                    "results": results}) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
