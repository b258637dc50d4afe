"""The near-duplicate graph as pure functions: nodes, candidate pairs per band bucket, connected
components by min-label propagation with pointer jumping, and each record's fate.

The Beam stage (``stages.py``) runs each function after a GroupByKey; bench/dedup.py runs the
same functions after an in-memory grouping.

Node tuples (the keys of the graph) are plain tuples so that Beam encodes them
deterministically: (origin, -n_feedback, ts_us, event_id, cluster_size). The first four fields
are unique per node and order nodes by the representative rule (smaller is better); the last
rides along so that cluster sizes can be summed without another join.
"""

from __future__ import annotations

import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

PAST, TODAY = 0, 1
ORIGIN, EVENT_ID, SIZE = 0, 3, 4

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


def _ts_us(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError(f"record ts {ts.isoformat()} must be timezone-aware (UTC)")
    return (ts - _EPOCH) // _ONE_MICROSECOND


def exact_rank(record: dict[str, Any]) -> tuple:
    """Smaller is better: most feedback, then earliest ts, then smallest event_id."""
    return (-int(record.get("n_feedback") or 0), _ts_us(record["ts"]), record["event_id"])


def today_node(record: dict[str, Any]) -> tuple:
    return (TODAY, *exact_rank(record), int(record.get("dedup_cluster_size") or 1))


def past_node(row: dict[str, Any]) -> tuple:
    # Past records rank before any of today's: origin 0 < 1.
    return (PAST, 0, 0, row["event_id"], 0)


def _not_both_past(a: tuple, b: tuple) -> bool:
    return not (a[ORIGIN] == PAST and b[ORIGIN] == PAST)


def _identity(member):
    return member


def bucket_pairs(members, all_pairs_max: int, anchors: int, node=_identity) -> tuple[list, bool]:
    """Candidate pairs (better, worse) of one band bucket, past-past pairs skipped.

    ``members`` is a re-iterable (a GroupByKey value) of nodes, or of items whose node is
    ``node(item)`` (the near stage's ``(node, hash sets)``: pairs are then pairs of items, in
    the same order as the nodes'). Up to ``all_pairs_max`` members: every pair. Beyond: each
    member against the ``anchors`` best-ranked ones only, so a bucket of m members yields
    < m * anchors pairs and O(all_pairs_max + anchors) memory instead of m^2/2.
    Returns (pairs, oversized).
    """
    head = list(itertools.islice(members, all_pairs_max + 1))
    if len(head) <= all_pairs_max:
        head.sort(key=node)
        return [(a, b) for a, b in itertools.combinations(head, 2)
                if _not_both_past(node(a), node(b))], False
    best = heapq.nsmallest(anchors, members, key=node)
    best_nodes = {node(member) for member in best}
    pairs = [(a, b) for a, b in itertools.combinations(best, 2)
             if _not_both_past(node(a), node(b))]
    for member in members:
        if node(member) not in best_nodes:
            pairs.extend((anchor, member) for anchor in best
                         if _not_both_past(node(anchor), node(member)))
    return pairs, True


# Connected components by min-label propagation with pointer jumping. Messages keyed by node:
#   ("state", label, neighbours, max_similarity)  the node's own state
#   ("label", label)                               a neighbour's label, or a jump answer
#   ("ask", node)                                  "what is your label?" from a node labelled you


def initial_messages(element):
    """(node, [(neighbour, similarity), ...]) -> the node's state and a label to each neighbour."""
    node, edges = element
    edges = list(edges)
    neighbours = tuple(sorted({other for other, _ in edges}))
    yield node, ("state", node, neighbours, max(similarity for _, similarity in edges))
    for other in neighbours:
        yield other, ("label", node)


def update_label(element):
    """Step A: a node takes the smallest label it heard; tells neighbours; asks its label."""
    node, messages = element
    state, label = None, None
    for message in messages:
        if message[0] == "state":
            state = message
        elif message[0] == "label":
            label = message[1] if label is None else min(label, message[1])
    if state is None:  # only states create messages to a node; nothing to do without one
        return
    new_label = state[1] if label is None else min(state[1], label)
    yield node, ("state", new_label, state[2], state[3])
    for other in state[2]:
        yield other, ("label", new_label)
    if new_label != node:
        yield new_label, ("ask", node)


def answer_asks(element):
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


def resolve_roots(element):
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


def assign_fates(element) -> tuple[list, bool]:
    """node -> ([(event_id, fate)], unresolved) for the final join: a duplicate of a root, or
    growth of a root's cluster size. Past nodes get no fate; unresolved nodes are kept as is."""
    node, messages = element
    state = root_ok = None
    for message in messages:
        if message[0] == "self":
            state = message
        else:
            root_ok = message[1]
    if state is None or node[ORIGIN] == PAST or state[1]:
        return [], False
    label = state[3]
    if not root_ok:
        return [], True
    fates = [(node[EVENT_ID], ("duplicate", label[EVENT_ID], state[2]))]
    if label[ORIGIN] == TODAY:
        fates.append((label[EVENT_ID], ("grow", node[SIZE])))
    return fates, False
