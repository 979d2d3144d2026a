"""benchmarks/recipe_search.py: recipes are parsed and checked before any training."""

import sys

import pytest

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import recipe_search  # noqa: E402


def test_a_recipe_is_the_previous_default_with_some_settings_changed():
    settings = recipe_search.parse_recipe("dropout=0, learning_rate=1e-3,model=cgan")
    assert settings == {**recipe_search.PREVIOUS_DEFAULT, "dropout": 0, "learning_rate": 1e-3, "model": "cgan"}
    # The baseline recipe spells out every setting the search varies, so that it
    # stays the previous default whatever TrainConfig's defaults become.
    from gan_keras.training import CLASSIC_DCGAN, TrainConfig

    assert set(recipe_search.PREVIOUS_DEFAULT) <= set(TrainConfig.__dataclass_fields__)
    assert {key: recipe_search.PREVIOUS_DEFAULT[key] for key in CLASSIC_DCGAN} == CLASSIC_DCGAN


def test_an_unknown_setting_is_refused_before_training():
    with pytest.raises(ValueError, match="no setting"):
        recipe_search.run_candidate({"warp_drive": 9}, seconds=0, seed=0)


def test_every_candidate_is_a_valid_train_config():
    # A misspelt setting would only fail minutes into a search.
    from gan_keras.training import TrainConfig

    for name, settings in recipe_search.CANDIDATES.items():
        assert set(settings) <= set(TrainConfig.__dataclass_fields__), name
        TrainConfig(**settings).validate()
    # The plain unconditional recipe turns off every regulariser whatever the defaults are.
    plain = TrainConfig(**recipe_search.UNCONDITIONAL)
    assert (plain.resolved().augment, plain.resolved().r1_weight, plain.simultaneous) == ("none", 0.0, False)
