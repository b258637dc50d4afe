"""The traffic simulator: deterministic, realistic, and its ground truth matches its files."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from feedback import contract as c
from feedback import simulate

DAY1, DAY2 = "2026-11-01", "2026-11-02"
USERS, SEED = 40, 11


def _read_lines(landing: Path, date: str, name: str) -> list[bytes]:
    data = (landing / f"dt={date}" / name).read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


@pytest.fixture(scope="module")
def two_days(tmp_path_factory):
    landing = tmp_path_factory.mktemp("landing")
    truth = {}
    for date, versions in ((DAY1, ("v1",)), (DAY2, ("v1", "v2"))):
        path = simulate.simulate_day(landing=landing, date=date, users=USERS, seed=SEED,
                                     model_versions=versions)
        assert path == landing / "_truth" / f"dt={date}.json"
        truth[date] = json.loads(path.read_text())
    parsed = {}
    for date in (DAY1, DAY2):
        rows = []
        for name in truth[date]["files"]:
            for number, raw in enumerate(_read_lines(landing, date, name), start=1):
                rows.append((name, number, raw, c.parse_line(raw)))
        parsed[date] = rows
    return landing, truth, parsed


def _events(parsed_rows) -> dict[str, dict]:
    return {p.event["event_id"]: p.event for _, _, _, p in parsed_rows if p.ok}


def _files_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_per_seed_and_different_for_another(tmp_path):
    a, b, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate.simulate_day(landing=a, date=DAY1, users=12, seed=3, model_versions=("v1", "v2"))
    simulate.simulate_day(landing=b, date=DAY1, users=12, seed=3, model_versions=("v1", "v2"))
    simulate.simulate_day(landing=other, date=DAY1, users=12, seed=4, model_versions=("v1", "v2"))
    files_a = _files_bytes(a)
    assert len(files_a) == 5  # four event files and the truth
    assert files_a == _files_bytes(b)
    files_c = _files_bytes(other)
    assert files_a.keys() == files_c.keys()
    assert all(files_a[k] != files_c[k] for k in files_a)


def test_rerun_into_the_same_landing_is_idempotent(tmp_path):
    simulate.simulate_day(landing=tmp_path, date=DAY1, users=8, seed=1)
    first = _files_bytes(tmp_path)
    simulate.simulate_day(landing=tmp_path, date=DAY1, users=8, seed=1)
    assert _files_bytes(tmp_path) == first


def test_layout_has_several_files_one_gzipped(two_days):
    landing, truth, _ = two_days
    names = truth[DAY1]["files"]
    assert len(names) >= 3 and sum(n.endswith(".jsonl.gz") for n in names) == 1
    assert sorted(p.name for p in (landing / f"dt={DAY1}").iterdir()) == sorted(names)
    assert not list((landing / f"dt={DAY1}").glob("*.json"))  # truth lives outside


@pytest.mark.parametrize("date", [DAY1, DAY2])
def test_malformed_lines_fail_with_their_reason_and_all_others_parse(two_days, date):
    _, truth, parsed = two_days
    malformed = {(m["file"], m["line"]): m["reason"] for m in truth[date]["malformed"]}
    # Every class the simulator knows is planted; the contract has more (tests/feedback/
    # test_contract.py covers each), which the simulator's fixed bytes predate.
    assert set(simulate.MALFORMED_KINDS.values()) <= set(malformed.values()) <= set(c.PARSE_REASONS)
    for name, number, _raw, p in parsed[date]:
        if (name, number) in malformed:
            assert not p.ok and p.reason == malformed[(name, number)], (name, number, p.detail)
        else:
            assert p.ok, (name, number, p.reason, p.detail)


@pytest.mark.parametrize("date", [DAY1, DAY2])
def test_line_counts_add_up(two_days, date):
    _, truth, parsed = two_days
    t = truth[date]
    rows = parsed[date]
    assert t["lines_total"] == len(rows)
    assert t["events_valid"] == sum(p.ok for *_, p in rows) == t["lines_total"] - len(t["malformed"])
    unique = _events(rows)
    assert len(unique) == t["events_valid"] - len(t["redelivered"])
    by_type = Counter(e["event_type"] for e in unique.values())
    assert by_type["interaction"] == len(t["interactions"])
    assert by_type["feedback"] == len(t["feedback"])
    assert by_type["deletion_request"] == len(t["deletion_requests"])
    per_user = t["lines_total"] / t["users"]
    assert 8 <= per_user <= 12, per_user


@pytest.mark.parametrize("date", [DAY1, DAY2])
def test_redelivered_copies_repeat_an_earlier_line(two_days, date):
    _, truth, parsed = two_days
    names = truth[date]["files"]
    order = {(name, number): i for i, (name, number, *_rest) in enumerate(parsed[date])}
    raw_at = {(name, number): raw for name, number, raw, _ in parsed[date]}
    first_seen: dict[str, tuple[str, int]] = {}
    for name, number, _raw, p in parsed[date]:
        if p.ok:
            first_seen.setdefault(p.event["event_id"], (name, number))
    assert truth[date]["redelivered"]
    for copy in truth[date]["redelivered"]:
        assert copy["file"] in names
        first = first_seen[copy["event_id"]]
        assert order[first] < order[(copy["file"], copy["line"])]
        assert raw_at[first] == raw_at[(copy["file"], copy["line"])]
    # and no other event id repeats
    ids = Counter(p.event["event_id"] for *_, p in parsed[date] if p.ok)
    assert sum(n - 1 for n in ids.values()) == len(truth[date]["redelivered"])


def _field(event: dict, field: str) -> str:
    if m := re.fullmatch(r"messages\[(\d+)\]\.content", field):
        return event["messages"][int(m.group(1))]["content"]
    if field.startswith("metadata."):
        return event["metadata"][field.removeprefix("metadata.")]
    return event[field]


@pytest.mark.parametrize("date", [DAY1, DAY2])
def test_every_planted_pii_value_is_verbatim_in_its_field(two_days, date):
    _, truth, parsed = two_days
    events = _events(parsed[date])
    pii = truth[date]["pii"]
    types = Counter(p["entity_type"] for p in pii)
    assert set(types) == {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS",
                          "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN"}
    fields = {re.sub(r"\[\d+\]|\..*", "", p["field"]) for p in pii}
    assert {"messages", "response", "edited_response", "comment", "metadata"} <= fields
    for p in pii:
        assert p["value"] in _field(events[p["event_id"]], p["field"]), p
        if p["entity_type"] == "CREDIT_CARD":
            assert simulate.luhn_ok(p["value"]), p["value"]
        if p["entity_type"] == "IBAN_CODE":
            assert simulate.iban_ok(p["value"]), p["value"]
    lower_names = [p for p in pii if p["entity_type"] == "PERSON" and p["value"].islower()]
    assert lower_names


def test_no_unplanted_email_in_text(two_days):
    """Every e-mail-looking string in the text is in the truth, so scrub scores are fair."""
    _, truth, parsed = two_days
    events = _events(parsed[DAY1])
    planted = {(p["event_id"], p["value"]) for p in truth[DAY1]["pii"]}
    pattern = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+\w")
    for event_id, event in events.items():
        texts = [m["content"] for m in event.get("messages", [])]
        texts += [event.get("response") or "", event.get("comment") or "",
                  event.get("edited_response") or "", *event.get("metadata", {}).values()]
        for text in texts:
            for email in pattern.findall(text):
                assert (event_id, email) in planted, email


def _prompt_response(event: dict) -> str:
    last_user = [m["content"] for m in event["messages"] if m["role"] == "user"][-1]
    return last_user + "\n" + event["response"]


def _jaccard(a: str, b: str, n: int = 5) -> float:
    sa = {a[i:i + n] for i in range(max(1, len(a) - n + 1))}
    sb = {b[i:i + n] for i in range(max(1, len(b) - n + 1))}
    return len(sa & sb) / len(sa | sb)


def test_near_duplicates_are_near_and_point_to_real_events(two_days):
    _, truth, parsed = two_days
    today, yesterday = _events(parsed[DAY2]), _events(parsed[DAY1])
    kinds = Counter(d["kind"] for d in truth[DAY2]["near_duplicates"])
    assert set(kinds) == {"template", "copy_edit", "popular", "cross_day"}
    cross_day_popular = 0
    for dup in truth[DAY2]["near_duplicates"]:
        event = today[dup["event_id"]]
        original = today.get(dup["duplicate_of"]) or yesterday[dup["duplicate_of"]]
        assert dup["event_id"] != dup["duplicate_of"]
        similarity = _jaccard(_prompt_response(event), _prompt_response(original))
        assert similarity >= 0.8, (dup, similarity)
        if dup["kind"] == "cross_day":
            assert dup["duplicate_of"] in yesterday
            assert (event["messages"], event["response"]) == (original["messages"],
                                                              original["response"])
        if dup["kind"] == "popular" and dup["duplicate_of"] in yesterday:
            cross_day_popular += 1
    assert cross_day_popular >= 1  # the popular pool recurs across days


def test_ordinary_interactions_are_not_near_duplicates(two_days):
    """Nothing outside the truth's near-duplicate list looks like one (false-positive guard)."""
    _, truth, parsed = two_days
    events = _events(parsed[DAY1])
    dups = {d["event_id"] for d in truth[DAY1]["near_duplicates"]}
    junk = {j["event_id"] for j in truth[DAY1]["junk"]}
    ids = [i for i, meta in truth[DAY1]["interactions"].items()
           if i not in dups and i not in junk and meta["kind"] != "popular"]
    texts = [_prompt_response(events[i]) for i in ids]
    worst = 0.0
    for x in range(len(texts)):
        for y in range(x + 1, min(len(texts), x + 60)):
            worst = max(worst, _jaccard(texts[x], texts[y]))
    assert worst < 0.8, worst


