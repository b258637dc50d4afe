"""Benchmark of pipelines/dedup/: LSH S-curve, quality within a day and across days, the
preference signal on real ranked siblings, the quality filter on best-ranked human replies,
speed and scaling.

Prints tables and writes bench/out/dedup.json. Real text comes from ../shared/data (see its
README.md): Arena-Hard prompts, OpenAssistant trees (prompt/reply pairs and ranked sibling
replies), Anthropic HH last turns, and the graded Clough & Stevenson plagiarism corpus.

Quality: planted near-duplicates at a range of edit levels (so some fall below the threshold) are
mixed with the real records; the ground truth is the exact word-shingle Jaccard of every pair
(sparse matrix products over the shingle strings, independent of our hashes) under the stage's
rule (exchange and response both >= threshold), and the truth's clusters are its connected
components with the same representative rule. Predictions come from the same functions the
Beam DoFns call, driven in memory (bench/dedup_core.py), and from the real Beam transforms on
the FnApiRunner, which must agree. Cross-day: the real records are day 1, the planted copies day
2, checked against day 1's index rows after a Parquet round trip with the dedup_index schema.

Speed: the whole core stage against datasketch's MinHash.bulk computing signatures alone for
the same shingles, and the core stage at N and 8N records. Run it with
OMP/MKL/OPENBLAS_NUM_THREADS=1 so that both sides use one core.

Usage: OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/dedup.py
       [--quick] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dedup_core as core  # noqa: E402  (bench/ is on sys.path when run as a script)

from pipelines.dedup import DedupConfig  # noqa: E402
from pipelines.dedup.minhash import MinHasher, estimated_jaccard, exact_jaccard  # noqa: E402
from pipelines.dedup.text import dedup_text, exchange_shingles  # noqa: E402
from pipelines.quality import FilterConfig, judge  # noqa: E402

OUT = REPO / "bench" / "out" / "dedup.json"
EDIT_LEVELS = (0.0, 0.02, 0.05, 0.08, 0.12, 0.16, 0.2, 0.3, 0.45)


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


def quality_records(data: Path, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    base = [("", p) for p in core.arena_prompts(data)] + core.oasst_pairs(data)
    records = [core.record(f"r{i:05d}", p, r, i) for i, (p, r) in enumerate(base)]
    vocabulary = sorted({w for _, r in base for w in r.split()})
    chosen = rng.sample(range(len(base)), len(base) // 2)
    for k, i in enumerate(chosen):
        level = EDIT_LEVELS[k % len(EDIT_LEVELS)]
        prompt, response = base[i]
        records.append(core.record(f"p{k:05d}", prompt, plant(response, level, vocabulary, rng),
                                   len(records)))
    return records


def speed_records(data: Path, n: int, seed: int = 5) -> list[dict]:
    """The first n of a fixed shuffle of every real prompt/response pair (no resampling: reused
    text would make the workload itself superlinear)."""
    pool = [("", p) for p in core.arena_prompts(data)] + core.oasst_pairs(data) + core.hh_pairs(data)
    random.Random(seed).shuffle(pool)
    if n > len(pool):
        raise ValueError(f"{n} records asked, the real-text pool holds {len(pool)}")
    return [core.record(f"s{i:07d}", p, r, i) for i, (p, r) in enumerate(pool[:n])]


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


def _scores(config, hasher, records, past_rows=(), past_records=()):
    """Edge and record precision/recall of one in-memory run against the exact truth."""
    exact_dropped, near_dropped, edges, candidates, index = core.dedup_core(
        records, config, hasher, past_rows)
    exact_gone = {e for e, _ in exact_dropped}
    everything = list(past_records) + records
    past_ids = {r["event_id"] for r in past_records}
    truth = core.truth_pairs(everything, config)
    # pairs inside exact groups are not near-verified (one side is gone), nor past-past pairs
    truth_near = {p for p in truth if not (set(p) & exact_gone) and not set(p) <= past_ids}
    edge_p, edge_r = core.precision_recall(core.node_pairs(edges), truth_near)
    dropped = exact_gone | set(near_dropped)
    truth_drop = core.truth_dropped(everything, truth, past_ids)
    record_p, record_r = core.precision_recall(dropped, truth_drop)
    return {"records": len(records), "past_records": len(past_records),
            "truth_pairs": len(truth_near), "candidate_pairs": len(candidates),
            "verified_pairs": len(edges), "edge_precision": edge_p, "edge_recall": edge_r,
            "record_precision": record_p, "record_recall": record_r,
            "truth_dropped": len(truth_drop), "dropped": len(dropped)}, dropped, index, candidates


def quality(config: DedupConfig, hasher: MinHasher, data: Path, beam_check: bool) -> dict:
    records = quality_records(data)
    within, dropped, _, _ = _scores(config, hasher, records)
    day1 = [r for r in records if r["event_id"].startswith("r")]
    day2 = [r for r in records if r["event_id"].startswith("p")]
    # day 1 alone, then day 2 against day 1's index rows after a Parquet round trip
    _, day1_dropped, day1_index, _ = _scores(config, hasher, day1)
    past_rows = parquet_round_trip(day1_index)
    kept1 = [r for r in day1 if r["event_id"] not in day1_dropped]
    cross, cross_dropped, _, candidates = _scores(config, hasher, day2, past_rows, kept1)
    # what the cross-day path measured before the index kept hashes: the MinHash estimate
    sketch = {row["event_id"]: row["signature"] for row in past_rows}
    _, _, _, sketches, _ = core.near_core(day2, config, hasher, past_rows)
    sketch.update({node[3]: sk[0] for node, sk in sketches.items()})
    estimated = {tuple(sorted((a[3], b[3]))) for a, b in candidates
                 if estimated_jaccard(sketch[a[3]], sketch[b[3]]) >= config.threshold}
    truth = core.truth_pairs(kept1 + day2, config)
    kept1_ids = {r["event_id"] for r in kept1}
    est_p, est_r = core.precision_recall(estimated, {p for p in truth if not set(p) <= kept1_ids})
    cross["estimate_verify_edge_precision"], cross["estimate_verify_edge_recall"] = est_p, est_r
    levels = defaultdict(lambda: [0, 0])
    for k in range(len(day2)):
        level = EDIT_LEVELS[k % len(EDIT_LEVELS)]
        levels[level][0] += 1
        levels[level][1] += f"p{k:05d}" in dropped
    result = {"within_day": within, "cross_day": cross, "planted": len(day2),
              "dropped_fraction_by_edit_level": {str(k): v[1] / v[0]
                                                 for k, v in sorted(levels.items())}}
    if beam_check:
        result["beam"] = beam_quality(records, past_rows, day2, config, dropped, cross_dropped)
    return result


def parquet_round_trip(rows: list[dict]) -> list[dict]:
    """Index rows as the next day reads them: written and read back with the DEDUP_INDEX schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.dedup import INDEX_COLUMNS
    from warehouse.schemas import DEDUP_INDEX

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=DEDUP_INDEX), sink)
    sink.seek(0)
    return pq.read_table(sink, columns=list(INDEX_COLUMNS)).to_pylist()


