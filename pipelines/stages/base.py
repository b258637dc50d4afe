"""The stage base class: every stage is counted the same way, by the base, never by hand.

A stage implements ``transform(pcoll)`` and returns a dict of PCollections: its kept records
under each name in ``outputs`` (``kept`` unless it says otherwise), its reject rows under
``rejects``, optionally extra per-record metrics under ``metrics`` (``((stage, metric,
reason), n)`` pairs) and any other outputs (not counted). The base counts ``in`` (every element
of the main input), ``out`` (every element of the counted outputs) and ``dropped`` per reason
(every reject row) as Beam counters named ``in``, ``out`` and ``dropped_<reason>`` under the
stage's namespace, and as ``tallies``: ``((stage, metric, reason), 1)`` elements that the job sums
into the ``stats`` table and that ``reconcile`` checks (``in = out + dropped``).
"""

from __future__ import annotations

import abc
from typing import ClassVar

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipelines.rejects import reject_row

REJECTS = "rejects"
TALLIES = "tallies"
__all__ = ["METRICS", "REJECTS", "TALLIES", "Stage", "reject_row"]
METRICS = "metrics"


class _Tally(beam.DoFn):
    """One tally per element, and the matching Beam counter."""

    def __init__(self, stage: str, metric: str):
        self._stage = stage
        self._metric = metric
        self._counter = None

    def setup(self):
        self._counter = Metrics.counter(self._stage, self._metric)

    def process(self, _element):
        self._counter.inc()
        yield ((self._stage, self._metric, ""), 1)


class _TallyDropped(beam.DoFn):
    def __init__(self, stage: str):
        self._stage = stage

    def process(self, reject: dict):
        Metrics.counter(self._stage, f"dropped_{reject['reason']}").inc()
        yield ((self._stage, "dropped", reject["reason"]), 1)


class Stage(beam.PTransform, metaclass=abc.ABCMeta):
    """A curation stage. Subclasses set ``stage`` (and ``outputs``) and implement ``transform``."""

    stage: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]] = ("kept",)
    # False where the main input is not records (read's input is files): no ``in`` tally.
    counts_in: ClassVar[bool] = True

    @abc.abstractmethod
    def transform(self, pcoll) -> dict:
        """The stage's work: a dict with its counted outputs, ``rejects`` and any extras."""

    def expand(self, pcoll):
        result = dict(self.transform(pcoll))
        if REJECTS not in result:
            result[REJECTS] = pcoll.pipeline | "NoRejects" >> beam.Create([])
        counted = [pcoll | "TallyIn" >> beam.ParDo(_Tally(self.stage, "in"))] if self.counts_in else []
        counted += [result[name] | f"TallyOut_{name}" >> beam.ParDo(_Tally(self.stage, "out"))
                    for name in self.outputs]
        counted.append(result[REJECTS] | "TallyDropped" >> beam.ParDo(_TallyDropped(self.stage)))
        if METRICS in result:
            counted.append(result.pop(METRICS))
        result[TALLIES] = counted | "Tallies" >> beam.Flatten()
        return result


def empty(pipeline, label: str):
    return pipeline | label >> beam.Create([])
