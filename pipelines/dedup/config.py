"""Dedup's configuration, its reject reasons and the columns it reads back from ``dedup_index``."""

from __future__ import annotations

from dataclasses import dataclass

EXACT_DUPLICATE = "exact_duplicate"
NEAR_DUPLICATE = "near_duplicate"

# The dedup_index columns DedupNearDuplicates needs from earlier days' rows (curate.py reads only
# these): the signature finds candidates, the two shingle-hash sets verify them exactly.
INDEX_COLUMNS = ("event_id", "signature", "prompt_hashes", "response_hashes")


@dataclass(frozen=True)
class DedupConfig:
    # Word n-grams: 3 keeps one changed word in a 30-word record at Jaccard ~0.8, while short
    # prompts that share a phrase stay well apart; 5 (web-scale choice) is too coarse for chat.
    # The dedup_index stores hashes of these shingles: changing it needs a rebuilt index.
    shingle: int = 3
    # MinHash permutations: estimate std is sqrt(s(1-s)/128) ~ 0.04 at s = 0.7; signatures of
    # 512 bytes per kept record in the dedup_index table.
    num_perm: int = 128
    # bands x rows (<= num_perm): 32 x 4 makes a pair at the threshold a candidate with
    # probability 1-(1-0.7^4)^32 = 0.9998; false candidates only cost an exact verification.
    bands: int = 32
    rows: int = 4
    # Exact word-3-gram Jaccard at or above which two records are near-duplicates; it must hold
    # for the whole exchange AND for the responses alone (a long shared prompt must not make two
    # distinct answers to it look alike: those are what preference pairs are made of).
    threshold: float = 0.7
    # datasketch.MinHash's default seed, so signatures equal MinHash(num_perm=128, seed=1).
    seed: int = 1
    # A band bucket up to this size pairs every member with every other (<= 496 pairs)...
    bucket_all_pairs_max: int = 32
    # ...a larger one pairs each member with this many best-ranked members only: linear fan-out.
    bucket_anchors: int = 8
    # Rounds of large-star / small-star; each costs two shuffles of the near-duplicate graph's
    # edges only (records with a verified edge). 8 settle random trees of 10,000 and most chains
    # of 1,024 near-duplicates (bench/cc_convergence.py); a component still unsettled is split
    # into correct kept clusters and its nodes counted (cc_unresolved), see docs/dedup.md.
    cc_rounds: int = 8
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
