"""Erasure at ingest: events of users who asked to be erased never enter the warehouse."""

from __future__ import annotations

import apache_beam as beam

from pipelines.stages.base import REJECTS, Stage, reject_row

DELETION_REQUEST = "deletion_request"


def _keep_or_reject(item):
    _, groups = item
    if groups["erased"]:
        for event in groups["events"]:
            yield beam.pvalue.TaggedOutput(REJECTS, reject_row(
                "erasure", "user_erased",
                "the user asked for erasure; their events are not kept", event=event))
        return
    yield from groups["events"]


class DropErasedUsers(Stage):
    """All of a day's events -> the deletion requests, and the other events of users not erased.

    ``past_erased`` holds pseudonyms erased before: earlier deletion requests and every
    tombstone, whatever its date, so a backfill of an old day cannot resurrect a user. The join
    is keyed by pseudonym: no worker holds the whole list of erased users.
    """

    stage = "erasure"
    outputs = ("kept", "deletions")

    def __init__(self, past_erased):
        super().__init__()
        self._past_erased = past_erased

    def transform(self, events):
        parts = events | "SplitDeletions" >> beam.Partition(
            lambda e, _: 0 if e["event_type"] == DELETION_REQUEST else 1, 2)
        deletions, others = parts[0], parts[1]
        erased = (
            (deletions | "TodayErased" >> beam.Map(lambda e: e["user_pseudonym"]),
             self._past_erased)
            | "AllErased" >> beam.Flatten()
            | "KeyErased" >> beam.Map(lambda u: (u, True))
        )
        out = (
            {"events": others | "KeyByUser" >> beam.Map(lambda e: (e["user_pseudonym"], e)),
             "erased": erased}
            | "JoinErased" >> beam.CoGroupByKey()
            | "Drop" >> beam.FlatMap(_keep_or_reject).with_outputs(REJECTS, main="kept")
        )
        return {"kept": out.kept, "deletions": deletions, REJECTS: out[REJECTS]}
