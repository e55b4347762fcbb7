"""The trend head (``ModelConfig.heads``): a score in [-1, 1] per horizon, tanh(y / s)."""

import numpy as np
import pytest
import torch
from model.errors import ModelFileError

from model import Model, ModelConfig, TrainConfig, load_forecaster

TREND = ("return", "trend")
ALL = ("return", "direction", "trend")


def _sign_data(n=600, seed=0):
    """Two horizons whose sign and size follow input column 0 (plus a positive drift)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10, 3)).astype(np.float32)
    s = X[:, -1, 0]
    y = np.column_stack(
        [0.01 * s + 0.002 * rng.normal(size=n), 0.02 * s + 0.004 * rng.normal(size=n)]
    )
    return X, y + 0.003


def _small(**extra):
    sizes = {"input_dim": 3, "seq_len": 10, "hidden_dim": 8, "num_layers": 1, "horizons": (1, 2)}
    return ModelConfig(**{**sizes, **extra})


@pytest.fixture(scope="module")
def sign_data():
    return _sign_data()


@pytest.fixture(scope="module")
def trained(sign_data):
    m = Model(_small(heads=ALL))
    history = m.train(*sign_data, TrainConfig(epochs=15, lr=1e-2, batch_size=64, seed=1))
    return m, history


def test_flags_and_default_weight():
    assert not ModelConfig().has_trend
    assert ModelConfig(heads=TREND).has_trend
    assert ModelConfig(heads=["trend", "return", "direction"]).extra_heads == ("direction", "trend")
    assert TrainConfig().trend_weight == 1.0


def test_trend_layer_leaves_the_other_layers_and_the_rng_alone():
    from model.network import LSTMNetwork

    torch.manual_seed(7)
    plain = LSTMNetwork(_small(dropout=0.1, heads=("return", "direction")))
    after_plain = torch.rand(3)
    torch.manual_seed(7)
    both = LSTMNetwork(_small(dropout=0.1, heads=ALL))
    after_both = torch.rand(3)
    assert torch.equal(after_plain, after_both)
    shared, full = plain.state_dict(), both.state_dict()
    assert set(full) - set(shared) == {"trend.weight", "trend.bias"}
    for k, v in shared.items():
        assert torch.equal(v, full[k]), k


def test_targets_are_tanh_of_the_return_over_its_training_std(sign_data):
    X, y = sign_data
    m = Model(_small(heads=TREND))
    m.train(X, y, TrainConfig(epochs=1, batch_size=64, seed=0))
    n_train = X.shape[0] - round(X.shape[0] * 0.15)
    std = y[:n_train].std(axis=0)
    targets = m._head_targets(y[:n_train], y[n_train:])
    np.testing.assert_allclose(targets["trend"][0].numpy(), np.tanh(y[:n_train] / std), atol=1e-6)
    np.testing.assert_allclose(targets["trend"][1].numpy(), np.tanh(y[n_train:] / std), atol=1e-6)
    assert set(targets) == {"trend"}


def test_trend_follows_the_signal(trained, sign_data):
    m, _ = trained
    X, y = sign_data
    f = m.forecast(X[-150:])
    assert f.trend.shape == f.mean.shape == (150, 2) and f.trend.dtype == np.float64
    assert ((f.trend > -1) & (f.trend < 1)).all()
    assert (((f.trend > 0) == (y[-150:] > 0)).mean(axis=0) > 0.85).all()
    for j in range(2):  # the size of the move, not only its sign
        assert np.corrcoef(f.trend[:, j], y[-150:, j])[0, 1] > 0.8
    assert f.p_up is not None  # the direction head beside it
    np.testing.assert_array_equal(m.predict_trend(X[-150:]), f.trend)


def test_forecast_one_has_the_batch_trend(trained, sign_data):
    m, _ = trained
    X, _ = sign_data
    batch = m.forecast(X[:8])
    for i in range(8):
        one = m.forecast_one(X[i])
        np.testing.assert_allclose(one.trend, batch.trend[i], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(one.p_up, batch.p_up[i], rtol=1e-6, atol=1e-7)


def test_history_has_each_component_and_the_weighted_total(sign_data):
    X, y = sign_data
    settings = TrainConfig(epochs=3, batch_size=64, seed=2, direction_weight=0.5, trend_weight=2.0)
    h = Model(_small(heads=ALL)).train(X, y, settings)
    keys = [k for k in h[0] if "loss" in k]
    assert keys == [
        "train_loss",
        "val_loss",
        "train_loss_return",
        "train_loss_direction",
        "train_loss_trend",
        "val_loss_return",
        "val_loss_direction",
        "val_loss_trend",
    ]
    for r in h:
        total = r["val_loss_return"] + 0.5 * r["val_loss_direction"] + 2.0 * r["val_loss_trend"]
        assert r["val_loss"] == pytest.approx(total, rel=1e-12)
        assert 0 <= r["val_loss_trend"] <= 4  # squared error of two values in [-1, 1]
    assert h[-1]["train_loss_trend"] < h[0]["train_loss_trend"]


def test_weight_zero_leaves_the_other_heads_bit_for_bit(sign_data):
    X, y = sign_data
    settings = TrainConfig(epochs=3, batch_size=64, seed=5, trend_weight=0.0)
    two = Model(_small(heads=("return", "direction")))
    three = Model(_small(heads=ALL))
    h2, h3 = two.train(X, y, settings), three.train(X, y, settings)
    assert [r["val_loss"] for r in h2] == [r["val_loss"] for r in h3]
    a, b = two.forecast(X[:40]), three.forecast(X[:40])
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.p_up, b.p_up)
    assert "val_loss_trend" in h3[0]  # still measured, only not optimized


def test_save_load_gives_identical_forecasts(trained, sign_data, tmp_path):
    m, history = trained
    X, _ = sign_data
    back = load_forecaster(m.save(tmp_path / "m.pt"))
    assert back.config.heads == ALL and back.history == history
    a, b = m.forecast(X[:40]), back.forecast(X[:40])
    for name in ("mean", "sigma", "lower", "upper", "p_up", "trend"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_file_without_the_trend_tensors_is_refused(trained, tmp_path, monkeypatch):
    m, _ = trained
    from model import persistence

    original = persistence.net_tensors

    def without(state):
        return {k: v for k, v in original(state).items() if "trend" not in k}

    monkeypatch.setattr("model.core.net_tensors", without)
    path = m.save(tmp_path / "broken.pt")
    with pytest.raises(ModelFileError):
        Model.load(path)


def test_without_the_head():
    m = Model(_small())
    X = np.zeros((4, 10, 3), np.float32)
    m.train(
        np.random.default_rng(0).normal(size=(100, 10, 3)).astype(np.float32),
        np.random.default_rng(1).normal(size=(100, 2)) * 0.01,
        TrainConfig(epochs=1, batch_size=64),
    )
    assert m.forecast(X).trend is None and m.forecast_one(X[0]).trend is None
    with pytest.raises(ValueError, match="no trend head"):
        m.predict_trend(X)


@pytest.mark.parametrize("value", [-1.0, float("nan"), True, "1"])
def test_bad_trend_weight(value):
    with pytest.raises(ValueError, match="trend_weight must be a non-negative number") as e:
        TrainConfig(trend_weight=value)
    assert "\n" not in str(e.value)


def test_config_round_trips():
    config = _small(heads=ALL)
    assert ModelConfig.from_dict(config.to_dict()) == config
    t = TrainConfig(trend_weight=0.3)
    assert TrainConfig.from_dict(t.to_dict()) == t


def test_other_kinds_refuse_the_trend_head():
    from model import Seq2SeqForecaster

    with pytest.raises(ValueError, match=r"trend head .* lstm kind only"):
        Seq2SeqForecaster(_small(heads=TREND))
