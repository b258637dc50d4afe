"""Datasets the training loop consumes, and builders of such datasets from real public data.

The format (layout, schemas, manifest) is ``curation.dataset_format``, the one contract between
the dataset builder (``python -m curation.datasets build``) and training: this module only reads
it, and ``write_dataset`` writes it for tests and benchmarks.

The builders at the bottom turn OpenAssistant trees and Anthropic hh-rlhf pairs into that format
(see ../shared/data/README.md).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from curation import dataset_format
from curation.dataset_format import DatasetError
from curation.rules import render_prompt
from warehouse import files as storage

__all__ = ["DatasetError", "DatasetRef", "read_preferences", "read_sft", "resolve_dataset", "write_dataset"]


@dataclass(frozen=True)
class DatasetRef:
    dataset_id: str
    path: Path
    manifest: dict

    def split(self, kind: str, split: str) -> Path:
        return self.path / dataset_format.split_relpath(kind, split)

    def has(self, kind: str, split: str) -> bool:
        return self.split(kind, split).exists()

    @property
    def contains_erased_user_data(self) -> bool:
        # Set by governance when an erasure request hits a user whose rows this dataset holds.
        return bool(self.manifest.get(dataset_format.ERASED_KEY, False))


def resolve_dataset(
    warehouse: str | Path | None = None, dataset_id: str | None = None, dataset_path: str | Path | None = None
) -> DatasetRef:
    """``--dataset ID`` under ``--warehouse DIR``, or ``--dataset-path PATH`` directly."""
    if dataset_path is not None:
        path = storage.path(dataset_path)
    elif warehouse is not None and dataset_id is not None:
        path = dataset_format.dataset_dir(warehouse, dataset_id)
    else:
        raise DatasetError("give --dataset-path PATH, or --warehouse DIR and --dataset ID")
    manifest = dataset_format.read_manifest(path)
    if dataset_format.is_stale(manifest):
        raise DatasetError(f"dataset {path.name} is marked stale in its manifest; rebuild it before training")
    return DatasetRef(dataset_id=str(manifest.get("dataset_id") or path.name), path=path, manifest=manifest)


def read_sft(ref: DatasetRef, split: str) -> list[list[dict]]:
    """Conversations of a split, each a list of {role, content} ending with the assistant target."""
    path = ref.split("sft", split)
    if not path.exists():
        raise DatasetError(f"{path} is missing: dataset {ref.dataset_id} has no SFT {split} split")
    conversations = []
    for messages in storage.read_parquet(path, ["messages"]).column("messages").to_pylist():
        messages = [{"role": m["role"], "content": m["content"] or ""} for m in messages or []]
        if len(messages) >= 2 and messages[-1]["role"] == "assistant":
            conversations.append(messages)
    return conversations


def read_preferences(ref: DatasetRef, split: str) -> list[dict]:
    """Rows {prompt, chosen, rejected, margin, rule} of a split, as plain strings."""
    path = ref.split("preferences", split)
    if not path.exists():
        raise DatasetError(f"{path} is missing: dataset {ref.dataset_id} has no preference {split} split")
    table = storage.read_parquet(path)
    rows = []
    for row in table.to_pylist():
        prompt = row.get("prompt")
        if isinstance(prompt, list):  # TRL conversational prompt: render it the same way we render ours
            prompt = render_conversation(prompt)
        rows.append(
            {
                "prompt": prompt or "",
                "chosen": _as_text(row["chosen"]),
                "rejected": _as_text(row["rejected"]),
                "margin": row.get("margin"),
                "rule": row.get("rule") or "",
            }
        )
    return rows


def _as_text(value) -> str:
    if isinstance(value, list):  # conversational completion: [{"role": "assistant", "content": ...}]
        return "".join(m.get("content") or "" for m in value)
    return value or ""


def render_conversation(messages: Iterable[dict]) -> str:
    """The plain-text prompt the reward model reads, ending where the assistant answer starts.

    The same text form as the datasets' ``prompt`` column (``curation.rules.render_prompt``):
    the reward model is trained on dataset prompts and scores evaluation answers to prompts
    rendered here, so the two must never differ.
    """
    return render_prompt({"role": m["role"], "content": _as_text(m["content"])} for m in messages)


# ---------------------------------------------------------------------------------------------
# Writing a dataset folder (tests, benchmarks) and builders from real public data


def write_dataset(
    root: str | Path,
    dataset_id: str,
    sft: dict[str, list[dict]] | None = None,
    preferences: dict[str, list[dict]] | None = None,
    extra_manifest: dict | None = None,
) -> Path:
    """Write ``root/<dataset_id>/`` in ``curation.dataset_format`` (tests, benchmarks); the folder.

    SFT rows need ``messages`` (the prompt and completion columns are derived from them);
    preference rows need prompt, chosen and rejected. Other columns are kept when the format has
    them, null otherwise.
    """
    folder = storage.path(root) / dataset_id
    counts, files = {}, {}
    for kind, splits in (("sft", sft), ("preferences", preferences)):
        splits = splits or {}
        if kind == "sft":
            splits = {name: [dataset_format.sft_row(**row) for row in rows] for name, rows in splits.items()}
        for split, rows in splits.items():
            files[dataset_format.split_relpath(kind, split)] = dataset_format.write_split(folder, kind, split, rows)
        counts[kind] = dataset_format.split_counts(kind, splits)
    manifest = {
        "dataset_id": dataset_id,
        "format_version": dataset_format.FORMAT_VERSION,
        "as_of": None,
        "created_from": [],
        "counts": counts,
        "config": {},
        "files": files,
        "stale": False,
        **(extra_manifest or {}),
    }
    dataset_format.write_manifest(folder, manifest)
    return folder


def in_eval_split(key: str, eval_fraction: float) -> bool:
    """Deterministic group split: the same tree/conversation always lands in the same split."""
    bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < eval_fraction


def _oasst_trees(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _usable(message: dict) -> bool:
    # README: skip synthetic messages; deleted ones were removed by moderators.
    return not message.get("synthetic") and not message.get("deleted") and bool((message.get("text") or "").strip())


def _walk_oasst(node: dict, history: list[dict]) -> Iterator[tuple[list[dict], dict, list[dict]]]:
    """Yield (history before node's replies, node, usable replies) for every usable message."""
    role = "user" if node["role"] == "prompter" else "assistant"
    history = [*history, {"role": role, "content": node["text"]}]
    replies = [reply for reply in node.get("replies", []) if _usable(reply)]
    yield history, node, replies
    for reply in replies:
        yield from _walk_oasst(reply, history)


def _prompter_turns(path: str | Path) -> Iterator[tuple[dict, list[dict], list[dict]]]:
    """(tree, history up to a user turn, usable assistant replies) for every user turn."""
    for tree in _oasst_trees(Path(path)):
        if not _usable(tree["prompt"]):
            continue
        for history, node, replies in _walk_oasst(tree["prompt"], []):
            if node["role"] == "prompter":
                yield tree, history, replies


def oasst_preference_pairs(path: str | Path, siblings: str = "all") -> list[dict]:
    """Chosen/rejected pairs from human ranks among sibling assistant replies (rank 0 = best).

    ``siblings="all"`` pairs every ranked reply with every lower-ranked sibling; ``"best"`` only
    the best one with each of the others. ``margin`` is the rank gap over the widest gap in the
    group, in (0, 1]. Each row also carries ``group`` (the tree id) so callers can split without
    leakage.
    """
    if siblings not in ("all", "best"):
        raise ValueError(f"siblings must be 'all' or 'best', got {siblings!r}")
    pairs = []
    for tree, history, replies in _prompter_turns(path):
        ranked = sorted((r for r in replies if r.get("rank") is not None), key=lambda r: r["rank"])
        widest = max(len(ranked) - 1, 1)
        for i, better in enumerate(ranked[:1] if siblings == "best" else ranked):
            for j, worse in enumerate(ranked[i + 1 :], start=i + 1):
                pairs.append(
                    {
                        "prompt": render_conversation(history),
                        "chosen": better["text"],
                        "rejected": worse["text"],
                        "margin": (j - i) / widest,
                        "rule": "oasst_rank",
                        "group": tree["message_tree_id"],
                    }
                )
    return pairs


def oasst_sft_rows(path: str | Path) -> list[dict]:
    """One conversational row per usable assistant reply that was ranked best or not ranked."""
    rows = []
    for tree, history, replies in _prompter_turns(path):
        for reply in replies:
            if reply.get("rank") not in (None, 0):
                continue
            rows.append(
                {
                    "messages": [*history, {"role": "assistant", "content": reply["text"]}],
                    "rule": "oasst_reply",  # ranked best among its siblings, or not ranked
                    # public data: no user, the pseudonym stands for the tree
                    "user_pseudonym": "oasst-" + tree["message_tree_id"][:12],
                    "source_event_id": reply["message_id"],
                    "group": tree["message_tree_id"],
                }
            )
    return rows


_HH_TURN = re.compile(r"\n\n(Human|Assistant): ")


def parse_hh_transcript(text: str) -> list[dict]:
    """'\\n\\nHuman: ...\\n\\nAssistant: ...' -> [{role, content}, ...]."""
    parts = _HH_TURN.split(text)
    messages = []
    for speaker, content in zip(parts[1::2], parts[2::2], strict=False):
        messages.append({"role": "user" if speaker == "Human" else "assistant", "content": content.strip()})
    return messages


def hh_preference_pairs(path: str | Path) -> list[dict]:
    """hh-rlhf pairs: chosen and rejected share every turn but the last assistant one."""
    pairs = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            chosen, rejected = parse_hh_transcript(record["chosen"]), parse_hh_transcript(record["rejected"])
            if len(chosen) < 2 or chosen[-1]["role"] != "assistant" or rejected[-1]["role"] != "assistant":
                continue
            if chosen[:-1] != rejected[:-1] or chosen[-1]["content"] == rejected[-1]["content"]:
                continue  # the README promises a shared context; skip the few that break it
            pairs.append(
                {
                    "prompt": render_conversation(chosen[:-1]),
                    "chosen": chosen[-1]["content"],
                    "rejected": rejected[-1]["content"],
                    "margin": None,
                    "rule": "hh_rlhf_human_label",
                    "group": hashlib.sha256(chosen[0]["content"].encode()).hexdigest()[:16],
                }
            )
    return pairs


def split_rows(rows: list[dict], eval_fraction: float) -> dict[str, list[dict]]:
    """Group split on ``group``; the column is dropped from the written rows."""
    splits: dict[str, list[dict]] = {"train": [], "eval": []}
    for row in rows:
        row = dict(row)
        group = row.pop("group")
        splits["eval" if in_eval_split(group, eval_fraction) else "train"].append(row)
    return splits
