"""Issue 10: ``features.normalize: none`` trains, from a settings file and from code."""

import numpy as np
import pytest
from finance_demo import load_settings, load_settings_file, spec_of, train_model


@pytest.fixture(scope="module")
def short_candles(make_candles):
    return make_candles(160)


def _tiny(normalize):
    return {
        "buffer": {"buffer_size": 20},
        "features": {"window_size": 4, "normalize": normalize, "groups": ["trend_fft"]},
        "model": {"seq_len": 6, "hidden_dim": 4, "num_layers": 1},
        "training": {"epochs": 1, "batch_size": 64},
    }


def test_normalize_none_trains_from_a_file(tmp_path, short_candles):
    import yaml

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_tiny("none")))
    settings = load_settings_file(path)
    model = train_model(short_candles, settings, symbol="WALK", interval="1d")
    assert spec_of(model).normalize == "none"
    assert np.isfinite(model.history[0]["val_loss"])


@pytest.mark.parametrize("value", ["none", None])
def test_normalize_none_trains_from_code(value, short_candles):
    model = train_model(short_candles, load_settings(_tiny(value)), symbol="W", interval="1d")
    assert spec_of(model).normalize == "none"
