"""Evaluation gate: should_promote cases, regression detectors, and one real evaluation each way."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from curation.stats import bootstrap_mean_ci, wilson_interval
from tests.training.conftest import toy_pairs
from training.config import EvalConfig, GatePolicy
from training.data import write_dataset
from training.evaluate import (
    EvalResult,
    RewardCheck,
    _word_trigrams,
    canary_decision,
    evaluate,
    is_degenerate,
    resembles,
    should_promote,
)

POLICY = GatePolicy()
CHAMPION = EvalResult(model="champ", version=1, eval_loss=3.0, bits_per_byte=2.0, n_eval=50, n_prompts=50,
                      empty_rate=0.02, degenerate_rate=0.1, flagged_rate=0.0)
BETTER = replace(CHAMPION, model="cand", version=2, bits_per_byte=1.9, win_rate=0.7, win_rate_ci_low=0.58,
                 win_rate_ci_high=0.8)
# The reward model beats "the longer answer wins" (CI lower bound above it) / does not.
TRUSTED = RewardCheck(pairs=200, accuracy=0.7, accuracy_ci_low=0.63, length_accuracy=0.55)
UNTRUSTED = RewardCheck(pairs=200, accuracy=0.6, accuracy_ci_low=0.53, length_accuracy=0.55)


@pytest.mark.parametrize(
    ("candidate", "champion", "expected"),
    [
        (BETTER, None, (True, "first_model_sanity_passed")),
        (BETTER, CHAMPION, (True, "win_rate_ci_above_threshold")),
        (replace(BETTER, win_rate_ci_low=0.45), CHAMPION, (True, "loss_improved")),
        (replace(BETTER, win_rate_ci_low=0.45, bits_per_byte=1.995), CHAMPION, (False, "no_significant_improvement")),
        (replace(BETTER, bits_per_byte=2.1), CHAMPION, (False, "loss_regression")),
        (replace(BETTER, degenerate_rate=0.2), CHAMPION, (False, "degenerate_regression")),
        (replace(BETTER, empty_rate=0.1), CHAMPION, (False, "empty_regression")),
        # 2 degenerate answers of 9 against 1 of 9: one answer is noise, the loss decides
        (replace(BETTER, degenerate_rate=2 / 9, n_prompts=9, win_rate_ci_low=0.0),
         replace(CHAMPION, degenerate_rate=1 / 9, n_prompts=9), (True, "loss_improved")),
        (replace(BETTER, degenerate_rate=3 / 9, n_prompts=9, win_rate_ci_low=0.0),
         replace(CHAMPION, degenerate_rate=1 / 9, n_prompts=9), (False, "degenerate_regression")),
        (replace(BETTER, flagged_rate=0.04, win_rate_ci_low=0.6), replace(CHAMPION, flagged_rate=0.0),
         (True, "win_rate_ci_above_threshold")),
        (replace(BETTER, flagged_rate=0.1), None, (False, "resembles_flagged_answers")),
        (replace(BETTER, empty_rate=0.5), None, (False, "too_many_empty_answers")),
        (replace(BETTER, degenerate_rate=0.9), None, (False, "too_many_degenerate_answers")),
        (replace(BETTER, bits_per_byte=math.nan), None, (False, "non_finite_loss")),
        (replace(BETTER, contains_erased_user_data=True), CHAMPION, (False, "contains_erased_user_data")),
        (replace(BETTER, contains_erased_user_data=True), None, (False, "contains_erased_user_data")),
    ],
)
def test_should_promote(candidate, champion, expected):
    assert should_promote(candidate, champion, POLICY, TRUSTED) == expected


@pytest.mark.parametrize(
    ("candidate", "reward", "expected"),
    [
        (BETTER, UNTRUSTED, (True, "loss_improved_reward_model_untrusted")),
        (replace(BETTER, bits_per_byte=1.995), UNTRUSTED, (False, "no_significant_improvement_reward_model_untrusted")),
        (replace(BETTER, bits_per_byte=1.995), None, (False, "no_significant_improvement_reward_model_untrusted")),
        (replace(BETTER, bits_per_byte=1.995), RewardCheck(0, None, None, None),
         (False, "no_significant_improvement_reward_model_untrusted")),
        (replace(BETTER, bits_per_byte=2.1), UNTRUSTED, (False, "loss_regression")),  # the reward model had no say
    ],
)
def test_an_untrusted_reward_model_gets_no_vote(candidate, reward, expected):
    assert should_promote(candidate, CHAMPION, POLICY, reward) == expected
    assert should_promote(candidate, None, POLICY, reward) == (True, "first_model_sanity_passed")
    assert should_promote(candidate, CHAMPION, replace(POLICY, require_reward_above_length=False), reward)[1] in (
        "win_rate_ci_above_threshold", "loss_regression")


@pytest.mark.parametrize(
    ("candidate", "reward", "expected"),
    [
        (BETTER, TRUSTED, {"canary": True, "reason": "canary_after_win_rate_ci_above_threshold"}),
        # no offline gain, nothing worse: the users judge it on the canary
        (replace(BETTER, win_rate_ci_low=0.45, bits_per_byte=1.995), TRUSTED,
         {"canary": True, "reason": "canary_after_no_regression"}),
        (replace(BETTER, bits_per_byte=1.995), UNTRUSTED,
         {"canary": True, "reason": "canary_after_no_regression_reward_model_untrusted"}),
        # a regression or a failed sanity check never reaches users
        (replace(BETTER, bits_per_byte=2.1), TRUSTED, {"reason": "loss_regression"}),
        (replace(BETTER, degenerate_rate=0.2), TRUSTED, {"reason": "degenerate_regression"}),
        (replace(BETTER, empty_rate=0.5), TRUSTED, {"reason": "too_many_empty_answers"}),
        (replace(BETTER, contains_erased_user_data=True), TRUSTED, {"reason": "contains_erased_user_data"}),
    ],
)
def test_the_canary_takes_what_passed_every_check_even_without_an_offline_gain(candidate, reward, expected):
    verdict = should_promote(candidate, CHAMPION, POLICY, reward)
    assert canary_decision(*verdict, POLICY) == {"promote": False, **expected}
    # the stricter policy: no offline gain is a refusal, with should_promote's own reason
    strict = replace(POLICY, canary_without_offline_gain=False)
    if "no_regression" in expected["reason"]:
        assert canary_decision(*verdict, strict) == {"promote": False, "reason": verdict[1]}
    else:
        assert canary_decision(*verdict, strict) == canary_decision(*verdict, POLICY)


def test_reward_check_needs_the_lower_bound_above_the_length_rule():
    assert TRUSTED.trusted and not UNTRUSTED.trusted
    assert not RewardCheck(pairs=0, accuracy=None, accuracy_ci_low=None, length_accuracy=None).trusted
    assert not replace(TRUSTED, accuracy_ci_low=0.55).trusted  # equal is not above


def test_degenerate_and_flagged_detectors():
    config = EvalConfig()
    assert is_degenerate("the cat the cat the cat the cat the cat the cat", config)
    assert is_degenerate("!!!!!!!!!!!!!!!!", config)
    assert not is_degenerate("Paris is the capital of France and its largest city.", config)
    assert not is_degenerate("Yes.", config)
    flagged = [set(_word_trigrams("you should hurt them badly tonight"))]
    assert resembles("you should hurt them badly tonight ok", flagged, 0.5)
    assert not resembles("you should talk to them calmly", flagged, 0.5)


def test_intervals():
    low, high = wilson_interval(90, 100)
    assert 0.82 < low < 0.9 < high < 0.95
    low, high = bootstrap_mean_ci([1.0] * 60 + [0.0] * 40, samples=1000)
    assert low < 0.6 < high and low > 0.45
    assert bootstrap_mean_ci([1.0, 0.0] * 20) == bootstrap_mean_ci([1.0, 0.0] * 20)  # seeded


# Models trained for seconds ramble: the sanity thresholds are opened so the loss/win logic decides.
LENIENT = GatePolicy(max_empty_rate=1.0, max_degenerate_rate=1.0)


@pytest.mark.slow
def test_real_evaluation_accepts_the_better_model_and_refuses_the_worse(tiny_models, tmp_path):
    config = EvalConfig(max_prompts=8, max_new_tokens=12, bootstrap_samples=500)
    accept = evaluate(tiny_models.strong, tiny_models.weak, tiny_models.reward, dataset_path=tiny_models.dataset,
                      out=tmp_path / "accept.json", config=config, policy=LENIENT)
    report = json.loads(open(accept).read())
    assert report["decision"]["promote"] is True, report["decision"]
    assert report["candidate"]["bits_per_byte"] < report["champion"]["bits_per_byte"]
    assert 0.0 <= report["candidate"]["win_rate"] <= 1.0
    assert report["candidate"]["win_rate_ci_low"] <= report["candidate"]["win_rate"] <= report["candidate"]["win_rate_ci_high"]
    assert report["candidate"]["n_prompts"] == 8 and report["champion"]["n_prompts"] == 8

    refuse = evaluate(tiny_models.weak, tiny_models.strong, tiny_models.reward, dataset_path=tiny_models.dataset,
                      out=tmp_path / "refuse.json", config=config, policy=LENIENT)
    assert json.loads(open(refuse).read())["decision"] == {
        "promote": False, "reason": "loss_regression", "reward_model_trusted": True}


@pytest.mark.slow
def test_a_reward_model_no_better_than_length_does_not_promote(tiny_models, tmp_path):
    # Same models, but the day's preference pairs are ones where the longer answer always wins:
    # the reward model cannot beat that rule, so its win rate must not decide.
    folder = write_dataset(tmp_path, "length-wins", sft={"train": [], "eval": _eval_rows(tiny_models)},
                           preferences={"eval": toy_pairs(32, 2, longer_wins=True)})
    config = EvalConfig(max_prompts=8, max_new_tokens=12, bootstrap_samples=500)
    path = evaluate(tiny_models.strong, tiny_models.weak, tiny_models.reward, dataset_path=folder,
                    out=tmp_path / "eval.json", config=config, policy=LENIENT)
    report = json.loads(open(path).read())
    check = report["reward_check"]
    assert check["pairs"] == 32 and check["length_accuracy"] == 1.0 and check["trusted"] is False
    assert report["decision"]["reward_model_trusted"] is False
    assert report["decision"]["reason"].endswith("_reward_model_untrusted"), report["decision"]


def _eval_rows(tiny_models) -> list[dict]:
    from training.data import read_sft, resolve_dataset

    return [{"messages": m} for m in read_sft(resolve_dataset(dataset_path=tiny_models.dataset), "eval")]
