"""PII scrubber on Presidio: one AnalyzerEngine, spaCy NER batched via nlp.pipe.

The Beam stage ``ScrubPII`` builds one :class:`PiiScrubber` per worker, calls ``setup()`` in
``DoFn.setup`` and ``scrub_groups`` per bundle. Each text is first normalized
(:mod:`pipelines.pii.normalize`: zero-width characters, full-width digits, spelled-out e-mails,
split digits); detection runs on the normalized text with Presidio's ``AnalyzerEngine`` (its
predefined recognizers for the configured types plus ours, :mod:`pipelines.pii.recognizers`),
and the spans found are mapped back and replaced on the original text, each by ``<ENTITY>``. A
group of texts (the user messages of one conversation) is detected as one text, so a phone
number split across two messages is still one phone number. A :class:`ScrubResult` carries the
scrubbed text and the count of replacements per entity type, never the values.

Fully offline: the spaCy model is an installed package and the e-mail checks read tldextract's
bundled public-suffix snapshot. See docs/pii.md and bench/scrub.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from pipelines.pii import ner, recognizers
from pipelines.pii.config import SPACY_LABEL_TO_ENTITY, SUPPORTED_ENTITIES, ScrubConfig, ScrubResult
from pipelines.pii.finders import addresses, contact
from pipelines.pii.finders.base import Finding, has_digit
from pipelines.pii.finders.vocab import is_tech_term
from pipelines.pii.normalize import normalize

# entity types whose recognizers can only fire on a text holding a digit / an "@"
_DIGIT_ENTITIES = frozenset({"PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS",
                             "US_DRIVER_LICENSE", "ZIP_CODE"})
_AT_ENTITIES = frozenset({"EMAIL_ADDRESS"})
_NAME_WORD = re.compile(r"[^\W\d_][\w'’-]+")
_LIST_ITEM = r"[^\W\d_a-z][\w'’-]+"
_NAME_LIST = re.compile(rf"(?:{_LIST_ITEM},\s+)+{_LIST_ITEM},?\s+(?:and|or|&)\s+{_LIST_ITEM}\b"
                        rf"|{_LIST_ITEM}\s+(?:and|&)\s+{_LIST_ITEM}\b")
_PROPAGATED = ("PERSON", "ORGANIZATION", "LOCATION")
# a group's texts are detected as one, joined by a line break (the normalizer joins a number
# broken across lines, so one split across two messages is joined the same way)
_GROUP_JOINER = "\n"

Span = tuple[int, int, str, float]  # start, end, entity type, score
_TYPE_WEIGHT_NER = 0.45
_TYPE_WEIGHT_DERIVED = 0.4


_MODEL_RECOGNIZERS = frozenset({"SpacyRecognizer", "MiniLMTokenClassifier"})


def _from_ner(result) -> bool:
    """A span from a model (spaCy NER or the token classifier), not from a cue or gazetteer."""
    meta = result.recognition_metadata or {}
    return meta.get("recognizer_name") in _MODEL_RECOGNIZERS


def _classifier_results(text: str, findings: list[Finding], entities: Sequence[str]) -> list:
    """Token-classifier spans as Presidio results, technical words dropped like NER's."""
    from presidio_analyzer import RecognizerResult

    return [RecognizerResult(f.entity, f.start, f.end, f.score,
                             recognition_metadata={"recognizer_name": "MiniLMTokenClassifier"})
            for f in findings if f.entity in entities
            and not is_tech_term(text[f.start:f.end], as_person=f.entity == "PERSON")]


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
                 if (w[0].isupper() or text[r.start:r.end].islower()) and len(w) > 2}
        if words:
            pattern = re.compile(
                r"(?<![\w<@])(?:" + "|".join(map(re.escape, sorted(words))) + r")\b")
            extra += [(m.start(), m.end(), entity) for m in pattern.finditer(text)]
    for m in _NAME_LIST.finditer(text):
        inside = [r for r in names if r.start < m.end() and m.start() < r.end]  # overlap
        if inside:
            extra += [(w.start() + m.start(), w.end() + m.start(), inside[0].entity_type)
                      for w in re.finditer(_LIST_ITEM, m.group())]
    return extra


