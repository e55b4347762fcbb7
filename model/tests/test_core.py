import numpy as np
import pytest
import torch
from model.scaling import STD_FLOOR

from model import Forecast, Model, ModelConfig, TrainConfig

from .conftest import make_data


def test_bad_inputs(args, expected):
    m = Model()
    X = np.zeros(args["X_shape"], dtype=np.float32)
    if args.get("nan"):
        X.flat[3] = np.nan
    kwargs = dict(args.get("kwargs", {}))
    if "X_val" in kwargs:
        kwargs["X_val"] = np.asarray(kwargs["X_val"], dtype=np.float32)
    with pytest.raises(ValueError, match=expected):
        if args["method"] == "train":
            fit = {k: kwargs.pop(k) for k in list(kwargs) if k not in ("X_val", "y_val")}
            m.train(X, np.zeros(args["y_shape"]), TrainConfig(epochs=1, **fit), **kwargs)
        else:
            getattr(m, args["method"])(X, **kwargs)


def test_default_model_and_overrides():
    assert Model().config == ModelConfig()
    assert Model(hidden_dim=4).config.hidden_dim == 4
    with pytest.raises(ValueError, match="unknown ModelConfig field\\(s\\): size"):
        Model(size=3)


def test_training_is_bit_for_bit_reproducible(data):
    X, y = data
    a, b = Model(hidden_dim=8, dropout=0.1), Model(hidden_dim=8, dropout=0.1)
    ha = a.train(X, y, TrainConfig(epochs=3, batch_size=32, seed=7))
    hb = b.train(X, y, TrainConfig(epochs=3, batch_size=32, seed=7))
    for (ka, va), (kb, vb) in zip(
        a.network.state_dict().items(), b.network.state_dict().items(), strict=True
    ):
        assert ka == kb and torch.equal(va, vb)
    assert [r["train_loss"] for r in ha] == [r["train_loss"] for r in hb]
    # also at two threads (the default on 2 cores): the same bits twice
    d, e = Model(hidden_dim=8), Model(hidden_dim=8)
    d.train(X, y, TrainConfig(epochs=2, batch_size=32, seed=5, num_threads=2))
    e.train(X, y, TrainConfig(epochs=2, batch_size=32, seed=5, num_threads=2))
    assert np.array_equal(d.predict(X), e.predict(X))
    c = Model(hidden_dim=8, dropout=0.1)
    c.train(X, y, TrainConfig(epochs=3, batch_size=32, seed=8))
    assert not torch.equal(a.network.head.weight, c.network.head.weight)


def test_training_leaves_global_torch_state_alone(data):
    X, y = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    Model(hidden_dim=4, num_layers=1).train(X, y, TrainConfig(epochs=1, seed=0, num_threads=1))
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_history_progress_and_summary(data):
    X, y = data
    calls = []
    m = Model(hidden_dim=4, num_layers=1)
    history = m.train(
        X, y, TrainConfig(epochs=3, seed=0), progress=lambda e, n, r: calls.append((e, n, r))
    )
    assert [c[:2] for c in calls] == [(1, 3), (2, 3), (3, 3)]
    assert [c[2] for c in calls] == history
    for record in history:
        assert set(record) == {"epoch", "train_loss", "val_loss", "lr", "seconds"}
        assert np.isfinite(record["val_loss"]) and record["seconds"] > 0
    s = m.training_summary
    assert (s["n_train"], s["n_val"], s["n_calibration"]) == (255, 45, 45)
    assert m.is_trained and m.calibration.size == 45


