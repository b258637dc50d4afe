"""Registry lookups: "not found" is an answer, a failing registry is an error (never "absent")."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException

from training import registry
from training.config import CHAMPION_ALIAS, SFT_MODEL_NAME
from training.evaluate import evaluate


def test_absent_model_version_and_alias_are_answers(tmp_path):
    client = registry.connect(tmp_path / "warehouse")
    assert registry.alias_version(client, SFT_MODEL_NAME, CHAMPION_ALIAS) is None  # no model yet
    with pytest.raises(registry.RegistryError, match="has no version 3"):
        registry.get_version(client, SFT_MODEL_NAME, 3)
    client.create_registered_model(SFT_MODEL_NAME)
    assert registry.alias_version(client, SFT_MODEL_NAME, CHAMPION_ALIAS) is None  # model, no alias


def test_a_failing_registry_is_not_an_absent_champion(unavailable_mlflow, tmp_path):
    client = registry.connect(tmp_path / "warehouse", unavailable_mlflow)
    with pytest.raises(MlflowException):
        registry.alias_version(client, SFT_MODEL_NAME, CHAMPION_ALIAS)
    with pytest.raises(MlflowException):
        registry.get_version(client, SFT_MODEL_NAME, 1)


def test_evaluation_fails_instead_of_judging_a_first_model(tiny_models, unavailable_mlflow, tmp_path):
    # A transient registry error used to read as "no champion": the candidate was then judged as
    # the first model and the comparison with the champion was skipped.
    with pytest.raises(MlflowException):
        evaluate(str(tiny_models.strong), "champion", None, warehouse=tmp_path / "warehouse",
                 dataset_path=tiny_models.dataset, out=tmp_path / "eval.json", tracking_uri=unavailable_mlflow)
    assert not (tmp_path / "eval.json").exists()
