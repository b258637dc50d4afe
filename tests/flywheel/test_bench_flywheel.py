"""bench/flywheel.py's report names: runs with different settings never overwrite each other."""

from argparse import Namespace

import pytest

from bench.flywheel import cycle_settings, run_name


def _args(**kw) -> Namespace:
    base = dict(seed=42, users=60, side_by_side=None, max_tokens=None, self_comparison=False)
    return Namespace(**{**base, **kw})


def test_the_default_run_keeps_its_documented_name():
    assert run_name("polite", ["sft", "dpo"], _args(), {}) == "flywheel-polite-sft+dpo-s42"


def test_every_setting_that_changes_a_run_changes_its_name():
    recipe = cycle_settings(["dpo_epochs=4", "dpo_learning_rate=3e-4"])
    runs = [
        _args(), _args(users=150), _args(side_by_side=1.0), _args(max_tokens=80),
        _args(self_comparison=True), _args(seed=7),
    ]
    names = [run_name("polite", ["sft", "dpo"], a, {}) for a in runs]
    names += [run_name("polite", ["sft", "dpo"], _args(), recipe),
              run_name("polite", ["sft", "dpo"], _args(), {"dpo_epochs": 4}),
              run_name("polite", ["sft"], _args(), {})]
    assert len(set(names)) == len(names)
    full = run_name("polite", ["sft", "dpo"], _args(users=150, side_by_side=1.0,
                                                    self_comparison=True), recipe)
    assert full == "flywheel-polite-sft+dpo-s42-u150-ab1-sc-dpoepochs4-dpolearningrate0.0003"
    # the name is a file name: no separators or shell characters from the values
    odd = run_name("polite", ["sft"], _args(), {"levers": ("sft", "dpo"), "x": "a/b c"})
    assert "/" not in odd and " " not in odd


def test_an_unknown_cycle_field_is_an_error():
    with pytest.raises(ValueError, match="dpo_epoch"):
        cycle_settings(["dpo_epoch=4"])