def test_junk_is_junk(two_days):
    _, truth, parsed = two_days
    events = _events(parsed[DAY1])
    kinds = {j["kind"] for j in truth[DAY1]["junk"]}
    assert kinds == {"empty", "gibberish", "repeated", "long"}
    for j in truth[DAY1]["junk"]:
        response = events[j["event_id"]]["response"]
        if j["kind"] == "empty":
            assert response == ""
        elif j["kind"] == "long":
            assert len(response) > 20_000
        elif j["kind"] == "repeated":
            assert len(set(response)) <= 12 and len(response) >= 200


def test_orphan_and_cross_day_feedback(two_days):
    _, truth, parsed = two_days
    today, yesterday = _events(parsed[DAY2]), _events(parsed[DAY1])
    all_interactions = {i for i, e in {**today, **yesterday}.items()
                        if e["event_type"] == "interaction"}
    assert truth[DAY2]["orphan_feedback"]
    for event_id in truth[DAY2]["orphan_feedback"]:
        assert today[event_id]["interaction_id"] not in all_interactions
    assert truth[DAY2]["cross_day_feedback"]
    deleted = set(truth[DAY1]["deletion_requests"]) | set(truth[DAY2]["deletion_requests"])
    for event_id in truth[DAY2]["cross_day_feedback"]:
        target = today[event_id]["interaction_id"]
        assert target in yesterday and target not in today
        assert truth[DAY1]["interactions"][target]["kind"] == "clean"
        assert today[event_id]["user_id"] == yesterday[target]["user_id"]
        assert yesterday[target]["user_id"] not in deleted
    # every other feedback refers to an interaction of the same day
    others = set(truth[DAY2]["feedback"]) - set(truth[DAY2]["orphan_feedback"]) - set(
        truth[DAY2]["cross_day_feedback"])
    for event_id in others:
        assert today[event_id]["interaction_id"] in today
        if today[event_id]["kind"] == "comparison":
            assert today[event_id]["other_interaction_id"] in today


