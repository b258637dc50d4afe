"""Build SFT and preference datasets from the warehouse (rules in docs/datasets.md).

    python -m curation.datasets build --warehouse DIR --as-of YYYY-MM-DD [--window-days N]
                                      [--eval-fraction F] [--seed S]
    python -m curation.datasets list --warehouse DIR
    python -m curation.datasets show --warehouse DIR ID

A build reads the ``interactions`` and ``feedback`` partitions of the window ending at ``as_of``
(plus every earlier ``interactions`` partition's consent columns, ``deletion_requests`` up to
``as_of`` and the ``deletions`` table), applies the rules of ``curation.rules`` and writes
``WAREHOUSE/datasets/<dataset_id>/{sft,preferences}/{train,eval}.parquet`` and
``manifest.json``. The id is a hash of the inputs' bytes, the window, the config, the rules
version and the resulting counts, so the same inputs give the same id and the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation import rules
from curation.dataset_format import (
    DATASETS_DIR,
    FORMAT_VERSION,
    MANIFEST,
    DatasetError,
    list_datasets,
    load_manifest,
    sha256_file,
    split_counts,
    write_manifest,
    write_split,
)
from warehouse import days, journal, umask

__all__ = ["DatasetConfig", "DatasetError", "MANIFEST", "build_dataset", "list_datasets", "load_manifest"]


@dataclass(frozen=True)
class DatasetConfig:
    # A week of traffic: enough feedback to pair answers to popular prompts, recent enough
    # that the data reflects the current product.
    window_days: int = 7
    # One user in ten held out: a few hundred eval rows at a few thousand users a day.
    eval_fraction: float = 0.1
    # Salt of the user hash (split) and of pair sampling; change it to draw another split.
    seed: int = 0
    # On the 1..5 scale, 4 and 5 are the ratings users give answers they are happy with.
    min_good_rating: int = 4
    # 1 and 2 say the answer was bad; 3 is neutral and neither helps nor disqualifies.
    max_bad_rating: int = 2
    # Rating pairs need a full point between the answers' mean ratings: smaller gaps are noise.
    min_rating_gap: float = 1.0
    # A popular prompt with many liked and disliked answers would otherwise add O(n^2) pairs
    # and dominate the preference set.
    max_pairs_per_group: int = 16

    def validate(self) -> None:
        if self.window_days < 1:
            raise DatasetError(f"window_days must be >= 1, got {self.window_days}")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise DatasetError(f"eval_fraction must be in [0, 1), got {self.eval_fraction}")
        if not 1 <= self.max_bad_rating < self.min_good_rating <= 5:
            raise DatasetError(
                f"need 1 <= max_bad_rating ({self.max_bad_rating}) < min_good_rating "
                f"({self.min_good_rating}) <= 5"
            )
        if self.max_pairs_per_group < 1:
            raise DatasetError(f"max_pairs_per_group must be >= 1, got {self.max_pairs_per_group}")


# Ratings run 1..5: a difference of 4 is the largest possible, so margins land in (0, 1].
RATING_SPAN = 4.0

INTERACTION_COLUMNS = [
    "event_id", "ts", "user_pseudonym", "model_version", "messages", "prompt", "response",
    "consent_training", "flagged", "dedup_cluster_id",
]
CONSENT_COLUMNS = ["user_pseudonym", "ts", "consent_training"]
FEEDBACK_COLUMNS = [
    "event_id", "ts", "user_pseudonym", "interaction_id", "kind", "value", "edited_response",
    "other_interaction_id", "preferred",
]

# ---------------------------------------------------------------------------------------------
# Reading the warehouse


@dataclass(frozen=True)
class SourceFile:
    table: str
    dt: str | None  # None for a file outside a dt= partition
    path: Path
    purpose: str  # rows | consent | deletions


def _partition_files(warehouse: Path, table: str) -> list[tuple[str, Path]]:
    root = warehouse / table
    if not root.is_dir():
        return []
    out = []
    for part in sorted(root.glob("dt=*")):
        dt = part.name[3:]
        try:
            date.fromisoformat(dt)
        except ValueError:
            continue  # not a date partition (e.g. a writer's temp folder)
        out.extend((dt, path) for path in sorted(part.glob("*.parquet")))
    return out


def _source_files(warehouse: Path, as_of: date, start: date) -> list[SourceFile]:
    files = []
    for dt, path in _partition_files(warehouse, "interactions"):
        day = date.fromisoformat(dt)
        if day <= as_of:
            files.append(SourceFile("interactions", dt, path, "rows" if day >= start else "consent"))
    for dt, path in _partition_files(warehouse, "feedback"):
        if start <= date.fromisoformat(dt) <= as_of:
            files.append(SourceFile("feedback", dt, path, "rows"))
    for dt, path in _partition_files(warehouse, "deletion_requests"):
        if date.fromisoformat(dt) <= as_of:
            files.append(SourceFile("deletion_requests", dt, path, "deletions"))
    # Completed erasures bind every build, whatever its as_of.
    deletions = warehouse / "deletions"
    if deletions.is_dir():
        for path in sorted(deletions.rglob("*.parquet")):
            if any(part.startswith(".") or part.startswith("_") for part in
                   path.relative_to(deletions).parts):
                continue  # a writer's staging or temp file, not committed data
            dt = path.parent.name[3:] if path.parent.name.startswith("dt=") else None
            files.append(SourceFile("deletions", dt, path, "deletions"))
    return files


def _read(source: SourceFile, columns: list[str]) -> list[dict[str, Any]]:
    parquet = pq.ParquetFile(source.path)
    missing = [c for c in columns if c not in parquet.schema_arrow.names]
    if missing:
        raise DatasetError(
            f"{source.path} lacks column(s) {', '.join(missing)} of table '{source.table}' "
            "(see warehouse/schemas.py); re-curate that partition"
        )
    rows = parquet.read(columns=columns).to_pylist()
    for row in rows:
        row["_dt"] = source.dt
    return rows


def _row_digests(path: Path) -> list[str]:
    """One digest per row over every column: the partition's content, whatever its file layout."""
    rows = pq.read_table(path).to_pylist()
    return [hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()
            for row in rows]


