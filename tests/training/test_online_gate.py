"""The gate's online check (training.online.online_decision) on numbers alone."""

from __future__ import annotations

import random

from curation.stats import difference_interval
from feedback.users import tastes
from feedback.users.reactions import ReactionConfig, pick, react
from training.online import ArmVotes, OnlineEvidence, OnlineGatePolicy, online_decision


def test_a_clear_side_by_side_win_promotes():
    evidence = OnlineEvidence(ArmVotes(30, 30), ArmVotes(40, 20), challenger_wins=35, champion_wins=10)
    promote, reason, stats = online_decision(evidence)
    assert (promote, reason) == (True, "side_by_side_win_rate_ci_above_half")
    assert stats["win_rate_ci"][0] > 0.5


def test_approvals_decide_without_enough_comparisons():
    better = OnlineEvidence(ArmVotes(20, 40), ArmVotes(45, 15), challenger_wins=3, champion_wins=1)
    assert online_decision(better)[:2] == (True, "approval_rate_ci_above_champion")
    same = OnlineEvidence(ArmVotes(30, 30), ArmVotes(32, 28))
    assert online_decision(same)[:2] == (False, "no_significant_online_preference")
    worse = OnlineEvidence(ArmVotes(45, 15), ArmVotes(20, 40))
    assert online_decision(worse)[:2] == (False, "online_regression")


def test_too_little_canary_traffic_never_promotes():
    evidence = OnlineEvidence(ArmVotes(3, 7), ArmVotes(10, 0), challenger_wins=5, champion_wins=0)
    assert online_decision(evidence)[:2] == (False, "not_enough_canary_feedback")
    policy = OnlineGatePolicy(min_votes_per_arm=2, min_comparisons=100)
    assert online_decision(evidence, policy)[0] is True


def test_winning_picks_do_not_hide_worse_approvals():
    evidence = OnlineEvidence(ArmVotes(50, 10), ArmVotes(15, 45), challenger_wins=30, champion_wins=5)
    assert online_decision(evidence)[:2] == (False, "online_regression")


def test_difference_interval_covers_the_difference():
    low, high = difference_interval(60, 100, 40, 100)
    assert low < 0.2 < high and low > 0
    low, high = difference_interval(5, 10, 5, 10)
    assert low < 0 < high


def test_random_feedback_never_promotes_at_the_canary_size_the_loop_uses():
    """Users with a fair-coin taste on both arms, 40 canary days of the demo's size: the
    gate's 99% intervals refuse them all (the false-promotion rate is 0.5% per check)."""
    config = ReactionConfig()
    promotions = 0
    for day in range(40):
        rng = random.Random(day)
        votes = {"champion": [0, 0], "challenger": [0, 0]}
        wins = {"champion": 0, "challenger": 0}
        for i in range(120):
            arm = "challenger" if i % 2 else "champion"
            score = tastes.coin([], f"{day}-{i}")
            reaction = react(score, rng, config, can_edit=False)
            if reaction.kind == "thumbs":
                votes[arm][0 if reaction.value == 1 else 1] += 1
            if i % 3 == 0:
                a, b = tastes.coin([], f"{day}-{i}-a"), tastes.coin([], f"{day}-{i}-b")
                wins["champion" if pick(a, b, rng, config) == 0 else "challenger"] += 1
        evidence = OnlineEvidence(ArmVotes(*votes["champion"]), ArmVotes(*votes["challenger"]),
                                  wins["challenger"], wins["champion"])
        promotions += online_decision(evidence)[0]
    assert promotions <= 1  # expected about 0.2 in 40 at a one-sided 0.5%


def test_a_chance_win_of_the_coin_bench_does_not_promote():
    """bench/flywheel.py --taste coin --days 4 measured a random challenger winning 69 of 115
    side-by-side picks (0.60, [0.51, 0.68] at 95%): the gate reads it at 99% and refuses."""
    chance = OnlineEvidence(ArmVotes(30, 30), ArmVotes(30, 30), challenger_wins=69, champion_wins=46)
    assert online_decision(chance)[:2] == (False, "no_significant_online_preference")
    assert online_decision(chance, OnlineGatePolicy(confidence=0.95))[0] is True
