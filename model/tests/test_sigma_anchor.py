"""``ModelConfig.sigma_anchor_index``: the predicted sigma blended with a volatility feature."""

import dataclasses

import numpy as np
import pytest

from model import Model, ModelConfig, TrainConfig, load_forecaster

SETTINGS = TrainConfig(epochs=3, batch_size=64, seed=0)


def _data(n=500, seed=0):
    """Returns whose scale is input column 2 (a volatility the features carry)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8, 3))
    vol = np.exp(rng.normal(-4.5, 0.5, size=n))
    X[:, -1, 2] = vol
    y = np.column_stack([vol * rng.normal(size=n), vol * np.sqrt(4) * rng.normal(size=n)])
    return X.astype(np.float32), y


def _config(**extra):
    return ModelConfig(input_dim=3, seq_len=8, hidden_dim=8, num_layers=1, horizons=(1, 4), **extra)


@pytest.fixture(scope="module")
def pair():
    X, y = _data()
    plain = Model(_config())
    plain.train(X, y, SETTINGS)
    anchored = Model(_config(sigma_anchor_index=2))
    anchored.train(X, y, SETTINGS)
    return X, y, plain, anchored


def test_sigma_is_the_geometric_mean_with_the_feature(pair):
    X, _, plain, anchored = pair
    a, b = plain.forecast(X[:50]), anchored.forecast(X[:50])
    np.testing.assert_array_equal(a.mean, b.mean)  # the same network: only sigma moves
    v = X[:50, -1, 2].astype(np.float64)[:, None] * np.sqrt([1.0, 4.0])
    np.testing.assert_allclose(b.sigma, np.sqrt(a.sigma * v), rtol=1e-12)
    for f in (a, b):
        assert np.all(f.lower < f.mean) and np.all(f.mean < f.upper)


def test_the_calibration_is_of_the_blended_sigma(pair):
    X, y, _, anchored = pair
    f = anchored.forecast(X[-75:], level=0.9)
    inside = (y[-75:] >= f.lower) & (y[-75:] <= f.upper)
    assert 0.8 <= inside.mean() <= 1.0  # the validation part: calibrated on these rows
    scores = np.abs(y[-75:] - f.mean) / f.sigma
    q = anchored.calibration.quantile(0.9, 2)
    assert np.allclose(f.upper - f.mean, q * f.sigma)
    assert np.quantile(scores, 0.9) == pytest.approx(q, rel=0.25)


def test_forecast_one_and_the_heads_paths_agree(pair):
    X, y, _, anchored = pair
    batch = anchored.forecast(X[:6])
    for i in range(6):
        np.testing.assert_allclose(anchored.forecast_one(X[i]).sigma, batch.sigma[i], rtol=1e-6)
    heads = Model(_config(sigma_anchor_index=2, heads=("return", "direction")))
    heads.train(X, y, SETTINGS)
    f = heads.forecast(X[:6])
    raw = Model(_config(heads=("return", "direction")))
    raw.train(X, y, SETTINGS)
    v = X[:6, -1, 2].astype(np.float64)[:, None] * np.sqrt([1.0, 4.0])
    np.testing.assert_allclose(f.sigma, np.sqrt(raw.forecast(X[:6]).sigma * v), rtol=1e-12)
    np.testing.assert_allclose(heads.forecast_one(X[0]).sigma, f.sigma[0], rtol=1e-6)


def test_saved_and_loaded(pair, tmp_path):
    X, _, _, anchored = pair
    back = load_forecaster(anchored.save(tmp_path / "a.pt"))
    assert back.config.sigma_anchor_index == 2
    np.testing.assert_array_equal(back.forecast(X[:20]).upper, anchored.forecast(X[:20]).upper)


def test_a_zero_volatility_does_not_divide_by_zero(pair):
    X, _, _, anchored = pair
    flat = X[:3].copy()
    flat[:, -1, 2] = 0.0
    f = anchored.forecast(flat)
    assert np.all(np.isfinite(f.sigma)) and np.all(f.sigma > 0)


def test_other_kinds_blend_the_same_way():
    from model import Seq2SeqForecaster

    X, y = _data(300, seed=1)
    plain = Seq2SeqForecaster(_config())
    plain.fit(X, y, SETTINGS)
    anchored = Seq2SeqForecaster(_config(sigma_anchor_index=2))
    anchored.fit(X, y, SETTINGS)
    v = X[:10, -1, 2].astype(np.float64)[:, None] * np.sqrt([1.0, 4.0])
    expected = np.sqrt(plain.forecast(X[:10]).sigma * v)
    np.testing.assert_allclose(anchored.forecast(X[:10]).sigma, expected, rtol=1e-12)
    np.testing.assert_allclose(anchored.forecast_one(X[0]).sigma, expected[0], rtol=1e-6)


@pytest.mark.parametrize("value", [3, -1, True, 1.0, "2"])
def test_bad_index_is_one_line(value):
    with pytest.raises(ValueError, match="sigma_anchor_index must be a feature position") as e:
        _config(sigma_anchor_index=value)
    assert "\n" not in str(e.value)


def test_null_is_none():
    assert _config(sigma_anchor=None).sigma_anchor == "none"


@pytest.mark.parametrize("value", ["", 3, 1.5])
def test_bad_anchor_name(value):
    with pytest.raises(ValueError, match="sigma_anchor must be auto, none or"):
        _config(sigma_anchor=value)


def test_defaults_and_round_trip():
    c = ModelConfig()
    assert c.sigma_anchor == "auto" and c.sigma_anchor_index is None
    c = dataclasses.replace(_config(), sigma_anchor="rv_20", sigma_anchor_index=1)
    assert ModelConfig.from_dict(c.to_dict()) == c
