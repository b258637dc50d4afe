"""Benchmark of pipelines/dedup.py: LSH S-curve, quality on real text, speed and scaling.

Prints tables and writes bench/out/dedup.json. Real text comes from ../shared/data (see its
README.md): Arena-Hard prompts, OpenAssistant prompt/reply pairs, Anthropic HH last turns, and
the graded Clough & Stevenson plagiarism corpus.

Quality: planted near-duplicates at a range of edit levels (so some fall below the threshold) are
mixed with the real records; the ground truth is the exact word-shingle Jaccard of every pair
(a sparse matrix product over the shingle strings, independent of our hashes), and the truth's
clusters are its connected components with the same representative rule. Predictions come from
the same functions the Beam DoFns call, driven in memory (dict grouping in place of shuffles),
and from the real Beam transforms on the FnApiRunner, which must agree.

Speed: the whole core stage (normalize once, shingle, exact grouping, MinHash, bands, bucket
pairs, verification, connected components) against datasketch's MinHash.bulk computing signatures
alone for the same shingles; and the same core stage at N and 8N records (with the 8N set's
shingle count relative to N's, since its records are not the same length on average). Run it
with OMP/MKL/OPENBLAS_NUM_THREADS=1 so that both sides use one core.

Usage: OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/dedup.py [--quick]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines import dedup  # noqa: E402
from pipelines.dedup import (  # noqa: E402
    DedupConfig,
    MinHasher,
    bucket_pairs,
    dedup_text,
    exact_rank,
    pair_similarity,
    shingles,
    sketch_records,
    strip_carried,
    with_dedup_text,
)

DATA = REPO.parent / "shared" / "data"
OUT = REPO / "bench" / "out" / "dedup.json"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
EDIT_LEVELS = (0.0, 0.02, 0.05, 0.08, 0.12, 0.16, 0.2, 0.3, 0.45)


# ---------------------------------------------------------------------------------------------
# Real text.


def _record(event_id: str, prompt: str, response: str, minute: int) -> dict:
    return {"event_id": event_id, "user_pseudonym": f"u{minute % 50}", "prompt": prompt,
            "response": response, "ts": T0 + timedelta(minutes=minute), "n_feedback": 0}


def arena_prompts() -> list[str]:
    path = DATA / "arena_hard_v0.1_question.jsonl"
    return [json.loads(line)["prompt"] for line in path.read_text().splitlines() if line.strip()]


def oasst_pairs() -> list[tuple[str, str]]:
    pairs = []
    for line in (DATA / "oasst_en_100_tree.jsonl").read_text().splitlines():
        stack = [json.loads(line)["prompt"]]
        while stack:
            message = stack.pop()
            for reply in message.get("replies", []):
                stack.append(reply)
                if (message["role"] == "prompter" and reply["role"] == "assistant"
                        and not reply.get("synthetic") and not message.get("synthetic")):
                    pairs.append((message["text"], reply["text"]))
    return pairs


def hh_pairs() -> list[tuple[str, str]]:
    pairs = []
    with gzip.open(DATA / "hh_rlhf_harmless_base_test.jsonl.gz", "rt") as handle:
        for line in handle:
            for transcript in json.loads(line).values():
                human, _, assistant = transcript.rpartition("\n\nAssistant:")
                pairs.append((human.rpartition("\n\nHuman:")[2].strip(), assistant.strip()))
    return pairs


def plant(text: str, level: float, vocabulary: list[str], rng: random.Random) -> str:
    """Edit about ``level`` of the words: substitutions, deletions, insertions, swaps."""
    words = text.split()
    for _ in range(round(level * len(words))):
        if len(words) < 3:
            break
        op, i = rng.random(), rng.randrange(len(words))
        if op < 0.5:
            words[i] = rng.choice(vocabulary)
        elif op < 0.7:
            del words[i]
        elif op < 0.9:
            words.insert(i, rng.choice(vocabulary))
        else:
            j = min(i + 1, len(words) - 1)
            words[i], words[j] = words[j], words[i]
    return " ".join(words)


def quality_records(seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    base = [("", p) for p in arena_prompts()] + oasst_pairs()
    records = [_record(f"r{i:05d}", p, r, i) for i, (p, r) in enumerate(base)]
    vocabulary = sorted({w for _, r in base for w in r.split()})
    chosen = rng.sample(range(len(base)), len(base) // 2)
    for k, i in enumerate(chosen):
        level = EDIT_LEVELS[k % len(EDIT_LEVELS)]
        prompt, response = base[i]
        records.append(_record(f"p{k:05d}", prompt, plant(response, level, vocabulary, rng),
                               len(records)))
    return records


def speed_records(n: int, seed: int = 5) -> list[dict]:
    """The first n of a fixed shuffle of every real prompt/response pair (no resampling: reused
    text would make the workload itself superlinear)."""
    pool = [("", p) for p in arena_prompts()] + oasst_pairs() + hh_pairs()
    random.Random(seed).shuffle(pool)
    if n > len(pool):
        raise ValueError(f"{n} records asked, the real-text pool holds {len(pool)}")
    return [_record(f"s{i:07d}", p, r, i) for i, (p, r) in enumerate(pool[:n])]


# ---------------------------------------------------------------------------------------------
# The core stage in memory: the DoFns' own functions, dict grouping in place of shuffles.


def _group(pairs):
    grouped = defaultdict(list)
    for key, value in pairs:
        grouped[key].append(value)
    return grouped.items()


def exact_core(records):
    kept, dropped = [], []
    for _, group in _group(map(with_dedup_text, records)):
        best = min(group, key=exact_rank)
        kept.append({**best, "dedup_cluster_id": best["event_id"],
                     "dedup_cluster_size": len(group)})
        # _PickExactRepresentative emits duplicates without the carried text
        dropped.extend((strip_carried(r)["event_id"], best["event_id"])
                       for r in group if r is not best)
    return kept, dropped


def near_core(records, config: DedupConfig, hasher: MinHasher):
    """Returns (dropped {event_id: duplicate_of}, verified edges, candidate pairs, sketches)."""
    sketch_by_node, band_entries = {}, []
    for start in range(0, len(records), config.sketch_batch):
        batch = records[start:start + config.sketch_batch]
        for _, node, sig, hashes, keys in sketch_records(batch, config, hasher):
            sketch_by_node[node] = (sig, hashes)
            band_entries.extend((key, node) for key in keys)
    # the shuffle's stand-in: one numpy sort of the band keys finds the buckets of 2+ members
    keys = np.array([key for key, _ in band_entries], dtype=f"S{2 + 4 * config.rows}")
    _, bucket_of, sizes = np.unique(keys, return_inverse=True, return_counts=True)
    shared = np.flatnonzero(sizes[bucket_of] > 1)
    candidates = set()
    for _, members in _group((bucket_of[i], band_entries[i][1]) for i in shared):
        candidates.update(bucket_pairs(members, config.bucket_all_pairs_max,
                                       config.bucket_anchors)[0])
    edges = []
    for a, b in candidates:
        similarity = pair_similarity(sketch_by_node[a], sketch_by_node[b])
        if similarity >= config.threshold:
            edges.append((a, b, similarity))
    messages = [m for kv in _group(
        pair for a, b, s in edges for pair in ((a, (b, s)), (b, (a, s))))
        for m in dedup._initial_messages(kv)]
    for _ in range(config.cc_rounds):
        messages = [m for kv in _group(messages) for m in dedup._update_label(kv)]
        messages = [m for kv in _group(messages) for m in dedup._answer_asks(kv)]
    messages = [m for kv in _group(messages) for m in dedup._update_label(kv)
                if m[1][0] != "label"]
    messages = [m for kv in _group(messages) for m in dedup._resolve_roots(kv)]
    assign = dedup._AssignClusters()
    fates = [f for kv in _group(messages) for f in assign.process(kv)]
    dropped = {event_id: fate[1] for event_id, fate in fates if fate[0] == "duplicate"}
    # KeyById: every record leaves the near stage without the carried text
    _ = [strip_carried(record) for record in records]
    return dropped, edges, candidates, sketch_by_node


def dedup_core(records, config, hasher):
    kept, exact_dropped = exact_core(records)
    near_dropped, edges, candidates, _ = near_core(kept, config, hasher)
    return exact_dropped, near_dropped, edges, candidates


# ---------------------------------------------------------------------------------------------
# Ground truth.


def truth_pairs(records, config: DedupConfig) -> dict[tuple[str, str], float]:
    """Every pair with exact shingle Jaccard >= threshold (shingle strings, no hashing)."""
    from scipy import sparse

    vocab, rows, cols = {}, [], []
    for i, record in enumerate(records):
        for s in shingles(dedup_text(record), config.shingle):
            rows.append(i)
            cols.append(vocab.setdefault(s, len(vocab)))
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)),
                               shape=(len(records), len(vocab)))
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    common = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    jaccard = common.data / (sizes[common.row] + sizes[common.col] - common.data)
    keep = jaccard >= config.threshold
    ids = [r["event_id"] for r in records]
    return {tuple(sorted((ids[i], ids[j]))): float(s)
            for i, j, s in zip(common.row[keep], common.col[keep], jaccard[keep], strict=True)}


def truth_dropped(records, pairs) -> set[str]:
    parent = {r["event_id"]: r["event_id"] for r in records}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    by_id = {r["event_id"]: r for r in records}
    clusters = _group((find(e), e) for e in parent)
    return {e for _, members in clusters
            for e in sorted(members, key=lambda e: exact_rank(by_id[e]))[1:]}


def precision_recall(predicted: set, truth: set) -> tuple[float, float]:
    hits = len(predicted & truth)
    return hits / max(1, len(predicted)), hits / max(1, len(truth))


# ---------------------------------------------------------------------------------------------
# Sections.


def s_curve(config: DedupConfig) -> list[dict]:
    b, r, t = config.bands, config.rows, config.threshold
    table = []
    for s in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.0):
        p = 1 - (1 - s ** r) ** b
        table.append({"similarity": s, "p_candidate": p,
                      "error": ("false_positive_candidate" if s < t else "false_negative"),
                      "p_error": p if s < t else 1 - p})
    return table


def quality(config: DedupConfig, hasher: MinHasher, beam_check: bool) -> dict:
    records = quality_records()
    truth = truth_pairs(records, config)
    exact_dropped, near_dropped, edges, candidates = dedup_core(records, config, hasher)
    predicted_edges = {tuple(sorted((a[3], b[3]))) for a, b, _ in edges}
    # Pairs inside exact groups are not near-verified (one side is gone): score near edges on
    # the records that reached the near stage.
    exact_gone = {e for e, _ in exact_dropped}
    truth_near = {p for p in truth if not (set(p) & exact_gone)}
    edge_p, edge_r = precision_recall(predicted_edges, truth_near)
    dropped = exact_gone | set(near_dropped)
    truth_drop = truth_dropped(records, truth)
    record_p, record_r = precision_recall(dropped, truth_drop)
    # the cross-day path verifies by the MinHash estimate: score that on the same candidates
    _, _, _, sketches = near_core([r for r in records if r["event_id"] not in exact_gone],
                                  config, hasher)
    by_id = {node[3]: sk for node, sk in sketches.items()}
    estimated = {tuple(sorted((a[3], b[3]))) for a, b in candidates
                 if dedup.estimated_jaccard(by_id[a[3]][0], by_id[b[3]][0]) >= config.threshold}
    est_p, est_r = precision_recall(estimated, truth_near)
    levels = defaultdict(lambda: [0, 0])
    base_count = sum(1 for r in records if r["event_id"].startswith("r"))
    for k in range(len(records) - base_count):
        level = EDIT_LEVELS[k % len(EDIT_LEVELS)]
        levels[level][0] += 1
        levels[level][1] += f"p{k:05d}" in dropped
    result = {
        "records": len(records), "planted": len(records) - base_count,
        "truth_pairs": len(truth_near), "candidate_pairs": len(candidates),
        "verified_pairs": len(predicted_edges),
        "edge_precision": edge_p, "edge_recall": edge_r,
        "record_precision": record_p, "record_recall": record_r,
        "truth_dropped": len(truth_drop), "dropped": len(dropped),
        "estimate_verify_edge_precision": est_p, "estimate_verify_edge_recall": est_r,
        "dropped_fraction_by_edit_level": {str(k): v[1] / v[0] for k, v in sorted(levels.items())},
    }
    if beam_check:
        result["beam"] = beam_quality(records, config, truth_drop, dropped)
    return result


def beam_quality(records, config, truth_drop, core_dropped) -> dict:
    """The real transforms on the FnApiRunner; outputs written to a temp file to compare."""
    import tempfile

    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from pipelines.dedup import DedupExact, DedupNearDuplicates

    with tempfile.TemporaryDirectory() as tmp:
        prefix = str(Path(tmp) / "dropped")
        start = time.perf_counter()
        with beam.Pipeline(runner=FnApiRunner()) as p:
            exact = p | beam.Create(records) | DedupExact(config)
            near = exact["kept"] | DedupNearDuplicates(config)
            ((exact["duplicates"], near["duplicates"]) | beam.Flatten()
             | beam.Map(lambda d: d["record"]["event_id"])
             | beam.io.WriteToText(prefix))
        seconds = time.perf_counter() - start
        dropped = {line.strip() for path in Path(tmp).glob("dropped*")
                   for line in path.read_text().splitlines()}
    precision, recall = precision_recall(dropped, truth_drop)
    return {"record_precision": precision, "record_recall": recall,
            "same_as_core": dropped == core_dropped, "seconds": seconds,
            "records_per_s": len(records) / seconds}


def clough(config: DedupConfig, hasher: MinHasher) -> dict:
    folder = DATA / "clough_plagiarism"
    records, grade_of, task_of = [], {}, {}
    for task in "abcde":
        text = (folder / f"orig_task{task}.txt").read_text(errors="replace")
        records.append(_record(f"orig_{task}", "", text, len(records)))
    with open(folder / "file_information.csv") as handle:
        for row in csv.DictReader(handle):
            text = (folder / row["File"]).read_text(errors="replace")
            if row["Category"] not in ("cut", "light", "heavy", "non"):
                continue  # the sources themselves are listed too
            event_id = row["File"].removesuffix(".txt")
            records.append(_record(event_id, "", text, len(records)))
            grade_of[event_id], task_of[event_id] = row["Category"], row["Task"]
    _, near_dropped, _, _ = dedup_core(records, config, hasher)
    _, hashes = hasher.sketch([shingles(dedup_text(r), config.shingle) for r in records])
    encoded = {r["event_id"]: h.astype("<u4").tobytes() for r, h in zip(records, hashes,
                                                                        strict=True)}
    label = {r["event_id"]: near_dropped.get(r["event_id"], r["event_id"]) for r in records}
    per_grade = defaultdict(lambda: {"answers": 0, "caught": 0, "jaccard": []})
    for event_id, grade in grade_of.items():
        source = f"orig_{task_of[event_id]}"
        stats = per_grade[grade]
        stats["answers"] += 1
        stats["caught"] += label[event_id] == label[source]
        stats["jaccard"].append(dedup.exact_jaccard(encoded[event_id], encoded[source]))
    return {grade: {"answers": s["answers"], "caught_fraction": s["caught"] / s["answers"],
                    "median_jaccard_to_source": float(np.median(s["jaccard"])),
                    "max_jaccard_to_source": float(np.max(s["jaccard"]))}
            for grade, s in sorted(per_grade.items())}


def speed(config: DedupConfig, hasher: MinHasher, n: int, repeats: int) -> dict:
    from datasketch import MinHash

    large = speed_records(8 * n)
    small = large[:n]
    shingle_lists = [shingles(dedup_text(r), config.shingle) for r in small]
    runs = {"datasketch": lambda: MinHash.bulk(shingle_lists, num_perm=config.num_perm,
                                               seed=config.seed),
            "signatures": lambda: hasher.sketch(shingle_lists),
            "core": lambda: dedup_core(small, config, hasher),
            "core_8x": lambda: dedup_core(large, config, hasher)}
    # interleaved and best-of: the 2-core box is shared, so take each one's least-disturbed run.
    # Wall time and CPU time (process_time) both: with one thread per side, CPU time is the
    # work done, and it is not inflated by waiting for a core the other engineers' jobs hold.
    best = dict.fromkeys(runs, float("inf"))
    best_cpu = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, fn in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
            best_cpu[name] = min(best_cpu[name], time.process_time() - start_cpu)
    datasketch_s, signatures_s, core_s, core_8x_s = (
        best["datasketch"], best["signatures"], best["core"], best["core_8x"])
    return {
        "records": n, "mean_shingles": float(np.mean([len(s) for s in shingle_lists])),
        "datasketch_bulk_records_per_s": n / datasketch_s,
        "our_signatures_records_per_s": n / signatures_s,
        "core_stage_records_per_s": n / core_s,
        "core_vs_datasketch_bulk": datasketch_s / core_s,
        "core_8x_records_per_s": 8 * n / core_8x_s,
        "time_ratio_8x": core_8x_s / core_s,
        # the 8x set is not 8x the work: its records are longer on average (a fixed shuffle
        # of real text); a stage linear in shingles scales by this ratio, not by 8
        "cpu_datasketch_bulk_records_per_s": n / best_cpu["datasketch"],
        "cpu_core_stage_records_per_s": n / best_cpu["core"],
        "cpu_core_vs_datasketch_bulk": best_cpu["datasketch"] / best_cpu["core"],
        "cpu_time_ratio_8x": best_cpu["core_8x"] / best_cpu["core"],
        "shingle_ratio_8x": sum(len(shingles(dedup_text(r), config.shingle)) for r in large)
        / sum(len(s) for s in shingle_lists),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller speed run, no Beam run")
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"error: real data folder {DATA} is absent (see its README.md)", file=sys.stderr)
        return 2
    config = DedupConfig()
    hasher = MinHasher(config.num_perm, config.seed)
    curve = s_curve(config)
    print(f"\nLSH S-curve, bands x rows = {config.bands} x {config.rows}, "
          f"threshold {config.threshold}")
    print(f"{'jaccard':>8} {'P(candidate)':>13} {'P(error)':>10}  error")
    for row in curve:
        print(f"{row['similarity']:>8.2f} {row['p_candidate']:>13.4f} {row['p_error']:>10.4f}"
              f"  {row['error']}")

    q = quality(config, hasher, beam_check=not args.quick)
    print(f"\nQuality on real text ({q['records']} records, {q['planted']} planted, "
          f"{q['truth_pairs']} true pairs >= {config.threshold})")
    print(f"{'measure':<44} {'value':>8}")
    for key in ("edge_precision", "edge_recall", "record_precision", "record_recall",
                "estimate_verify_edge_precision", "estimate_verify_edge_recall",
                "candidate_pairs", "verified_pairs"):
        print(f"{key:<44} {q[key]:>8.4g}")
    for level, fraction in q["dropped_fraction_by_edit_level"].items():
        print(f"{'planted dropped, edit level ' + level:<44} {fraction:>8.3f}")
    if "beam" in q:
        b = q["beam"]
        print(f"{'beam record_precision / recall':<44} {b['record_precision']:>.4f} / "
              f"{b['record_recall']:.4f}")
        print(f"{'beam output identical to core':<44} {b['same_as_core']!s:>8}")
        print(f"{'beam FnApiRunner records/s (2-core box)':<44} {b['records_per_s']:>8.0f}")

    c = clough(config, hasher)
    print("\nClough & Stevenson: answers caught as near-duplicates of their source")
    print(f"{'grade':<8} {'answers':>8} {'caught':>8} {'median J':>9} {'max J':>7}")
    for grade, s in c.items():
        print(f"{grade:<8} {s['answers']:>8} {s['caught_fraction']:>8.2f} "
              f"{s['median_jaccard_to_source']:>9.3f} {s['max_jaccard_to_source']:>7.3f}")

    n = 300 if args.quick else 700
    s = speed(config, hasher, n, repeats=2 if args.quick else 5)
    print(f"\nSpeed ({n} records, {s['mean_shingles']:.0f} shingles each; best of repeats;"
          " cpu_ rows: process CPU time instead of wall time)")
    print(f"{'measure':<44} {'value':>10}")
    for key in ("datasketch_bulk_records_per_s", "our_signatures_records_per_s",
                "core_stage_records_per_s", "core_vs_datasketch_bulk",
                "core_8x_records_per_s", "time_ratio_8x",
                "cpu_datasketch_bulk_records_per_s", "cpu_core_stage_records_per_s",
                "cpu_core_vs_datasketch_bulk", "cpu_time_ratio_8x", "shingle_ratio_8x"):
        print(f"{key:<44} {s[key]:>10.2f}")

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"config": config.__dict__, "s_curve": curve, "quality": q,
                               "clough": c, "speed": s}, indent=2))
    print(f"\nwrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
