"""Filter: heuristic and feedback-aware quality filters (rules in ``pipelines.quality``)."""

from __future__ import annotations

import apache_beam as beam

from pipelines.quality import FilterConfig, judge
from pipelines.stages.base import REJECTS, Stage, reject_row


class _FilterFn(beam.DoFn):
    def __init__(self, config: FilterConfig):
        self._config = config

    def process(self, record):
        keep, reason, scores = judge(record, self._config)
        if not keep:
            yield beam.pvalue.TaggedOutput(REJECTS, reject_row(
                "filter", reason, _filter_detail(reason, scores), event=record))
            return
        kept = dict(record)
        kept.update({k: v for k, v in scores.items() if k != "q_mean_word_length"})
        yield kept


def _filter_detail(reason: str, scores: dict) -> str:
    shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in scores.items()}
    return f"{reason}: " + ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))


class FilterQuality(Stage):
    """Interactions -> those that pass every filter; the others are rejects with the reason."""

    stage = "filter"

    def __init__(self, config: FilterConfig):
        super().__init__()
        self._config = config

    def transform(self, records):
        out = records | "Judge" >> beam.ParDo(_FilterFn(self._config)).with_outputs(
            REJECTS, main="kept")
        return {"kept": out.kept, REJECTS: out[REJECTS]}
