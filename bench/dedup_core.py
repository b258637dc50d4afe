"""bench/dedup.py's helpers: the dedup stages' own functions driven in memory (dict grouping in
place of shuffles), the exact ground truth, and the real text of ../shared/data."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from pipelines.dedup import DedupConfig, graph
from pipelines.dedup.graph import EVENT_ID, exact_rank
from pipelines.dedup.minhash import MinHasher
from pipelines.dedup.sketch import index_row, pair_similarity, past_sketch, sketch_records
from pipelines.dedup.text import dedup_text, exchange_shingles, strip_carried, with_dedup_text

T0 = datetime(2026, 11, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Real text.


def record(event_id: str, prompt: str, response: str, minute: int, **extra) -> dict:
    return {"event_id": event_id, "user_pseudonym": f"u{minute % 50}", "prompt": prompt,
            "response": response, "ts": T0 + timedelta(minutes=minute), "n_feedback": 0, **extra}


def arena_prompts(data: Path) -> list[str]:
    path = data / "arena_hard_v0.1_question.jsonl"
    return [json.loads(line)["prompt"] for line in path.read_text().splitlines() if line.strip()]


def oasst_trees(data: Path) -> list[dict]:
    return [json.loads(line)["prompt"]
            for line in (data / "oasst_en_100_tree.jsonl").read_text().splitlines()]


def _human_messages(data: Path):
    """(message, its non-synthetic children) for every non-synthetic OASST message."""
    for root in oasst_trees(data):
        stack = [root]
        while stack:
            message = stack.pop()
            stack.extend(message.get("replies", []))
            if not message.get("synthetic"):
                yield message, [r for r in message.get("replies", []) if not r.get("synthetic")]


def oasst_pairs(data: Path) -> list[tuple[str, str]]:
    return [(message["text"], reply["text"]) for message, replies in _human_messages(data)
            if message["role"] == "prompter" for reply in replies if reply["role"] == "assistant"]


def oasst_ranked_siblings(data: Path) -> list[tuple[str, list[dict]]]:
    """(prompt, its human assistant replies that carry a rank) for prompts with 2+ of them."""
    groups = []
    for message, replies in _human_messages(data):
        ranked = [r for r in replies if r["role"] == "assistant" and r.get("rank") is not None]
        if message["role"] == "prompter" and len(ranked) >= 2:
            groups.append((message["text"], ranked))
    return groups


def hh_pairs(data: Path) -> list[tuple[str, str]]:
    pairs = []
    with gzip.open(data / "hh_rlhf_harmless_base_test.jsonl.gz", "rt") as handle:
        for line in handle:
            for transcript in json.loads(line).values():
                human, _, assistant = transcript.rpartition("\n\nAssistant:")
                pairs.append((human.rpartition("\n\nHuman:")[2].strip(), assistant.strip()))
    return pairs


# ---------------------------------------------------------------------------------------------
# The stages in memory.


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
        # DedupExact emits duplicates without the carried text
        dropped.extend((strip_carried(r)["event_id"], best["event_id"])
                       for r in group if r is not best)
    return kept, dropped


def _candidates(band_entries, config: DedupConfig) -> set:
    # the shuffle's stand-in: one numpy sort of the band keys finds the buckets of 2+ members
    keys = np.array([key for key, _ in band_entries], dtype=f"S{2 + 4 * config.rows}")
    _, bucket_of, sizes = np.unique(keys, return_inverse=True, return_counts=True)
    shared = np.flatnonzero(sizes[bucket_of] > 1)
    candidates = set()
    for _, members in _group((bucket_of[i], band_entries[i][1]) for i in shared):
        candidates.update(graph.bucket_pairs(members, config.bucket_all_pairs_max,
                                             config.bucket_anchors)[0])
    return candidates


def components(edges, rounds: int, unresolved: list | None = None) -> dict[str, str]:
    """Verified edges (a, b, similarity) -> {dropped event_id: kept event_id}, through the
    stage's own graph functions (the connected components of DedupNearDuplicates). The nodes
    left unresolved are added to ``unresolved`` (a list with one count) when it is given."""
    links = [graph.edge_keys(edge) for edge in edges]
    for _ in range(rounds):
        links = [e for kv in _group(p for link in links for p in graph.both_directions(link))
                 for e in graph.large_star(kv)]
        links = [e for kv in _group(links) for e in graph.small_star(kv)]
    messages = [m for kv in _group(p for link in links for p in graph.both_directions(link))
                for m in graph.star_messages(kv)]
    fates, left = [], 0
    for kv in _group(messages):
        resolved, count = graph.star_fates(kv)
        fates.extend(resolved)
        left += count
    if unresolved is not None:
        unresolved.append(left)
    return {event_id: fate[1] for event_id, fate in fates if fate[0] == "duplicate"}


def near_core(records, config: DedupConfig, hasher: MinHasher, past_rows=()):
    """As DedupNearDuplicates: (dropped {event_id: duplicate_of}, verified edges, candidate
    pairs, sketch by node, index rows of kept records)."""
    sketch_by_node, band_entries, rows = {}, [], {}
    for start in range(0, len(records), config.sketch_batch):
        batch = records[start:start + config.sketch_batch]
        for rec, node, sketch, keys in sketch_records(batch, config, hasher):
            sketch_by_node[node] = sketch
            band_entries.extend((key, node) for key in keys)
            rows[rec["event_id"]] = index_row(rec, sketch)
    for row in past_rows:
        node, sketch, keys = past_sketch(row, config)
        sketch_by_node[node] = sketch
        band_entries.extend((key, node) for key in keys)
    candidates = _candidates(band_entries, config) if band_entries else set()
    edges = []
    for a, b in candidates:
        similarity = pair_similarity(sketch_by_node[a], sketch_by_node[b], config.threshold)
        if similarity >= config.threshold:
            edges.append((a, b, similarity))
    dropped = components(edges, config.cc_rounds)
    index = [row for event_id, row in rows.items() if event_id not in dropped]
    return dropped, edges, candidates, sketch_by_node, index


def dedup_core(records, config, hasher, past_rows=()):
    """Exact then near: (exact dropped [(id, of)], near dropped {id: of}, edges, candidates,
    index rows)."""
    kept, exact_dropped = exact_core(records)
    near_dropped, edges, candidates, _, index = near_core(kept, config, hasher, past_rows)
    return exact_dropped, near_dropped, edges, candidates, index


# ---------------------------------------------------------------------------------------------
# Ground truth: exact Jaccard over the shingle strings (no hashing), every pair.


def _jaccard_pairs(shingle_sets: list[set], threshold: float) -> dict[tuple[int, int], float]:
    from scipy import sparse

    vocab, rows, cols = {}, [], []
    for i, shingle_set in enumerate(shingle_sets):
        for s in shingle_set:
            rows.append(i)
            cols.append(vocab.setdefault(s, len(vocab)))
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)),
                               shape=(len(shingle_sets), len(vocab)))
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    common = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    jaccard = common.data / (sizes[common.row] + sizes[common.col] - common.data)
    keep = jaccard >= threshold
    return {(int(i), int(j)): float(s)
            for i, j, s in zip(common.row[keep], common.col[keep], jaccard[keep], strict=True)}


def truth_pairs(records, config: DedupConfig, *, responses_too: bool = True,
                responses_only: bool = False) -> dict[tuple[str, str], float]:
    """Pairs of event_ids at or above the threshold: by default the stage's rule (exchange AND
    response Jaccard); ``responses_too=False`` is the exchange alone (the rule before the
    preference fix); ``responses_only`` the responses alone."""
    parts = [exchange_shingles(dedup_text(r), config.shingle) for r in records]
    ids = [r["event_id"] for r in records]
    response = _jaccard_pairs([set(r) for _, r in parts], config.threshold)
    if responses_only:
        pairs = response
    else:
        exchange = _jaccard_pairs([set(p) | set(r) for p, r in parts], config.threshold)
        pairs = ({k: min(v, response[k]) for k, v in exchange.items() if k in response}
                 if responses_too else exchange)
    return {tuple(sorted((ids[i], ids[j]))): s for (i, j), s in pairs.items()}


def truth_dropped(records, pairs, past_ids=frozenset()) -> set[str]:
    """Clusters = connected components of the true pairs (past-past pairs skipped, as the
    stage does); a cluster with a past record drops all of today's, else all but the best."""
    parent = {r["event_id"]: r["event_id"] for r in records}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        if not (a in past_ids and b in past_ids):
            parent[find(a)] = find(b)
    by_id = {r["event_id"]: r for r in records}
    dropped = set()
    for _, members in _group((find(e), e) for e in parent):
        today = [e for e in members if e not in past_ids]
        if len(today) < len(members):
            dropped.update(today)
        else:
            dropped.update(sorted(today, key=lambda e: exact_rank(by_id[e]))[1:])
    return dropped


def precision_recall(predicted: set, truth: set) -> tuple[float, float]:
    hits = len(predicted & truth)
    return hits / max(1, len(predicted)), hits / max(1, len(truth))


def node_pairs(pairs) -> set[tuple[str, str]]:
    """Node pairs (candidates or edges) as sorted event_id pairs."""
    return {tuple(sorted((p[0][EVENT_ID], p[1][EVENT_ID]))) for p in pairs}
