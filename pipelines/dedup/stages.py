"""The two Beam stages: ``DedupExact`` and ``DedupNearDuplicates`` (composite PTransforms).

Every grouping is keyed (GroupByKey / CoGroupByKey): no step gathers all records into one worker.
Precondition: ``event_id`` is unique within the input (the redelivery stage guarantees it).
Each stage's duplicates also leave as reject rows (output ``rejects``), built inside the stage.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from pipelines.dedup import graph
from pipelines.dedup.config import EXACT_DUPLICATE, NEAR_DUPLICATE, DedupConfig
from pipelines.dedup.graph import exact_rank
from pipelines.dedup.minhash import MinHasher
from pipelines.dedup.sketch import (
    decoded_sets,
    hash_sets,
    index_row,
    past_sketch,
    sets_similarity,
    sketch_records,
)
from pipelines.dedup.text import strip_carried, with_dedup_text
from pipelines.rejects import reject_row

EXACT_STAGE, NEAR_STAGE = "dedup_exact", "dedup_near"


def duplicate_reject(stage: str, duplicate: dict) -> dict:
    """The rejects-table row of one ``duplicates`` element."""
    return reject_row(
        stage, duplicate["reason"],
        f"{duplicate['reason']} of {duplicate['duplicate_of']}"
        f" (similarity {duplicate.get('similarity', 1.0):.3f})",
        event=duplicate["record"], duplicate_of=duplicate["duplicate_of"])



# ---------------------------------------------------------------------------------------------
# Exact stage.


class _PickExactRepresentative(beam.DoFn):
    # in / out / dropped are counted by pipelines.stages' base, like every stage's.
    def process(self, element):
        _, records = element
        # Two passes over the (re-iterable, lazily paged) group: O(1) memory for a hot key.
        best, size = None, 0
        for record in records:
            size += int(record.get("dedup_cluster_size") or 1)
            if best is None or exact_rank(record) < exact_rank(best):
                best = record
        for record in records:
            if record is best or record["event_id"] == best["event_id"]:
                continue
            yield beam.pvalue.TaggedOutput("duplicates", {
                "record": strip_carried(record), "duplicate_of": best["event_id"],
                "reason": EXACT_DUPLICATE, "similarity": 1.0,
            })
        yield {**best, "dedup_cluster_id": best["event_id"], "dedup_cluster_size": size}


class DedupExact(beam.PTransform):
    """records -> {"kept", "duplicates", "rejects"}: one record per normalized dedup text."""

    def __init__(self, config: DedupConfig | None = None):
        super().__init__()
        self.config = config or DedupConfig()

    def expand(self, records):
        out = (
            records
            | "KeyByText" >> beam.Map(with_dedup_text)
            | "GroupByText" >> beam.GroupByKey()
            | "PickRepresentative" >> beam.ParDo(_PickExactRepresentative()).with_outputs(
                "duplicates", main="kept")
        )
        rejects = out.duplicates | "Rejects" >> beam.Map(lambda d: duplicate_reject(EXACT_STAGE, d))
        return {"kept": out.kept, "duplicates": out.duplicates, "rejects": rejects}


# ---------------------------------------------------------------------------------------------
# Near stage.


class _SketchRecords(beam.DoFn):
    """record -> "sketch" (node, hash sets), "band" (band key, node), "index" (event_id, index
    row). Batches a bundle's records per numpy call; the permutation arrays are built in
    setup()."""

    def __init__(self, config: DedupConfig):
        self.config = config

    def setup(self):
        self.hasher = MinHasher(self.config.num_perm, self.config.seed)

    def start_bundle(self):
        self.buffer = []

    def process(self, record, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        self.buffer.append((record, window, timestamp))
        if len(self.buffer) >= self.config.sketch_batch:
            yield from self._flush(windowed=False)

    def finish_bundle(self):
        yield from self._flush(windowed=True)

    def _flush(self, windowed: bool):
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        sketched = sketch_records([record for record, _, _ in batch], self.config, self.hasher)
        for (_, window, timestamp), (record, node, sketch, keys) in zip(
                batch, sketched, strict=True):
            outputs = [("sketch", (node, hash_sets(sketch))),
                       ("index", (record["event_id"], index_row(record, sketch)))]
            outputs += [("band", (key, node)) for key in keys]
            for tag, value in outputs:
                if windowed:  # finish_bundle emits explicitly windowed values
                    yield beam.pvalue.TaggedOutput(
                        tag, WindowedValue(value, timestamp, [window or GlobalWindow()]))
                else:
                    yield beam.pvalue.TaggedOutput(tag, value)


class _PastSketches(beam.DoFn):
    """dedup_index row -> "sketch" (node, hash sets) and "band" (band key, node)."""

    def __init__(self, config: DedupConfig):
        self.config = config
        self.counter = Metrics.counter(NEAR_STAGE, "past_in")

    def process(self, row):
        node, sketch, keys = past_sketch(row, self.config)
        self.counter.inc()
        yield beam.pvalue.TaggedOutput("sketch", (node, hash_sets(sketch)))
        for key in keys:
            yield beam.pvalue.TaggedOutput("band", (key, node))


def _shared_bucket_members(element):
    """(band key, nodes) -> (node, band key) per member of a bucket of two or more: the only
    buckets that can hold a pair. The group is re-iterated, not listed (a hot bucket)."""
    key, nodes = element
    if len(list(itertools.islice(nodes, 2))) < 2:
        return
    for node in nodes:
        yield node, key


def _hash_sets_per_bucket(element):
    """CoGroupByKey on the node: its hash sets to each shared bucket it is in, so that every
    candidate pair of a bucket is verified where both sides' sets already are."""
    node, grouped = element
    sets = next(iter(grouped["sketch"]), None)
    if sets is None:
        return
    for key in grouped["bucket"]:
        yield key, (node, sets)


