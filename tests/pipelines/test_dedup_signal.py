"""Dedup keeps the preference signal, and verifies across days exactly as within a day.

Distinct answers to one prompt are what preference pairs are made of: they must survive even
when a long shared prompt makes the exchanges look alike, while re-posts of an exchange are
still caught. Tomorrow's copy of today's record is judged on the same exact Jaccard as a copy
within the day, from the hashes the dedup_index keeps.
"""

from __future__ import annotations

import random

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.dedup import DedupConfig, DedupExact, DedupNearDuplicates, index_rows
from pipelines.dedup.minhash import MinHasher, estimated_jaccard, exact_jaccard
from pipelines.dedup.sketch import past_sketch
from pipelines.dedup.text import dedup_text, exchange_shingles
from tests.pipelines.test_dedup import ANSWER_A, ANSWER_B, ANSWER_C, one_word_changed, record

CONFIG = DedupConfig()
LONG_PROMPT = "Please summarize this for a ten year old: " + " ".join(
    [ANSWER_A, ANSWER_B, ANSWER_C])
SHORT_ANSWER_1 = "It says lists can be flipped, Canberra is the capital, and plants eat light."
SHORT_ANSWER_2 = "Three facts: reversing lists in Python, Australia's capital city, photosynthesis."


def pipeline() -> TestPipeline:
    return TestPipeline(runner=FnApiRunner())


def jaccards(a: dict, b: dict) -> tuple[float, float]:
    """(exchange, response) word-3-gram Jaccard of two records, from shingle strings."""
    pa, ra = (set(s) for s in exchange_shingles(dedup_text(a), CONFIG.shingle))
    pb, rb = (set(s) for s in exchange_shingles(dedup_text(b), CONFIG.shingle))
    return len((pa | ra) & (pb | rb)) / len(pa | ra | pb | rb), len(ra & rb) / len(ra | rb)


def dropped_ids(duplicates, label: str = "DroppedIds"):
    return duplicates | label >> beam.Map(lambda d: (d["record"]["event_id"], d["duplicate_of"]))


def test_distinct_answers_to_a_long_shared_prompt_are_both_kept():
    first = record("first", LONG_PROMPT, SHORT_ANSWER_1)
    second = record("second", LONG_PROMPT, SHORT_ANSWER_2, minutes=1)
    exchange, response = jaccards(first, second)
    # the exchanges alone look like near-duplicates: the rule before this fix dropped one
    assert exchange >= CONFIG.threshold > response, (exchange, response)
    # a near-copy of the first answer is a duplicate: the answers themselves are alike
    echo = record("echo", LONG_PROMPT, SHORT_ANSWER_1.replace("eat light", "eat sunlight"),
                  minutes=2)
    assert min(jaccards(first, echo)) >= CONFIG.threshold
    with pipeline() as p:
        near = p | beam.Create([first, second, echo]) | DedupNearDuplicates(CONFIG)
        assert_that(near["kept"] | beam.Map(lambda r: r["event_id"]),
                    equal_to(["first", "second"]), label="kept")
        assert_that(dropped_ids(near["duplicates"]), equal_to([("echo", "first")]),
                    label="dropped")


def test_reposts_of_an_exchange_are_still_caught():
    original = record("original", "How do I reverse a list in Python?", ANSWER_A)
    verbatim = record("verbatim", "How do I reverse a list in Python?", ANSWER_A, minutes=5)
    # the same answer re-posted under a lightly edited prompt, and with one word changed
    edited = record("edited", "Hi, how do I reverse a list in Python? thanks",
                    one_word_changed(ANSWER_A, 20), minutes=6)
    other = record("other", "How do I reverse a list in Python?", ANSWER_B, minutes=7)
    with pipeline() as p:
        exact = p | beam.Create([original, verbatim, edited, other]) | DedupExact(CONFIG)
        near = exact["kept"] | DedupNearDuplicates(CONFIG)
        assert_that(dropped_ids(exact["duplicates"]), equal_to([("verbatim", "original")]),
                    label="exact")
        assert_that(dropped_ids(near["duplicates"], "NearIds"), equal_to([("edited", "original")]),
                    label="near")


def _disagreeing_variants() -> dict[str, str]:
    """Variants of one answer whose MinHash estimate and exact Jaccard to it fall on opposite
    sides of the threshold: the estimate alone would misjudge them."""
    base = " ".join([ANSWER_A, ANSWER_B])
    words = base.split()
    hasher = MinHasher(CONFIG.num_perm, CONFIG.seed)
    rng = random.Random(5)
    found = {}
    for _ in range(3000):
        variant = list(words)
        for _ in range(rng.randint(3, 8)):
            variant[rng.randrange(len(variant))] = f"w{rng.randrange(10**6)}"
        text = " ".join(variant)
        sketch = hasher.sketch_exchanges(["", ""], [base.lower(), text.lower()], CONFIG.shingle)
        signatures = sketch.signatures.astype("<u4")
        estimate = estimated_jaccard(signatures[0].tobytes(), signatures[1].tobytes())
        sets = sketch.response.encoded()
        exact = exact_jaccard(sets[0], sets[1])
        if exact < CONFIG.threshold <= estimate:
            found.setdefault("estimate_too_high", text)
        elif estimate < CONFIG.threshold <= exact:
            found.setdefault("estimate_too_low", text)
        if len(found) == 2:
            return {"base": base, **found}
    raise AssertionError(f"no disagreeing variants found: {sorted(found)}")