def _alone_on_line(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    return not text[line_start:start].strip(" \t>") and not text[end:line_end].strip(" \t,.")


def _merge(spans: list[Span]) -> list[Span]:
    """Overlapping spans become one: their union, typed by the longest (then best-scoring).

    The longest span names what the whole is ("615 Benedum Drive, Springfield" is an address
    even though NER calls "Springfield" a place).
    """
    merged: list[Span] = []
    for start, end, entity, score in sorted(spans, key=lambda s: (s[0], -s[1])):
        if merged and start < merged[-1][1]:
            m_start, m_end, m_entity, m_score = merged[-1]
            better = (end - start, score) > (m_end - m_start, m_score)
            merged[-1] = (m_start, max(end, m_end), entity if better else m_entity,
                          max(score, m_score))
        elif end > start:
            merged.append((start, end, entity, score))
    return merged


def _build_registry(entities: frozenset[str], nlp_entities: list[str], casual_names: bool):
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
        "EMAIL_ADDRESS": EmailRecognizer, "PHONE_NUMBER": PhoneRecognizer,
        "CREDIT_CARD": CreditCardRecognizer, "IBAN_CODE": IbanRecognizer,
        "US_SSN": UsSsnRecognizer, "IP_ADDRESS": IpRecognizer,
        "US_DRIVER_LICENSE": UsLicenseRecognizer, "URL": UrlRecognizer,
    }
    registry = RecognizerRegistry(supported_languages=["en"])
    for entity, recognizer in predefined.items():
        if entity in entities:
            registry.add_recognizer(recognizer())
    if nlp_entities:
        registry.add_recognizer(SpacyRecognizer(supported_entities=nlp_entities))
    ours = recognizers.CUSTOM_RECOGNIZERS + (
        (recognizers.CasualNameRecognizer,) if casual_names else ())
    for recognizer in ours:
        if entities & set(recognizer.ENTITIES):
            registry.add_recognizer(recognizer())
    return registry


