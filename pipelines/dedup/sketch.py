"""A record's sketch (what the dedup_index stores; the near stage shuffles its hash sets) and
the one similarity that decides a near-duplicate.

A sketch is ``(signature, prompt_hashes, response_hashes)``, all bytes: the MinHash signature of
the exchange (num_perm little-endian uint32) finds candidates; the prompt's and the response's
sorted distinct shingle hashes (little-endian uint32) verify them exactly. The dedup_index keeps
all three, so a pair with a past record is verified exactly as a pair within the day is. The
near stage computes band keys where it sketches and shuffles only the two hash sets
(``hash_sets``), once per shared band bucket of the record.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipelines.dedup.config import DedupConfig
from pipelines.dedup.graph import past_node, today_node
from pipelines.dedup.minhash import MinHasher, band_keys, band_keys_batch, set_jaccard
from pipelines.dedup.text import carried_dedup_text, split_dedup_text


def sketch_records(records: list[dict[str, Any]], config: DedupConfig, hasher: MinHasher):
    """The near stage's per-record work for a batch, as the Sketch DoFn (and bench/dedup.py)
    run it: yields (record, node, sketch, band keys)."""
    parts = [split_dedup_text(carried_dedup_text(record)) for record in records]
    sketches = hasher.sketch_exchanges([p for p, _ in parts], [r for _, r in parts],
                                       config.shingle)
    sig_width = 4 * hasher.num_perm
    sig_blob = sketches.signatures.astype("<u4").tobytes()
    prompt_hashes = sketches.prompt.encoded()
    response_hashes = sketches.response.encoded()
    keys = band_keys_batch(sketches.signatures, config.bands, config.rows)
    bands = config.bands
    for i, record in enumerate(records):
        sketch = (sig_blob[i * sig_width:(i + 1) * sig_width], prompt_hashes[i],
                  response_hashes[i])
        yield record, today_node(record), sketch, keys[i * bands:(i + 1) * bands]


def index_row(record: dict[str, Any], sketch: tuple) -> dict[str, Any]:
    """The dedup_index row of a kept record (warehouse.schemas.DEDUP_INDEX)."""
    signature, prompt_hashes, response_hashes = sketch
    return {"event_id": record["event_id"], "user_pseudonym": record.get("user_pseudonym"),
            "signature": signature, "prompt_hashes": prompt_hashes,
            "response_hashes": response_hashes}


def _index_bytes(row: dict[str, Any], column: str) -> bytes:
    value = row.get(column)
    if value is None:
        raise ValueError(
            f"dedup_index row {row.get('event_id')!r} has no {column}: it was written before "
            "the index kept shingle hashes; rebuild that partition from its interactions "
            "(see docs/dedup.md, Cross-day behaviour) or drop it from the lookback")
    value = bytes(value)
    if len(value) % 4:
        raise ValueError(f"dedup_index {column} of {row['event_id']!r} has {len(value)} bytes, "
                         "not a whole number of uint32 hashes")
    return value


def past_sketch(row: dict[str, Any], config: DedupConfig) -> tuple[tuple, tuple, list[bytes]]:
    """(node, sketch, band keys) of an earlier day's dedup_index row."""
    signature = _index_bytes(row, "signature")
    if len(signature) != 4 * config.num_perm:
        raise ValueError(
            f"dedup_index signature of {row['event_id']!r} has {len(signature) // 4} values, "
            f"expected num_perm={config.num_perm} (the index was built with another "
            "DedupConfig; rebuild it or use the same num_perm and seed)")
    sketch = (signature, _index_bytes(row, "prompt_hashes"), _index_bytes(row, "response_hashes"))
    return past_node(row), sketch, band_keys(signature, config.bands, config.rows)


def hash_sets(sketch: tuple) -> tuple[bytes, bytes]:
    """What verification needs of a sketch: (prompt hashes, response hashes). The near stage
    shuffles only these with each bucket member; the signature (512 bytes) found the buckets."""
    return sketch[1], sketch[2]


def decoded_sets(sets: tuple[bytes, bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(prompt, response) hash sets as uint32 arrays (views of the bytes, no copy)."""
    return tuple(np.frombuffer(h, dtype="<u4") for h in sets)


def sets_similarity(sets_a: tuple[np.ndarray, np.ndarray], sets_b: tuple[np.ndarray, np.ndarray],
                    threshold: float) -> float:
    """``pair_similarity`` of two records' decoded (prompt, response) hash sets."""
    prompt_a, response_a = sets_a
    prompt_b, response_b = sets_b
    response = set_jaccard(response_a, response_b)
    if response < threshold:
        return response
    exchange = set_jaccard(np.union1d(prompt_a, response_a), np.union1d(prompt_b, response_b))
    return min(exchange, response)


def pair_similarity(sketch_a: tuple, sketch_b: tuple, threshold: float) -> float:
    """min(exact Jaccard of the exchanges, exact Jaccard of the responses alone).

    Both must reach the threshold: a re-posted exchange matches on both, while two distinct
    answers to one long prompt match on the exchange only. Below the threshold the value is an
    upper bound (the response Jaccard, when that alone already fails)."""
    return sets_similarity(decoded_sets(hash_sets(sketch_a)), decoded_sets(hash_sets(sketch_b)),
                           threshold)


def index_rows(records: list[dict[str, Any]], config: DedupConfig) -> list[dict[str, Any]]:
    """dedup_index rows rebuilt from kept interaction rows (their scrubbed prompt and response
    are what the near stage sketched): for partitions written before the index kept hashes."""
    hasher = MinHasher(config.num_perm, config.seed)
    rows = []
    for start in range(0, len(records), config.sketch_batch):
        batch = records[start:start + config.sketch_batch]
        rows += [index_row(record, sketch)
                 for record, _, sketch, _ in sketch_records(batch, config, hasher)]
    return rows
