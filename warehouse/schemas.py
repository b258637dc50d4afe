"""Fixed pyarrow schemas of the warehouse tables (documented in docs/warehouse.md).

Every table lives under ``WAREHOUSE/<table>/dt=YYYY-MM-DD/*.parquet`` (hive partitioning: the
``dt`` column comes from the directory, it is not stored in the files). Free text in these tables
has been scrubbed of PII; user ids are keyed-hash pseudonyms.
"""

from __future__ import annotations

import pyarrow as pa

from feedback.contract import MESSAGE_TYPE

TS = pa.timestamp("us", tz="UTC")

INTERACTIONS = pa.schema(
    [
        ("event_id", pa.string()),
        ("ts", TS),
        ("user_pseudonym", pa.string()),
        ("conversation_id", pa.string()),
        ("turn", pa.int32()),
        ("model_version", pa.string()),
        ("messages", pa.list_(MESSAGE_TYPE)),  # scrubbed
        ("prompt", pa.string()),  # last user message, scrubbed
        ("response", pa.string()),  # scrubbed
        ("latency_ms", pa.float64()),
        ("consent_training", pa.bool_()),
        ("metadata", pa.map_(pa.string(), pa.string())),  # values scrubbed
        ("pii_findings", pa.map_(pa.string(), pa.int32())),  # entity type -> count, no values
        ("n_feedback", pa.int32()),  # feedback events that arrived with it today
        ("flagged", pa.bool_()),
        # quality scores (kept rows; the thresholds that drop rows are in FilterConfig)
        ("q_response_chars", pa.int32()),
        ("q_response_words", pa.int32()),
        ("q_alpha_ratio", pa.float32()),
        ("q_symbol_ratio", pa.float32()),
        ("q_dup_line_ratio", pa.float32()),
        ("q_top_ngram_ratio", pa.float32()),
        ("q_stopword_ratio", pa.float32()),
        ("dedup_cluster_id", pa.string()),  # event_id of the kept representative (itself)
        ("dedup_cluster_size", pa.int32()),  # records in its near-duplicate cluster
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
    ]
)

FEEDBACK = pa.schema(
    [
        ("event_id", pa.string()),
        ("ts", TS),
        ("user_pseudonym", pa.string()),
        ("interaction_id", pa.string()),  # the kept interaction it now applies to
        ("original_interaction_id", pa.string()),  # what the app sent (differs after dedup)
        ("interaction_dt", pa.string()),  # partition of that interaction, YYYY-MM-DD
        ("kind", pa.string()),
        ("value", pa.int32()),
        ("edited_response", pa.string()),  # scrubbed
        ("other_interaction_id", pa.string()),
        ("preferred", pa.string()),
        ("reason", pa.string()),
        ("comment", pa.string()),  # scrubbed
        ("metadata", pa.map_(pa.string(), pa.string())),
        ("pii_findings", pa.map_(pa.string(), pa.int32())),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
    ]
)

REJECTS = pa.schema(
    [
        ("stage", pa.string()),  # parse | redelivery | erasure | attach | filter | dedup_exact | dedup_near
        ("reason", pa.string()),  # snake_case
        ("detail", pa.string()),  # never raw user text
        ("event_type", pa.string()),
        ("event_id", pa.string()),
        ("user_pseudonym", pa.string()),
        ("duplicate_of", pa.string()),  # kept event_id for duplicates
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("raw_sha256", pa.string()),  # sha256 of the raw line bytes
    ]
)

STATS = pa.schema(
    [
        ("run_id", pa.string()),
        ("stage", pa.string()),
        ("metric", pa.string()),  # in | out | dropped | pii_<ENTITY> | ...
        ("reason", pa.string()),  # for dropped, else ''
        ("value", pa.int64()),
    ]
)

# Kept records' dedup sketches, so that tomorrow's copy of today's record is caught and
# verified exactly as within a day (pipelines/dedup/sketch.py, docs/dedup.md).
DEDUP_INDEX = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_pseudonym", pa.string()),
        ("signature", pa.binary()),  # num_perm little-endian uint32 MinHash values: candidates
        ("prompt_hashes", pa.binary()),  # sorted distinct uint32 LE word-3-gram hashes: verify
        ("response_hashes", pa.binary()),  # the same for the response alone
    ]
)

DELETION_REQUESTS = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_pseudonym", pa.string()),
        ("requested_at", TS),
    ]
)

TABLES = {
    "interactions": INTERACTIONS,
    "feedback": FEEDBACK,
    "rejects": REJECTS,
    "stats": STATS,
    "dedup_index": DEDUP_INDEX,
    "deletion_requests": DELETION_REQUESTS,
}


# The curation job's stages in the order records flow through them: the vocabulary of the
# ``stats`` and ``rejects`` tables' ``stage`` column (the job, reconcile and the funnel read it).
STAGES = ("read", "parse", "redelivery", "erasure", "attach", "filter", "scrub", "dedup_exact",
          "dedup_near", "resolve", "write")
