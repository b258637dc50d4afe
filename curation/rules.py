"""Pure rules that turn warehouse rows into training examples (documented in docs/datasets.md).

Everything here works on plain dicts as read from the warehouse tables (``warehouse.schemas``):
interactions carry ``event_id, ts, user_pseudonym, messages, prompt, response,
consent_training, flagged, dedup_cluster_id``; feedback carries ``event_id, ts, user_pseudonym,
interaction_id, kind, value, edited_response, other_interaction_id, preferred``. No I/O: the
builder in ``curation.datasets`` reads, calls these, and writes.

Filters return ``(keep, reason)`` with snake_case reasons so the manifest can count drops.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Bump when a rule changes what a build emits: it is part of every dataset_id, so the same
# inputs built by different rules never share an id.
RULES_VERSION = "1"

SFT_GOOD_ANSWER = "good_answer"
SFT_USER_EDIT = "user_edit"
SFT_RULES = (SFT_GOOD_ANSWER, SFT_USER_EDIT)

PREF_EDIT = "edit"
PREF_COMPARISON = "comparison"
PREF_THUMBS = "thumbs"
PREF_RATING = "rating"
PREF_RULES = (PREF_EDIT, PREF_COMPARISON, PREF_THUMBS, PREF_RATING)
# When two rules yield the same (chosen, rejected) interactions, the more direct signal wins.
PAIR_RULE_PRIORITY = {PREF_COMPARISON: 0, PREF_RATING: 1, PREF_THUMBS: 2}

TRAIN, EVAL = "train", "eval"

_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


# ---------------------------------------------------------------------------------------------
# Text


def normalize_prompt(text: str | None) -> str:
    """Key for "the same prompt": NFKC, case-folded, punctuation dropped, whitespace collapsed."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", _NON_WORD.sub(" ", folded)).strip()


def render_prompt(messages: Iterable[dict[str, str]]) -> str:
    """The tokenizer-free text form of a conversation, ending where the assistant speaks next.

    Each message is ``<|role|>\\n{content}\\n``; the prompt ends with ``<|assistant|>\\n``, so
    ``render_prompt(history) + completion`` is the whole exchange as one string.
    """
    parts = [f"<|{m['role']}|>\n{m['content']}\n" for m in messages]
    return "".join(parts) + "<|assistant|>\n"


def _same_text(a: str | None, b: str | None) -> bool:
    return (a or "").strip() == (b or "").strip()


# ---------------------------------------------------------------------------------------------
# Users: consent, withdrawal, deletion


def withdrawn_users(consent_rows: Iterable[dict[str, Any]]) -> set[str]:
    """Users who consented and later did not: a consent_training=false interaction after a true.

    Withdrawal is sticky: a later opt-in again does not re-admit the user; a new policy decision
    (outside this builder) would have to. Rows need ``user_pseudonym, ts, consent_training``.
    """
    first_yes: dict[str, datetime] = {}
    last_no: dict[str, datetime] = {}
    for row in consent_rows:
        user, ts = row["user_pseudonym"], row["ts"]
        if row["consent_training"]:
            if user not in first_yes or ts < first_yes[user]:
                first_yes[user] = ts
        elif user not in last_no or ts > last_no[user]:
            last_no[user] = ts
    return {user for user, no in last_no.items() if user in first_yes and no > first_yes[user]}


def consenting_users(consent_rows: Iterable[dict[str, Any]]) -> set[str]:
    """Users with at least one consent_training=true interaction."""
    return {row["user_pseudonym"] for row in consent_rows if row["consent_training"]}


@dataclass(frozen=True)
class Eligibility:
    """Who may appear in a dataset built as of one day."""

    consenting: frozenset[str]
    withdrawn: frozenset[str]
    deleted: frozenset[str]

    def user(self, user: str | None) -> tuple[bool, str]:
        if user is None:
            return False, "no_user"
        if user in self.deleted:
            return False, "deleted_user"
        if user in self.withdrawn:
            return False, "consent_withdrawn"
        if user not in self.consenting:
            return False, "no_consent"
        return True, ""

    def interaction(self, row: dict[str, Any]) -> tuple[bool, str]:
        keep, reason = self.user(row["user_pseudonym"])
        if not keep:
            return keep, reason
        if not row["consent_training"]:
            return False, "no_consent"
        return True, ""


# ---------------------------------------------------------------------------------------------
# Feedback signals per interaction


@dataclass
class Signals:
    """All usable feedback on one interaction, aggregated."""

    thumbs_up: list[str] = field(default_factory=list)  # feedback event ids
    thumbs_down: list[str] = field(default_factory=list)
    ratings: list[tuple[int, str]] = field(default_factory=list)  # (value, feedback id)
    edits: list[dict[str, Any]] = field(default_factory=list)  # feedback rows
    flags: list[str] = field(default_factory=list)

    @property
    def mean_rating(self) -> float | None:
        if not self.ratings:
            return None
        return sum(v for v, _ in self.ratings) / len(self.ratings)


