"""Exact and near-duplicate removal of interaction records, as Beam composite transforms.

``DedupExact`` collapses records whose normalized dedup text is identical; ``DedupNearDuplicates``
clusters records whose word-shingle Jaccard similarity is at least ``DedupConfig.threshold``
(MinHash + LSH banding to find candidates, exact shingle Jaccard to verify them, a bounded
distributed connected-components pass to form clusters) and keeps one representative per cluster.
The design, parameters and measured quality are in docs/dedup.md; bench/dedup.py measures them.

Representative rule (both stages): most feedback (``n_feedback``), then earliest ``ts``, then
smallest ``event_id``. Across days a past record (a ``past_index`` row) always wins: it is already
published.

Every grouping is keyed (GroupByKey / CoGroupByKey): no step gathers all records into one worker.
Precondition: ``event_id`` is unique within the input (the redelivery stage guarantees it).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

EXACT_DUPLICATE = "exact_duplicate"
NEAR_DUPLICATE = "near_duplicate"

# The universal-hash family of datasketch.MinHash: h(x) = ((a*x + b) mod p) & (2^32 - 1).
_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)

# Node tuples (the keys of the near-duplicate graph) are plain tuples so that Beam encodes them
# deterministically: (origin, -n_feedback, ts_us, event_id, cluster_size). The first four fields
# are unique per node and order nodes by the representative rule (smaller is better); the last
# rides along so that cluster sizes can be summed without another join.
_PAST, _TODAY = 0, 1
_ORIGIN, _EVENT_ID, _SIZE = 0, 3, 4


@dataclass(frozen=True)
class DedupConfig:
    # Word n-grams: 3 keeps one changed word in a 30-word record at Jaccard ~0.8, while short
    # prompts that share a phrase stay well apart; 5 (web-scale choice) is too coarse for chat.
    shingle: int = 3
    # MinHash permutations: estimate std is sqrt(s(1-s)/128) ~ 0.04 at s = 0.7; signatures of
    # 512 bytes per kept record in the dedup_index table.
    num_perm: int = 128
    # bands x rows (<= num_perm): 32 x 4 makes a pair at the threshold a candidate with
    # probability 1-(1-0.7^4)^32 = 0.9998; false candidates only cost an exact verification.
    bands: int = 32
    rows: int = 4
    # Exact word-3-gram Jaccard at or above which two records are near-duplicates.
    threshold: float = 0.7
    # datasketch.MinHash's default seed, so signatures equal MinHash(num_perm=128, seed=1).
    seed: int = 1
    # A band bucket up to this size pairs every member with every other (<= 496 pairs)...
    bucket_all_pairs_max: int = 32
    # ...a larger one pairs each member with this many best-ranked members only: linear fan-out.
    bucket_anchors: int = 8
    # Rounds of min-label propagation with pointer jumping; each costs two shuffles of the
    # near-duplicate graph only (records with a verified edge), see docs/dedup.md.
    cc_rounds: int = 6
    # Records sketched per numpy call inside a bundle: amortizes the per-call overhead.
    sketch_batch: int = 256

    def __post_init__(self):
        if self.shingle < 1:
            raise ValueError(f"shingle must be >= 1, got {self.shingle}")
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands x rows = {self.bands} x {self.rows} must fit in num_perm={self.num_perm}"
            )
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.bucket_anchors < 1 or self.bucket_all_pairs_max < 2:
            raise ValueError("bucket_anchors must be >= 1 and bucket_all_pairs_max >= 2")
        if self.cc_rounds < 1:
            raise ValueError(f"cc_rounds must be >= 1, got {self.cc_rounds}")


# ---------------------------------------------------------------------------------------------
# Text, shingles, signatures: pure functions the DoFns and bench/dedup.py share.

_TOKEN = re.compile(r"\w+|[^\w\s]")


def normalize(text: str | None) -> str:
    """NFKC, casefold, then tokens (word runs and single punctuation marks) joined by one space.

    Whitespace and case differences vanish; punctuation stays, so ``2+3`` and ``2*3`` differ.
    """
    if not text:
        return ""
    # ASCII is NFKC-invariant and casefolds as lower(): skip the Unicode tables for it
    text = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_TOKEN.findall(text))


def dedup_text(record: dict[str, Any]) -> str:
    """The text deduped on: normalized last user turn, a newline, normalized response."""
    return f"{normalize(record.get('prompt'))}\n{normalize(record.get('response'))}"


def exact_key(record: dict[str, Any]) -> bytes:
    """blake2b-128 of the dedup text: equal keys mean equal normalized texts."""
    return hashlib.blake2b(dedup_text(record).encode("utf-8"), digest_size=16).digest()


# DedupExact's kept records carry their dedup text under this key so that DedupNearDuplicates
# does not normalize every record a second time; DedupNearDuplicates strips it from everything
# it emits (and DedupExact from its duplicates), so no output row of the dedup stage carries it.
CARRIED_TEXT = "_dedup_text"


def with_dedup_text(record: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """(exact key, a copy of the record carrying its dedup text): the exact stage's keying,
    normalizing once for both stages."""
    text = dedup_text(record)
    key = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
    return key, {**record, CARRIED_TEXT: text}


def carried_dedup_text(record: dict[str, Any]) -> str:
    """The dedup text DedupExact attached, or computed now for a record that has none."""
    text = record.get(CARRIED_TEXT)
    return dedup_text(record) if text is None else text


def strip_carried(record: dict[str, Any]) -> dict[str, Any]:
    """The record without the carried dedup text (the record itself when it has none)."""
    if CARRIED_TEXT not in record:
        return record
    return {k: v for k, v in record.items() if k != CARRIED_TEXT}


def shingles(text: str, size: int) -> list[bytes]:
    """Distinct word ``size``-grams of a dedup text, UTF-8; a shorter text is one shingle.

    Splitting the UTF-8 bytes on ASCII whitespace equals splitting the text: normalize() leaves
    only single spaces (and the prompt/response newline) between tokens.
    """
    words = text.encode("utf-8").split()
    if len(words) <= size:
        return [b" ".join(words)]
    return list(dict.fromkeys(map(b" ".join, zip(*(words[i:] for i in range(size)), strict=False))))


def datasketch_permutations(num_perm: int, seed: int) -> np.ndarray:
    """The (a, b) arrays datasketch.MinHash draws for ``seed`` (2 x num_perm uint64)."""
    gen = np.random.RandomState(seed)
    return np.array(
        [(gen.randint(1, _MERSENNE_PRIME, dtype=np.uint64),
          gen.randint(0, _MERSENNE_PRIME, dtype=np.uint64)) for _ in range(num_perm)],
        dtype=np.uint64,
    ).T


class MinHasher:
    """Vectorised MinHash equal to datasketch.MinHash(num_perm, seed) with its sha1_hash32.

    Heavy: build once per worker (``DoFn.setup``). ``sketch`` / ``sketch_texts`` hash a batch of
    records in one numpy pass: the shingle hashes of all records are made distinct per record
    in one sort, then permuted as (a*x + b) mod (2^61 - 1) (the Mersenne identity: shift and add
    instead of a 64-bit division; the same values as datasketch's ``%``) and min-reduced per
    record. Duplicate shingles are hashed but never permuted.
    """

    # Distinct shingle hashes per numpy chunk: keeps the (chunk x num_perm) buffers in L2 cache.
    CHUNK = 256

    def __init__(self, num_perm: int = 128, seed: int = 1):
        self.num_perm = num_perm
        self.a, self.b = map(np.ascontiguousarray, datasketch_permutations(num_perm, seed))
        self._product = np.empty(num_perm * self.CHUNK, dtype=np.uint64)
        self._high = np.empty(num_perm * self.CHUNK, dtype=np.uint64)

    @staticmethod
    def _sha1_hash32(digests: bytes) -> np.ndarray:
        # first 4 bytes of each 20-byte digest, little-endian: datasketch's sha1_hash32
        return np.frombuffer(digests, dtype="<u4").reshape(-1, 5)[:, 0].astype(np.uint64)

    def shingle_hashes(self, shingle_lists: list[list[bytes]]) -> np.ndarray:
        """sha1_hash32 of every shingle of every list, concatenated (uint64)."""
        sha1 = hashlib.sha1
        return self._sha1_hash32(b"".join([sha1(s).digest() for shingle_list in shingle_lists
                                           for s in shingle_list]))

    def sketch(self, shingle_lists: list[list[bytes]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Signatures (n x num_perm uint32) and each list's sorted distinct shingle hashes."""
        lengths = np.fromiter((len(s) for s in shingle_lists), dtype=np.int64,
                              count=len(shingle_lists))
        signatures, distinct, offsets = self.sketch_hashes(self.shingle_hashes(shingle_lists),
                                                           lengths)
        return signatures, np.split(distinct, offsets[1:-1])

    def text_hashes(self, texts: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
        """sha1_hash32 of every word ``size``-gram of every dedup text (repeats included, so no
        per-shingle dict), and the count per text: the multiset behind ``shingles()``."""
        sha1 = hashlib.sha1
        digests, lengths = [], np.empty(len(texts), dtype=np.int64)
        for i, text in enumerate(texts):
            words = text.encode("utf-8").split()
            if len(words) <= size:
                digests.append(sha1(b" ".join(words)).digest())
                lengths[i] = 1
            else:
                digests += [sha1(gram).digest()
                            for gram in map(b" ".join, zip(*(words[j:] for j in range(size)),
                                                           strict=False))]
                lengths[i] = len(words) - size + 1
        return self._sha1_hash32(b"".join(digests)), lengths

    def sketch_texts(self, texts: list[str], size: int) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
        """``sketch_hashes`` of the word ``size``-grams of dedup texts."""
        return self.sketch_hashes(*self.text_hashes(texts, size))

    def sketch_hashes(self, hashes: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray,
                                                                              np.ndarray,
                                                                              np.ndarray]:
        """Signatures (n x num_perm uint32) of n records given their shingle hashes
        (concatenated, ``lengths[i]`` for record i, repeats allowed), plus every record's sorted
        distinct hashes, concatenated (uint32), and their offsets (n + 1)."""
        n = len(lengths)
        if n and lengths.min() < 1:
            raise ValueError("every record needs at least one shingle (shingles() gives one)")
        # each record's sorted distinct hashes in one sort, keyed by (record, hash)
        keyed = np.repeat(np.arange(n, dtype=np.uint64) << np.uint64(32), lengths)
        keyed |= hashes
        keyed.sort()
        if keyed.size:
            keep = np.empty(keyed.size, dtype=bool)
            keep[0] = True
            np.not_equal(keyed[1:], keyed[:-1], out=keep[1:])
            keyed = keyed[keep]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount((keyed >> np.uint64(32)).astype(np.int64), minlength=n),
                  out=offsets[1:])
        distinct = keyed & np.uint64(0xFFFFFFFF)
        signatures = np.empty((n, self.num_perm), dtype=np.uint32)
        a, b, shift = self.a[:, None], self.b[:, None], np.uint64(61)
        start = 0
        while start < n:
            stop = int(np.searchsorted(offsets, offsets[start] + self.CHUNK, side="right")) - 1
            stop = min(max(stop, start + 1), n)
            lo, hi = offsets[start], offsets[stop]
            # (num_perm x shingles): each record's min is a reduction along contiguous memory,
            # several times faster than along the strided axis
            if hi - lo <= self.CHUNK:  # contiguous views of the preallocated buffers
                size = self.num_perm * (hi - lo)
                x = self._product[:size].reshape(self.num_perm, hi - lo)
                high = self._high[:size].reshape(self.num_perm, hi - lo)
                np.multiply(a, distinct[None, lo:hi], out=x)  # wraps mod 2^64 as datasketch's
            else:  # one record with more distinct shingles than a chunk
                x = np.multiply(a, distinct[None, lo:hi])
                high = np.empty_like(x)
            x += b
            np.right_shift(x, shift, out=high)
            x &= _MERSENNE_PRIME
            x += high  # congruent mod p and < p + 8
            if x.max() >= _MERSENNE_PRIME:
                np.subtract(x, _MERSENNE_PRIME, out=x, where=x >= _MERSENNE_PRIME)
            # astype(uint32) keeps the low 32 bits: datasketch's "& _max_hash"
            signatures[start:stop] = np.minimum.reduceat(
                x.astype(np.uint32), offsets[start:stop] - lo, axis=1).T
            start = stop
        return signatures, distinct.astype(np.uint32), offsets


def signature_bytes(signature: np.ndarray) -> bytes:
    """The dedup_index encoding: num_perm little-endian uint32."""
    return signature.astype("<u4").tobytes()


def band_keys(signature: bytes, bands: int, rows: int) -> list[bytes]:
    """One LSH key per band: 2-byte band index + that band's rows of the signature."""
    width = 4 * rows
    return [band.to_bytes(2, "little") + signature[band * width:(band + 1) * width]
            for band in range(bands)]


def band_keys_batch(signatures: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """``band_keys`` of every row of an (n x num_perm) signature array, concatenated (n * bands
    keys, record-major), built in one numpy pass instead of n * bands concatenations."""
    n, width = len(signatures), 2 + 4 * rows
    values = signatures[:, :bands * rows].astype("<u4").view(np.uint8).reshape(n, bands, 4 * rows)
    index = np.arange(bands, dtype="<u2").view(np.uint8).reshape(1, bands, 2)
    blob = np.concatenate([np.broadcast_to(index, (n, bands, 2)), values], axis=2).tobytes()
    return [blob[k:k + width] for k in range(0, len(blob), width)]


def sketch_records(records: list[dict[str, Any]], config: DedupConfig, hasher: MinHasher):
    """The near stage's per-record work for a batch, as the Sketch DoFn (and bench/dedup.py)
    run it: yields (record, node, signature bytes, distinct shingle hashes bytes, band keys)."""
    signatures, distinct, offsets = hasher.sketch_texts(
        [carried_dedup_text(record) for record in records], config.shingle)
    sig_width = 4 * hasher.num_perm
    sig_blob = signatures.astype("<u4").tobytes()
    hash_blob = distinct.astype("<u4").tobytes()
    starts = (4 * offsets).tolist()
    keys = band_keys_batch(signatures, config.bands, config.rows)
    bands = config.bands
    for i, record in enumerate(records):
        yield (record, today_node(record), sig_blob[i * sig_width:(i + 1) * sig_width],
               hash_blob[starts[i]:starts[i + 1]], keys[i * bands:(i + 1) * bands])


def exact_jaccard(hashes_a: bytes, hashes_b: bytes) -> float:
    """Jaccard of two sorted distinct uint32 shingle-hash sets (encoded bytes)."""
    a = np.frombuffer(hashes_a, dtype="<u4")
    b = np.frombuffer(hashes_b, dtype="<u4")
    common = np.intersect1d(a, b, assume_unique=True).size
    return common / (a.size + b.size - common)


def estimated_jaccard(signature_a: bytes, signature_b: bytes) -> float:
    """Fraction of equal MinHash values (datasketch's MinHash.jaccard)."""
    a = np.frombuffer(signature_a, dtype="<u4")
    b = np.frombuffer(signature_b, dtype="<u4")
    if a.size != b.size:
        raise ValueError(f"signatures of {a.size} and {b.size} values cannot be compared")
    return float(np.count_nonzero(a == b)) / a.size


def pair_similarity(sketch_a: tuple, sketch_b: tuple) -> float:
    """Exact shingle Jaccard when both sides have shingles (today); else the MinHash estimate
    (a past record keeps only its signature)."""
    if sketch_a[1] is not None and sketch_b[1] is not None:
        return exact_jaccard(sketch_a[1], sketch_b[1])
    return estimated_jaccard(sketch_a[0], sketch_b[0])


def _ts_us(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("record ts must be timezone-aware (UTC)")
    return (ts - _EPOCH) // _ONE_MICROSECOND


def exact_rank(record: dict[str, Any]) -> tuple:
    """Smaller is better: most feedback, then earliest ts, then smallest event_id."""
    return (-int(record.get("n_feedback") or 0), _ts_us(record["ts"]), record["event_id"])


def today_node(record: dict[str, Any]) -> tuple:
    return (_TODAY, *exact_rank(record), int(record.get("dedup_cluster_size") or 1))


def past_node(row: dict[str, Any]) -> tuple:
    # Past records rank before any of today's: origin 0 < 1.
    return (_PAST, 0, 0, row["event_id"], 0)


def bucket_pairs(members, all_pairs_max: int, anchors: int):
    """Candidate pairs (better, worse) of one band bucket, past-past pairs skipped.

    ``members`` is a re-iterable (a GroupByKey value). Up to ``all_pairs_max`` members: every
    pair. Beyond: each member against the ``anchors`` best-ranked ones only, so a bucket of m
    members yields < m * anchors pairs and O(all_pairs_max + anchors) memory instead of m^2/2.
    Returns (pairs, oversized).
    """
    head = list(itertools.islice(members, all_pairs_max + 1))
    if len(head) <= all_pairs_max:
        head.sort()
        pairs = [(a, b) for a, b in itertools.combinations(head, 2)
                 if not (a[_ORIGIN] == _PAST and b[_ORIGIN] == _PAST)]
        return pairs, False
    best = heapq.nsmallest(anchors, members)
    best_set = set(best)
    pairs = [(a, b) for a, b in itertools.combinations(best, 2)
             if not (a[_ORIGIN] == _PAST and b[_ORIGIN] == _PAST)]
    for node in members:
        if node in best_set:
            continue
        pairs.extend((anchor, node) for anchor in best
                     if not (anchor[_ORIGIN] == _PAST and node[_ORIGIN] == _PAST))
    return pairs, True


# ---------------------------------------------------------------------------------------------
# Exact stage.


class _PickExactRepresentative(beam.DoFn):
    def __init__(self):
        self.kept = Metrics.counter("dedup_exact", "kept")
        self.dropped = Metrics.counter("dedup_exact", f"dropped_{EXACT_DUPLICATE}")

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
            self.dropped.inc()
            yield beam.pvalue.TaggedOutput("duplicates", {
                "record": strip_carried(record), "duplicate_of": best["event_id"],
                "reason": EXACT_DUPLICATE, "similarity": 1.0,
            })
        self.kept.inc()
        yield {**best, "dedup_cluster_id": best["event_id"], "dedup_cluster_size": size}


def _count(counter):
    def inc(element):
        counter.inc()
        return element
    return inc


class DedupExact(beam.PTransform):
    """records -> {"kept", "duplicates"}: one record per normalized dedup text."""

    def __init__(self, config: DedupConfig | None = None):
        super().__init__()
        self.config = config or DedupConfig()

    def expand(self, records):
        out = (
            records
            | "CountIn" >> beam.Map(_count(Metrics.counter("dedup_exact", "in")))
            | "KeyByText" >> beam.Map(with_dedup_text)
            | "GroupByText" >> beam.GroupByKey()
            | "PickRepresentative" >> beam.ParDo(_PickExactRepresentative()).with_outputs(
                "duplicates", main="kept")
        )
        return {"kept": out.kept, "duplicates": out.duplicates}


# ---------------------------------------------------------------------------------------------
# Near stage.


class _SketchRecords(beam.DoFn):
    """record -> "sketch" (node, (signature, shingle hashes)), "band" (band key, node),
    "signature" (event_id, (user_pseudonym, signature)). Batches a bundle's records per numpy
    call; the permutation arrays are built in setup()."""

    def __init__(self, config: DedupConfig):
        self.config = config
        self.counter_in = Metrics.counter("dedup_near", "in")

    def setup(self):
        self.hasher = MinHasher(self.config.num_perm, self.config.seed)

    def start_bundle(self):
        self.buffer = []

    def process(self, record, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        self.counter_in.inc()
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
        for (_, window, timestamp), (record, node, sig, hashes, keys) in zip(
                batch, sketched, strict=True):
            outputs = [("sketch", (node, (sig, hashes))),
                       ("signature", (record["event_id"], (record.get("user_pseudonym"), sig)))]
            outputs += [("band", (key, node)) for key in keys]
            for tag, value in outputs:
                if windowed:  # finish_bundle emits explicitly windowed values
                    yield beam.pvalue.TaggedOutput(
                        tag, WindowedValue(value, timestamp, [window or GlobalWindow()]))
                else:
                    yield beam.pvalue.TaggedOutput(tag, value)


class _PastSketches(beam.DoFn):
    """dedup_index row -> "sketch" (node, (signature, None)) and "band" (band key, node)."""

    def __init__(self, config: DedupConfig):
        self.config = config
        self.counter = Metrics.counter("dedup_near", "past_in")

    def process(self, row):
        sig = bytes(row["signature"])
        if len(sig) != 4 * self.config.num_perm:
            raise ValueError(
                f"dedup_index signature of {row['event_id']!r} has {len(sig) // 4} values, "
                f"expected num_perm={self.config.num_perm} (the index was built with another "
                "DedupConfig; rebuild it or use the same num_perm and seed)")
        self.counter.inc()
        node = past_node(row)
        yield beam.pvalue.TaggedOutput("sketch", (node, (sig, None)))
        for key in band_keys(sig, self.config.bands, self.config.rows):
            yield beam.pvalue.TaggedOutput("band", (key, node))


class _PairBucket(beam.DoFn):
    def __init__(self, config: DedupConfig):
        self.config = config
        self.pairs = Metrics.counter("dedup_near", "candidate_pairs")
        self.oversized = Metrics.counter("dedup_near", "oversized_buckets")

    def process(self, element):
        _, members = element
        pairs, oversized = bucket_pairs(
            members, self.config.bucket_all_pairs_max, self.config.bucket_anchors)
        if oversized:
            self.oversized.inc()
        self.pairs.inc(len(pairs))
        yield from pairs


def _attach_first_sketch(element):
    """CoGroupByKey on node a: send a's sketch to each distinct partner b."""
    node, grouped = element
    sketches = list(grouped["sketch"])
    if not sketches:
        return
    for partner in set(grouped["partner"]):
        yield partner, (node, sketches[0])


class _VerifyPairs(beam.DoFn):
    def __init__(self, config: DedupConfig):
        self.threshold = config.threshold
        self.verified = Metrics.counter("dedup_near", "verified_pairs")

    def process(self, element):
        node, grouped = element
        sketches = list(grouped["sketch"])
        if not sketches:
            return
        for other, other_sketch in grouped["probe"]:
            similarity = pair_similarity(other_sketch, sketches[0])
            if similarity >= self.threshold:
                self.verified.inc()
                yield other, node, similarity


# Connected components by min-label propagation with pointer jumping. Messages keyed by node:
#   ("state", label, neighbours, max_similarity)  the node's own state
#   ("label", label)                               a neighbour's label, or a jump answer
#   ("ask", node)                                  "what is your label?" from a node labelled you


def _initial_messages(element):
    node, edges = element
    edges = list(edges)
    neighbours = tuple(sorted({other for other, _ in edges}))
    yield node, ("state", node, neighbours, max(similarity for _, similarity in edges))
    for other in neighbours:
        yield other, ("label", node)


def _update_label(element):
    """Step A: a node takes the smallest label it heard; tells neighbours; asks its label."""
    node, messages = element
    state, label, asks = None, None, []
    for message in messages:
        if message[0] == "state":
            state = message
        elif message[0] == "label":
            label = message[1] if label is None else min(label, message[1])
        else:
            asks.append(message)
    if state is None:  # a label for a node not in the graph cannot happen; stay safe
        return
    new_label = state[1] if label is None else min(state[1], label)
    yield node, ("state", new_label, state[2], state[3])
    for other in state[2]:
        yield other, ("label", new_label)
    if new_label != node:
        yield new_label, ("ask", node)


def _answer_asks(element):
    """Step B: a node answers the nodes that took it as their label with its own label (the
    pointer jump), and forwards neighbour labels to the next round."""
    node, messages = element
    state, forward, askers = None, [], []
    for message in messages:
        if message[0] == "state":
            state = message
        elif message[0] == "ask":
            askers.append(message[1])
        else:
            forward.append(message)
    if state is None:
        return
    yield node, state
    for message in forward:
        yield node, message
    for asker in askers:
        yield asker, ("label", state[1])


def _resolve_roots(element):
    """Final check: a node labelled with a root (a node whose label is itself) belongs to that
    root's cluster; a node whose label is not yet a root (rounds exhausted) stays unresolved."""
    node, messages = element
    state, askers = None, []
    for message in messages:
        if message[0] == "state":
            state = message
        elif message[0] == "ask":
            askers.append(message[1])
    if state is None:
        return
    is_root = state[1] == node
    yield node, ("self", is_root, state[3], state[1])
    for asker in askers:
        yield asker, ("root", is_root)


class _AssignClusters(beam.DoFn):
    def __init__(self):
        self.unresolved = Metrics.counter("dedup_near", "cc_unresolved")

    def process(self, element):
        """node -> (event_id, fate) for the final join: a duplicate of a root, or growth of a
        root's cluster size. Past nodes are never output; unresolved nodes are kept as is."""
        node, messages = element
        state = root_ok = None
        for message in messages:
            if message[0] == "self":
                state = message
            else:
                root_ok = message[1]
        if state is None or node[_ORIGIN] == _PAST or state[1]:
            return
        label = state[3]
        if not root_ok:
            self.unresolved.inc()
            return
        yield node[_EVENT_ID], ("duplicate", label[_EVENT_ID], state[2])
        if label[_ORIGIN] == _TODAY:
            yield label[_EVENT_ID], ("grow", node[_SIZE])


class _EmitFates(beam.DoFn):
    def __init__(self):
        self.kept = Metrics.counter("dedup_near", "kept")
        self.dropped = Metrics.counter("dedup_near", f"dropped_{NEAR_DUPLICATE}")

    def process(self, element):
        event_id, grouped = element
        fates = list(grouped["fate"])
        duplicate = next((fate for fate in fates if fate[0] == "duplicate"), None)
        grow = sum(fate[1] for fate in fates if fate[0] == "grow")
        signature = next(iter(grouped["signature"]), None)
        for record in grouped["record"]:
            if duplicate is not None:
                self.dropped.inc()
                yield beam.pvalue.TaggedOutput("duplicates", {
                    "record": record, "duplicate_of": duplicate[1],
                    "reason": NEAR_DUPLICATE, "similarity": float(duplicate[2]),
                })
                continue
            self.kept.inc()
            size = int(record.get("dedup_cluster_size") or 1) + grow
            yield {**record, "dedup_cluster_id": event_id, "dedup_cluster_size": size}
            if signature is not None:
                yield beam.pvalue.TaggedOutput("index", {
                    "event_id": event_id, "user_pseudonym": signature[0],
                    "signature": signature[1],
                })


class DedupNearDuplicates(beam.PTransform):
    """records -> {"kept", "duplicates", "index"}: one record per near-duplicate cluster.

    ``past_index``: earlier days' dedup_index rows ({event_id, user_pseudonym, signature});
    a record near one of them is dropped as its duplicate (past records always win).
    """

    def __init__(self, config: DedupConfig | None = None,
                 past_index: beam.PCollection | None = None):
        super().__init__()
        self.config = config or DedupConfig()
        self.past_index = past_index

    def expand(self, records):
        config = self.config
        today = records | "Sketch" >> beam.ParDo(_SketchRecords(config)).with_outputs(
            "sketch", "band", "signature")
        sketches, bands = [today.sketch], [today.band]
        if self.past_index is not None:
            past = self.past_index | "SketchPast" >> beam.ParDo(
                _PastSketches(config)).with_outputs("sketch", "band")
            sketches.append(past.sketch)
            bands.append(past.band)
        sketch_by_node = tuple(sketches) | "AllSketches" >> beam.Flatten()

        pairs = (
            tuple(bands)
            | "AllBands" >> beam.Flatten()
            | "GroupByBand" >> beam.GroupByKey()
            | "PairBuckets" >> beam.ParDo(_PairBucket(config))
        )
        edges = (
            {"sketch": sketch_by_node, "partner": pairs}
            | "JoinFirst" >> beam.CoGroupByKey()
            | "AttachFirst" >> beam.FlatMap(_attach_first_sketch)
        )
        edges = (
            {"sketch": sketch_by_node, "probe": edges}
            | "JoinSecond" >> beam.CoGroupByKey()
            | "Verify" >> beam.ParDo(_VerifyPairs(config))
        )
        messages = (
            edges
            | "BothDirections" >> beam.FlatMap(
                lambda edge: [(edge[0], (edge[1], edge[2])), (edge[1], (edge[0], edge[2]))])
            | "GroupEdges" >> beam.GroupByKey()
            | "InitLabels" >> beam.FlatMap(_initial_messages)
        )
        for round_index in range(config.cc_rounds):
            messages = (
                messages
                | f"GroupLabels{round_index}" >> beam.GroupByKey()
                | f"UpdateLabels{round_index}" >> beam.FlatMap(_update_label)
                | f"GroupAsks{round_index}" >> beam.GroupByKey()
                | f"AnswerAsks{round_index}" >> beam.FlatMap(_answer_asks)
            )
        states = (
            messages
            | "GroupFinalLabels" >> beam.GroupByKey()
            | "FinalLabels" >> beam.FlatMap(_update_label)
            | "DropLabelMessages" >> beam.Filter(lambda kv: kv[1][0] != "label")
        )
        fates = (
            states
            | "GroupRoots" >> beam.GroupByKey()
            | "ResolveRoots" >> beam.FlatMap(_resolve_roots)
            | "GroupFates" >> beam.GroupByKey()
            | "AssignClusters" >> beam.ParDo(_AssignClusters())
        )
        out = (
            {
                "record": records | "KeyById" >> beam.Map(lambda r: (r["event_id"], strip_carried(r))),
                "signature": today.signature,
                "fate": fates,
            }
            | "JoinFates" >> beam.CoGroupByKey()
            | "EmitFates" >> beam.ParDo(_EmitFates()).with_outputs(
                "duplicates", "index", main="kept")
        )
        return {"kept": out.kept, "duplicates": out.duplicates, "index": out.index}