@dataclass
class Inputs:
    interactions: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    consent_rows: list[dict[str, Any]]
    deleted: set[str]
    created_from: list[dict[str, Any]]
    # (table, dt, purpose) -> sha256 of the sorted row digests: what the dataset id hashes.
    # A rerun of curation writes the same rows in other files and orders, so file bytes are no
    # identity; the rows are.
    partitions: list[dict[str, Any]]


def read_inputs(warehouse: Path, as_of: date, start: date) -> Inputs:
    interactions, feedback, consent_rows, deleted, created_from = [], [], [], set(), []
    digests: dict[tuple[str, str, str], list[str]] = {}
    for source in _source_files(warehouse, as_of, start):
        digests.setdefault((source.table, source.dt or "", source.purpose), []).extend(
            _row_digests(source.path))
        created_from.append({
            "table": source.table,
            "dt": source.dt,
            "path": source.path.relative_to(warehouse).as_posix(),
            "sha256": sha256_file(source.path),
            "purpose": source.purpose,
        })
        if source.table == "interactions" and source.purpose == "rows":
            rows = _read(source, INTERACTION_COLUMNS)
            interactions.extend(rows)
            consent_rows.extend(rows)
        elif source.table == "interactions":
            consent_rows.extend(_read(source, CONSENT_COLUMNS))
        elif source.table == "feedback":
            feedback.extend(_read(source, FEEDBACK_COLUMNS))
        else:
            deleted.update(r["user_pseudonym"] for r in _read(source, ["user_pseudonym"]))
    created_from.sort(key=lambda f: (f["table"], f["dt"] or "", f["path"]))
    partitions = [
        {"table": table, "dt": dt or None, "purpose": purpose, "rows": len(rows),
         "content_sha256": hashlib.sha256("".join(sorted(rows)).encode()).hexdigest()}
        for (table, dt, purpose), rows in sorted(digests.items())
    ]
    return Inputs(interactions, feedback, consent_rows, deleted, created_from, partitions)


