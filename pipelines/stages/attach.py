"""Attach: feedback joins its interaction, today's (pending until dedup) or a past day's."""

from __future__ import annotations

import apache_beam as beam

from pipelines.stages.base import REJECTS, Stage, reject_row


def _attach(item):
    interaction_id, groups = item
    interactions = list(groups["interaction"])
    feedback = list(groups["feedback"])
    past_dates = sorted(groups["past"])
    if interactions and past_dates:
        for interaction in interactions:
            yield beam.pvalue.TaggedOutput(REJECTS, reject_row(
                "attach", "redelivered",
                f"event_id already in the warehouse (dt={past_dates[0]})",
                event=interaction, duplicate_of=interaction_id))
        interactions = []
    if interactions:
        interaction = dict(interactions[0])
        interaction["n_feedback"] = len(feedback)
        interaction["flag_reasons"] = sorted({f["reason"] for f in feedback if f["kind"] == "flag"})
        interaction["flagged"] = bool(interaction["flag_reasons"])
        yield interaction
        for item_feedback in feedback:
            yield beam.pvalue.TaggedOutput("pending", dict(item_feedback))
    elif past_dates:
        for item_feedback in feedback:
            attached = dict(item_feedback)
            attached.update(original_interaction_id=interaction_id,
                            interaction_dt=past_dates[0])
            yield beam.pvalue.TaggedOutput("attached", attached)
    else:
        for item_feedback in feedback:
            yield beam.pvalue.TaggedOutput(REJECTS, reject_row(
                "attach", "orphan_feedback",
                "interaction_id matches no interaction of this day or the look-back window",
                event=item_feedback))


class AttachFeedback(Stage):
    """Today's interactions and scrubbed feedback -> interactions with their feedback counts,
    ``pending`` feedback (on today's interactions, resolved after dedup), ``attached`` feedback
    (on interactions published on an earlier day) and rejects.

    ``past_ids`` is a PCollection of (event_id, dt) of interactions already in the warehouse.
    """

    stage = "attach"
    outputs = ("interactions", "pending", "attached")

    def __init__(self, past_ids):
        super().__init__()
        self._past_ids = past_ids

    def transform(self, events):
        parts = events | "SplitTypes" >> beam.Partition(
            lambda e, _: 0 if e["event_type"] == "interaction" else 1, 2)
        interactions = parts[0] | "KeyInteractions" >> beam.Map(lambda e: (e["event_id"], e))
        feedback = parts[1] | "KeyFeedback" >> beam.Map(lambda e: (e["interaction_id"], e))
        out = (
            {"interaction": interactions, "feedback": feedback, "past": self._past_ids}
            | "Join" >> beam.CoGroupByKey()
            | "Attach" >> beam.FlatMap(_attach).with_outputs(
                REJECTS, "pending", "attached", main="interactions")
        )
        return {"interactions": out.interactions, "pending": out.pending,
                "attached": out.attached, REJECTS: out[REJECTS]}
