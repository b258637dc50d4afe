"""The pairing rules: which rated interactions become SFT rows and which become preference
pairs (the rules themselves in ``curation.rules``; the I/O in ``curation.datasets``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from curation import rules
from curation.dataset_format import DatasetError

# Ratings run 1..5: a difference of 4 is the largest possible, so margins land in (0, 1].
RATING_SPAN = 4.0


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


def _row_order(*interactions: dict[str, Any]) -> tuple:
    first = min(interactions, key=lambda i: (i["ts"], i["event_id"]))
    return (first["ts"].isoformat(), first["event_id"])


def build_rows(  # inputs: a curation.datasets.Inputs
    inputs, config: DatasetConfig
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


def _edit_pairs(by_id, signals) -> list[dict[str, Any]]:
    """edit: the user's rewrite over the answer they rewrote (a flagged original is fine here:
    it is the rejected side)."""
    pairs = []
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
    return pairs


class _Offers:
    """Pairs between two interactions: the highest-priority rule wins; the same rule merges."""

    def __init__(self):
        self.between: dict[tuple[str, str], dict[str, Any]] = {}

    def offer(self, pair: dict[str, Any]) -> None:
        key = (pair["chosen_event_id"], pair["rejected_event_id"])
        held = self.between.get(key)
        if held is None or (
            rules.PAIR_RULE_PRIORITY[pair["rule"]] < rules.PAIR_RULE_PRIORITY[held["rule"]]
        ):
            self.between[key] = pair
        elif held["rule"] == pair["rule"]:
            held["feedback_event_ids"] = sorted(
                set(held["feedback_event_ids"]) | set(pair["feedback_event_ids"])
            )
            held["_users"] |= pair["_users"]


def _offer_comparisons(offers: _Offers, by_id, signals, feedback, dropped) -> None:
    """comparison: the preferred answer over the other, both present and to the same prompt."""
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
        offers.offer(_pair(chosen, rejected, rules.PREF_COMPARISON, [row["event_id"]],
                           extra_users=(row["user_pseudonym"],)))


def _offer_group_pairs(offers: _Offers, by_id, signals, groups, config, dropped) -> None:
    """thumbs and rating pairs between answers in one prompt group."""
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
            offers.offer(_pair(by_id[a], by_id[b], rules.PREF_THUMBS,
                               sig_a.thumbs_up + sig_b.thumbs_down))
        # rating: higher mean rating over lower, by at least min_rating_gap.
        rated = [i for i in ids if signals[i].mean_rating is not None]
        candidates = [
            (a, b) for a in rated for b in rated
            if signals[a].mean_rating - signals[b].mean_rating >= config.min_rating_gap
        ]
        for a, b in _usable_pairs(candidates, by_id, signals, config, "rating", dropped):
            gap = signals[a].mean_rating - signals[b].mean_rating
            ids_ab = [f for _, f in signals[a].ratings] + [f for _, f in signals[b].ratings]
            offers.offer(_pair(by_id[a], by_id[b], rules.PREF_RATING, ids_ab,
                               margin=gap / RATING_SPAN))


def _pair_candidates(by_id, signals, groups, feedback, config, dropped) -> list[dict[str, Any]]:
    pairs = _edit_pairs(by_id, signals)
    offers = _Offers()
    _offer_comparisons(offers, by_id, signals, feedback, dropped)
    _offer_group_pairs(offers, by_id, signals, groups, config, dropped)
    # A pair offered in both directions (e.g. thumbs one way, rating the other) is noise.
    for (chosen, rejected), pair in sorted(offers.between.items()):
        if (rejected, chosen) in offers.between:
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
