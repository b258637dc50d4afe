"""Stage-level tests of the curation job's transforms, each fed with beam.Create."""

from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.quality import FILTER_REASONS, FilterConfig, judge
from pipelines.stages import (
    REJECTS,
    TALLIES,
    AttachFeedback,
    CollapseRedeliveries,
    DropErasedUsers,
    ParseEvents,
    ResolveFeedback,
    ScrubPII,
)
from warehouse import pseudonym

KEY = "unit-test-key-0123456789"


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(pseudonym.KEY_ENV, KEY)


def interaction(event_id="i1", user="alice", response="Paris is the capital of France.",
                prompt="What is the capital of France?"):
    return {
        "event_type": "interaction", "event_id": event_id, "timestamp": "2026-11-01T10:00:00Z",
        "user_id": user, "conversation_id": "c1", "turn": 0, "model_version": "v1",
        "messages": [{"role": "user", "content": prompt}], "response": response,
        "consent": {"training": True},
    }


def feedback(event_id, interaction_id, kind="thumbs", **extra):
    event = {"event_type": "feedback", "event_id": event_id,
             "timestamp": "2026-11-01T10:01:00Z", "user_id": "alice",
             "interaction_id": interaction_id, "kind": kind}
    event.update(extra or {"value": 1})
    return event


def line(obj) -> bytes:
    return json.dumps(obj).encode()


def test_parse_events_pseudonymizes_and_rejects_with_reasons():
    lines = [
        ("a.jsonl", 1, line(interaction())),
        ("a.jsonl", 2, b"{not json"),
        ("a.jsonl", 3, b"\xff\xfe"),
        ("a.jsonl", 4, line({"event_type": "click", "event_id": "x"})),
    ]
    expected_user = pseudonym.pseudonymize(KEY.encode(), "alice")
    with TestPipeline() as p:
        out = p | beam.Create(lines) | ParseEvents(None)
        assert_that(out["kept"] | beam.Map(lambda e: (e["event_id"], e["user_pseudonym"],
                                                        "user_id" in e)),
                    equal_to([("i1", expected_user, False)]), label="events")
        assert_that(out[REJECTS] | beam.Map(lambda r: (r["source_line"], r["stage"],
                                                           r["reason"])),
                    equal_to([(2, "parse", "invalid_json"), (3, "parse", "invalid_utf8"),
                              (4, "parse", "unknown_event_type")]), label="rejects")


def test_parse_refuses_to_run_without_a_key(monkeypatch):
    monkeypatch.delenv(pseudonym.KEY_ENV)
    with pytest.raises(Exception, match="pseudonymization key"):
        with TestPipeline() as p:
            _ = p | beam.Create([("a", 1, line(interaction()))]) | ParseEvents(None)


def test_collapse_redeliveries_keeps_first_delivery():
    events = [
        {"event_id": "e1", "source_file": "b.jsonl", "source_line": 1, "raw_sha256": "x",
         "event_type": "interaction", "user_pseudonym": "u"},
        {"event_id": "e1", "source_file": "a.jsonl", "source_line": 9, "raw_sha256": "x",
         "event_type": "interaction", "user_pseudonym": "u"},
        {"event_id": "e2", "source_file": "a.jsonl", "source_line": 1, "raw_sha256": "y",
         "event_type": "interaction", "user_pseudonym": "u"},
    ]
    with TestPipeline() as p:
        out = p | beam.Create(events) | CollapseRedeliveries()
        assert_that(out["kept"] | beam.Map(lambda e: (e["event_id"], e["source_file"])),
                    equal_to([("e1", "a.jsonl"), ("e2", "a.jsonl")]), label="kept")
        assert_that(out[REJECTS] | beam.Map(lambda r: (r["event_id"], r["reason"],
                                                           r["source_file"])),
                    equal_to([("e1", "redelivered", "b.jsonl")]), label="rejects")


def test_drop_erased_users_keeps_the_deletion_request_itself():
    events = [
        {"event_id": "1", "event_type": "interaction", "user_pseudonym": "gone"},
        {"event_id": "2", "event_type": "feedback", "user_pseudonym": "stays"},
        {"event_id": "3", "event_type": "deletion_request", "user_pseudonym": "gone"},
    ]
    with TestPipeline() as p:
        erased = p | "Erased" >> beam.Create(["gone"])
        out = p | beam.Create(events) | DropErasedUsers(erased)
        assert_that(out["kept"] | beam.Map(lambda e: e["event_id"]), equal_to(["2"]),
                    label="kept")
        assert_that(out["deletions"] | beam.Map(lambda e: e["event_id"]), equal_to(["3"]),
                    label="deletions")
        assert_that(out[REJECTS] | beam.Map(lambda r: (r["event_id"], r["reason"])),
                    equal_to([("1", "user_erased")]), label="rejects")