def _beam_dropped(records, config, past_rows=None) -> tuple[set, float]:
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from pipelines.dedup import DedupExact, DedupNearDuplicates

    with tempfile.TemporaryDirectory() as tmp:
        prefix = str(Path(tmp) / "dropped")
        start = time.perf_counter()
        with beam.Pipeline(runner=FnApiRunner()) as p:
            past = None if past_rows is None else p | "Past" >> beam.Create(past_rows)
            exact = p | beam.Create(records) | DedupExact(config)
            near = exact["kept"] | DedupNearDuplicates(config, past)
            ((exact["rejects"], near["rejects"]) | beam.Flatten()
             | beam.Map(lambda d: d["event_id"]) | beam.io.WriteToText(prefix))
        seconds = time.perf_counter() - start
        dropped = {line.strip() for path in Path(tmp).glob("dropped*")
                   for line in path.read_text().splitlines()}
    return dropped, seconds


def beam_quality(records, past_rows, day2, config, core_dropped, core_cross_dropped) -> dict:
    """The real transforms on the FnApiRunner: one day, and day 2 against day 1's index."""
    dropped, seconds = _beam_dropped(records, config)
    cross_dropped, _ = _beam_dropped(day2, config, past_rows)
    return {"same_as_core": dropped == core_dropped,
            "cross_day_same_as_core": cross_dropped == core_cross_dropped,
            "seconds": seconds, "records_per_s": len(records) / seconds}