def test_consent_and_deletions(two_days):
    _, truth, parsed = two_days
    t = truth[DAY1]
    events = _events(parsed[DAY1])
    assert t["opted_out_users"] and t["no_consent_users"] and t["deletion_requests"]
    for event_id, meta in t["interactions"].items():
        raw_consent = events[event_id]["consent_training"]
        assert raw_consent is bool(meta["consent"])
        if meta["user_id"] in t["opted_out_users"]:
            assert meta["consent"] is False
        elif meta["user_id"] in t["no_consent_users"]:
            assert meta["consent"] is None
        else:
            assert meta["consent"] is True
    deleting = {e["user_id"] for e in events.values() if e["event_type"] == "deletion_request"}
    assert deleting == set(t["deletion_requests"])


def test_feedback_counts_match_a_recount_of_the_files(two_days):
    _, truth, parsed = two_days
    today = _events(parsed[DAY2])
    version_of = {i: m["model_version"] for d in (DAY1, DAY2)
                  for i, m in truth[d]["interactions"].items()}
    orphans = set(truth[DAY2]["orphan_feedback"])
    recount: dict[str, Counter] = {}
    for event_id, e in today.items():
        if e["event_type"] != "feedback" or event_id in orphans:
            continue
        row = recount.setdefault(version_of[e["interaction_id"]], Counter())
        if e["kind"] == "thumbs":
            row["thumbs_up" if e["value"] == 1 else "thumbs_down"] += 1
        elif e["kind"] == "rating":
            row["ratings_sum"] += e["value"]
            row["ratings_n"] += 1
        else:
            row[{"edit": "edits", "flag": "flags", "comparison": "comparisons"}[e["kind"]]] += 1
    expected = {v: {k: n for k, n in row.items() if n} for v, row in
                truth[DAY2]["feedback_by_model_version"].items()}
    assert {v: dict(row) for v, row in recount.items()} == expected


