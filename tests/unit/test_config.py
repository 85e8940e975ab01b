"""cfcore.config: every bound enforced with the value quoted, models, schedules and presets, and the work a
run may ask of the server."""

from __future__ import annotations

import math

import pytest

from cfcore.config import BOUNDS, PRESETS, ConfigError, TrainConfig, check_work, factor_config, preset


def _bad_values(name: str) -> list:
    low, high = BOUNDS[name]
    whole = isinstance(low, int) and isinstance(high, int)
    below = low - (1 if whole else 0.001 * max(1.0, abs(high)))
    if name == "steps_per_execution":
        below = -1  # 0 is allowed: it means "choose from the epoch size"
    values = [below, high + (1 if whole else 0.01 * max(1.0, high))]
    if whole:
        values.append(low + 0.5)
    values += [float("nan"), "3", True, None]
    return values


def test_svd_rank_must_fit_the_data(synthetic_dataset):
    with pytest.raises(ConfigError, match="choose a size below 40"):
        check_work(factor_config("svd", 40), synthetic_dataset.n_users, synthetic_dataset.n_movies)


def test_presets_are_the_tuned_bias_model_or_its_svdpp():
    for name, config in PRESETS.items():
        # The app shows their embeddings, biases and PCA; best adds the rated sets (SVD++).
        assert config.model == ("svdpp" if name == "best" else "dot_with_bias"), name
        assert preset(name) == config
    article = PRESETS["article"]
    assert (article.user_dropout, article.movie_dropout, article.l2, article.batch_size, article.learning_rate,
            article.embedding_dim, article.patience, article.epochs) == (0.3, 0.6, 0.0, 32, 0.001, 64, 2, 10)
    assert preset("best", epochs=2).epochs == 2 and PRESETS["best"].epochs > 2


def test_preset_extras_name_the_settings_without_a_control():
    from cfcore.config import PRESETS, TrainConfig, preset_extras

    assert preset_extras(PRESETS["article"]) == []
    assert preset_extras(PRESETS["best"]) == ["L2 penalty 0.0003", "a global offset", "cosine learning-rate decay"]
    assert preset_extras(TrainConfig(l2=0.01)) == ["L2 penalty 0.01"]


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_every_bound_is_enforced_with_the_value_quoted(name):
    low, high = BOUNDS[name]
    TrainConfig(**{name: low}).validate()
    TrainConfig(**{name: high}).validate()
    for value in _bad_values(name):
        with pytest.raises(ConfigError) as info:
            TrainConfig(**{name: value}).validate()
        assert f"Received: {name}=" in str(info.value) and name in str(info.value).split(".")[0]
        quoted = repr(value) if isinstance(value, str | bool | type(None)) else None
        if quoted:
            assert quoted in str(info.value)
        elif not (isinstance(value, float) and math.isnan(value)):
            assert f"{name}={value}" in str(info.value)


def test_model_and_schedule_are_validated():
    with pytest.raises(ConfigError, match="unknown model 'nmf'"):
        TrainConfig(model="nmf").validate()
    with pytest.raises(ConfigError, match="Received: 'step'"):
        TrainConfig(lr_schedule="step").validate()
    with pytest.raises(ConfigError, match="unknown preset 'fastest'"):
        preset("fastest")
    with pytest.raises(ConfigError, match="epochs=0"):
        preset("fast", epochs=0)


def test_presets_are_valid_and_article_is_the_article():
    for config in PRESETS.values():
        config.validate()
    article = PRESETS["article"]
    assert (article.model, article.embedding_dim, article.batch_size, article.learning_rate,
            article.epochs, article.patience, article.val_fraction, article.seed) == (
        "dot_with_bias", 64, 32, 0.001, 10, 2, 0.2, 42)
    assert preset("article", epochs=3).epochs == 3 and PRESETS["article"].epochs == 10


def test_whole_number_settings_become_ints():
    config = TrainConfig(epochs=2.0, batch_size=64.0, embedding_dim=8.0).validate()
    assert all(type(v) is int for v in (config.epochs, config.batch_size, config.embedding_dim))


def test_config_round_trips_through_a_dict():
    config = preset("best", seed=5)
    assert TrainConfig.from_dict({**config.to_dict(), "unknown_key": 1}) == config


def test_the_best_preset_is_svdpp():
    assert PRESETS["best"].model == "svdpp"


def test_settings_summary_names_the_preset_and_what_differs_from_it():
    from dataclasses import replace

    from cfcore.config import PRESETS, factor_config, settings_summary

    assert settings_summary(PRESETS["fast"]) == "fast preset"
    assert settings_summary(replace(PRESETS["fast"], model="simple_dot", seed=43).validate()) == "fast preset, seed 43"
    assert settings_summary(replace(PRESETS["article"], model="simple_embedding", own_init=True).validate()) == (
        "article preset, its own initialiser")
    assert settings_summary(replace(PRESETS["article"], epochs=3)) == "dim 64, batch 32, lr 0.001, 3 epochs, seed 42"
    assert settings_summary(factor_config("svd", 8, 3)) == "8 factors, seed 3"


def test_a_model_without_dropout_records_none():
    from dataclasses import replace

    from cfcore.config import PRESETS

    config = replace(PRESETS["article"], model="simple_dot").validate()
    assert config.user_dropout == config.movie_dropout == 0.0
    assert PRESETS["article"].validate().user_dropout == 0.3  # the bias model keeps its own
