"""``model.sigma_anchor``: resolved to a feature position like ``input_dim``, end to end."""

import dataclasses

import numpy as np
import pytest
from finance_demo import PipelineSpec, SettingsError, load_settings, spec_of, train_model
from finance_demo.config import ANCHOR_FEATURES, anchor_index

ALL = ["trend_fft", "returns", "range_vol", "realized_vol", "volume", "technical", "ewma_vol"]


def _settings(groups, **model):
    return load_settings({"features": {"groups": groups}, "model": model})


def test_auto_takes_ewma_vol_when_the_features_have_it():
    s = _settings(ALL)
    names = s.features.feature_names(s.buffer.channels)
    assert s.model.sigma_anchor == "auto"
    assert names[s.model.sigma_anchor_index] == "ewma_vol"
    assert _settings(["trend_fft"]).model.sigma_anchor_index is None  # nothing to blend with
    assert _settings(["trend_fft", "ewma_vol"]).model.sigma_anchor_index == 6


@pytest.mark.parametrize("name", ANCHOR_FEATURES)
def test_each_volatility_feature_can_be_named(name):
    s = _settings(ALL, sigma_anchor=name)
    assert s.features.feature_names(s.buffer.channels)[s.model.sigma_anchor_index] == name


def test_none_turns_it_off_and_the_file_layout_has_no_index():
    s = _settings(ALL, sigma_anchor="none")
    assert s.model.sigma_anchor_index is None
    assert "sigma_anchor_index" not in s.to_dict()["model"]
    assert s.to_dict()["model"]["sigma_anchor"] == "none"


@pytest.mark.parametrize(
    ("groups", "anchor", "message"),
    [
        (["trend_fft"], "ewma_vol", "sigma_anchor ewma_vol needs the ewma_vol feature group"),
        (["trend_fft"], "rv_20", "sigma_anchor rv_20 needs the realized_vol feature group"),
        (["trend_fft"], "parkinson", "parkinson needs the range_vol feature group"),
        (ALL, "ret_1", "sigma_anchor must be auto, none or one of ewma_vol"),
        (ALL, "vix", "sigma_anchor must be auto, none or one of"),
    ],
)
def test_bad_anchors_are_one_line(groups, anchor, message):
    with pytest.raises(SettingsError, match=message) as e:
        _settings(groups, sigma_anchor=anchor)
    assert "\n" not in str(e.value)


def test_the_index_is_not_a_key():
    with pytest.raises(SettingsError, match="sigma_anchor_index"):
        load_settings({"model": {"sigma_anchor_index": 3}})


def test_a_spec_whose_index_is_not_a_volatility_is_refused():
    s = _settings(ALL)
    wrong = dataclasses.replace(s.model, sigma_anchor_index=0)  # 'ma'
    with pytest.raises(SettingsError, match="is feature 'ma', not a volatility"):
        PipelineSpec(s.buffer, s.features, wrong)
    built = PipelineSpec.build(groups=tuple(ALL), buffer_size=50)
    assert built.model.sigma_anchor_index == s.model.sigma_anchor_index
    assert anchor_index(s.features, s.buffer.channels, "none") is None


def test_trained_model_blends_and_keeps_the_index(candles, tiny_settings, tmp_path):
    features = dataclasses.replace(tiny_settings.features, groups=("trend_fft", "ewma_vol"))
    settings = dataclasses.replace(tiny_settings, features=features)
    assert settings.model.sigma_anchor_index == 6
    model = train_model(candles, settings, symbol="WALK", interval="1d")
    assert spec_of(model).model.sigma_anchor_index == 6
    none = dataclasses.replace(settings.model, sigma_anchor="none")
    off = dataclasses.replace(settings, model=none)
    assert off.model.sigma_anchor_index is None
    plain = train_model(candles, off, symbol="WALK", interval="1d")
    from finance_demo.dataset import build_dataset

    X = build_dataset(candles, settings.pipeline).X[-20:]
    root_h = np.sqrt(np.asarray(settings.model.horizons, dtype=np.float64))
    expected = np.sqrt(plain.forecast(X).sigma * X[:, -1, 6, None].astype(np.float64) * root_h)
    np.testing.assert_allclose(model.forecast(X).sigma, expected, rtol=1e-12)
    back = type(model).load(model.save(tmp_path / "m.pt"))
    np.testing.assert_array_equal(back.forecast(X).upper, model.forecast(X).upper)


def test_an_old_model_without_the_keys_is_not_blended(candles, tiny_settings):
    features = dataclasses.replace(tiny_settings.features, groups=("trend_fft", "ewma_vol"))
    off = dataclasses.replace(tiny_settings.model, sigma_anchor="none")
    model = train_model(
        candles, dataclasses.replace(tiny_settings, features=features, model=off), "WALK"
    )
    config = model.config.to_dict()
    del config["sigma_anchor"], config["sigma_anchor_index"]
    from model import ModelConfig

    old = ModelConfig.from_dict(config)  # what a file written before the field reads as
    assert old.sigma_anchor == "auto" and old.sigma_anchor_index is None
    assert spec_of(model).model.sigma_anchor_index is None  # a spec never re-derives it


def test_the_pipeline_default_is_every_group_with_the_ewma_blend():
    from feature_extraction import FeatureConfig
    from finance_demo import Settings, settings_schema
    from finance_demo.config import PIPELINE_GROUPS

    s = Settings()
    assert s.features.groups == PIPELINE_GROUPS == tuple(ALL)
    assert FeatureConfig().groups == ("trend_fft",)  # the package alone keeps the seed's
    assert s.model.input_dim == 22 and s.buffer.channel_shape == (5,)
    assert s.features.feature_names(5)[s.model.sigma_anchor_index] == "ewma_vol"
    (groups,) = [f for f in settings_schema() if f.name == "groups"]
    assert groups.default == PIPELINE_GROUPS
    with pytest.raises(SettingsError, match=r"buffer_size must be at least 35 for features\."):
        load_settings({"buffer": {"buffer_size": 20}})