class _VerifyBuckets(beam.DoFn):
    """(band key, [(node, hash sets)]) -> verified edges (a, b, similarity) of the bucket.

    A bucket's candidate pairs are those of ``graph.bucket_pairs``; each is verified with the
    exact similarity on the members' own sets, unless the bucket's verified edges already join
    its ends (``graph.forest_edges``: the components are the same, the edges and verifications
    of a dense bucket linear instead of quadratic). One copy of a record's sets reaches each
    shared bucket it is in (at most ``bands``), not one per candidate partner, which grows with
    the day. A pair that shares several buckets can give the same edge in each; the components
    treat an edge's copies as one."""

    def __init__(self, config: DedupConfig):
        self.config = config
        self.pairs = Metrics.counter(NEAR_STAGE, "candidate_pairs")
        self.oversized = Metrics.counter(NEAR_STAGE, "oversized_buckets")
        self.verified = Metrics.counter(NEAR_STAGE, "verified_pairs")
        self.joined = Metrics.counter(NEAR_STAGE, "already_joined_pairs")

    def process(self, element):
        _, members = element
        pairs, oversized = graph.bucket_pairs(members, self.config.bucket_all_pairs_max,
                                              self.config.bucket_anchors, node=_node_of)
        if oversized:
            self.oversized.inc()
        self.pairs.inc(len(pairs))
        threshold, decoded = self.config.threshold, {}  # each member's arrays, made once

        def sets_of(member):
            sets = decoded.get(member[0])
            if sets is None:
                sets = decoded[member[0]] = decoded_sets(member[1])
            return sets

        def verify(a, b):
            similarity = sets_similarity(sets_of(a), sets_of(b), threshold)
            return similarity if similarity >= threshold else None

        edges, joined = graph.forest_edges(pairs, _node_of, verify)
        self.joined.inc(joined)
        self.verified.inc(len(edges))
        yield from edges


def _node_of(member):
    return member[0]


class _ResolveStars(beam.DoFn):
    """graph.star_fates as a DoFn: fates, and the count of unsettled nodes as ``unresolved``."""

    def process(self, element):
        fates, unresolved = graph.star_fates(element)
        if unresolved:
            yield beam.pvalue.TaggedOutput("unresolved", unresolved)
        yield from fates


class RunnerLostData(RuntimeError):
    """A join in the near stage lacks what the stage itself produced: the runner lost elements of
    a shuffle. Seen with the local runner's ``multi_processing`` mode on large days
    (bench/shuffle_loss.py, docs/scale.md); a job that hits it fails whole and commits nothing."""


class _EmitFates(beam.DoFn):
    def process(self, element):
        event_id, grouped = element
        fates = list(grouped["fate"])
        duplicate = next((fate for fate in fates if fate[0] == "duplicate"), None)
        grow = sum(fate[1] for fate in fates if fate[0] == "grow")
        index = next(iter(grouped["index"]), None)
        # Every fate is an end of a verified edge, and the similarities come from those edges.
        similarity = max(grouped["similarity"], default=None)
        if duplicate is not None and similarity is None:
            raise RunnerLostData(
                f"near-duplicate {event_id} (of {duplicate[1]}) has no verified edge in the "
                "similarities: the runner lost shuffle data, and the day's dedup cannot be "
                "trusted; rerun in one process or on a distributed runner (docs/scale.md)")
        for record in grouped["record"]:
            if duplicate is not None:
                yield beam.pvalue.TaggedOutput("duplicates", {
                    "record": record, "duplicate_of": duplicate[1],
                    "reason": NEAR_DUPLICATE, "similarity": float(similarity),
                })
                continue
            size = int(record.get("dedup_cluster_size") or 1) + grow
            yield {**record, "dedup_cluster_id": event_id, "dedup_cluster_size": size}
            if index is not None:
                yield beam.pvalue.TaggedOutput("index", index)


