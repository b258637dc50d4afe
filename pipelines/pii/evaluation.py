"""Leak rate and word survival against labelled spans; the labelled sets we measure on.

``bench/scrub.py`` and the tests share these. Two sources, one sample shape (presidio-research's:
``{"full_text": str, "spans": [{"entity_type", "entity_value", "start_position",
"end_position"}]}``): the synthetic file as it is, and WNUT-17's CoNLL files through
:func:`load_conll`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

# label in the labelled data -> our entity type
DATASET_LABEL_TO_ENTITY = {
    "PERSON": "PERSON",
    "STREET_ADDRESS": "STREET_ADDRESS",
    "GPE": "LOCATION",
    "LOCATION": "LOCATION",
    "ORGANIZATION": "ORGANIZATION",
    "CREDIT_CARD": "CREDIT_CARD",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "IBAN_CODE": "IBAN_CODE",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
    "ZIP_CODE": "ZIP_CODE",
    "DOMAIN_NAME": "URL",
    "DATE_TIME": "DATE_TIME",
    "NRP": "NRP",
    "AGE": "AGE",  # not detected: an age alone does not identify anyone
    "TITLE": "TITLE",  # "Dr.", "Cable line installer": not identifying
}
# WNUT-17 tag -> the label above; group, product and creative-work are not personal data
WNUT_TAG_TO_LABEL = {"person": "PERSON", "location": "LOCATION", "corporation": "ORGANIZATION",
                     "group": "GROUP", "product": "PRODUCT", "creative-work": "CREATIVE_WORK"}
WNUT_SCORED_LABELS = ("PERSON", "LOCATION", "ORGANIZATION")
_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class LeakReport:
    spans: dict[str, int]  # dataset label -> labelled spans
    leaks: dict[str, int]  # dataset label -> spans whose value is still verbatim in the output
    scrubbed_labels: tuple[str, ...]  # labels whose entity the scrubber was asked to remove
    words: int  # words of the texts outside the masked labelled spans
    words_kept: int  # of those, still in the output

    @property
    def leak_rate(self) -> float:
        """Leaked share of the spans the scrubber is configured to remove."""
        n = sum(self.spans[label] for label in self.scrubbed_labels)
        return sum(self.leaks[label] for label in self.scrubbed_labels) / n if n else 0.0

    @property
    def leak_rate_all_labels(self) -> float:
        return sum(self.leaks.values()) / max(1, sum(self.spans.values()))

    def leak_rate_of(self, label: str) -> float:
        return self.leaks.get(label, 0) / self.spans[label] if self.spans.get(label) else 0.0

    @property
    def survival(self) -> float:
        return self.words_kept / self.words if self.words else 1.0


def _leaked(value: str, out: str, whole_word: bool) -> bool:
    if not value:
        return False
    if not whole_word:
        return value in out
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", out) is not None


def measure_leaks(samples: Sequence[dict], scrubbed: Sequence[str], entities: Sequence[str],
                  whole_word: bool = False,
                  masked_labels: Collection[str] | None = None) -> LeakReport:
    """Leaks and word survival of ``scrubbed`` against presidio-research style ``samples``.

    A labelled value found verbatim in its scrubbed text is a leak (``whole_word``: only as a
    whole word, so a labelled "Al" does not leak through "also"). Word survival is word-level:
    the words of the original outside the labelled spans (of ``masked_labels``; None = every
    label), as a multiset, and how many of them the scrubbed text still holds.
    """
    spans, leaks = Counter(), Counter()
    words = words_kept = 0
    for sample, out in zip(samples, scrubbed, strict=True):
        text = sample["full_text"]
        mask = [False] * len(text)
        for span in sample["spans"]:
            label, value = span["entity_type"], span["entity_value"].strip()
            spans[label] += 1
            leaks[label] += int(_leaked(value, out, whole_word))
            if masked_labels is None or label in masked_labels:
                start, end = span["start_position"], span["end_position"]
                mask[start:end] = [True] * (end - start)
        clean = Counter(m.group() for m in _WORD_RE.finditer(text) if not mask[m.start()])
        kept = Counter(_WORD_RE.findall(out))
        words += sum(clean.values())
        words_kept += sum((clean & kept).values())
    for label in spans:
        leaks.setdefault(label, 0)
    scrubbed_labels = tuple(sorted(
        label for label in spans if DATASET_LABEL_TO_ENTITY.get(label) in set(entities)))
    return LeakReport(dict(spans), dict(leaks), scrubbed_labels, words, words_kept)


def _sample(tokens: list[str], tags: list[str]) -> dict:
    """One CoNLL sentence as a sample: tokens joined by single spaces, B-/I- runs as spans."""
    text = " ".join(tokens)
    spans, offset, current = [], 0, None
    for token, tag in zip(tokens, tags, strict=True):
        start, end = offset, offset + len(token)
        offset = end + 1
        if tag.startswith("I-") and current is not None and current["tag"] == tag[2:]:
            current["end_position"] = end
            continue
        if current is not None:
            spans.append(current)
            current = None
        if tag[:2] in ("B-", "I-"):
            current = {"tag": tag[2:], "start_position": start, "end_position": end}
    if current is not None:
        spans.append(current)
    for span in spans:
        tag = span.pop("tag")
        span["entity_type"] = WNUT_TAG_TO_LABEL.get(tag, tag.upper())
        span["entity_value"] = text[span["start_position"]:span["end_position"]]
    return {"full_text": text, "spans": spans}


def load_conll(path: Path) -> list[dict]:
    """WNUT-17 style ``token<TAB>tag`` lines, sentences split by blank lines, as samples."""
    samples, tokens, tags = [], [], []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            if tokens:
                samples.append(_sample(tokens, tags))
            tokens, tags = [], []
            continue
        token, sep, tag = line.rpartition("\t")
        if not sep:
            raise ValueError(f"{path}:{line_no}: expected 'token<TAB>tag', got {line!r}")
        tokens.append(token)
        tags.append(tag)
    if tokens:
        samples.append(_sample(tokens, tags))
    return samples