def collect_signals(feedback: Iterable[dict[str, Any]]) -> dict[str, Signals]:
    """interaction_id -> Signals, from usable feedback rows (comparisons are handled apart)."""
    by_interaction: dict[str, Signals] = defaultdict(Signals)
    for row in feedback:
        signals = by_interaction[row["interaction_id"]]
        kind = row["kind"]
        if kind == "thumbs":
            (signals.thumbs_up if row["value"] == 1 else signals.thumbs_down).append(row["event_id"])
        elif kind == "rating" and row["value"] is not None:
            signals.ratings.append((int(row["value"]), row["event_id"]))
        elif kind == "edit":
            signals.edits.append(row)
        elif kind == "flag":
            signals.flags.append(row["event_id"])
    return dict(by_interaction)


def is_flagged(interaction: dict[str, Any], signals: Signals | None) -> bool:
    """Flagged by the pipeline on the day it arrived, or by a flag that came later."""
    return bool(interaction.get("flagged")) or bool(signals and signals.flags)


def good_answer(
    interaction: dict[str, Any], signals: Signals | None, min_good_rating: int, max_bad_rating: int
) -> tuple[bool, str]:
    """An answer worth imitating: liked (thumbs up or a high rating) and nothing said against it.

    Negative signal: a thumbs down, a rating <= max_bad_rating, a flag, or an edit (the user
    rewrote it, so the edit is the target, not this answer).
    """
    if signals is None:
        return False, "no_feedback"
    if is_flagged(interaction, signals):
        return False, "flagged"
    if signals.thumbs_down or signals.edits or any(v <= max_bad_rating for v, _ in signals.ratings):
        return False, "negative_feedback"
    liked = bool(signals.thumbs_up) or any(v >= min_good_rating for v, _ in signals.ratings)
    if not liked:
        return False, "not_liked"
    if not (interaction.get("response") or "").strip():
        return False, "empty_response"
    return True, ""


def latest_edit(interaction: dict[str, Any], signals: Signals | None) -> dict[str, Any] | None:
    """The most recent edit that really changes the answer (latest ts, then largest event id)."""
    if signals is None:
        return None
    edits = [
        e for e in signals.edits
        if (e.get("edited_response") or "").strip()
        and not _same_text(e["edited_response"], interaction.get("response"))
    ]
    if not edits:
        return None
    return max(edits, key=lambda e: (e["ts"], e["event_id"]))


# ---------------------------------------------------------------------------------------------
# Near-duplicate groups


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller key becomes the root, so component ids do not depend on input order.
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


def near_duplicate_groups(interactions: Iterable[dict[str, Any]]) -> dict[str, str]:
    """event_id -> group id; one group per connected set of same normalized prompt or cluster.

    The group id is the smallest member key (``c:<cluster id>`` or ``p:<normalized prompt>``
    hashed), so it is the same whatever the input order.
    """
    uf = _UnionFind()
    keys_by_event: dict[str, list[str]] = {}
    for row in interactions:
        keys = [f"c:{row.get('dedup_cluster_id') or row['event_id']}"]
        norm = normalize_prompt(row.get("prompt"))
        if norm:
            keys.append("p:" + hashlib.sha1(norm.encode("utf-8")).hexdigest()[:16])
        for key in keys[1:]:
            uf.union(keys[0], key)
        keys_by_event[row["event_id"]] = keys
    return {event_id: uf.find(keys[0]) for event_id, keys in keys_by_event.items()}


# ---------------------------------------------------------------------------------------------
# Split


def user_split(user: str, seed: int, eval_fraction: float) -> str:
    """Stable per-user split: sha256(seed, user) as a number in [0, 1) against eval_fraction."""
    digest = hashlib.sha256(f"{seed}\x1f{user}".encode()).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64
    return EVAL if unit < eval_fraction else TRAIN


def assign_splits(
    rows: list[dict[str, Any]], seed: int, eval_fraction: float
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Give each row a split so that no user and no near-duplicate group straddles train/eval.

    Each row has ``_users`` (every user whose data it holds), ``_groups`` (near-duplicate group
    ids of its interactions) and ``_order`` (a sortable key: its earliest interaction). A row
    takes its users' split; a row whose users disagree is dropped (``split_user_conflict``). A
    group belongs to the split of its first row in ``_order``; a later row whose split differs
    from one of its groups' is dropped (``split_group_conflict``). Returns the kept rows (with
    ``split``) and drop counts.
    """
    dropped: dict[str, int] = defaultdict(int)
    candidates = []
    for row in sorted(rows, key=lambda r: r["_order"]):
        splits = {user_split(u, seed, eval_fraction) for u in row["_users"]}
        if len(splits) != 1:
            dropped["split_user_conflict"] += 1
            continue
        candidates.append((row, splits.pop()))
    group_split: dict[str, str] = {}
    for row, split in candidates:
        for group in row["_groups"]:
            group_split.setdefault(group, split)
    kept = []
    for row, split in candidates:
        if any(group_split[g] != split for g in row["_groups"]):
            dropped["split_group_conflict"] += 1
            continue
        kept.append({**row, "split": split})
    return kept, dict(dropped)


def pick_pairs(pairs: list[tuple[str, str]], limit: int, seed: int) -> list[tuple[str, str]]:
    """At most ``limit`` pairs, chosen by a seeded hash (not by input order)."""
    ranked = sorted(
        pairs, key=lambda p: hashlib.sha256(f"{seed}\x1f{p[0]}\x1f{p[1]}".encode()).hexdigest()
    )
    return sorted(ranked[:limit])
