"""Dedup: exact, then near duplicates (logic in ``pipelines.dedup``); duplicates are rejects."""

from __future__ import annotations

import apache_beam as beam

from pipelines.dedup import DedupConfig, DedupExact, DedupNearDuplicates
from pipelines.stages.base import METRICS, REJECTS, BundleTally, Stage


class DedupExactDuplicates(Stage):
    """Records -> one per normalized text; ``pairs`` are (kept_id, dropped_id)."""

    stage = "dedup_exact"

    def __init__(self, config: DedupConfig):
        super().__init__()
        self._config = config

    def transform(self, records):
        out = records | "Exact" >> DedupExact(self._config)
        return {
            "kept": out["kept"],
            REJECTS: out["rejects"],
            "pairs": out["duplicates"] | "Pairs" >> beam.Map(
                lambda d: (d["duplicate_of"], d["record"]["event_id"])),
        }


class _TallyUnresolved(BundleTally):
    def tallies(self, count: int):
        return ((("dedup_near", "cc_unresolved", ""), count),)


class DedupNear(Stage):
    """Records -> cluster representatives, against today's and past days' index rows.

    ``pairs`` are (dropped_id, kept_id); ``index`` the day's ``dedup_index`` rows. Records
    whose near-duplicate component did not settle in ``cc_rounds`` are counted in the stats as
    ``cc_unresolved`` (and kept): a day that shows it needs more rounds.
    """

    stage = "dedup_near"

    def __init__(self, config: DedupConfig, past_index):
        super().__init__()
        self._config = config
        self._past_index = past_index

    def transform(self, records):
        out = records | "Near" >> DedupNearDuplicates(self._config, self._past_index)
        return {
            "kept": out["kept"],
            REJECTS: out["rejects"],
            "pairs": out["duplicates"] | "Pairs" >> beam.Map(
                lambda d: (d["record"]["event_id"], d["duplicate_of"])),
            "index": out["index"],
            METRICS: out["unresolved"] | "TallyUnresolved" >> beam.ParDo(_TallyUnresolved()),
        }


def _compose(item):
    """(a -> b) from exact dedup and (b -> c) from near dedup give (a -> c)."""
    middle, groups = item
    final = sorted(groups["near"])
    for source in groups["exact"]:
        yield (source, final[0] if final else middle)
    for target in final:
        yield (middle, target)


def duplicate_of(exact_pairs, near_pairs):
    """(dropped_id, kept_id) for every duplicate, through both stages."""
    return (
        {"exact": exact_pairs, "near": near_pairs}
        | "JoinDuplicateMaps" >> beam.CoGroupByKey()
        | "ComposeDuplicateMaps" >> beam.FlatMap(_compose)
    )