def siblings(config: DedupConfig, hasher: MinHasher, data: Path) -> dict:
    """Ranked human sibling replies of OpenAssistant: how many survive dedup, and re-posts of
    the same exchanges (verbatim, and with the prompt lightly edited) must still be caught."""
    groups = core.oasst_ranked_siblings(data)
    flat = [(g, prompt, reply) for g, (prompt, replies) in enumerate(groups) for reply in replies]
    records = [core.record(reply["message_id"], prompt, reply["text"], minute, rank=reply["rank"],
                           group=g) for minute, (g, prompt, reply) in enumerate(flat)]
    # "distinct": no sibling reply is a near-duplicate of it by the reply text alone
    same_reply = core.truth_pairs(records, config, responses_only=True)
    group_of = {r["event_id"]: r["group"] for r in records}
    near_sibling = {e for pair in same_reply if group_of[pair[0]] == group_of[pair[1]]
                    for e in pair}
    distinct = {r["event_id"] for r in records} - near_sibling
    exact_dropped, near_dropped, _, _, _ = core.dedup_core(records, config, hasher)
    gone = {e for e, _ in exact_dropped} | set(near_dropped)
    # the rule before this fix (exchange Jaccard alone), from the exact truth
    old_gone = core.truth_dropped(records, core.truth_pairs(records, config, responses_too=False))
    reposts = []
    for r in records:
        later = r["ts"] + (records[-1]["ts"] - records[0]["ts"])
        reposts.append({**r, "event_id": f"{r['event_id']}-repost", "ts": later})
        reposts.append({**r, "event_id": f"{r['event_id']}-edited", "ts": later,
                        "prompt": "Hi, " + r["prompt"] + " thanks"})
    ex, near, _, _, _ = core.dedup_core(records + reposts, config, hasher)
    repost_gone = {e for e, _ in ex} | set(near)
    n = len(records)
    return {
        "groups": len(groups), "ranked_replies": n,
        "near_duplicate_of_a_sibling_by_reply": len(near_sibling), "distinct_replies": len(distinct),
        "survive_all": 1 - len(gone) / n,
        "survive_distinct": 1 - len(gone & distinct) / len(distinct),
        "old_rule_survive_all": 1 - len(old_gone) / n,
        "old_rule_survive_distinct": 1 - len(old_gone & distinct) / len(distinct),
        "reposts": len(reposts),
        "reposts_caught": sum(r["event_id"] in repost_gone for r in reposts) / len(reposts),
        "originals_kept_with_reposts": 1 - len(repost_gone & {r["event_id"] for r in records})
        / n,
    }


def quality_filter(data: Path) -> dict:
    """pipelines.quality on every ranked human sibling reply of OpenAssistant."""
    config = FilterConfig()
    dropped, dropped_best = Counter(), Counter()
    groups = core.oasst_ranked_siblings(data)
    replies = [(prompt, reply) for prompt, group in groups for reply in group]
    for prompt, reply in replies:
        keep, reason, _ = judge({"prompt": prompt, "response": reply["text"]}, config)
        if not keep:
            dropped[reason] += 1
            dropped_best[reason] += reply["rank"] == 0
    best = sum(reply["rank"] == 0 for _, reply in replies)
    return {"ranked_replies": len(replies), "best_ranked": best,
            "dropped_fraction": sum(dropped.values()) / len(replies),
            "best_dropped_fraction": sum(dropped_best.values()) / best,
            "dropped_by_reason": dict(dropped), "best_dropped_by_reason": dict(+dropped_best)}


def clough(config: DedupConfig, hasher: MinHasher, data: Path) -> dict:
    folder = data / "clough_plagiarism"
    records, grade_of, task_of = [], {}, {}
    for task in "abcde":
        text = (folder / f"orig_task{task}.txt").read_text(errors="replace")
        records.append(core.record(f"orig_{task}", "", text, len(records)))
    with open(folder / "file_information.csv") as handle:
        for row in csv.DictReader(handle):
            text = (folder / row["File"]).read_text(errors="replace")
            if row["Category"] not in ("cut", "light", "heavy", "non"):
                continue  # the sources themselves are listed too
            event_id = row["File"].removesuffix(".txt")
            records.append(core.record(event_id, "", text, len(records)))
            grade_of[event_id], task_of[event_id] = row["Category"], row["Task"]
    _, near_dropped, _, _, _ = core.dedup_core(records, config, hasher)
    _, hashes = hasher.sketch([_union_shingles(r, config) for r in records])
    encoded = {r["event_id"]: h.astype("<u4").tobytes() for r, h in zip(records, hashes,
                                                                        strict=True)}
    label = {r["event_id"]: near_dropped.get(r["event_id"], r["event_id"]) for r in records}
    per_grade = defaultdict(lambda: {"answers": 0, "caught": 0, "jaccard": []})
    for event_id, grade in grade_of.items():
        source = f"orig_{task_of[event_id]}"
        stats = per_grade[grade]
        stats["answers"] += 1
        stats["caught"] += label[event_id] == label[source]
        stats["jaccard"].append(exact_jaccard(encoded[event_id], encoded[source]))
    return {grade: {"answers": s["answers"], "caught_fraction": s["caught"] / s["answers"],
                    "median_jaccard_to_source": float(np.median(s["jaccard"])),
                    "max_jaccard_to_source": float(np.max(s["jaccard"]))}
            for grade, s in sorted(per_grade.items())}