class PiiScrubber:
    """Replace PII with typed placeholders. Cheap to build and pickle; ``setup()`` loads models."""

    def __init__(self, config: ScrubConfig | None = None):
        self.config = config if config is not None else ScrubConfig()
        self._analyzer = None

    def __getstate__(self):
        return {"config": self.config, "_analyzer": None}

    def setup(self) -> None:
        from presidio_analyzer import AnalyzerEngine

        contact.patch_tldextract_offline()  # Presidio's Email/UrlRecognizer call tldextract
        entities = frozenset(self.config.entities)
        self._ner_entities = sorted(entities & ner.NER_ENTITIES)
        self._nlp = ner.load_ner(self.config.spacy_model, bool(self._ner_entities))
        self._nlp_engine = ner.make_nlp_engine(self._nlp)
        self._labels = {label: entity for label, entity in SPACY_LABEL_TO_ENTITY.items()
                        if entity in entities}
        registry = _build_registry(entities, self._ner_entities, self.config.casual_names)
        self._analyzer = AnalyzerEngine(registry=registry, nlp_engine=self._nlp_engine,
                                        supported_languages=["en"],
                                        default_score_threshold=self.config.score_threshold)
        for recognizer in registry.recognizers:  # load now, not on the first text that needs it
            if not recognizer.is_loaded:
                recognizer.load()
                recognizer.is_loaded = True
        self._classifier = None
        if self.config.token_classifier:
            from pipelines.pii.classifier import TokenClassifier

            self._classifier = TokenClassifier(self.config.token_classifier,
                                               min_prob=self.config.classifier_min_prob,
                                               int8=self.config.classifier_int8)
        self._placeholders = {entity: self.config.placeholder.format(entity=entity)
                              for entity in SUPPORTED_ENTITIES}

    def scrub(self, text: str) -> ScrubResult:
        return self.scrub_batch([text])[0]

    def scrub_batch(self, texts: Sequence[str]) -> list[ScrubResult]:
        return [group[0] for group in self.scrub_groups([[text] for text in texts])]

    def scrub_groups(self, groups: Sequence[Sequence[str]]) -> list[list[ScrubResult]]:
        """Scrub each group's texts as one text (a conversation's user messages), split back.

        A span that crosses from one text of a group into the next is replaced in both and
        counted once, in the text where it starts.
        """
        if self._analyzer is None:
            raise RuntimeError("PiiScrubber.setup() must run before scrub_batch()")
        norms = [normalize(_GROUP_JOINER.join(group)) for group in groups]
        docs = ner.docs_for(self._nlp, [n.text for n in norms], bool(self._ner_entities),
                            self.config.batch_size, self.config.max_ner_chars)
        found = (self._classifier.find_batch([n.text for n in norms]) if self._classifier
                 else [[] for _ in norms])
        out = []
        for group, norm, doc, model_found in zip(groups, norms, docs, found, strict=True):
            spans = [(*norm.to_original(start, end), entity, score)
                     for start, end, entity, score in self._detect(norm.text, doc, model_found)]
            out.append(self._replace_in_group(group, _merge(spans)))
        return out

    # --- detection ------------------------------------------------------------------------------

    def _entities_for(self, text: str) -> list[str]:
        """Configured types whose recognizers can fire on ``text`` (the cheap pre-checks)."""
        skip = set()
        if not has_digit(text):
            skip |= _DIGIT_ENTITIES
        if "@" not in text:
            skip |= _AT_ENTITIES
        return [e for e in self.config.entities if e not in skip]

    def _detect(self, text: str, doc, model_found: list[Finding]) -> list[Span]:
        """Spans of the configured types in (normalized) ``text``; overlaps not resolved.

        ``model_found``: the token classifier's spans in ``text`` (empty when it is off).
        """
        if not text.strip():
            return []
        entities = self._entities_for(text)
        artifacts = ner.to_artifacts(doc, self._labels, self._nlp_engine)
        results = self._analyzer.analyze(
            text=text, language="en", entities=entities, nlp_artifacts=artifacts,
            score_threshold=self.config.score_threshold) if entities else []
        results = [r for r in results if r.entity_type in self.config.entities]
        results += _classifier_results(text, model_found, self.config.entities)
        extra = _propagate_names(text, results)
        if "PERSON" in self.config.entities or "ORGANIZATION" in self.config.entities:
            # a street address, or a place alone on its line (the locality line of a letter)
            found = [Finding(r.start, r.end, r.entity_type, r.score)
                     for r in results if r.entity_type == "STREET_ADDRESS"
                     or (r.entity_type == "LOCATION" and _alone_on_line(text, r.start, r.end))]
            extra += [(f.start, f.end, f.entity) for f in addresses.find_addressees(text, found)]
        # The score now only picks the type where equal spans disagree: a cue or a gazetteer
        # names the type better than the small model's label, which beats a derived span.
        spans = [(r.start, r.end, r.entity_type, _TYPE_WEIGHT_NER if _from_ner(r) else r.score)
                 for r in results]
        spans += [(start, end, entity, _TYPE_WEIGHT_DERIVED) for start, end, entity in extra
                  if entity in self.config.entities]
        return spans

    # --- replacement on the original text -------------------------------------------------------

    def _replace_in_group(self, group: Sequence[str], spans: list[Span]) -> list[ScrubResult]:
        offsets, position = [], 0
        for text in group:
            offsets.append(position)
            position += len(text) + len(_GROUP_JOINER)
        per_text: list[list[tuple[int, int, str, bool]]] = [[] for _ in group]
        for start, end, entity, _ in spans:
            first = True
            for i, (offset, text) in enumerate(zip(offsets, group, strict=True)):
                lo, hi = max(start, offset) - offset, min(end, offset + len(text)) - offset
                if lo < hi and text[lo:hi].strip():
                    per_text[i].append((lo, hi, entity, first))
                    first = False
        return [self._replace(text, found) for text, found in zip(group, per_text, strict=True)]

    def _replace(self, text: str, spans: list[tuple[int, int, str, bool]]) -> ScrubResult:
        if not spans:
            return ScrubResult(text, {})
        parts, position, findings = [], 0, Counter()
        for start, end, entity, counted in spans:  # sorted, disjoint: _merge made them so
            parts += [text[position:start], self._placeholders[entity]]
            position = end
            findings[entity] += int(counted)
        parts.append(text[position:])
        return ScrubResult("".join(parts), {e: n for e, n in findings.items() if n})
