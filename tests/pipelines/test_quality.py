"""The quality filter keeps real human answers: structure and tables are not junk."""

from __future__ import annotations

import pytest

from pipelines.quality import FilterConfig, judge
from tests.pipelines.test_dedup_signal import ranked_siblings

WEEK = "\n".join(
    f"{day}:\nWarm-up: 5-10 minutes of light cardio and dynamic stretching\n{focus}\n"
    "Cool-down: 5-10 minutes of stretching and foam rolling"
    for day, focus in (("Monday", "Strength: squat, bench press and rows, 4 sets of 6"),
                       ("Tuesday", "Power: box jumps and medicine ball throws, 5 sets of 3"),
                       ("Thursday", "Endurance: a 30 minute tempo run at a steady pace"),
                       ("Friday", "Strength: deadlift and overhead press, 5 sets of 5")))
TABLE = ("Here is the table you asked for, with the values that I found in the old manual for "
         "each of the pressures:\n" + "\n".join(
             f"| {p:>3} | {p * 0.0689:6.3f} | {p * 6.895:8.2f} | {p + 14.7:6.1f} |"
             for p in range(10, 200, 10)))


@pytest.mark.parametrize("response", [
    WEEK,  # a weekly plan repeats its warm-up and cool-down lines
    TABLE,  # a table of numbers framed by a sentence
    "A source was not asked for. In the future, remember to specify a source if wanted.",
])
def test_structured_human_answers_are_kept(response):
    keep, reason, scores = judge({"prompt": "q", "response": response}, FilterConfig())
    assert keep, (reason, scores)


@pytest.mark.parametrize("response,reason", [
    ("Sure thing.\n" + "I am here to help you with that.\n" * 6, "repetition"),
    ("buy now buy now buy now buy now", "repetition"),
    ("the " + " ".join(f"{n * 7919 % 10000:04d} $$ {n}.{n}" for n in range(30)) + " and it",
     "not_natural_language"),
])
def test_loops_and_dumps_are_still_dropped(response, reason):
    keep, got, _ = judge({"prompt": "q", "response": response}, FilterConfig())
    assert (keep, got) == (False, reason)


def test_best_ranked_human_replies_are_kept():
    from tests.conftest import shared_file

    best = [reply["text"] for _, replies in ranked_siblings(shared_file("oasst_en_100_tree.jsonl"))
            for reply in replies if reply["rank"] == 0]
    dropped = [text[:60] for text in best
               if not judge({"prompt": "q", "response": text}, FilterConfig())[0]]
    assert len(best) > 200 and len(dropped) <= 0.01 * len(best), dropped
