"""Names and places as people type them (``ScrubConfig.casual_names``), and the WNUT-17 loader."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.pii import PiiScrubber, ScrubConfig, measure_leaks
from pipelines.pii.evaluation import WNUT_SCORED_LABELS, load_conll
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def scrubber() -> PiiScrubber:
    s = PiiScrubber()
    s.setup()
    return s


@pytest.mark.parametrize(("text", "value", "placeholder"), [
    ("thanks @paul_walk for the tip", "paul_walk", "<PERSON>"),
    ("see u/throwaway_42 's answer", "throwaway_42", "<PERSON>"),
    ("I better get a call from samantha on Saturday", "samantha", "<PERSON>"),
    ("HAPPY BIRTHDAY TAYLOR SWIFT !!!", "TAYLOR", "<PERSON>"),
    ("flying out to tucson tonight", "tucson", "<LOCATION>"),
    ("COMING TO GLASGOW NEXT WEEK", "GLASGOW", "<LOCATION>"),
    ("a week in NYC was enough", "NYC", "<LOCATION>"),
    ("the other property is in Greenville , OH", ", OH", "<LOCATION>"),
    # a state code after a preposition of place
    ("Made it back home to GA . It sucks to leave", "GA", "<LOCATION>"),
    # a venue named with the time people will be there, either order
    ("Betta be at Elements tonight for drinks", "Elements", "<LOCATION>"),
    ("Tonight at Bowlounge , see you there", "Bowlounge", "<LOCATION>"),
    # a name after a casual title, in any case
    ("Tonight: Baka Boyz LIVE w/ DJ Elements on 103.5", "Elements", "<PERSON>"),
    ("90s music all night wiith dj finese", "finese", "<PERSON>"),
    ("President Goodluck and Pastor Ayo Oritsejafor on Friday", "Oritsejafor", "<PERSON>"),
    # a short lower-case given name after a cue ("thanks", "with", "this is")
    ("shopping day with jen , so excited", "jen", "<PERSON>"),
    ("Hi, this is sam from the front desk", "sam", "<PERSON>"),
    # a lower-case city after "leaving"
    ("I'm leaving yakima on Wednesday", "yakima", "<LOCATION>"),
])
def test_casual_names_and_places(scrubber, text, value, placeholder):
    result = scrubber.scrub(text)
    assert value not in result.text, result.text
    assert placeholder in result.text


def test_casual_names_off_leaves_them():
    plain = PiiScrubber(ScrubConfig(casual_names=False))
    plain.setup()
    assert plain.scrub("flying out to tucson tonight").text == "flying out to tucson tonight"


@pytest.mark.parametrize("text", [
    "I will mark it done in a minute, hope that helps",
    "WHY IS THIS SO HARD TO INSTALL ON WINDOWS",
    "send it to me at 9, it is in the fridge",
    # codes that are English words in capitals, titles without a name, weekdays after "at"
    "WE ARE IN IN THE END",
    "the DJ set went on late, at home tonight",
    "see you at Friday tonight then",
    "i did it with the cat and you",
])
def test_everyday_words_are_not_casual_names(scrubber, text):
    assert scrubber.scrub(text).text == text


def test_conll_sentences_become_labelled_samples(tmp_path):
    path = tmp_path / "tiny.conll"
    path.write_text("Met\tO\nJohn\tB-person\nSmith\tI-person\nin\tO\nNYC\tB-location\n\n"
                    "Apple\tB-corporation\nrocks\tO\n", encoding="utf-8")
    first, second = load_conll(path)
    assert first["full_text"] == "Met John Smith in NYC"
    assert [(s["entity_type"], s["entity_value"]) for s in first["spans"]] == [
        ("PERSON", "John Smith"), ("LOCATION", "NYC")]
    assert second["spans"][0]["entity_type"] == "ORGANIZATION"
    # whole-word leaks, other words outside the scored spans only
    report = measure_leaks([first], ["Met <PERSON> in NYC"], ("PERSON", "LOCATION"),
                           whole_word=True, masked_labels=WNUT_SCORED_LABELS)
    assert report.leaks == {"PERSON": 0, "LOCATION": 1}
    assert (report.words, report.words_kept) == (2, 2)


def test_conll_line_without_a_tag_names_the_line(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("Met\tO\nJohn\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.conll:2"):
        load_conll(path)


def test_wnut17_dev_leaks_less_than_stock_level(scrubber):
    samples = load_conll(shared_file("wnut17/emerging.dev.conll"))
    scrubbed = [r.text for r in scrubber.scrub_batch([s["full_text"] for s in samples])]
    report = measure_leaks(samples, scrubbed, scrubber.config.entities, whole_word=True,
                           masked_labels=WNUT_SCORED_LABELS)
    # measured 26.0% / 27.0% / 96.8% (docs/pii.md); the 15% targets need the opt-in classifier
    assert report.leak_rate_of("PERSON") <= 0.30, report.leaks
    assert report.leak_rate_of("LOCATION") <= 0.30, report.leaks
    assert report.survival >= 0.93


def test_scrub_stage_catches_a_phone_split_across_two_user_messages():
    record = {"event_type": "interaction", "messages": [
        {"role": "user", "content": "my number is 415 555"},
        {"role": "assistant", "content": "Go on."},
        {"role": "user", "content": "0132 call me"}], "metadata": {}}
    from pipelines.stages import ScrubPII

    with TestPipeline() as p:
        out = p | beam.Create([record]) | ScrubPII(ScrubConfig())
        assert_that(out["kept"] | beam.Map(lambda r: ([m["content"] for m in r["messages"]],
                                              r["pii_findings"], r["prompt"])),
                    equal_to([(["my number is <PHONE_NUMBER>", "Go on.", "<PHONE_NUMBER> call me"],
                               {"PHONE_NUMBER": 1}, "<PHONE_NUMBER> call me")]))
