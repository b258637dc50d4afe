"""The stage base class: every stage is counted the same way, by the base, never by hand.

A stage implements ``transform(pcoll)`` and returns a dict of PCollections: its kept records
under each name in ``outputs`` (``kept`` unless it says otherwise), its reject rows under
``rejects``, optionally extra per-record metrics under ``metrics`` (``((stage, metric,
reason), n)`` pairs) and any other outputs (not counted). The base counts ``in`` (every element
of the main input), ``out`` (every element of the counted outputs) and ``dropped`` per reason
(every reject row) as Beam counters named ``in``, ``out`` and ``dropped_<reason>`` under the
stage's namespace, and as ``tallies``: ``((stage, metric, reason), n)`` elements, one per key
and bundle, that the job sums into the ``stats`` table and that ``reconcile`` checks (``in = out
+ dropped``).
"""

from __future__ import annotations

import abc
from typing import ClassVar

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from pipelines.rejects import reject_row

REJECTS = "rejects"
TALLIES = "tallies"
__all__ = ["METRICS", "REJECTS", "TALLIES", "BundleTally", "Stage", "reject_row"]
METRICS = "metrics"


class BundleTally(beam.DoFn):
    """Sums a bundle's tallies per key and window; emits one ``(key, n)`` per key at the end.

    One ``((stage, metric, reason), n)`` per bundle, not one ``(key, 1)`` per record: a tally
    element per record and stage would cross the runner's shuffle (and, with worker processes,
    its data channel) a dozen times per record for nothing but a sum. Each sum also goes to the
    Beam counter named by the key (``dropped_<reason>`` for drops). Subclasses say what an
    element counts for in ``tallies``.
    """

    def tallies(self, element):
        """The ``((stage, metric, reason), n)`` an element adds."""
        raise NotImplementedError

    def start_bundle(self):
        self._sums: dict[tuple, int] = {}

    def process(self, element, window=beam.DoFn.WindowParam):
        for key, n in self.tallies(element):
            self._sums[(key, window)] = self._sums.get((key, window), 0) + n
        return ()

    def finish_bundle(self):
        sums, self._sums = self._sums, {}
        for (key, window), n in sums.items():
            stage, metric, reason = key
            Metrics.counter(stage, metric if metric != "dropped" else f"dropped_{reason}").inc(n)
            yield WindowedValue((key, n), window.max_timestamp(), [window])


class _Tally(BundleTally):
    """Counts elements: in or out of a stage."""

    def __init__(self, stage: str, metric: str):
        self._tally = ((stage, metric, ""), 1)

    def tallies(self, _element):
        return (self._tally,)


class _TallyDropped(BundleTally):
    """Counts reject rows per reason."""

    def __init__(self, stage: str):
        self._stage = stage

    def tallies(self, reject: dict):
        return (((self._stage, "dropped", reject["reason"]), 1),)


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
