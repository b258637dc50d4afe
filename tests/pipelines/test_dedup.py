"""DedupExact and DedupNearDuplicates on tiny inputs (TestPipeline + assert_that)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from datasketch import MinHash

from pipelines.dedup import DedupConfig, DedupExact, DedupNearDuplicates
from pipelines.dedup.graph import bucket_pairs
from pipelines.dedup.minhash import (
    MinHasher,
    band_keys,
    band_keys_batch,
    exact_jaccard,
)
from pipelines.dedup.text import (
    CARRIED_TEXT,
    dedup_text,
    exchange_shingles,
    shingles,
    split_dedup_text,
)
from tests.conftest import shared_file
from warehouse.schemas import DEDUP_INDEX

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
CONFIG = DedupConfig()

# Real-looking, distinct answers long enough (> 30 words) that one changed word keeps a word
# 3-gram Jaccard well above 0.7, while different answers share almost nothing.
ANSWER_A = (
    "To reverse a list in Python you can call the reverse method which changes the list in "
    "place, or use slicing with a step of minus one which returns a new reversed copy and "
    "leaves the original list untouched for later use in the program."
)
ANSWER_B = (
    "The capital of Australia is Canberra, a planned city chosen as a compromise between "
    "Sydney and Melbourne; Parliament moved there in 1927 and it remains the seat of the "
    "federal government and home to many national institutions today."
)
ANSWER_C = (
    "Photosynthesis converts light energy into chemical energy: chlorophyll absorbs light, "
    "water is split to release oxygen, and the energy drives the Calvin cycle which fixes "
    "carbon dioxide into sugars that the plant uses to grow and store energy."
)


def runner_pipeline() -> TestPipeline:
    # FnApiRunner explicitly: the default DirectRunner first tries to download Prism.
    return TestPipeline(runner=FnApiRunner())


def record(event_id: str, prompt: str, response: str, *, minutes: int = 0, n_feedback: int = 0,
           user: str = "u1") -> dict:
    return {
        "event_id": event_id, "user_pseudonym": user, "ts": T0 + timedelta(minutes=minutes),
        "prompt": prompt, "response": response, "n_feedback": n_feedback,
    }


def one_word_changed(text: str, position: int, word: str = "banana") -> str:
    words = text.split()
    words[position] = word
    return " ".join(words)


def kept_summary(kept):
    return kept | beam.Map(
        lambda r: (r["event_id"], r["dedup_cluster_id"], r["dedup_cluster_size"]))


def duplicate_summary(duplicates):
    return duplicates | beam.Map(
        lambda d: (d["record"]["event_id"], d["duplicate_of"], d["reason"]))


def test_dedup_text_normalizes_case_whitespace_and_keeps_punctuation():
    a = record("a", "What  is\t2+3?", "Five.")
    b = record("b", "what is 2 + 3 ?", "FIVE .")
    c = record("c", "what is 2*3?", "five.")
    assert dedup_text(a) == dedup_text(b) == "what is 2 + 3 ?\nfive ."
    assert dedup_text(c) != dedup_text(a)


def test_exact_duplicates_collapse_to_the_representative_by_rule():
    records = [
        # same normalized text; c has the most feedback, so it wins despite being latest
        record("a", "Hello there", ANSWER_A, minutes=0, n_feedback=1),
        record("b", "hello   THERE", ANSWER_A, minutes=1, n_feedback=0),
        record("c", "Hello there", ANSWER_A.upper(), minutes=5, n_feedback=2),
        # tie on feedback: earliest ts wins (e), then smallest event_id (f before g)
        record("g", "Capital?", ANSWER_B, minutes=3),
        record("f", "Capital?", ANSWER_B, minutes=3),
        record("e", "Capital?", ANSWER_B, minutes=2),
        record("z", "Plants?", ANSWER_C),
    ]
    with runner_pipeline() as p:
        out = p | beam.Create(records) | DedupExact(CONFIG)
        assert_that(kept_summary(out["kept"]),
                    equal_to([("c", "c", 3), ("e", "e", 3), ("z", "z", 1)]), label="kept")
        assert_that(duplicate_summary(out["duplicates"]), equal_to([
            ("a", "c", "exact_duplicate"), ("b", "c", "exact_duplicate"),
            ("f", "e", "exact_duplicate"), ("g", "e", "exact_duplicate"),
        ]), label="duplicates")


def test_near_duplicates_removed_distinct_kept_and_sizes_summed():
    records = [
        record("a1", "How do I reverse a list?", ANSWER_A, minutes=0),
        record("a2", "How do I reverse a list?", one_word_changed(ANSWER_A, 10), minutes=1,
               n_feedback=3),
        record("a3", "How do I reverse a list?", one_word_changed(ANSWER_A, 25), minutes=2),
        record("b1", "What is the capital of Australia?", ANSWER_B),
        record("c1", "Explain photosynthesis", ANSWER_C),
    ]
    with runner_pipeline() as p:
        created = p | beam.Create(records)
        exact = created | DedupExact(CONFIG)
        # a2 also has an exact copy: the near stage must count it in a2's cluster size
        copy = p | "Copy" >> beam.Create([{**records[1], "event_id": "a2copy", "n_feedback": 0}])
        exact = (exact["kept"], copy) | beam.Flatten() | "Exact2" >> DedupExact(CONFIG)
        near = exact["kept"] | DedupNearDuplicates(CONFIG)
        assert_that(kept_summary(near["kept"]),
                    equal_to([("a2", "a2", 4), ("b1", "b1", 1), ("c1", "c1", 1)]), label="kept")
        assert_that(duplicate_summary(near["duplicates"]), equal_to([
            ("a1", "a2", "near_duplicate"), ("a3", "a2", "near_duplicate"),
        ]), label="duplicates")
        assert_that(
            near["duplicates"] | beam.Map(lambda d: 0.7 <= d["similarity"] < 1.0),
            equal_to([True, True]), label="similarity")
        assert_that(
            near["index"] | beam.Map(lambda row: (row["event_id"], row["user_pseudonym"],
                                                  len(row["signature"]))),
            equal_to([("a2", "u1", 4 * CONFIG.num_perm), ("b1", "u1", 512),
                      ("c1", "u1", 512)]), label="index")


def test_index_rows_match_the_dedup_index_schema():
    import pyarrow as pa

    one = record("x", "Explain photosynthesis", ANSWER_C)
    expected = MinHash(num_perm=CONFIG.num_perm, seed=CONFIG.seed)
    prompt_shingles, response_shingles = exchange_shingles(dedup_text(one), CONFIG.shingle)
    expected.update_batch(prompt_shingles + response_shingles)

    def check(rows):
        table = pa.Table.from_pylist(rows, schema=DEDUP_INDEX)
        assert table.num_rows == 1
        signature = np.frombuffer(table.column("signature")[0].as_py(), dtype="<u4")
        assert np.array_equal(signature.astype(np.uint64), expected.hashvalues)
        # the hashes verification needs tomorrow, one set per part of the exchange
        for column, part in (("prompt_hashes", prompt_shingles),
                             ("response_hashes", response_shingles)):
            stored = np.frombuffer(table.column(column)[0].as_py(), dtype="<u4")
            reference = np.unique(MinHasher().shingle_hashes([part])).astype(np.uint32)
            assert np.array_equal(stored, reference), column

    with runner_pipeline() as p:
        near = p | beam.Create([one]) | DedupNearDuplicates(CONFIG)
        assert_that(near["index"], check)


def test_transitive_chain_ends_in_one_cluster():
    # A~B and B~C but A and C are below the threshold: one cluster, represented by the best.
    a = ANSWER_A
    b = one_word_changed(one_word_changed(a, 8, "zz1"), 30, "zz2")
    c = one_word_changed(one_word_changed(b, 18, "zz3"), 40, "zz4")
    sim = {}
    hasher = MinHasher(CONFIG.num_perm, CONFIG.seed)
    _, hashes = hasher.sketch([shingles(dedup_text(record("x", "", t)), 3) for t in (a, b, c)])
    enc = [h.astype("<u4").tobytes() for h in hashes]
    sim["ab"], sim["bc"], sim["ac"] = (exact_jaccard(enc[0], enc[1]),
                                       exact_jaccard(enc[1], enc[2]),
                                       exact_jaccard(enc[0], enc[2]))
    assert sim["ab"] >= 0.7 and sim["bc"] >= 0.7 and sim["ac"] < 0.7, sim
    records = [record("c", "", c, n_feedback=2), record("a", "", a), record("b", "", b),
               record("d", "", ANSWER_B)]
    with runner_pipeline() as p:
        near = p | beam.Create(records) | DedupNearDuplicates(CONFIG)
        assert_that(kept_summary(near["kept"]), equal_to([("c", "c", 3), ("d", "d", 1)]),
                    label="kept")
        assert_that(duplicate_summary(near["duplicates"]), equal_to([
            ("a", "c", "near_duplicate"), ("b", "c", "near_duplicate")]), label="duplicates")


def test_past_index_catches_a_copy_of_an_earlier_days_record():
    day1 = [record("old", "How do I reverse a list?", ANSWER_A, n_feedback=0),
            record("other", "Explain photosynthesis", ANSWER_C)]
    # Tomorrow: a lightly edited copy with more feedback still loses to the published record.
    day2 = [record("new", "How do I reverse a list?", one_word_changed(ANSWER_A, 12),
                   minutes=24 * 60, n_feedback=5),
            record("fresh", "What is the capital of Australia?", ANSWER_B, minutes=24 * 60)]
    with runner_pipeline() as p:
        first = p | "Day1" >> beam.Create(day1) | "Near1" >> DedupNearDuplicates(CONFIG)
        assert_that(first["index"] | "Ids1" >> beam.Map(lambda row: row["event_id"]),
                    equal_to(["old", "other"]), label="index1")
        # the rows the lead writes to dedup_index on day 1 come back as day 2's past_index
        second = (p | "Day2" >> beam.Create(day2)
                  | "Near2" >> DedupNearDuplicates(CONFIG, past_index=first["index"]))
        assert_that(kept_summary(second["kept"]), equal_to([("fresh", "fresh", 1)]),
                    label="kept")
        assert_that(duplicate_summary(second["duplicates"]),
                    equal_to([("new", "old", "near_duplicate")]), label="duplicates")
        assert_that(second["index"] | "Ids2" >> beam.Map(lambda row: row["event_id"]),
                    equal_to(["fresh"]), label="index2")


def test_signatures_equal_datasketch():
    texts = ["", "one", "two words", ANSWER_A, ANSWER_B + " " + ANSWER_C * 20]
    shingle_lists = [shingles(dedup_text(record("x", t, t)), CONFIG.shingle) for t in texts]
    for num_perm, seed in ((128, 1), (64, 7)):
        hasher = MinHasher(num_perm, seed)
        signatures, hashes = hasher.sketch(shingle_lists)
        for signature, shingle_list, distinct in zip(signatures, shingle_lists, hashes,
                                                     strict=True):
            expected = MinHash(num_perm=num_perm, seed=seed)
            expected.update_batch(shingle_list)
            assert np.array_equal(signature.astype(np.uint64), expected.hashvalues)
            assert len(distinct) == len(set(shingle_list))


def test_exchange_path_equals_datasketch_on_the_same_shingles():
    # the path the Sketch DoFn runs: hashes straight from normalized prompts and responses
    # (repeats included, no shingle lists); the signature must equal datasketch's on the union
    # of both parts' shingles(), and the two hash sets must be those parts' distinct hashes
    texts = ["", "one", "two words", "three words here", ANSWER_A, "Ünïcode ﬁle ＡＢＣ " * 3,
             ANSWER_B + " " + ANSWER_C * 20, " ".join(f"w{i}" for i in range(600))]
    parts = [split_dedup_text(dedup_text(record("x", t, t[::-1]))) for t in texts]
    hasher = MinHasher(CONFIG.num_perm, CONFIG.seed)
    sketches = hasher.sketch_exchanges([p for p, _ in parts], [r for _, r in parts],
                                       CONFIG.shingle)
    assert len(parts[-1][0].split()) > MinHasher.CHUNK  # one record wider than a chunk
    for i, (prompt, response) in enumerate(parts):
        expected = MinHash(num_perm=CONFIG.num_perm, seed=CONFIG.seed)
        expected.update_batch(shingles(prompt, CONFIG.shingle) + shingles(response, CONFIG.shingle))
        assert np.array_equal(sketches.signatures[i].astype(np.uint64), expected.hashvalues)
        for sets, text in ((sketches.prompt, prompt), (sketches.response, response)):
            own = sets.distinct[sets.offsets[i]:sets.offsets[i + 1]]
            reference = hasher.shingle_hashes([shingles(text, CONFIG.shingle)])
            assert np.array_equal(own, np.unique(reference).astype(np.uint32)), text[:40]
    # one batch or one record at a time: the same signatures
    for i, (prompt, response) in enumerate(parts):
        alone = hasher.sketch_exchanges([prompt], [response], CONFIG.shingle)
        assert np.array_equal(alone.signatures[0], sketches.signatures[i])


def test_band_keys_batch_equals_band_keys():
    hasher = MinHasher(CONFIG.num_perm, CONFIG.seed)
    signatures, _ = hasher.sketch([shingles(dedup_text(record("x", "", t)), 3)
                                   for t in (ANSWER_A, ANSWER_B, ANSWER_C)])
    keys = band_keys_batch(signatures, CONFIG.bands, CONFIG.rows)
    expected = [key for signature in signatures
                for key in band_keys(signature.astype("<u4").tobytes(), CONFIG.bands, CONFIG.rows)]
    assert keys == expected and len(set(keys)) == 3 * CONFIG.bands


def test_carried_dedup_text_is_used_and_never_emitted():
    records = [record("a", "Hello there", ANSWER_A), record("b", "hello THERE", ANSWER_A),
               record("c", "Capital?", ANSWER_B)]
    # x and y differ in prompt and response, but carry the same dedup text: the near stage
    # dedups on what DedupExact attached instead of normalizing again
    carried = [{**record("x", "Plants?", ANSWER_C, n_feedback=1), CARRIED_TEXT: "same text"},
               {**record("y", "Other", ANSWER_B, minutes=1), CARRIED_TEXT: "same text"}]

    def no_carried_text(rows):
        assert rows and all(CARRIED_TEXT not in row for row in rows), rows

    with runner_pipeline() as p:
        exact = p | beam.Create(records) | DedupExact(CONFIG)
        assert_that(exact["kept"] | beam.Map(lambda r: (r["event_id"], r[CARRIED_TEXT])),
                    equal_to([("a", dedup_text(records[0])), ("c", dedup_text(records[2]))]),
                    label="exact_kept_carries")
        assert_that(exact["duplicates"] | beam.Map(lambda d: d["record"]), no_carried_text,
                    label="exact_duplicates")
        near = ((exact["kept"], p | "Carried" >> beam.Create(carried)) | beam.Flatten()
                | DedupNearDuplicates(CONFIG))
        assert_that(duplicate_summary(near["duplicates"]),
                    equal_to([("y", "x", "near_duplicate")]), label="near_duplicates")
        assert_that(near["kept"], no_carried_text, label="near_kept")
        assert_that(near["duplicates"] | "NearDupRecords" >> beam.Map(lambda d: d["record"]),
                    no_carried_text, label="near_duplicate_records")


def test_oversized_bucket_pairs_grow_linearly():
    members = [(1, 0, i, f"e{i:04d}", 1) for i in range(1000)]
    pairs, oversized = bucket_pairs(members, all_pairs_max=32, anchors=8)
    assert oversized and len(pairs) < 1000 * 8
    assert all(a < b for a, b in pairs)
    small, oversized = bucket_pairs(members[:10], all_pairs_max=32, anchors=8)
    assert not oversized and len(small) == 45


def _planted_variant(text: str, edit_fraction: float, vocabulary: list[str],
                     rng: random.Random) -> str:
    words = text.split()
    for _ in range(max(1, round(edit_fraction * len(words)))):
        words[rng.randrange(len(words))] = rng.choice(vocabulary)
    return " ".join(words)


def test_quality_on_real_text_with_planted_near_duplicates():
    path = shared_file("arena_hard_v0.1_question.jsonl")
    prompts = [json.loads(line)["prompt"] for line in path.read_text().splitlines()]
    prompts = [p for p in prompts if 40 <= len(p.split()) <= 400][:60]
    rng = random.Random(3)
    vocabulary = sorted({w for p in prompts for w in p.split()})
    records = [record(f"s{i:03d}", p, "", minutes=i) for i, p in enumerate(prompts)]
    for i, p in enumerate(prompts[:40]):
        edit = [0.01, 0.03, 0.06, 0.1, 0.15, 0.25][i % 6]
        records.append(record(f"v{i:03d}", _planted_variant(p, edit, vocabulary, rng), "",
                              minutes=100 + i))
    # ground truth: exact shingle Jaccard of every pair, representative by the rule
    hasher = MinHasher(CONFIG.num_perm, CONFIG.seed)
    _, hashes = hasher.sketch([sum(exchange_shingles(dedup_text(r), CONFIG.shingle), [])
                               for r in records])
    sets = [set(h.tolist()) for h in hashes]
    parent = list(range(len(records)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(records)):
        for j in range(i + 1, len(records)):
            if len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= CONFIG.threshold:
                parent[find(i)] = find(j)
    clusters = {}
    for i in range(len(records)):
        clusters.setdefault(find(i), []).append(records[i])
    truth_dropped = {r["event_id"] for members in clusters.values()
                     for r in sorted(members, key=lambda r: (r["ts"], r["event_id"]))[1:]}
    assert 10 <= len(truth_dropped) < 40  # some planted edits fall below the threshold


    def precision_and_recall_at_least_95(dropped):
        dropped = set(dropped)
        true_positives = len(dropped & truth_dropped)
        precision = true_positives / max(1, len(dropped))
        recall = true_positives / len(truth_dropped)
        assert precision >= 0.95 and recall >= 0.95, (precision, recall)

    with runner_pipeline() as p:
        near = p | beam.Create(records) | DedupNearDuplicates(CONFIG)
        assert_that(near["duplicates"] | beam.Map(lambda d: d["record"]["event_id"]),
                    precision_and_recall_at_least_95)


def test_config_rejects_bands_that_do_not_fit():
    with pytest.raises(ValueError, match="bands x rows"):
        DedupConfig(bands=40, rows=4)


def _shuffled_bytes_per_record(records) -> float:
    """Bytes through every PCollection of DedupNearDuplicates on ``records`` (Beam's element
    counts x sampled mean sizes, as the FnApiRunner measures them), per record."""
    from apache_beam.metrics import monitoring_infos as mi

    p = beam.Pipeline(runner=FnApiRunner())
    _ = p | beam.Create(records) | DedupNearDuplicates(CONFIG)
    result = p.run()
    result.wait_until_finish()
    counts, sampled = {}, {}
    for info in result.monitoring_infos():
        pcoll = info.labels.get(mi.PCOLLECTION_LABEL)
        if pcoll and info.urn == mi.ELEMENT_COUNT_URN:
            counts[pcoll] = counts.get(pcoll, 0) + mi.extract_counter_value(info)
        elif pcoll and info.urn == mi.SAMPLED_BYTE_SIZE_URN:
            n, total = mi.extract_distribution(info)[:2]
            previous = sampled.get(pcoll, (0, 0))
            sampled[pcoll] = (previous[0] + n, previous[1] + total)
    total = sum(counts[pcoll] * s / n for pcoll, (n, s) in sampled.items() if n and pcoll in counts)
    return total / len(records)


def test_near_stage_bytes_per_record_do_not_grow_with_its_candidates():
    # Every record is a candidate of every other (one long shared prompt: the exchanges collide
    # in nearly every band) and none is a near-duplicate (distinct answers). The near stage must
    # ship a bounded number of copies of a record's shingle hashes, whatever the number of its
    # candidate partners: the 80k-interaction day ran out of memory when each candidate pair
    # carried a copy of one side's sketch (candidate pairs per record grow with the day).
    prompt = " ".join([ANSWER_A, ANSWER_B, ANSWER_C])
    rng = random.Random(3)
    words = sorted(set((ANSWER_A + " " + ANSWER_B).lower().split()))

    def day(n):
        return [record(f"e{i:03d}", prompt, " ".join(rng.sample(words, 6)), minutes=i)
                for i in range(n)]

    few, many = _shuffled_bytes_per_record(day(6)), _shuffled_bytes_per_record(day(30))
    assert many < 1.25 * few, (few, many)
