"""The near-dedup stage's connected components (large-star / small-star), run by Beam on graphs
whose answer is known: long chains settle in the configured rounds, a component that does not
settle is counted and split into kept clusters, and past records win."""

from __future__ import annotations

import json
import random

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to

from pipelines.dedup import DedupConfig
from pipelines.dedup.graph import PAST, TODAY, bucket_pairs, forest_edges
from pipelines.dedup.stages import RunnerLostData, _EmitFates, connected_components


def today(rank: int, size: int = 1) -> tuple:
    # as graph.today_node: (origin, -n_feedback, ts_us, event_id, cluster_size); smaller is better
    return (TODAY, 0, rank, f"t{rank:05d}", size)


def past(name: str) -> tuple:
    return (PAST, 0, 0, name, 0)


def shuffled_chain(n: int, seed: int = 0) -> list[tuple]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [(today(order[i]), today(order[i + 1]), 0.9) for i in range(n - 1)]


def run_components(edges, rounds, tmp_path):
    """-> (fates as a sorted [(event_id, fate)], the count of unresolved nodes)."""
    pipeline = beam.Pipeline(runner=FnApiRunner())
    fates, unresolved = connected_components(pipeline | beam.Create(edges), rounds)
    fates | "Fates" >> beam.Map(json.dumps) | "WriteFates" >> beam.io.WriteToText(
        str(tmp_path / "fates"))
    (unresolved | beam.CombineGlobally(sum) | "Count" >> beam.Map(json.dumps)
     | "WriteCount" >> beam.io.WriteToText(str(tmp_path / "unresolved")))
    pipeline.run().wait_until_finish()
    fates = [(event_id, tuple(fate)) for path in tmp_path.glob("fates*")
             for event_id, fate in map(json.loads, path.read_text().splitlines())]
    counts = [json.loads(line) for path in tmp_path.glob("unresolved*")
              for line in path.read_text().splitlines()]
    return sorted(fates), sum(counts)


def test_a_shuffled_chain_of_a_thousand_settles_in_the_default_rounds(tmp_path):
    # The old min-label propagation kept 127 of these 1,024 records after its 6 rounds.
    n = 1024
    fates, unresolved = run_components(shuffled_chain(n), DedupConfig().cc_rounds, tmp_path)
    duplicates = {event_id: fate[1] for event_id, fate in fates if fate[0] == "duplicate"}
    assert unresolved == 0
    assert len(duplicates) == n - 1 and set(duplicates.values()) == {today(0)[3]}
    # the best-ranked record absorbs every other's cluster size
    assert [fate for event_id, fate in fates if fate[0] == "grow"] == [("grow", n - 1)]


def test_a_component_that_does_not_settle_is_counted_and_never_points_at_a_dropped_record(
        tmp_path):
    n = 1024
    fates, unresolved = run_components(shuffled_chain(n), rounds=4, tmp_path=tmp_path)
    duplicates = {event_id: fate[1] for event_id, fate in fates if fate[0] == "duplicate"}
    assert unresolved == n  # every node of the unsettled component, once
    assert 0 < len(duplicates) < n - 1  # split into several kept clusters
    assert not set(duplicates.values()) & set(duplicates)


def test_past_records_win_and_get_no_fate(tmp_path):
    edges = [(today(3, size=2), past("old"), 0.8), (today(1), today(3, size=2), 0.9),
             (today(7), today(8), 0.75)]
    fates, unresolved = run_components(edges, DedupConfig().cc_rounds, tmp_path)
    assert unresolved == 0
    assert fates == sorted([
        ("t00001", ("duplicate", "old")), ("t00003", ("duplicate", "old")),
        ("t00008", ("duplicate", "t00007")), ("t00007", ("grow", 1))])


def test_copies_of_an_edge_count_once():
    edge = (today(1), today(2), 0.9)
    pipeline = beam.Pipeline(runner=FnApiRunner())
    fates, _ = connected_components(pipeline | beam.Create([edge, edge, edge]), 2)
    assert_that(fates, equal_to([("t00002", ("duplicate", "t00001")),
                                 ("t00001", ("grow", 1))]))
    pipeline.run().wait_until_finish()


def test_a_dense_bucket_gives_a_spanning_forest_the_same_whatever_its_order():
    members = [today(rank) for rank in range(12)]
    verified = []

    def verify(a, b):  # two groups of near-duplicates, ranks 0-5 and 6-11, nothing between
        verified.append((a, b))
        return 0.9 if (a[2] < 6) == (b[2] < 6) else None

    pairs, _ = bucket_pairs(members, 32, 8)
    edges, skipped = forest_edges(pairs, _same, verify)
    assert len(pairs) == 66 and len(edges) == 10  # 5 + 5 edges span the two groups
    assert all((a[2] < 6) == (b[2] < 6) for a, b, _ in edges)
    # of the 30 pairs inside the groups, the 20 whose ends are already joined are not verified
    assert skipped == 20 and len(verified) == 46
    shuffled = pairs[:]
    random.Random(1).shuffle(shuffled)
    assert forest_edges(shuffled, _same, verify) == (edges, skipped)


def _same(member):
    return member


def test_a_duplicate_whose_edge_the_runner_lost_fails_the_day_with_the_cause():
    """A fate is only ever given to an end of a verified edge, so a duplicate without its
    similarity means a shuffle lost elements (the local runner's multi_processing mode did, on
    a 1M-event day): the job must stop with that cause, never drop or keep the record on a
    guess, and a join that has its similarity emits the reject as before."""
    record = {"event_id": "t00001", "prompt": "p", "response": "r"}
    lost = ("t00001", {"record": [record], "index": [], "fate": [("duplicate", "t00000")],
                       "similarity": []})
    with pytest.raises(RunnerLostData, match="t00001 .*runner lost shuffle data"):
        list(_EmitFates().process(lost))
    whole = (lost[0], {**lost[1], "similarity": [0.83]})
    [out] = list(_EmitFates().process(whole))
    assert out.tag == "duplicates"
    assert (out.value["duplicate_of"], out.value["similarity"]) == ("t00000", 0.83)