def test_later_model_versions_are_better(two_days):
    _, truth, parsed = two_days
    stats = truth[DAY2]["model_version_stats"]
    assert set(stats) == {"v1", "v2"}
    assert stats["v2"]["design_mean_quality"] > stats["v1"]["design_mean_quality"]
    assert stats["v2"]["mean_quality"] > stats["v1"]["mean_quality"]
    assert stats["v2"]["expected_thumbs_up_rate"] > stats["v1"]["expected_thumbs_up_rate"]
    versions = Counter(m["model_version"] for m in truth[DAY2]["interactions"].values()
                       if m["kind"] != "cross_day")
    assert versions["v1"] > 0.3 * sum(versions.values()) < versions["v2"]
    # In comparisons the better answer (by latent quality) is preferred most of the time.
    events = _events(parsed[DAY2])
    quality = {i: m["quality"] for i, m in truth[DAY2]["interactions"].items()}
    decided = [(quality[e["interaction_id"]], quality[e["other_interaction_id"]], e["preferred"])
               for e in events.values() if e.get("kind") == "comparison"]
    decided = [(a, b, p) for a, b, p in decided if a != b]
    assert len(decided) >= 5
    better_won = sum((a > b) == (p == "this") for a, b, p in decided)
    assert better_won / len(decided) >= 0.6, (better_won, len(decided))


def test_conversations_are_multi_turn_openai_history(two_days):
    _, truth, parsed = two_days
    events = _events(parsed[DAY1])
    interactions = [e for e in events.values() if e["event_type"] == "interaction"]
    assert max(e["turn"] for e in interactions) >= 3
    assert any(e["messages"][0]["role"] == "system" for e in interactions)
    assert any(e["messages"][0]["role"] == "user" for e in interactions)
    for e in interactions:
        roles = [m["role"] for m in e["messages"] if m["role"] != "system"]
        assert roles[-1] == "user"
        assert roles.count("user") == e["turn"] or truth[DAY1]["interactions"][
            e["event_id"]]["kind"] != "clean"
    topics = Counter(truth[DAY1]["interactions"][e["event_id"]]["style"] for e in interactions)
    assert {"good", "medium", "junk"} <= set(topics)
    assert set(topics) & {"terse", "wrong", "off_topic", "truncated", "rude"}


def test_cli_writes_a_day_and_reports_bad_input(tmp_path, capsys):
    assert simulate.main(["--landing", str(tmp_path), "--date", DAY1, "--users", "3",
                          "--seed", "5", "--model-version", "v1,v2"]) == 0
    truth = json.loads((tmp_path / "_truth" / f"dt={DAY1}.json").read_text())
    assert truth["model_versions"] == ["v1", "v2"] and truth["users"] == 3
    assert simulate.main(["--landing", str(tmp_path), "--date", "2026-13-01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("simulate: error:")


def test_ab_arms_share_the_prompt_but_not_the_answer(two_days):
    _, truth, parsed = two_days
    events = _events(parsed[DAY2])
    comparisons = [e for e in events.values() if e.get("kind") == "comparison"]
    assert comparisons
    for e in comparisons:
        this, other = events[e["interaction_id"]], events[e["other_interaction_id"]]
        assert this["messages"] == other["messages"]
        assert _jaccard(this["response"], other["response"]) < 0.5
