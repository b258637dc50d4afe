"""The simulator's configuration: rates of every planted irregularity and the quality ladder."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimulateConfig:
    # Conversations per user per day (inclusive range) and turn-count weights for 1..4 turns:
    # with feedback and the extras below this gives about 10 events per user per day.
    conversations_per_user: tuple[int, int] = (1, 4)
    turn_weights: tuple[float, ...] = (0.35, 0.30, 0.20, 0.15)
    # Share of conversations that open with a system message (OpenAI chat format).
    system_message_rate: float = 0.7
    # Share of users who run one A/B conversation (two answers, one comparison) per day.
    ab_rate: float = 0.2
    # Chance that an interaction gets feedback at all; busy products see 30-70 %.
    feedback_rate: float = 0.62
    # Share of user prompts carrying PII; support requests carry more.
    prompt_pii_rate: float = 0.22
    support_pii_rate: float = 0.75
    # Share of answers that echo a PII value of the prompt back (assistants do this).
    response_echo_rate: float = 0.35
    # Shares, relative to the day's clean interactions, of each planted irregularity.
    junk_rate: float = 0.02
    template_rate: float = 0.012
    copy_edit_rate: float = 0.02
    popular_rate: float = 0.03
    cross_day_repost_rate: float = 0.01
    cross_day_feedback_rate: float = 0.02
    orphan_feedback_rate: float = 0.01
    # Shares of all lines that are malformed / re-delivered copies.
    malformed_rate: float = 0.01
    redelivered_rate: float = 0.01
    # Shares of users: deletion requests per day; consent opt-out and consent omitted (per seed).
    deletion_rate: float = 0.01
    opt_out_share: float = 0.08
    no_consent_share: float = 0.07
    # Popular questions asked by many users, drawn from a pool fixed by the seed only, so the
    # same questions recur on later days (cross-day dedup).
    popular_pool_size: int = 40
    # Model quality ladder (see the package docstring and mean_quality).
    base_mean_quality: float = 0.55
    quality_step: float = 0.10
    max_mean_quality: float = 0.85
    # Files per day; the last one is gzipped so that readers handle both.
    files: int = 4
    # Junk "very long" responses exceed this many characters.
    long_chars: int = 20_000


DEFAULT_CONFIG = SimulateConfig()
# Timestamps are milliseconds since midnight UTC of the partition date.
DAY_MS = 86_400_000


def mean_quality(index: int, cfg: SimulateConfig = DEFAULT_CONFIG) -> float:
    """Mean answer quality of the ``index``-th model version (0-based, oldest first)."""
    return min(cfg.base_mean_quality + index * cfg.quality_step, cfg.max_mean_quality)
