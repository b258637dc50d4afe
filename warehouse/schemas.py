"""Fixed pyarrow schemas of the warehouse tables (documented in docs/warehouse.md).

Every table is a Delta Lake table ``WAREHOUSE/<table>/`` partitioned by ``dt`` (``warehouse.tables``):
its schema is the one here plus the partition column ``dt`` (a string ``YYYY-MM-DD`` held in the
transaction log, not in the data files). Free text in these tables has been scrubbed of PII;
user ids are keyed-hash pseudonyms.
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

# Erasure tombstones, written by governance.erase (one row per completed deletion request).
DELETIONS = pa.schema(
    [
        ("user_pseudonym", pa.string()),  # the only trace of the user left
        ("request_event_id", pa.string()),
        ("requested_at", TS),
        ("completed_at", TS),  # end of the run's logical day (--as-of), not wall time
        ("rows_removed", pa.map_(pa.string(), pa.int64())),  # table -> rows removed
        ("datasets_marked_stale", pa.list_(pa.string())),  # dataset ids that held the user
        ("model_versions_tagged", pa.list_(pa.string())),  # "name/version" trained on those
    ]
)

# Every promotion, refusal and rollback, written by training.promote / training.rollback;
# partitioned by the day of ``at``.
DEPLOYMENTS = pa.schema(
    [
        ("deployment_id", pa.string()),  # sha256 of the row key, first 16 hex
        ("run_key", pa.string()),  # the caller's idempotency key (Airflow run id, ...)
        ("model_name", pa.string()),
        ("action", pa.string()),  # promote | refuse | rollback
        ("from_version", pa.int64()),  # champion before (null: there was none)
        ("to_version", pa.int64()),  # champion after (for refuse: the refused candidate)
        ("reason", pa.string()),  # snake_case, from the gate or the operator
        ("metrics_json", pa.string()),  # the candidate's EvalResult (promote/refuse)
        ("dataset_id", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),  # when the action happened
    ]
)

# The curated tables, written by the curation job for one day at a time.
TABLES = {
    "interactions": INTERACTIONS,
    "feedback": FEEDBACK,
    "rejects": REJECTS,
    "stats": STATS,
    "dedup_index": DEDUP_INDEX,
    "deletion_requests": DELETION_REQUESTS,
}

# Every Delta table of the warehouse: the curated ones and those other jobs write.
ALL_TABLES = {**TABLES, "deletions": DELETIONS, "deployments": DEPLOYMENTS}


# The curation job's stages in the order records flow through them: the vocabulary of the
# ``stats`` and ``rejects`` tables' ``stage`` column (the job, reconcile and the funnel read it).
STAGES = ("read", "parse", "redelivery", "erasure", "attach", "filter", "scrub", "dedup_exact",
          "dedup_near", "resolve", "write")
