"""The near-duplicate graph as pure functions: nodes, candidate pairs per band bucket, connected
components by large-star / small-star, and each record's fate.

The Beam stage (``stages.py``) runs each function after a GroupByKey; bench/dedup.py runs the
same functions after an in-memory grouping.

Node tuples (the keys of the graph) are plain tuples so that Beam encodes them
deterministically: (origin, -n_feedback, ts_us, event_id, cluster_size). The first four fields
are unique per node and order nodes by the representative rule (smaller is better); the last
rides along so that cluster sizes can be summed without another join.
"""

from __future__ import annotations

import hashlib
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


def forest_edges(pairs, node, verify):
    """Candidate pairs of one bucket -> (edges, skipped): the verified edges (a, b, similarity)
    that join two groups of the bucket, a spanning forest of its verified pairs, and the count
    of pairs not verified because the bucket's edges already join their ends.

    The components are those of every verified pair, with far fewer edges: a dense bucket of m
    near-duplicates gives m - 1 edges, not m(m - 1)/2, and m - 1 verifications. ``verify(a,
    b)`` returns the similarity, or None below the threshold. The pairs are taken in the order
    of their nodes, so the same bucket gives the same edges whatever order its members came in.
    """
    parent: dict = {}

    def root(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edges, skipped = [], 0
    for a, b in sorted(pairs, key=lambda pair: (node(pair[0]), node(pair[1]))):
        ra, rb = root(node(a)), root(node(b))
        if ra == rb:
            skipped += 1
            continue
        similarity = verify(a, b)
        if similarity is not None:
            parent[max(ra, rb)] = min(ra, rb)
            edges.append((node(a), node(b), similarity))
    return edges, skipped


# Connected components by alternating large-star / small-star (Kiveris et al., "Connected
# Components in MapReduce and Beyond", SoCC 2014). The graph is a set of edges (big, small)
# between CC keys; each operation is one GroupByKey of the edges and keeps the components:
#   large-star at u: every neighbour v > u is re-linked to m, the smallest of u and its neighbours;
#   small-star at u (given its smaller neighbours only): u and each of them is linked to their m.
# A round is one of each; it ends when every component is a star around its smallest key, which
# takes O(log n) rounds on the graphs measured (bench/cc_convergence.py). The pipeline graph
# cannot loop until then, so it runs ``cc_rounds`` rounds and then checks, exactly, which
# components are stars: only those are resolved; the nodes of any other stay kept and are
# counted (``cc_unresolved``). A CC key orders nodes by a hash of the event_id, not by rank:
# edits drift over time, so a chain of near-duplicates is often in rank order, the slowest
# order for star contraction; the representative is still picked by rank, once the star is known.


def _hash64(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def cc_key(node: tuple) -> tuple:
    """A node's key in the components: (hash of its event_id, node); the node rides along."""
    return (_hash64(node[EVENT_ID]), node)


def edge_keys(edge) -> tuple:
    """A verified edge (a, b, similarity) -> the components' edge (big key, small key)."""
    a, b = cc_key(edge[0]), cc_key(edge[1])
    return (a, b) if a > b else (b, a)


def both_directions(edge):
    big, small = edge
    return [(big, small), (small, big)]


def large_star(element):
    """(u, neighbours) -> edges (v, m) for each neighbour v > u; m = min(u, neighbours).

    The neighbours are held as a set (copies of an edge count once): O(degree) memory."""
    u, neighbours = element
    neighbours = set(neighbours)
    smallest = min(min(neighbours), u)
    for v in neighbours:
        if v > u:
            yield v, smallest


def small_star(element):
    """(u, smaller neighbours) -> edges (v, m) for u and each of them; m = their minimum."""
    u, smaller = element
    smaller = set(smaller)
    smallest = min(smaller)
    yield u, smallest
    for v in smaller:
        if v != smallest:
            yield v, smallest


def star_messages(element):
    """(u, neighbours) after the last round -> u's own message (is it a centre: are all its
    neighbours larger?), and to each neighbour: u's key and whether u's degree is 1."""
    u, neighbours = element
    neighbours = set(neighbours)
    yield u, ("self", min(neighbours) > u)
    for w in neighbours:
        yield w, ("neighbour", u, len(neighbours) == 1)


def star_fates(element) -> tuple[list, int]:
    """(u, messages) -> ([(event_id, fate)], unsettled): resolve the star u is the centre of,
    and count the nodes of components that did not become stars.

    A centre (no smaller neighbour) and its degree-1 neighbours form a cluster: those
    neighbours are linked to nothing else. Its representative is its best-ranked member (a past
    record first); each other member of today is its ``("duplicate", representative
    event_id)``, and a representative of today grows by their cluster sizes (``("grow",
    size)``). Past members get no fate. When all the centre's neighbours have degree 1 the star
    is its whole component. When not, the rounds ran out first: the component is split into
    several kept clusters (this one, and the other nodes, which are kept as they are), never
    into a duplicate of a dropped record.

    The nodes of a component that is not a star are counted once each: by themselves if they
    are a centre or have two or more neighbours; otherwise (one neighbour, a smaller one) by
    that neighbour. The messages are iterated twice, not listed.
    """
    u, messages = element
    centre, degree, leaves, best = False, 0, 0, u[1]
    for message in messages:
        if message[0] == "self":
            centre = message[1]
        else:
            degree += 1
            if message[2] and message[1] > u:
                leaves += 1
                best = min(best, message[1][1])
    unsettled = 0 if centre and leaves == degree else (
        1 + leaves if centre or degree > 1 else 0)
    if not centre:
        return [], unsettled
    fates, grow = [], 0
    for message in messages:
        if message[0] == "self":
            node = u[1]
        elif message[2]:  # a centre's neighbours are all larger
            node = message[1][1]
        else:
            continue
        if node == best or node[ORIGIN] == PAST:
            continue
        fates.append((node[EVENT_ID], ("duplicate", best[EVENT_ID])))
        grow += node[SIZE]
    if best[ORIGIN] == TODAY and grow:
        fates.append((best[EVENT_ID], ("grow", grow)))
    return fates, unsettled


def node_similarities(edge):
    """A verified edge -> (event_id, similarity) for both ends: each record's strongest link,
    the similarity its reject row reports."""
    a, b, similarity = edge
    return [(a[EVENT_ID], similarity), (b[EVENT_ID], similarity)]
