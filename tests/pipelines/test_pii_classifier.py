"""The MiniLM token classifier lever: trained by ``pipelines.pii.train_ner``, read offline."""

from __future__ import annotations

import json
import socket

import pytest

from pipelines.pii import PiiScrubber, ScrubConfig
from pipelines.pii.classifier import LABELS, TokenClassifier, spans_from_subwords

_CONLL = """Met\tO\nJohn\tB-person\nSmith\tI-person\nin\tO\nBoston\tB-location\n.\tO\n
love\tO\nmy\tO\niphone\tB-product\nfrom\tO\napple\tB-corporation\n
off\tO\nto\tO\ntucson\tB-location\nwith\tO\nsam\tB-person\n
"""


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    """A one-layer classifier trained for one epoch on three sentences (a few seconds)."""
    from pipelines.pii import train_ner

    data = tmp_path_factory.mktemp("data")
    (data / "wnut17").mkdir()
    (data / "wnut17" / "wnut17train.conll").write_text(_CONLL * 4, encoding="utf-8")
    out = tmp_path_factory.mktemp("models") / "pii-minilm-tiny"
    assert train_ner.main(["--data", str(data), "--out", str(out), "--epochs", "1",
                           "--layers", "1", "--val-share", "0.25", "--threads", "1"]) == 0
    return out


def test_train_ner_writes_labels_and_its_record(tiny_classifier):
    config = json.loads((tiny_classifier / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(LABELS))] == list(LABELS)
    record = json.loads((tiny_classifier / "training.json").read_text())
    assert record["data"] == "wnut17train.conll" and record["layers"] == 1
    assert record["fit_texts"] + record["val_texts"] == 12 and record["kept_epoch"] == 1


def test_classifier_spans_reach_the_scrubber_offline(tiny_classifier, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    text = "the weather was fine all week"
    # threshold ~0: every subword is an entity, so every word must be replaced, and only the
    # classifier can have found them (no name, no cue, casual heuristics off)
    eager = PiiScrubber(ScrubConfig(token_classifier=str(tiny_classifier), casual_names=False,
                                    classifier_min_prob=1e-6))
    eager.setup()
    result = eager.scrub(text)
    assert not any(word in result.text for word in text.split()), result.text
    assert sum(result.findings.values()) >= 1
    # threshold 1: the classifier finds nothing and the text passes
    strict = PiiScrubber(ScrubConfig(token_classifier=str(tiny_classifier), casual_names=False,
                                     classifier_min_prob=1.0, classifier_int8=False))
    strict.setup()
    assert strict.scrub(text).text == text


def test_missing_classifier_folder_names_the_training_command(tmp_path):
    with pytest.raises(RuntimeError, match="pipelines.pii.train_ner --out"):
        TokenClassifier(tmp_path / "absent")


def test_classifier_threshold_is_checked():
    with pytest.raises(ValueError, match="classifier_min_prob"):
        ScrubConfig(classifier_min_prob=0.0)


def test_subword_spans_become_whole_word_spans():
    text = "call samantha jones in tucson"
    # subwords: [CLS] call sam ##antha jones in tuc ##son [SEP]
    offsets = [(0, 0), (0, 4), (5, 8), (8, 13), (14, 19), (20, 22), (23, 26), (26, 29), (0, 0)]
    types = [None, None, "PERSON", "PERSON", "PERSON", None, "LOCATION", "LOCATION", None]
    begins = [False, False, True, False, False, False, True, False, False]
    found = spans_from_subwords(text, offsets, types, begins)
    assert [(text[f.start:f.end], f.entity) for f in found] == [
        ("samantha jones", "PERSON"), ("tucson", "LOCATION")]
    # a subword in the middle of a word widens to the word; a B- after a space starts a new span
    found = spans_from_subwords("ann bob", [(0, 3), (4, 7)], ["PERSON", "PERSON"], [True, True])
    assert [(f.start, f.end) for f in found] == [(0, 3), (4, 7)]
    found = spans_from_subwords("samantha", [(3, 5)], ["PERSON"], [True])
    assert [(f.start, f.end) for f in found] == [(0, 8)]