def connected_components(edges, rounds: int):
    """Verified edges (a, b, similarity) -> (fates (event_id, fate), unresolved): see graph.py.
    ``unresolved`` holds counts of nodes in components that did not settle (none when all did).
    Each round is two shuffles of the near-duplicate graph's edges (records with a verified
    edge only)."""
    links = edges | "EdgeKeys" >> beam.Map(graph.edge_keys)
    for round_index in range(rounds):
        links = (
            links
            | f"BothWays{round_index}" >> beam.FlatMap(graph.both_directions)
            | f"GroupNeighbours{round_index}" >> beam.GroupByKey()
            | f"LargeStar{round_index}" >> beam.FlatMap(graph.large_star)
            | f"GroupSmaller{round_index}" >> beam.GroupByKey()
            | f"SmallStar{round_index}" >> beam.FlatMap(graph.small_star)
        )
    out = (
        links
        | "BothWaysFinal" >> beam.FlatMap(graph.both_directions)
        | "GroupFinal" >> beam.GroupByKey()
        | "StarMessages" >> beam.FlatMap(graph.star_messages)
        | "GroupStars" >> beam.GroupByKey()
        | "ResolveStars" >> beam.ParDo(_ResolveStars()).with_outputs("unresolved", main="fates")
    )
    return out.fates, out.unresolved


class NearGraph(NamedTuple):
    """What ``near_graph`` builds: today's index rows (keyed by event id), the verified edges
    (a, b, similarity), each node's fate, the unresolved counts, and each node's strongest
    similarity (event id, similarity)."""

    index: beam.PCollection
    edges: beam.PCollection
    fates: beam.PCollection
    unresolved: beam.PCollection
    similarities: beam.PCollection


def near_graph(records, config: DedupConfig, past_index=None) -> NearGraph:
    """The near stage's graph: sketches and bands of today's records (and of ``past_index``),
    the shared buckets, the verified edges, the components and the similarities. Applied in
    the caller's scope: ``DedupNearDuplicates.expand`` joins it with the records, and
    bench/shuffle_loss.py checks on it that a runner delivers every element of its shuffles."""
    today = records | "Sketch" >> beam.ParDo(_SketchRecords(config)).with_outputs(
        "sketch", "band", "index")
    sketches, bands = [today.sketch], [today.band]
    if past_index is not None:
        past = past_index | "SketchPast" >> beam.ParDo(
            _PastSketches(config)).with_outputs("sketch", "band")
        sketches.append(past.sketch)
        bands.append(past.band)
    sets_by_node = tuple(sketches) | "AllSketches" >> beam.Flatten()
    shared = (
        tuple(bands)
        | "AllBands" >> beam.Flatten()
        | "GroupByBand" >> beam.GroupByKey()
        | "SharedBuckets" >> beam.FlatMap(_shared_bucket_members)
    )
    edges = (
        {"sketch": sets_by_node, "bucket": shared}
        | "JoinBuckets" >> beam.CoGroupByKey()
        | "SetsPerBucket" >> beam.FlatMap(_hash_sets_per_bucket)
        | "GroupBuckets" >> beam.GroupByKey()
        | "VerifyBuckets" >> beam.ParDo(_VerifyBuckets(config))
    )
    fates, unresolved = connected_components(edges, config.cc_rounds)
    similarities = (edges
                    | "Similarities" >> beam.FlatMap(graph.node_similarities)
                    | "StrongestLink" >> beam.CombinePerKey(max))
    return NearGraph(today.index, edges, fates, unresolved, similarities)


class DedupNearDuplicates(beam.PTransform):
    """records -> {"kept", "duplicates", "rejects", "index", "unresolved"}: one record per
    near-duplicate cluster. ``unresolved``: counts of the records whose component did not
    settle in ``cc_rounds`` (kept, see graph.star_fates); empty when every one did.

    ``past_index``: earlier days' dedup_index rows (at least ``INDEX_COLUMNS``); a record near
    one of them is dropped as its duplicate (past records always win), verified exactly.
    """

    def __init__(self, config: DedupConfig | None = None,
                 past_index: beam.PCollection | None = None):
        super().__init__()
        self.config = config or DedupConfig()
        self.past_index = past_index

    def expand(self, records):
        near = near_graph(records, self.config, self.past_index)
        out = (
            {
                "record": records | "KeyById" >> beam.Map(
                    lambda r: (r["event_id"], strip_carried(r))),
                "index": near.index,
                "fate": near.fates,
                "similarity": near.similarities,
            }
            | "JoinFates" >> beam.CoGroupByKey()
            | "EmitFates" >> beam.ParDo(_EmitFates()).with_outputs(
                "duplicates", "index", main="kept")
        )
        rejects = out.duplicates | "Rejects" >> beam.Map(lambda d: duplicate_reject(NEAR_STAGE, d))
        return {"kept": out.kept, "duplicates": out.duplicates, "rejects": rejects,
                "index": out.index, "unresolved": near.unresolved}