def _union_shingles(record: dict, config: DedupConfig) -> list[bytes]:
    prompt, response = exchange_shingles(dedup_text(record), config.shingle)
    return list(dict.fromkeys(prompt + response))


def speed(config: DedupConfig, hasher: MinHasher, data: Path, n: int, repeats: int) -> dict:
    from datasketch import MinHash

    large = speed_records(data, 8 * n)
    small = large[:n]
    shingle_lists = [_union_shingles(r, config) for r in small]
    runs = {"datasketch": lambda: MinHash.bulk(shingle_lists, num_perm=config.num_perm,
                                               seed=config.seed),
            "signatures": lambda: hasher.sketch(shingle_lists),
            "core": lambda: core.dedup_core(small, config, hasher),
            "core_8x": lambda: core.dedup_core(large, config, hasher)}
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
        "shingle_ratio_8x": sum(len(_union_shingles(r, config)) for r in large)
        / sum(len(s) for s in shingle_lists),
    }


def _print_rows(title: str, rows: list[tuple[str, object]]) -> None:
    print(f"\n{title}")
    for key, value in rows:
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"  {key:<52} {shown:>10}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller speed run, no Beam run")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data",
                        help="the shared real-data folder (default: ../shared/data)")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"error: real data folder {args.data} is absent (see its README.md); "
              "pass --data", file=sys.stderr)
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

    q = quality(config, hasher, args.data, beam_check=not args.quick)
    within, cross = q["within_day"], q["cross_day"]
    print(f"\nQuality on real text: within one day ({within['records']} records) and across days"
          f" (day 2: the {q['planted']} planted copies against day 1's index of "
          f"{cross['past_records']} kept records)")
    print(f"  {'measure':<40} {'within day':>11} {'cross day':>11}")
    for key in ("truth_pairs", "candidate_pairs", "verified_pairs", "edge_precision",
                "edge_recall", "record_precision", "record_recall", "truth_dropped", "dropped"):
        print(f"  {key:<40} {within[key]:>11.4g} {cross[key]:>11.4g}")
    print(f"  {'cross day verified by MinHash estimate (old)':<40} {'':>11} "
          f"{cross['estimate_verify_edge_precision']:.3f} / "
          f"{cross['estimate_verify_edge_recall']:.3f}")
    for level, fraction in q["dropped_fraction_by_edit_level"].items():
        print(f"  {'planted dropped, edit level ' + level:<40} {fraction:>11.3f}")
    if "beam" in q:
        _print_rows("Beam transforms on the FnApiRunner", list(q["beam"].items()))

    sib = siblings(config, hasher, args.data)
    _print_rows("OpenAssistant ranked sibling replies through dedup (target: >= 0.99 of distinct"
                " survive; re-posts caught)", list(sib.items()))
    qf = quality_filter(args.data)
    _print_rows("Quality filter on the same replies (target: <= 0.01 of rank-0 dropped)",
                list(qf.items()))

    c = clough(config, hasher, args.data)
    print("\nClough & Stevenson: answers caught as near-duplicates of their source")
    print(f"{'grade':<8} {'answers':>8} {'caught':>8} {'median J':>9} {'max J':>7}")
    for grade, stats in c.items():
        print(f"{grade:<8} {stats['answers']:>8} {stats['caught_fraction']:>8.2f} "
              f"{stats['median_jaccard_to_source']:>9.3f} {stats['max_jaccard_to_source']:>7.3f}")

    n = 300 if args.quick else 700
    s = speed(config, hasher, args.data, n, repeats=2 if args.quick else 5)
    _print_rows(f"Speed ({n} records, {s['mean_shingles']:.0f} shingles each; best of repeats; "
                "cpu_ rows: process CPU time instead of wall time)", list(s.items()))

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"config": config.__dict__, "s_curve": curve, "quality": q,
                               "siblings": sib, "quality_filter": qf, "clough": c, "speed": s},
                              indent=2))
    print(f"\nwrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
