"""Exact and near-duplicate removal of interaction records, as Beam composite transforms.

``DedupExact`` collapses records whose normalized dedup text is identical; ``DedupNearDuplicates``
clusters records whose word-shingle Jaccard similarity is at least ``DedupConfig.threshold``,
both over the whole exchange and over the responses alone (MinHash + LSH banding to find
candidates, exact shingle Jaccard to verify them, within a day and against earlier days' index
rows alike, a bounded distributed connected-components pass to form clusters) and keeps one
representative per cluster. Design, parameters and measured quality: docs/dedup.md;
bench/dedup.py measures them.

Modules: ``config`` (DedupConfig, reasons, INDEX_COLUMNS), ``text`` (normalization, shingles),
``minhash`` (signatures, band keys, Jaccard), ``sketch`` (a record's sketch, dedup_index rows,
the pair similarity), ``graph`` (candidate pairs, connected components), ``stages`` (the Beam
transforms).

Representative rule (both stages): most feedback (``n_feedback``), then earliest ``ts``, then
smallest ``event_id``. Across days a past record (a ``past_index`` row) always wins: it is already
published.
"""

from pipelines.dedup.config import EXACT_DUPLICATE, INDEX_COLUMNS, NEAR_DUPLICATE, DedupConfig
from pipelines.dedup.sketch import index_rows
from pipelines.dedup.stages import DedupExact, DedupNearDuplicates, duplicate_reject

__all__ = [
    "EXACT_DUPLICATE", "INDEX_COLUMNS", "NEAR_DUPLICATE", "DedupConfig", "DedupExact",
    "DedupNearDuplicates", "duplicate_reject", "index_rows",
]