# ---------------------------------------------------------------------------------------------
# Building rows


def _row_order(*interactions: dict[str, Any]) -> tuple:
    first = min(interactions, key=lambda i: (i["ts"], i["event_id"]))
    return (first["ts"].isoformat(), first["event_id"])


def build_rows(
    inputs: Inputs, config: DatasetConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """Apply every rule; return (sft rows, preference rows, drop counts), rows with ``split``."""
    dropped: dict[str, int] = defaultdict(int)
    eligibility = rules.Eligibility(
        consenting=frozenset(rules.consenting_users(inputs.consent_rows)),
        withdrawn=frozenset(rules.withdrawn_users(inputs.consent_rows)),
        deleted=frozenset(inputs.deleted),
    )

    by_id: dict[str, dict[str, Any]] = {}
    for row in sorted(inputs.interactions, key=lambda r: r["event_id"]):
        keep, reason = eligibility.interaction(row)
        if keep:
            by_id[row["event_id"]] = row
        else:
            dropped[f"interaction_{reason}"] += 1

    usable_feedback = []
    for row in sorted(inputs.feedback, key=lambda r: r["event_id"]):
        keep, reason = eligibility.user(row["user_pseudonym"])
        if not keep:
            dropped[f"feedback_{reason}"] += 1
        elif row["interaction_id"] not in by_id:
            dropped["feedback_interaction_unavailable"] += 1
        else:
            usable_feedback.append(row)

    signals = rules.collect_signals(usable_feedback)
    groups = rules.near_duplicate_groups(by_id.values())
    sft = _sft_candidates(by_id, signals, groups, config, dropped)
    pairs = _pair_candidates(by_id, signals, groups, usable_feedback, config, dropped)

    kept, split_dropped = rules.assign_splits(sft + pairs, config.seed, config.eval_fraction)
    for reason, n in split_dropped.items():
        dropped[reason] += n
    private = ("_users", "_groups", "_order", "_kind")
    sft_rows = [{k: v for k, v in r.items() if k not in private} for r in kept if r["_kind"] == "sft"]
    pref_rows = [{k: v for k, v in r.items() if k not in private} for r in kept if r["_kind"] == "pref"]
    return sft_rows, pref_rows, dict(sorted(dropped.items()))


def _sft_candidates(by_id, signals, groups, config, dropped) -> list[dict[str, Any]]:
    rows = []
    for event_id, interaction in by_id.items():
        sig = signals.get(event_id)
        if sig is None:
            continue  # no feedback: nothing to say about this answer
        history = list(interaction["messages"])
        edit = rules.latest_edit(interaction, sig)
        if edit is not None:
            rule, target, feedback_ids = rules.SFT_USER_EDIT, edit["edited_response"], [edit["event_id"]]
            users = {interaction["user_pseudonym"], edit["user_pseudonym"]}
        else:
            keep, reason = rules.good_answer(
                interaction, sig, config.min_good_rating, config.max_bad_rating
            )
            if not keep:
                dropped[f"sft_{reason}"] += 1
                continue
            rule, target = rules.SFT_GOOD_ANSWER, interaction["response"]
            feedback_ids = sorted(
                sig.thumbs_up + [f for v, f in sig.ratings if v >= config.min_good_rating]
            )
            users = {interaction["user_pseudonym"]}
        rows.append({
            "messages": history + [{"role": "assistant", "content": target}],
            "prompt": rules.render_prompt(history),
            "completion": target,
            "rule": rule,
            "user_pseudonym": interaction["user_pseudonym"],
            "source_event_id": event_id,
            "feedback_event_ids": feedback_ids,
            "model_version": interaction["model_version"],
            "source_dt": interaction["_dt"],
            "_kind": "sft",
            "_users": users,
            "_groups": {groups[event_id]},
            "_order": _row_order(interaction) + ("sft", rule),
        })
    return rows


def _pair(chosen, rejected, rule, feedback_ids, margin=None, extra_users=()) -> dict[str, Any]:
    return {
        "prompt": rules.render_prompt(chosen["messages"]),
        "chosen": chosen["response"],
        "rejected": rejected["response"],
        "margin": margin,
        "rule": rule,
        "user_pseudonym": chosen["user_pseudonym"],
        "rejected_user_pseudonym": rejected["user_pseudonym"],
        "source_event_id": chosen["event_id"],
        "chosen_event_id": chosen["event_id"],
        "rejected_event_id": rejected["event_id"],
        "feedback_event_ids": sorted(feedback_ids),
        "_kind": "pref",
        "_users": {chosen["user_pseudonym"], rejected["user_pseudonym"], *extra_users},
        "_order": _row_order(chosen, rejected) + ("pref", rule, chosen["event_id"]),
    }


def _pair_candidates(by_id, signals, groups, feedback, config, dropped) -> list[dict[str, Any]]:
    pairs: list[dict[str, Any]] = []

    # edit: the user's rewrite over the answer they rewrote (a flagged original is fine here:
    # it is the rejected side).
    for event_id, interaction in by_id.items():
        edit = rules.latest_edit(interaction, signals.get(event_id))
        if edit is None:
            continue
        pairs.append({
            "prompt": rules.render_prompt(interaction["messages"]),
            "chosen": edit["edited_response"],
            "rejected": interaction["response"],
            "margin": None,
            "rule": rules.PREF_EDIT,
            "user_pseudonym": interaction["user_pseudonym"],
            "rejected_user_pseudonym": interaction["user_pseudonym"],
            "source_event_id": event_id,
            "chosen_event_id": None,
            "rejected_event_id": event_id,
            "feedback_event_ids": [edit["event_id"]],
            "_kind": "pref",
            "_users": {interaction["user_pseudonym"], edit["user_pseudonym"]},
            "_order": _row_order(interaction) + ("pref", rules.PREF_EDIT, event_id),
        })

    between: dict[tuple[str, str], dict[str, Any]] = {}

    def offer(pair: dict[str, Any]) -> None:
        key = (pair["chosen_event_id"], pair["rejected_event_id"])
        held = between.get(key)
        if held is None or (
            rules.PAIR_RULE_PRIORITY[pair["rule"]] < rules.PAIR_RULE_PRIORITY[held["rule"]]
        ):
            between[key] = pair
        elif held["rule"] == pair["rule"]:
            held["feedback_event_ids"] = sorted(
                set(held["feedback_event_ids"]) | set(pair["feedback_event_ids"])
            )
            held["_users"] |= pair["_users"]

    # comparison: the preferred answer over the other, both present and to the same prompt.
    for row in feedback:
        if row["kind"] != "comparison":
            continue
        this, other = by_id[row["interaction_id"]], by_id.get(row["other_interaction_id"] or "")
        if other is None:
            dropped["comparison_other_unavailable"] += 1
            continue
        if rules.normalize_prompt(this["prompt"]) != rules.normalize_prompt(other["prompt"]):
            dropped["comparison_prompt_mismatch"] += 1
            continue
        chosen, rejected = (this, other) if row["preferred"] == "this" else (other, this)
        keep, reason = _pairable(chosen, rejected, signals)
        if not keep:
            dropped[f"comparison_{reason}"] += 1
            continue
        offer(_pair(chosen, rejected, rules.PREF_COMPARISON, [row["event_id"]],
                    extra_users=(row["user_pseudonym"],)))

    members: dict[str, list[str]] = defaultdict(list)
    for event_id in sorted(by_id):
        if event_id in signals:
            members[groups[event_id]].append(event_id)

    for group in sorted(members):
        ids = members[group]
        if len(ids) < 2:
            continue
        # thumbs: liked (up, no down) over disliked (down, no up) within one group.
        liked = [i for i in ids if signals[i].thumbs_up and not signals[i].thumbs_down]
        disliked = [i for i in ids if signals[i].thumbs_down and not signals[i].thumbs_up]
        candidates = [(a, b) for a in liked for b in disliked if a != b]
        for a, b in _usable_pairs(candidates, by_id, signals, config, "thumbs", dropped):
            sig_a, sig_b = signals[a], signals[b]
            offer(_pair(by_id[a], by_id[b], rules.PREF_THUMBS, sig_a.thumbs_up + sig_b.thumbs_down))
        # rating: higher mean rating over lower, by at least min_rating_gap.
        rated = [i for i in ids if signals[i].mean_rating is not None]
        candidates = [
            (a, b) for a in rated for b in rated
            if signals[a].mean_rating - signals[b].mean_rating >= config.min_rating_gap
        ]
        for a, b in _usable_pairs(candidates, by_id, signals, config, "rating", dropped):
            gap = signals[a].mean_rating - signals[b].mean_rating
            ids_ab = [f for _, f in signals[a].ratings] + [f for _, f in signals[b].ratings]
            offer(_pair(by_id[a], by_id[b], rules.PREF_RATING, ids_ab, margin=gap / RATING_SPAN))

    # A pair offered in both directions (e.g. thumbs one way, rating the other) is noise.
    for (chosen, rejected), pair in sorted(between.items()):
        if (rejected, chosen) in between:
            dropped["pair_contradictory"] += 1
            continue
        pair["_groups"] = {groups[chosen], groups[rejected]}
        pairs.append(pair)
    for pair in pairs:
        if pair["rule"] == rules.PREF_EDIT:
            pair["_groups"] = {groups[pair["source_event_id"]]}
    return pairs


def _pairable(chosen, rejected, signals) -> tuple[bool, str]:
    if rules.is_flagged(chosen, signals.get(chosen["event_id"])):
        return False, "chosen_flagged"
    if rules.normalize_prompt(chosen["response"]) == rules.normalize_prompt(rejected["response"]):
        return False, "same_answer"
    return True, ""


def _usable_pairs(candidates, by_id, signals, config, rule, dropped) -> list[tuple[str, str]]:
    usable = []
    for a, b in candidates:
        keep, reason = _pairable(by_id[a], by_id[b], signals)
        if keep:
            usable.append((a, b))
        else:
            dropped[f"{rule}_{reason}"] += 1
    picked = rules.pick_pairs(usable, config.max_pairs_per_group, config.seed)
    if len(usable) > len(picked):
        dropped[f"{rule}_over_group_cap"] += len(usable) - len(picked)
    return picked


# ---------------------------------------------------------------------------------------------
# Writing


def _sort_sft(rows):
    return sorted(rows, key=lambda r: (r["source_event_id"], r["rule"]))


def _sort_pref(rows):
    return sorted(rows, key=lambda r: (
        r["rule"], r["source_event_id"], r["chosen_event_id"] or "", r["rejected_event_id"] or "",
    ))


def _by_split(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {split: [r for r in rows if r["split"] == split] for split in (rules.TRAIN, rules.EVAL)}


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def build_dataset(
    warehouse: str | os.PathLike, as_of: str | date, config: DatasetConfig = DatasetConfig()
) -> tuple[str, Path]:
    """Build (or find) the dataset for ``as_of``; return ``(dataset_id, path)``.

    Idempotent: an id that already exists is returned untouched. Writes go to a temporary
    folder renamed into place, so readers never see half a dataset.
    """
    config.validate()
    warehouse = Path(warehouse)
    if not warehouse.is_dir():
        raise DatasetError(f"warehouse {warehouse} is not a directory")
    try:
        journal.check_committed(str(warehouse))
    except journal.UnfinishedCommit as exc:
        raise DatasetError(str(exc)) from None  # a half-swapped day would truncate the set
    as_of_day = as_of if isinstance(as_of, date) else _parse_day(as_of)
    start = as_of_day - timedelta(days=config.window_days - 1)

    inputs = read_inputs(warehouse, as_of_day, start)
    if not inputs.interactions:
        raise DatasetError(
            f"no interactions partitions in {warehouse / 'interactions'} between {start} and "
            f"{as_of_day}; curate those days first or widen --window-days"
        )
    sft_rows, pref_rows, dropped = build_rows(inputs, config)
    counts = {
        "sft": split_counts("sft", _by_split(sft_rows), rules.SFT_RULES),
        "preferences": split_counts("preferences", _by_split(pref_rows), rules.PREF_RULES),
    }
    identity = {
        "format_version": FORMAT_VERSION,
        "rules_version": rules.RULES_VERSION,
        "as_of": as_of_day.isoformat(),
        "window": {"start": start.isoformat(), "end": as_of_day.isoformat(),
                   "days": config.window_days},
        "config": asdict(config),
        "sources": inputs.partitions,
        "counts": counts,
        "dropped": dropped,
    }
    dataset_id = hashlib.sha256(_canonical(identity)).hexdigest()[:16]
    root = warehouse / DATASETS_DIR
    final = root / dataset_id
    if (final / MANIFEST).exists():
        return dataset_id, final

    tmp = root / f".tmp-{dataset_id}-{uuid.uuid4().hex[:8]}"
    try:
        files = {}
        for kind, rows, order in (("sft", sft_rows, _sort_sft), ("preferences", pref_rows, _sort_pref)):
            for split, split_rows in _by_split(rows).items():
                files[f"{kind}/{split}.parquet"] = write_split(tmp, kind, split, order(split_rows))
        manifest = {"dataset_id": dataset_id, **identity, "created_from": inputs.created_from,
                    "files": files, "stale": False}
        write_manifest(tmp, manifest)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / MANIFEST).exists():
                raise
            # Another build of the same id won the race; its bytes are the same as ours.
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dataset_id, final


# ---------------------------------------------------------------------------------------------
# CLI


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(days.parse_day(text, "--as-of"))
    except days.BadDay as exc:
        raise DatasetError(str(exc)) from None


def _summary(manifest: dict[str, Any]) -> str:
    c = manifest["counts"]
    return (
        f"{manifest['dataset_id']}  as_of={manifest['as_of']}  days={manifest['window']['days']}  "
        f"sft={c['sft']['train']['rows']}/{c['sft']['eval']['rows']}  "
        f"preferences={c['preferences']['train']['rows']}/{c['preferences']['eval']['rows']}"
        f"{'  STALE' if manifest.get('stale') else ''}"
    )


def main(argv: list[str] | None = None) -> int:
    umask.restrict_umask()  # outputs are never world-readable (FLYWHEEL_UMASK)
    parser = argparse.ArgumentParser(prog="python -m curation.datasets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the dataset of a day's window")
    build.add_argument("--warehouse", required=True)
    build.add_argument("--as-of", required=True, help="last day of the window, YYYY-MM-DD")
    defaults = DatasetConfig()
    build.add_argument("--window-days", type=int, default=defaults.window_days)
    build.add_argument("--eval-fraction", type=float, default=defaults.eval_fraction)
    build.add_argument("--seed", type=int, default=defaults.seed)
    listing = sub.add_parser("list", help="list built datasets (train/eval row counts)")
    listing.add_argument("--warehouse", required=True)
    show = sub.add_parser("show", help="print a dataset's manifest")
    show.add_argument("--warehouse", required=True)
    show.add_argument("dataset_id")
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            config = DatasetConfig(window_days=args.window_days, eval_fraction=args.eval_fraction,
                                   seed=args.seed)
            dataset_id, path = build_dataset(args.warehouse, _parse_day(args.as_of), config)
            print(_summary(load_manifest(args.warehouse, dataset_id)))
            print(path)
        elif args.command == "list":
            for manifest in list_datasets(args.warehouse):
                print(_summary(manifest))
        else:
            print(json.dumps(load_manifest(args.warehouse, args.dataset_id), indent=2,
                             sort_keys=True))
    except (DatasetError, OSError, pa.ArrowException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
