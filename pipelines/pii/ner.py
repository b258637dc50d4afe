"""spaCy NER for Presidio: the trimmed pipeline, batched ``nlp.pipe``, and ``NlpArtifacts``.

``AnalyzerEngine.analyze`` gets precomputed ``NlpArtifacts``: the texts go through one
``nlp.pipe`` call with only the NER pipe, texts without a letter skip the model, and NER spans
that are never PII (acronyms, technical words, an imperative verb opening a sentence) are dropped
before Presidio sees them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pipelines.pii.config import SPACY_LABEL_TO_ENTITY
from pipelines.pii.finders.vocab import is_tech_term

NER_SCORE = 0.85
NER_ENTITIES = frozenset(SPACY_LABEL_TO_ENTITY.values())
# Pipes NER does not read. The shared tok2vec is dropped too when NER does not listen to it
# (en_core_web_sm/md/lg: ner carries its own tok2vec), which leaves the entities unchanged.
_UNUSED_PIPES = ("tagger", "parser", "attribute_ruler", "lemmatizer", "senter", "morphologizer")
# "TCP", "Q3", "NASA": the model tags short all-caps tokens ORG/PERSON; none names a person
_ACRONYM = re.compile(r"[A-Z0-9&.\-]{1,5}")
_LETTER = re.compile(r"[^\W\d_]")
# "Convert this ...", "Explain the ...": the small model tags a sentence-opening verb ORG/PERSON
_DETERMINERS = frozenset("this that these those the a an my your our it me them".split())


def load_ner(model: str, with_ner: bool):
    """The spaCy pipeline with NER only (or a blank tokenizer); never downloads.

    ``model`` is an installed package name or the path of a model directory.
    """
    import spacy

    if not with_ner:
        return spacy.blank("en")  # no NER-backed type configured: a tokenizer is enough
    if not (spacy.util.is_package(model) or Path(model, "meta.json").is_file()):
        raise RuntimeError(
            f"spaCy model {model!r} is not installed; pip install it (nothing is downloaded at "
            "run time)")
    nlp = spacy.load(model, exclude=list(_UNUSED_PIPES))
    if "tok2vec" in nlp.pipe_names and "ner" not in nlp.get_pipe("tok2vec").listening_components:
        nlp.remove_pipe("tok2vec")
    return nlp


def make_nlp_engine(nlp):
    """A Presidio ``SpacyNlpEngine`` around an already loaded (NER-only) spaCy pipeline."""
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class _LoadedSpacyNlpEngine(SpacyNlpEngine):
        def load(self) -> None:  # the pipeline is loaded by load_ner, pipes trimmed
            self.nlp = {"en": nlp}

    engine = _LoadedSpacyNlpEngine(models=[{"lang_code": "en", "model_name": nlp.meta["name"]}])
    engine.load()
    return engine


def _is_imperative(doc, ent) -> bool:
    """A one-word span opening a line or sentence and followed by a determiner is a verb."""
    if len(ent) != 1 or ent.end >= len(doc):
        return False
    opens = ent.start == 0 or doc[ent.start - 1].is_space or doc[ent.start - 1].text in ".!?:"
    return opens and doc[ent.end].text in _DETERMINERS


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


def docs_for(nlp, texts: Sequence[str], run_ner: bool, batch_size: int, max_chars: int) -> list:
    """One Doc per text from one batched ``nlp.pipe`` over pieces of at most ``max_chars``."""
    from spacy.tokens import Doc

    pieces = []
    if run_ner:
        pieces = [(i, piece) for i, text in enumerate(texts)
                  if _LETTER.search(text)  # no letters, no names or places: skip the model
                  for piece in _chunks(text, max_chars)]
    piece_docs: dict[int, list] = {}
    for (i, _), doc in zip(pieces, nlp.pipe((p for _, p in pieces), batch_size=batch_size),
                           strict=True):
        piece_docs.setdefault(i, []).append(doc)
    docs = []
    for i, text in enumerate(texts):
        parts = piece_docs.get(i)
        if parts is None:
            docs.append(nlp.make_doc(text))  # tokens for Presidio's context words only
        else:
            docs.append(parts[0] if len(parts) == 1
                        else Doc.from_docs(parts, ensure_whitespace=False))
    return docs


def to_artifacts(doc, labels: dict[str, str], nlp_engine):
    """Like SpacyNlpEngine's Doc -> NlpArtifacts, with our label map and NER filters.

    Lemmas are the lower-cased tokens (the lemmatizer is not run): Presidio only reads them
    to match its recognizers' context words.
    """
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from spacy.tokens import Span

    entities = []
    for ent in doc.ents:
        entity = labels.get(ent.label_)
        if entity is None or (_ACRONYM.fullmatch(ent.text) and entity != "LOCATION"):
            continue  # an acronym tagged ORG/PERSON; one tagged a place is one ("NYC", "OH")
        if is_tech_term(ent.text, as_person=entity == "PERSON") or _is_imperative(doc, ent):
            continue
        entities.append(Span(doc, ent.start, ent.end, label=entity))
    return NlpArtifacts(
        entities=entities,
        tokens=doc,
        tokens_indices=[t.idx for t in doc],
        lemmas=[t.lower_ for t in doc],
        nlp_engine=nlp_engine,
        language="en",
        scores=[NER_SCORE] * len(entities),
    )