def test_attach_feedback_today_past_and_orphan():
    interactions = [{"event_id": "i1", "event_type": "interaction"},
                    {"event_id": "old", "event_type": "interaction"}]
    fb = [
        {"event_id": "f1", "event_type": "feedback", "interaction_id": "i1", "kind": "flag",
         "reason": "unsafe"},
        {"event_id": "f2", "event_type": "feedback", "interaction_id": "p1", "kind": "thumbs"},
        {"event_id": "f3", "event_type": "feedback", "interaction_id": "nowhere",
         "kind": "thumbs"},
    ]
    with TestPipeline() as p:
        past = p | "Past" >> beam.Create([("p1", "2026-10-30"), ("old", "2026-10-29")])
        out = p | "Events" >> beam.Create(interactions + fb) | AttachFeedback(past)
        assert_that(out["interactions"] | beam.Map(lambda r: (r["event_id"], r["n_feedback"],
                                                              r["flagged"])),
                    equal_to([("i1", 1, True)]), label="interactions")
        assert_that(out["pending"] | beam.Map(lambda f: f["event_id"]), equal_to(["f1"]),
                    label="pending")
        assert_that(out["attached"] | beam.Map(lambda f: (f["event_id"], f["interaction_dt"])),
                    equal_to([("f2", "2026-10-30")]), label="attached")
        assert_that(out[REJECTS] | beam.Map(lambda r: (r["event_id"], r["reason"])),
                    equal_to([("old", "redelivered"), ("f3", "orphan_feedback")]),
                    label="rejects")


GOOD = ("To reverse a list in Python you can call the reverse method, which changes the list "
        "in place, or use slicing with a step of minus one to get a new reversed copy.")


@pytest.mark.parametrize(
    "response,prompt,extra,reason",
    [
        ("   ", "hi", {}, "empty_response"),
        (GOOD, "  ", {}, "empty_prompt"),
        ("k", "hi", {}, "too_short"),
        ("word " * 5000, "hi", {}, "too_long"),
        (GOOD, "hi", {"flag_reasons": ["unsafe"]}, "flagged_unsafe"),
        ("the same line here\n" * 10, "hi", {}, "repetition"),
        ("a" * 400, "hi", {}, "repetition"),
        ("Great answer here # # # # ... ... ... # # #", "hi", {}, "symbol_ratio"),
        ("qzxv kwrtp zzkq mnbv plkj hgfd qwrt yxcv bnmq", "hi", {}, "not_natural_language"),
        ("12345 67890 %%%% 3.14 $$$ 42 777 0000", "hi", {}, "not_natural_language"),
    ],
)
def test_each_filter_drops_its_case(response, prompt, extra, reason):
    keep, got, _ = judge({"response": response, "prompt": prompt, **extra}, FilterConfig())
    assert (keep, got) == (False, reason)


def test_every_filter_reason_has_a_case():
    covered = {"empty_response", "empty_prompt", "too_short", "too_long", "flagged_unsafe",
               "repetition", "symbol_ratio", "not_natural_language"}
    assert covered == set(FILTER_REASONS)


def test_good_answers_are_kept_with_scores():
    for response in (GOOD, "Yes.", "def add(a, b):\n    return a + b\n\nThis adds two numbers.",
                     "Bonjour ! Je peux vous aider avec votre réservation de train."):
        keep, reason, scores = judge({"response": response, "prompt": "q"}, FilterConfig())
        assert keep, (response, reason, scores)
        assert 0.0 <= scores["q_alpha_ratio"] <= 1.0


def test_pseudonyms_are_keyed_and_stable():
    a = pseudonym.pseudonymize(b"k" * 16, "alice")
    assert a == pseudonym.pseudonymize(b"k" * 16, "alice")
    assert a != pseudonym.pseudonymize(b"j" * 16, "alice")
    assert "alice" not in a


def test_key_file_is_private(tmp_path):
    path = pseudonym.create_key_file(tmp_path / "key")
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(pseudonym.load_key(str(path))) >= 16


def test_key_ring_chains_keys_oldest_first(tmp_path):
    path = tmp_path / "keys"
    path.write_text("old-key-0123456789abcdef\nnew-key-0123456789abcdef\n")
    path.chmod(0o600)  # a key file others can read is refused
    ring = pseudonym.load_key_ring(str(path))
    assert ring == [b"old-key-0123456789abcdef", b"new-key-0123456789abcdef"]
    chained = pseudonym.pseudonymize(ring[1], pseudonym.pseudonymize(ring[0], "alice"))
    assert pseudonym.pseudonymize_ring(ring, "alice") == chained
    assert pseudonym.load_key(str(path)) == ring[1]


