"""Resolve: today's feedback points at the kept interaction, itself or its representative."""

from __future__ import annotations

import apache_beam as beam

from pipelines.stages.base import REJECTS, Stage, reject_row


def _resolve(item):
    interaction_id, groups = item
    feedback = list(groups["feedback"])
    if not feedback:
        return
    representative = sorted(groups["duplicate_of"])
    dropped = sorted(groups["dropped"])
    if groups["kept"]:
        target = interaction_id
    elif representative:
        target = representative[0]  # a duplicate's feedback applies to the kept copy
    else:
        target = None
    for event in feedback:
        if target is None:
            reason = dropped[0] if dropped else "unknown"
            yield beam.pvalue.TaggedOutput(REJECTS, reject_row(
                "resolve", "interaction_dropped",
                f"its interaction was dropped ({reason})", event=event))
            continue
        yield (target, dict(event, original_interaction_id=interaction_id,
                            interaction_id=target))


def _date_feedback(item, date: str):
    target, groups = item
    past = sorted(groups["past"])
    # The representative is today's record unless dedup matched a published, earlier one.
    interaction_dt = date if groups["kept"] or not past else past[0]
    for event in groups["feedback"]:
        yield dict(event, interaction_dt=interaction_dt)


def _remap_other(item):
    _, groups = item
    representative = sorted(groups["duplicate_of"])
    for event in groups["feedback"]:
        if representative:
            event = dict(event, other_interaction_id=representative[0])
        if event["other_interaction_id"] == event["interaction_id"]:
            # The two answers the user compared are one kept answer (dedup found them the same,
            # or the app named one answer twice): a pick with nothing on the other side.
            yield beam.pvalue.TaggedOutput(REJECTS, reject_row(
                "resolve", "comparison_with_itself",
                "both answers of the comparison are one interaction after dedup", event=event))
            continue
        yield event


class ResolveFeedback(Stage):
    """Points today's feedback at the kept interaction: itself, or its dedup representative.

    ``duplicates`` are (dropped_id, kept_id) pairs from the dedup stages, ``dropped`` are
    (dropped_id, reason) for interactions the filter removed, ``past_ids`` (event_id, dt) of
    published interactions, because a representative can be an earlier day's record.
    """

    stage = "resolve"

    def __init__(self, date: str, kept, duplicates, dropped, past_ids):
        super().__init__()
        self._date = date
        self._kept = kept
        self._duplicates = duplicates
        self._dropped = dropped
        self._past_ids = past_ids

    def transform(self, pending):
        kept_ids = self._kept | "KeyKept" >> beam.Map(lambda r: (r["event_id"], 1))
        out = (
            {
                "feedback": pending | "KeyPending" >> beam.Map(lambda f: (f["interaction_id"], f)),
                "kept": kept_ids,
                "duplicate_of": self._duplicates,
                "dropped": self._dropped,
            }
            | "Join" >> beam.CoGroupByKey()
            | "Resolve" >> beam.FlatMap(_resolve).with_outputs(REJECTS, main="targeted")
        )
        dated = (
            {"feedback": out.targeted, "kept": kept_ids, "past": self._past_ids}
            | "JoinTargets" >> beam.CoGroupByKey()
            | "Date" >> beam.FlatMap(_date_feedback, date=self._date)
        )
        # A comparison's other answer may have been a duplicate too: point it at the kept copy,
        # or the A/B pick would name an answer the warehouse no longer holds.
        parts = dated | "SplitComparisons" >> beam.Partition(
            lambda f, _: 0 if f.get("other_interaction_id") else 1, 2)
        comparisons = (
            {"feedback": parts[0] | "KeyOther" >> beam.Map(
                lambda f: (f["other_interaction_id"], f)),
             "duplicate_of": self._duplicates}
            | "JoinOther" >> beam.CoGroupByKey()
            | "RemapOther" >> beam.FlatMap(_remap_other).with_outputs(REJECTS, main="kept")
        )
        feedback = (comparisons.kept, parts[1]) | "AllResolved" >> beam.Flatten()
        rejects = (out[REJECTS], comparisons[REJECTS]) | "AllRejects" >> beam.Flatten()
        return {"kept": feedback, REJECTS: rejects}
