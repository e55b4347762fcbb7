"""The direction head (``ModelConfig.heads``): a logit of P(return > 0) per horizon."""

import numpy as np
import pytest
import torch
from model.errors import ModelFileError

from model import Model, ModelConfig, TrainConfig, load_forecaster

DIRECTION = ("return", "direction")


def _sign_data(n=600, seed=0):
    """Two horizons whose sign follows input column 0 (plus a positive drift)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10, 3)).astype(np.float32)
    s = np.sign(X[:, -1, 0])
    y = np.column_stack(
        [0.01 * s + 0.002 * rng.normal(size=n), 0.02 * s + 0.004 * rng.normal(size=n)]
    )
    return X, y + 0.003  # a drift: the sign of the scaled target is not the target


def _small(**extra):
    sizes = {"input_dim": 3, "seq_len": 10, "hidden_dim": 8, "num_layers": 1, "horizons": (1, 2)}
    return ModelConfig(**{**sizes, **extra})


def _state(m):
    return {k: v.clone() for k, v in m.network.state_dict().items()}


def _same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def sign_data():
    return _sign_data()


@pytest.fixture(scope="module")
def trained(sign_data):
    m = Model(_small(heads=DIRECTION))
    history = m.train(*sign_data, TrainConfig(epochs=15, lr=1e-2, batch_size=64, seed=1))
    return m, history


# -- the default is unchanged ------------------------------------------------------------


def test_default_heads_and_weight():
    assert ModelConfig().heads == ("return",)
    assert not ModelConfig().has_direction
    assert ModelConfig(heads=["return", "direction"]).heads == DIRECTION
    assert ModelConfig(heads=DIRECTION).has_direction
    assert TrainConfig().direction_weight == 1.0


@pytest.mark.parametrize("extra", [{}, {"dropout": 0.2, "num_layers": 2}])
def test_default_trains_bit_for_bit_as_explicit_return_head(sign_data, extra):
    X, y = sign_data
    base = {"input_dim": 3, "seq_len": 10, "hidden_dim": 8, "horizons": (1, 2), **extra}
    settings = TrainConfig(epochs=3, batch_size=64, seed=3)
    runs = []
    for config in (
        ModelConfig(**base),
        ModelConfig(**base),
        ModelConfig(heads=("return",), **base),
    ):
        m = Model(config)
        history = m.train(X, y, settings)
        runs.append((m, history))
    first, hist = runs[0]
    assert first.network.direction is None
    assert not any(k.startswith("direction") for k in first.network.state_dict())
    assert set(hist[0]) == {"epoch", "train_loss", "val_loss", "lr", "seconds"}
    for m, h in runs[1:]:
        _same_state(_state(first), _state(m))
        np.testing.assert_array_equal(first.predict(X[:50]), m.predict(X[:50]))
        assert [r["train_loss"] for r in h] == [r["train_loss"] for r in hist]
        assert [r["val_loss"] for r in h] == [r["val_loss"] for r in hist]
    f = first.forecast(X[:5])
    assert f.p_up is None and first.forecast_one(X[0]).p_up is None
    with pytest.raises(ValueError, match="no direction head"):
        first.predict_up(X[:5])


def test_direction_layer_leaves_the_other_layers_and_the_rng_alone():
    from model.network import LSTMNetwork

    torch.manual_seed(7)
    plain = LSTMNetwork(_small(dropout=0.1))
    after_plain = torch.rand(3)
    torch.manual_seed(7)
    both = LSTMNetwork(_small(dropout=0.1, heads=DIRECTION))
    after_both = torch.rand(3)
    assert torch.equal(after_plain, after_both)  # the next draws (dropout) are the same
    shared = plain.state_dict()
    full = both.state_dict()
    assert set(full) - set(shared) == {"direction.weight", "direction.bias"}
    for k, v in shared.items():
        assert torch.equal(v, full[k]), k
    assert tuple(both.direction.weight.shape) == (2, 8)


# -- with the direction head -------------------------------------------------------------


def test_p_up_separates_the_classes(trained, sign_data):
    m, _ = trained
    X, y = sign_data
    f = m.forecast(X[-150:])
    assert f.p_up.shape == f.mean.shape == (150, 2)
    assert f.p_up.dtype == np.float64
    assert ((f.p_up > 0) & (f.p_up < 1)).all()
    accuracy = ((f.p_up > 0.5) == (y[-150:] > 0)).mean(axis=0)
    assert (accuracy > 0.9).all(), accuracy
    np.testing.assert_array_equal(m.predict_up(X[-150:]), f.p_up)
    # the existing fields are the return head's, as from predict
    np.testing.assert_array_equal(f.mean, m.predict(X[-150:]))


def test_forecast_one_has_p_up_like_the_batch(trained, sign_data):
    m, _ = trained
    X, _ = sign_data
    one = m.forecast_one(X[-1])
    batch = m.forecast(X[-1:])
    assert one.p_up.shape == (2,)
    np.testing.assert_allclose(one.p_up, batch.p_up[0], rtol=1e-6)
    np.testing.assert_allclose(one.mean, batch.mean[0], rtol=1e-6)
    np.testing.assert_allclose(m.execute(X[-1]), batch.mean[0], rtol=1e-6)


def test_history_has_the_component_losses(trained):
    _, history = trained
    keys = {"train_loss_return", "train_loss_direction", "val_loss_return", "val_loss_direction"}
    for r in history:
        assert keys <= set(r)
        assert r["train_loss"] == pytest.approx(
            r["train_loss_return"] + r["train_loss_direction"], rel=1e-5, abs=1e-6
        )
        assert r["val_loss"] == pytest.approx(r["val_loss_return"] + r["val_loss_direction"])
    assert history[-1]["val_loss_direction"] < 0.5 < history[0]["train_loss_direction"]


def test_weight_scales_the_direction_loss(sign_data):
    m = Model(_small(heads=DIRECTION))
    h = m.train(*sign_data, TrainConfig(epochs=2, batch_size=64, seed=1, direction_weight=2.5))
    for r in h:
        assert r["val_loss"] == pytest.approx(r["val_loss_return"] + 2.5 * r["val_loss_direction"])


def test_weight_zero_leaves_the_return_head_alone(sign_data):
    X, y = sign_data
    extra = {"dropout": 0.2, "num_layers": 2}
    settings = TrainConfig(epochs=3, batch_size=64, seed=2, direction_weight=0.0)
    plain = Model(_small(**extra))
    h_plain = plain.train(X, y, settings)
    both = Model(_small(heads=DIRECTION, **extra))
    h_both = both.train(X, y, settings)
    shared, full = _state(plain), _state(both)
    _same_state(shared, {k: v for k, v in full.items() if not k.startswith("direction.")})
    np.testing.assert_array_equal(plain.predict(X[:50]), both.predict(X[:50]))
    assert [r["train_loss"] for r in h_plain] == [r["train_loss_return"] for r in h_both]
    assert [r["val_loss"] for r in h_plain] == [r["val_loss"] for r in h_both]
    assert [r["val_loss"] for r in h_both] == [r["val_loss_return"] for r in h_both]


def test_sign_target_is_the_unscaled_return():
    # every return is positive: the scaled targets have both signs, the direction target not
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 10, 3)).astype(np.float32)
    y = 0.01 + 0.001 * np.abs(rng.normal(size=(300, 2)))
    m = Model(_small(heads=DIRECTION))
    m.train(X, y, TrainConfig(epochs=8, lr=1e-2, batch_size=64, seed=0))
    assert (m.forecast(X[:50]).p_up > 0.8).all()


def test_save_load_gives_identical_forecasts(trained, sign_data, tmp_path):
    m, history = trained
    X, _ = sign_data
    path = m.save(tmp_path / "m.pt")
    back = load_forecaster(path)
    assert isinstance(back, Model)
    assert back.config == m.config and back.config.heads == DIRECTION
    assert back.history == history
    a, b = m.forecast(X[:40]), back.forecast(X[:40])
    for name in ("mean", "sigma", "lower", "upper", "p_up"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(m.forecast_one(X[3]).p_up, back.forecast_one(X[3]).p_up)


def test_file_without_the_direction_tensors_is_refused(trained, tmp_path, monkeypatch):
    m, _ = trained
    from model import persistence

    original = persistence.net_tensors

    def without(state):
        return {k: v for k, v in original(state).items() if "direction" not in k}

    monkeypatch.setattr("model.core.net_tensors", without)
    path = m.save(tmp_path / "broken.pt")
    with pytest.raises(ModelFileError):
        Model.load(path)


def test_old_file_without_the_field_loads(data, tmp_path, monkeypatch):
    X, y = data
    m = Model(hidden_dim=8, num_layers=1)
    m.train(X, y, TrainConfig(epochs=2, batch_size=64, seed=1))
    original = ModelConfig.to_dict

    def old_to_dict(self):  # the header as written before ``heads`` existed
        return {k: v for k, v in original(self).items() if k != "heads"}

    monkeypatch.setattr(ModelConfig, "to_dict", old_to_dict)
    path = m.save(tmp_path / "old.pt")
    monkeypatch.undo()
    from model.fileformat import read_header

    back = Model.load(path)
    assert back.config.heads == ("return",)
    assert read_header(path).config == m.config
    np.testing.assert_array_equal(back.predict(X[:20]), m.predict(X[:20]))


def test_config_round_trips():
    config = _small(heads=DIRECTION)
    data = config.to_dict()
    assert data["heads"] == ["return", "direction"]
    assert ModelConfig.from_dict(data) == config
    t = TrainConfig(direction_weight=0.25)
    assert TrainConfig.from_dict(t.to_dict()) == t


@pytest.mark.parametrize(
    "value, message",
    [
        (("direction",), "heads must include 'return'"),
        ((), "heads must include 'return'"),
        (("return", "vol"), "heads must be a list of output heads .* got 'vol' at position 1"),
        (("return", "return"), "must not repeat a head, got 'return' twice"),
        (("return", 3), "got 3 at position 1"),
        (7, "heads must be a list of output heads"),
        ({"return": 1}, "heads must be a list of output heads"),
    ],
)
def test_bad_heads(value, message):
    with pytest.raises(ValueError, match=message) as info:
        ModelConfig(heads=value)
    assert "\n" not in str(info.value)


def test_a_single_string_is_one_head():
    assert ModelConfig(heads="return").heads == ("return",)


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), True, "1"])
def test_bad_direction_weight(value):
    with pytest.raises(ValueError, match="direction_weight must be a non-negative number") as e:
        TrainConfig(direction_weight=value)
    assert "\n" not in str(e.value)


def test_other_kinds_refuse_the_direction_head():
    from model import Seq2SeqForecaster

    with pytest.raises(ValueError, match="lstm kind only"):
        Seq2SeqForecaster(_small(heads=DIRECTION))


def test_checkpoint_resume_with_the_direction_head(sign_data, tmp_path):
    X, y = sign_data
    folder = str(tmp_path / "ck")
    settings = TrainConfig(epochs=4, batch_size=64, seed=4, checkpoint_dir=folder)
    full = Model(_small(heads=DIRECTION))
    h_full = full.train(X, y, TrainConfig(epochs=4, batch_size=64, seed=4))

    def stop_after_two(epoch, epochs, record):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Model(_small(heads=DIRECTION)).train(X, y, settings, progress=stop_after_two)
    resumed = Model(_small(heads=DIRECTION))
    h = resumed.train(X, y, TrainConfig(**{**settings.to_dict(), "resume": True}))
    assert [r["val_loss_direction"] for r in h] == [r["val_loss_direction"] for r in h_full]
    np.testing.assert_array_equal(resumed.predict_up(X[:30]), full.predict_up(X[:30]))
    plain = Model(_small())  # a checkpoint of the two-head network is not this one's
    with pytest.raises(ValueError, match="other data, settings or network"):
        plain.train(X, y, TrainConfig(**{**settings.to_dict(), "resume": True}))