def test_cross_day_verification_is_exact_like_within_a_day():
    texts = _disagreeing_variants()
    base = record("base", "", texts["base"])
    high = record("high", "", texts["estimate_too_high"], minutes=24 * 60)  # not a duplicate
    low = record("low", "", texts["estimate_too_low"], minutes=24 * 60 + 1)  # a duplicate
    with pipeline() as p:
        within = p | "OneDay" >> beam.Create([base, high, low]) | "Within" >> DedupNearDuplicates(
            CONFIG)
        day1 = p | "Day1" >> beam.Create([base]) | "Near1" >> DedupNearDuplicates(CONFIG)
        day2 = (p | "Day2" >> beam.Create([high, low])
                | "Near2" >> DedupNearDuplicates(CONFIG, past_index=day1["index"]))
        assert_that(dropped_ids(within["duplicates"]), equal_to([("low", "base")]),
                    label="within")
        assert_that(dropped_ids(day2["duplicates"], "CrossIds"), equal_to([("low", "base")]),
                    label="cross")
        assert_that(day2["kept"] | beam.Map(lambda r: r["event_id"]), equal_to(["high"]),
                    label="cross_kept")


def test_duplicates_leave_the_stages_as_reject_rows():
    records = [record("a", "Capital?", ANSWER_B), record("b", "capital ?", ANSWER_B, minutes=1),
               record("c", "How do I reverse a list?", ANSWER_A),
               record("d", "How do I reverse a list?", one_word_changed(ANSWER_A, 9), minutes=1)]
    with pipeline() as p:
        exact = p | beam.Create(records) | DedupExact(CONFIG)
        near = exact["kept"] | DedupNearDuplicates(CONFIG)
        summary = beam.Map(lambda r: (r["stage"], r["reason"], r["event_id"], r["duplicate_of"],
                                      r["user_pseudonym"], r["detail"].split(" (")[0]))
        assert_that(exact["rejects"] | "E" >> summary, equal_to([
            ("dedup_exact", "exact_duplicate", "b", "a", "u1", "exact_duplicate of a")]),
            label="exact")
        assert_that(near["rejects"] | "N" >> summary, equal_to([
            ("dedup_near", "near_duplicate", "d", "c", "u1", "near_duplicate of c")]),
            label="near")


def test_index_rows_rebuilt_from_interactions_equal_the_stage_output():
    records = [record("a", "Explain photosynthesis", ANSWER_C),
               record("b", "What is the capital of Australia?", ANSWER_B, user="u2")]
    expected = sorted((r["event_id"], r["user_pseudonym"], r["signature"], r["prompt_hashes"],
                       r["response_hashes"]) for r in index_rows(records, CONFIG))
    with pipeline() as p:
        near = p | beam.Create(records) | DedupNearDuplicates(CONFIG)
        assert_that(near["index"] | beam.Map(lambda r: (
            r["event_id"], r["user_pseudonym"], r["signature"], r["prompt_hashes"],
            r["response_hashes"])), equal_to(expected))


def test_a_past_row_without_hashes_names_the_fix():
    row = index_rows([record("old", "q", ANSWER_A)], CONFIG)[0]
    assert past_sketch(row, CONFIG)[0][3] == "old"
    with pytest.raises(ValueError, match="old.*no response_hashes.*rebuild"):
        past_sketch({**row, "response_hashes": None}, CONFIG)
    with pytest.raises(ValueError, match="num_perm=128"):
        past_sketch({**row, "signature": row["signature"][:64]}, CONFIG)
    assert np.frombuffer(row["response_hashes"], dtype="<u4").size > 10


def ranked_siblings(path) -> list[tuple[str, list[dict]]]:
    """(prompt, its human assistant replies carrying a rank), prompts with 2+ such replies."""
    import json

    groups = []
    for line in path.read_text().splitlines():
        stack = [json.loads(line)["prompt"]]
        while stack:
            message = stack.pop()
            stack.extend(message.get("replies", []))
            ranked = [r for r in message.get("replies", []) if r["role"] == "assistant"
                      and not r.get("synthetic") and r.get("rank") is not None]
            if message["role"] == "prompter" and not message.get("synthetic") and len(ranked) > 1:
                groups.append((message["text"], ranked))
    return groups


@pytest.mark.slow  # Beam on 1,248 real records: ~10 s here
def test_real_ranked_siblings_survive_and_their_reposts_do_not():
    from tests.conftest import shared_file

    groups = ranked_siblings(shared_file("oasst_en_100_tree.jsonl"))
    originals, reposts, distinct = [], [], set()
    for g, (prompt, replies) in enumerate(groups):
        responses = [set(exchange_shingles(dedup_text({"prompt": "", "response": r["text"]}),
                                           CONFIG.shingle)[1]) for r in replies]
        for i, reply in enumerate(replies):
            originals.append(record(reply["message_id"], prompt, reply["text"], minutes=g))
            reposts.append(record(reply["message_id"] + "-repost", "Hi, " + prompt,
                                  reply["text"], minutes=10_000 + g))
            if all(len(responses[i] & other) / len(responses[i] | other) < CONFIG.threshold
                   for j, other in enumerate(responses) if j != i):
                distinct.add(reply["message_id"])
    assert len(originals) > 600 and len(distinct) > 0.95 * len(originals)

    def check(dropped):
        dropped = set(dropped)
        survive = 1 - len(dropped & distinct) / len(distinct)
        caught = sum(r["event_id"] in dropped for r in reposts) / len(reposts)
        assert survive >= 0.99 and caught >= 0.98, (survive, caught)

    with pipeline() as p:
        exact = p | beam.Create(originals + reposts) | DedupExact(CONFIG)
        near = exact["kept"] | DedupNearDuplicates(CONFIG)
        assert_that((exact["rejects"], near["rejects"]) | beam.Flatten()
                    | beam.Map(lambda r: r["event_id"]), check)
