"""The gate's online check: does the canary's traffic say users prefer the challenger?

A candidate that passed the offline checks (``training.evaluate``) serves a canary share of
users for a day; their feedback flows through curation into the warehouse like everyone's.
``online_decision`` reads the evidence for the two arms and decides, with a 99% interval:

* side-by-side picks, when there are at least ``min_comparisons``: promote when the Wilson
  interval of the challenger's win rate lies above 1/2;
* otherwise approvals (thumbs up, or 4-5 stars, over all thumbs and ratings of 1-2 or 4-5
  stars): promote when the Newcombe interval of (challenger rate - champion rate) lies above 0.

Either way, a challenger whose other signal is significantly worse is refused
(``online_regression``). It is pure: the evidence is counted by the caller
(``flywheel.cycle``), so the decision can be tested on numbers alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from curation.stats import difference_interval, wilson_interval


@dataclass(frozen=True)
class ArmVotes:
    up: int = 0  # thumbs up, or ratings >= 4
    down: int = 0  # thumbs down, or ratings <= 2

    @property
    def n(self) -> int:
        return self.up + self.down

    @property
    def rate(self) -> float | None:
        return self.up / self.n if self.n else None


@dataclass(frozen=True)
class OnlineEvidence:
    champion: ArmVotes
    challenger: ArmVotes
    challenger_wins: int = 0  # side-by-side picks of the challenger's answer
    champion_wins: int = 0

    @property
    def comparisons(self) -> int:
        return self.challenger_wins + self.champion_wins

    def to_dict(self) -> dict:
        return {"champion": asdict(self.champion), "challenger": asdict(self.challenger),
                "challenger_wins": self.challenger_wins, "champion_wins": self.champion_wins}


@dataclass(frozen=True)
class OnlineGatePolicy:
    # The level every gate interval is read at (curation.stats). 99%, not 95%: a 4-day coin-taste
    # bench run's canary won 69 of 115 side-by-side picks, 0.60 [0.51, 0.68] at 95%, by chance
    # (one-sided 2.5% a canary); at 99% a random challenger passes 0.5% of canaries.
    confidence: float = 0.99
    min_comparisons: int = 20  # fewer side-by-side picks than this: the approvals decide
    min_votes_per_arm: int = 20  # fewer approvals than this on either arm: no online verdict


def online_decision(evidence: OnlineEvidence, policy: OnlineGatePolicy = OnlineGatePolicy()
                    ) -> tuple[bool, str, dict]:
    """(promote?, snake_case reason, the statistics it read)."""
    champion, challenger = evidence.champion, evidence.challenger
    stats: dict = {"evidence": evidence.to_dict(), "champion_approval": champion.rate,
                   "challenger_approval": challenger.rate, "comparisons": evidence.comparisons}
    approvals = champion.n >= policy.min_votes_per_arm and challenger.n >= policy.min_votes_per_arm
    if approvals:
        low, high = difference_interval(challenger.up, challenger.n, champion.up, champion.n,
                                        policy.confidence)
        stats.update(approval_difference=challenger.rate - champion.rate,
                     approval_difference_ci=[low, high])
    if evidence.comparisons >= policy.min_comparisons:
        low, high = wilson_interval(evidence.challenger_wins, evidence.comparisons, policy.confidence)
        stats.update(win_rate=evidence.challenger_wins / evidence.comparisons, win_rate_ci=[low, high])
        if approvals and stats["approval_difference_ci"][1] < 0:
            return False, "online_regression", stats
        if low > 0.5:
            return True, "side_by_side_win_rate_ci_above_half", stats
        if high < 0.5:
            return False, "online_regression", stats
        return False, "no_significant_online_preference", stats
    if not approvals:
        return False, "not_enough_canary_feedback", stats
    low, high = stats["approval_difference_ci"]
    if low > 0:
        return True, "approval_rate_ci_above_champion", stats
    if high < 0:
        return False, "online_regression", stats
    return False, "no_significant_online_preference", stats