def test_scrub_pii_stage_scrubs_every_text_field_and_counts_findings():
    from pipelines.pii import ScrubConfig

    record = {
        "event_type": "interaction", "event_id": "i1",
        "messages": [{"role": "system", "content": "Be kind."},
                     {"role": "user", "content": "Mail me at jane.doe@example.com please"}],
        "response": "Sure, I will write to jane.doe@example.com today.",
        "metadata": {"client_ip": "203.0.113.7", "plan": "pro"},
    }
    feedback_record = {"event_type": "feedback", "event_id": "f1", "messages": [],
                       "comment": "call me on 415-555-0134", "edited_response": "Thanks!",
                       "metadata": {}}
    with TestPipeline() as p:
        out = p | beam.Create([record, feedback_record]) | ScrubPII(ScrubConfig())
        assert_that(out["kept"] | beam.Map(lambda r: (
            r["event_id"], r.get("prompt"), r.get("response"), r.get("comment"),
            sorted(r["metadata"].items()), sorted(r["pii_findings"].items()))),
            equal_to([
                ("i1", "Mail me at <EMAIL_ADDRESS> please",
                 "Sure, I will write to <EMAIL_ADDRESS> today.", None,
                 [("client_ip", "<IP_ADDRESS>"), ("plan", "pro")],
                 [("EMAIL_ADDRESS", 2), ("IP_ADDRESS", 1)]),
                ("f1", None, None, "call me on <PHONE_NUMBER>", [], [("PHONE_NUMBER", 1)]),
            ]))


def test_resolve_feedback_repoints_duplicates_and_rejects_dropped():
    pending = [
        {"event_id": "f_kept", "interaction_id": "a", "kind": "thumbs"},
        {"event_id": "f_dup", "interaction_id": "b", "kind": "rating"},
        {"event_id": "f_past", "interaction_id": "c", "kind": "thumbs"},
        {"event_id": "f_junk", "interaction_id": "j", "kind": "thumbs"},
        {"event_id": "f_ab", "interaction_id": "a", "kind": "comparison",
         "other_interaction_id": "k", "preferred": "this"},
        # b is a duplicate of a: after dedup the user compared a with itself
        {"event_id": "f_self", "interaction_id": "a", "kind": "comparison",
         "other_interaction_id": "b", "preferred": "other"},
        {"event_id": "f_b_dup", "interaction_id": "b", "kind": "comparison",
         "other_interaction_id": "c", "preferred": "this"},
    ]
    with TestPipeline() as p:
        kept = p | "Kept" >> beam.Create([{"event_id": "a"}, {"event_id": "k"}])
        duplicates = p | "Dups" >> beam.Create([("b", "a"), ("c", "old")])
        dropped = p | "Dropped" >> beam.Create([("j", "not_natural_language")])
        past = p | "Past" >> beam.Create([("old", "2026-10-30")])
        out = (p | "Pending" >> beam.Create(pending)
               | ResolveFeedback("2026-11-01", kept, duplicates, dropped, past))
        assert_that(out["kept"] | beam.Map(lambda f: (
            f["event_id"], f["interaction_id"], f["original_interaction_id"],
            f["interaction_dt"], f.get("other_interaction_id"))),
            equal_to([("f_kept", "a", "a", "2026-11-01", None),
                      ("f_dup", "a", "b", "2026-11-01", None),
                      ("f_past", "old", "c", "2026-10-30", None),
                      ("f_ab", "a", "a", "2026-11-01", "k"),
                      ("f_b_dup", "a", "b", "2026-11-01", "old")]), label="feedback")
        assert_that(out[REJECTS] | beam.Map(lambda r: (r["event_id"], r["reason"])),
                    equal_to([("f_junk", "interaction_dropped"),
                              ("f_self", "comparison_with_itself")]), label="rejects")


def test_the_base_counts_every_stage_the_same_way():
    """in = out + dropped per reason, as tallies and as Beam counters, with no hand counting."""
    lines = [("a.jsonl", 1, line(interaction())), ("a.jsonl", 2, b"{not json"),
             ("a.jsonl", 3, line(interaction("i2"))), ("a.jsonl", 4, b"")]
    p = TestPipeline()
    out = p | beam.Create(lines) | ParseEvents(None)
    tallies = out[TALLIES] | beam.CombinePerKey(sum)
    assert_that(tallies, equal_to([
        (("parse", "in", ""), 4), (("parse", "out", ""), 2),
        (("parse", "dropped", "invalid_json"), 1), (("parse", "dropped", "empty_line"), 1)]))
    result = p.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed
                for c in result.metrics().query()["counters"] if c.key.metric.namespace == "parse"}
    assert counters == {"in": 4, "out": 2, "dropped_invalid_json": 1, "dropped_empty_line": 1}


def test_tallies_are_summed_per_bundle_not_sent_per_record():
    """300 records give a handful of tally elements (one per key and bundle), same sums: the
    counts never cost a shuffle element per record and stage."""
    lines = [("a.jsonl", n, line(interaction(f"i{n}"))) for n in range(1, 301)]
    with TestPipeline() as p:
        out = p | beam.Create(lines) | ParseEvents(None)
        tallies = out[TALLIES]
        assert_that(tallies | "Sum" >> beam.CombinePerKey(sum),
                    equal_to([(("parse", "in", ""), 300), (("parse", "out", ""), 300)]),
                    label="sums")
        assert_that(tallies | "Count" >> beam.combiners.Count.Globally()
                    | beam.Map(lambda n: n < 60), equal_to([True]), label="few")


def test_a_stage_must_implement_its_transform():
    from pipelines.stages import Stage

    class Incomplete(Stage):
        stage = "incomplete"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()
