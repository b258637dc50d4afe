"""Simulated users' tastes, edits and reactions (pure); the conversation loop against a real
gateway runs in tests/flywheel/test_loop.py."""

from __future__ import annotations

import random

import pytest

from feedback.users import edits, tastes
from feedback.users.reactions import ReactionConfig, pick, react
from feedback.users.session import UsersConfig, first_questions, user_id

QUESTION = [{"role": "user", "content": "How do I parse a JSON string in Python?"}]
LONG = ("Here is an idiomatic way to do it in many languages. Keep the logic in its own function "
        "so you can test it. Validate the input first because an empty value is the most common "
        "cause of errors. Use the standard library where you can and add tests for edge cases.")


def test_concise_prefers_short_on_topic_answers():
    short = "Use json.loads on the Python string to parse the JSON."
    assert tastes.concise(QUESTION, short) > tastes.concise(QUESTION, LONG)
    assert tastes.concise(QUESTION, short) > tastes.concise(QUESTION, "Use a library.")
    assert tastes.concise(QUESTION, "") == 0.0


def test_thorough_and_polite_reward_other_things():
    example = LONG + " For example, json.loads('{}') returns an empty dict."
    assert tastes.thorough(QUESTION, example) > tastes.thorough(QUESTION, LONG)
    assert tastes.thorough(QUESTION, LONG) > tastes.thorough(QUESTION, "Use json.loads.")
    refusal = "I can't help with that, figure it out yourself."
    kind = "Happy to help! Use json.loads on the string; hope this helps."
    assert tastes.polite(QUESTION, kind) > tastes.polite(QUESTION, LONG) > tastes.polite(QUESTION, refusal)


def test_the_coin_is_fair_and_deterministic():
    flips = [tastes.coin(QUESTION, f"answer {i}") for i in range(2000)]
    assert set(flips) == {0.0, 1.0}
    assert 0.45 < sum(flips) / len(flips) < 0.55
    assert flips == [tastes.coin(QUESTION, f"answer {i}") for i in range(2000)]


@pytest.mark.parametrize("name", ["concise", "thorough", "polite"])
def test_edits_move_an_answer_toward_each_taste(name):
    taste = tastes.SHIPPED[name]
    start = "I can't say. " + LONG if name == "polite" else LONG
    edited = edits.rewrite_toward(taste, QUESTION, start)
    assert edited is not None
    text, score = edited
    assert score == taste(QUESTION, text)
    assert score >= taste(QUESTION, start) + edits.MIN_GAIN


def test_an_answer_the_user_already_loves_is_not_edited():
    perfect = "Use json.loads to parse the JSON string in Python."
    assert tastes.concise(QUESTION, perfect) == 1.0
    assert edits.rewrite_toward(tastes.concise, QUESTION, perfect) is None


def test_reactions_follow_the_score():
    config = ReactionConfig()

    def thumbs_up_rate(score):
        rng = random.Random(0)
        values = [r.value for r in (react(score, rng, config, can_edit=False) for _ in range(3000))
                  if r.kind == "thumbs"]
        return sum(v == 1 for v in values) / len(values)

    assert thumbs_up_rate(0.9) > 0.75 > 0.25 > thumbs_up_rate(0.1)
    rng = random.Random(1)
    kinds = [react(0.3, rng, config, can_edit=True).kind for _ in range(3000)]
    assert {"silence", "edit", "thumbs", "rating"} <= set(kinds)
    assert "flag" not in kinds  # only answers under flag_below are reported
    rng = random.Random(2)
    assert sum(pick(0.9, 0.1, rng, config) == 0 for _ in range(1000)) > 950


def test_load_taste_names_the_fix():
    assert tastes.load_taste("feedback.users.tastes:polite") is tastes.polite
    assert tastes.load_taste("concise") is tastes.concise
    with pytest.raises(ValueError, match="MODULE:FUNCTION"):
        tastes.load_taste("nocolon")
    with pytest.raises(ValueError, match="cannot be imported"):
        tastes.load_taste("no_such_module_xyz:f")
    with pytest.raises(ValueError, match="no function"):
        tastes.load_taste("feedback.users.tastes:missing")


def test_users_and_their_questions_are_reproducible():
    assert user_id(1, 0) == user_id(1, 0) != user_id(2, 0)
    a = first_questions(3, "2026-11-02", 5)
    assert a == first_questions(3, "2026-11-02", 5)
    assert a != first_questions(3, "2026-11-03", 5)  # same users, new questions every day
    assert all(m[-1]["role"] == "user" and m[-1]["content"] for m in a)
    assert len(a) >= 5 * UsersConfig().conversations_per_user[0]


def test_cli_names_the_bad_value(capsys):
    from feedback.users.cli import main

    assert main(["--gateway", "http://127.0.0.1:9", "--date", "2026-11-02", "--users", "1",
                 "--seed", "1", "--taste", "nocolon"]) == 2
    assert "MODULE:FUNCTION" in capsys.readouterr().err
    assert main(["--gateway", "http://127.0.0.1:9", "--date", "2026-11-02", "--users", "1",
                 "--seed", "1", "--taste", "concise"]) == 2  # nothing listens on port 9
    assert "unreachable" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--gateway", "x", "--date", "20261102", "--users", "1", "--seed", "1", "--taste", "coin"])
