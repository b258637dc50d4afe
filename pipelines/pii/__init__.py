"""PII scrubbing for the curation job: config, scrubber, evaluation, detector functions.

- :mod:`pipelines.pii.config`: :class:`ScrubConfig`, :class:`ScrubResult` (no Presidio import)
- :mod:`pipelines.pii.normalize`: undoing the tricks that hide identifiers, with an offset map
- :mod:`pipelines.pii.finders`: pure detector functions ``text -> list[Finding]``
- :mod:`pipelines.pii.recognizers`: those functions as Presidio recognizers
- :mod:`pipelines.pii.scrubber`: :class:`PiiScrubber` (Presidio ``AnalyzerEngine`` + spaCy NER)
- :mod:`pipelines.pii.evaluation`: leak and word-survival measures against labelled spans
- :mod:`pipelines.pii.classifier`: the opt-in MiniLM token classifier (``token_classifier``),
  trained by ``python -m pipelines.pii.train_ner``; torch loads only when it is configured

Presidio and spaCy load only when :class:`PiiScrubber` is used (``scrubber`` is imported lazily),
so building a :class:`ScrubConfig` at pipeline-build time stays cheap.
"""

from pipelines.pii.config import (
    DEFAULT_ENTITIES,
    SUPPORTED_ENTITIES,
    ScrubConfig,
    ScrubResult,
)
from pipelines.pii.evaluation import LeakReport, measure_leaks

__all__ = ["DEFAULT_ENTITIES", "SUPPORTED_ENTITIES", "LeakReport", "PiiScrubber", "ScrubConfig",
           "ScrubResult", "measure_leaks"]


def __getattr__(name: str):
    if name == "PiiScrubber":  # Presidio and spaCy load with it, not with the config
        from pipelines.pii.scrubber import PiiScrubber

        return PiiScrubber
    raise AttributeError(f"module 'pipelines.pii' has no attribute {name!r}")