def test_scalers_fit_on_the_training_part_only(data):
    X, y = data
    X = X.copy()
    X[-45:] += 100.0  # the validation part is shifted: it must not move the scaler
    m = Model(hidden_dim=4, num_layers=1)
    m.train(X, y, TrainConfig(epochs=1, seed=0))
    train = X[:255].reshape(-1, 6)
    np.testing.assert_allclose(m.x_scaler.mean, train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(m.x_scaler.std, train.std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(m.y_scaler.mean, [y[:255].mean()])


def test_constant_feature_gets_the_std_floor(data):
    X, y = data
    X = X.copy()
    X[:, :, 2] = 5.0
    m = Model(hidden_dim=4, num_layers=1)
    m.train(X, y, TrainConfig(epochs=1, seed=0))
    assert m.x_scaler.std[2] == STD_FLOOR
    assert np.isfinite(m.predict(X[:3])).all()


def test_early_stopping_restores_the_best_epoch(data):
    X, y = data
    m = Model(hidden_dim=16, num_layers=1)
    history = m.train(X, y, TrainConfig(epochs=60, patience=2, lr=0.05, seed=0))
    best = m.training_summary["best_epoch"]
    losses = [r["val_loss"] for r in history]
    assert len(history) < 60 and len(history) == best + 2
    assert losses[best - 1] == min(losses)
    # the restored weights reproduce the best validation loss
    from model.training import _evaluate

    Xv = torch.from_numpy(m.x_scaler.transform(X[255:]).astype(np.float32))
    yv = torch.from_numpy(m.y_scaler.transform(y[255:, None]).astype(np.float32))
    assert _evaluate(m.network, Xv, yv) == pytest.approx(losses[best - 1], rel=1e-5)


def test_learns_a_mean_and_a_scale():
    X, y = make_data(n=1500, seed=3)
    m = Model(hidden_dim=16, num_layers=1)
    m.train(X, y, TrainConfig(epochs=60, batch_size=64, seed=0, patience=10))
    Xt, yt = make_data(n=400, seed=4)
    pred = m.predict(Xt)[:, 0]
    assert np.mean(np.abs(yt - pred)) < 0.7 * np.mean(np.abs(yt - yt.mean()))
    sigma = m.forecast(Xt).sigma[:, 0]
    assert np.corrcoef(sigma, np.abs(Xt[:, -1, 1]))[0, 1] > 0.5  # heteroscedastic


def test_execute_and_forecast_one_agree_with_the_batch_path(trained, data):
    X, _ = data
    batch = trained.forecast(X[:5], level=0.8)
    for i in range(5):
        np.testing.assert_allclose(trained.execute(X[i]), batch.mean[i], rtol=1e-5, atol=1e-9)
        one = trained.forecast_one(X[i].astype(np.float64), level=0.8)
        assert isinstance(one, Forecast) and one.mean.shape == (1,)
        for field in ("mean", "sigma", "lower", "upper"):
            np.testing.assert_allclose(getattr(one, field), getattr(batch, field)[i], rtol=1e-5)
    np.testing.assert_array_equal(trained.predict(X[:5]), batch.mean)


def test_execute_handles_a_new_seq_len(trained, data):
    X, _ = data
    np.testing.assert_allclose(
        trained.execute(X[0, -3:]), trained.predict(X[:1, -3:])[0], rtol=1e-5, atol=1e-9
    )
    np.testing.assert_allclose(trained.execute(X[1]), trained.predict(X[1:2])[0], rtol=1e-5)


def test_intervals_widen_with_level_and_follow_calibration(trained, data):
    X, y = data
    lo80, hi80 = trained.predict_interval(X, 0.8)
    lo95, hi95 = trained.predict_interval(X, 0.95)
    assert np.all(lo95 <= lo80) and np.all(hi80 <= hi95)
    f = trained.forecast(X, 0.9)
    q = trained.calibration.quantile(0.9)
    np.testing.assert_allclose(f.upper - f.mean, q * f.sigma)
    val_y, val_f = y[255:], trained.forecast(X[255:], 0.9)
    inside = (val_f.lower[:, 0] <= val_y) & (val_y <= val_f.upper[:, 0])
    assert inside.mean() >= 0.9  # split conformal: >= level on its own calibration set


def test_untrained_model_gives_gaussian_intervals(data):
    X, y = data
    m = Model(hidden_dim=4)
    f = m.forecast(X[:3], 0.9)
    np.testing.assert_allclose((f.upper - f.mean) / f.sigma, 1.6448536, rtol=1e-6)
    assert not m.is_trained
    m.calibrate(X[:50], y[:50])  # calibrated, still not trained
    assert not m.is_trained


def test_calibrate_and_update_calibration(data):
    X, y = data
    m = Model(hidden_dim=4, num_layers=1)
    m.train(X, y, TrainConfig(epochs=1, seed=0))
    m.calibrate(X[:100], y[:100])
    assert m.calibration.size == 100
    m.update_calibration(X[100:130], y[100:130], window=50)
    assert m.calibration.size == 50
    f = m.forecast(X[100:130])
    expected = np.abs(y[100:130] - f.mean[:, 0]) / f.sigma[:, 0]
    np.testing.assert_allclose(m.calibration.scores[-30:, 0], expected)


def test_several_horizons_with_explicit_validation():
    X, y = make_data(n=200, horizons=3)
    m = Model(hidden_dim=8, horizons=(1, 5, 20))
    m.train(X[:150], y[:150], TrainConfig(epochs=2, seed=0), X_val=X[150:], y_val=y[150:])
    f = m.forecast(X[:7])
    assert f.mean.shape == f.lower.shape == (7, 3)
    assert m.execute(X[0]).shape == (3,)
    assert m.training_summary["n_val"] == 50


def test_attention_weights_from_the_model(data):
    X, y = data
    m = Model(attention=True, hidden_dim=8, num_heads=2)
    m.train(X, y, TrainConfig(epochs=1, seed=0))
    w = m.attention_weights(X[:4])
    assert w.shape == (4, 8)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="no attention"):
        Model().attention_weights(X[:4])
