"""Seq2SeqForecaster: attentive encoder-decoder LSTM, teacher forcing, files."""

import numpy as np
import pytest
import torch
from model.seq2seq import Seq2SeqNetwork

from model import (
    Forecaster,
    ModelConfig,
    ModelFileError,
    Seq2SeqConfig,
    Seq2SeqForecaster,
    TrainConfig,
    load_forecaster,
    metrics,
)

from .conftest import make_data
from .forecaster_files import assert_live_parity, assert_same_forecasts, rewrite

CFG = ModelConfig(seq_len=8, hidden_dim=16, num_layers=1, horizons=(1, 3))
TRAIN = TrainConfig(epochs=10, batch_size=48, seed=1, patience=20)


@pytest.fixture(scope="module")
def xy():
    return make_data(n=800, horizons=2, seed=6)


@pytest.fixture(scope="module")
def fitted(xy):
    X, y = xy
    m = Seq2SeqForecaster(CFG)
    m.fit(X[:600], y[:600], TRAIN)
    return m


def test_it_learns_and_covers(fitted, xy):
    X, y = xy
    assert isinstance(fitted, Forecaster) and fitted.kind == "seq2seq"
    f = fitted.forecast(X[600:], 0.9)
    assert f.mean.shape == (200, 2)
    for h in range(2):
        assert metrics.skill(y[600:, h], f.mean[:, h]) > 0.2
    coverage = ((y[600:] >= f.lower) & (y[600:] <= f.upper)).mean(axis=0)
    assert np.all((coverage > 0.8) & (coverage < 0.98)), coverage
    losses = [r["val_loss"] for r in fitted.history]
    assert min(losses) < losses[0] - 0.15


def test_teacher_forcing_decays_linearly(fitted):
    ratios = [r["teacher_forcing"] for r in fitted.history]
    np.testing.assert_allclose(ratios, np.linspace(1.0, 0.0, 10))
    s = Seq2SeqConfig(teacher_forcing_start=0.8, teacher_forcing_end=0.2)
    assert s.teacher_forcing(1, 4) == pytest.approx(0.8)
    assert s.teacher_forcing(4, 4) == pytest.approx(0.2)
    assert s.teacher_forcing(1, 1) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="teacher_forcing_end must be in"):
        Seq2SeqConfig(teacher_forcing_end=1.5)


@pytest.mark.parametrize("attention", ["additive", "dot"])
def test_decoder_feeds_targets_or_its_own_means(attention):
    torch.manual_seed(0)
    net = Seq2SeqNetwork(
        ModelConfig(hidden_dim=8, horizons=(1, 2, 3)), Seq2SeqConfig(attention=attention)
    )
    x, targets = torch.randn(5, 10, 6), torch.randn(5, 3) * 10
    free = net(x)
    forced = net(x, targets, teacher_forcing=1.0)
    never = net(x, targets, teacher_forcing=0.0)
    torch.testing.assert_close(free[0][:, 0], forced[0][:, 0])  # step 0 sees no target
    assert not torch.allclose(free[0][:, 1:], forced[0][:, 1:])
    torch.testing.assert_close(free[0], never[0])  # autoregressive = ratio 0


def test_gradient_clipping_uses_grad_clip(xy, monkeypatch):
    X, y = xy
    seen = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *args, **kwargs):
        seen.append(max_norm)
        return real(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    Seq2SeqForecaster(CFG).fit(
        X[:200], y[:200], TrainConfig(epochs=1, batch_size=50, grad_clip=0.25)
    )
    assert seen and set(seen) == {0.25}


def test_seeded_and_deterministic(xy):
    X, y = xy
    runs = []
    for seed in (3, 3, 4):
        m = Seq2SeqForecaster(CFG, Seq2SeqConfig(teacher_forcing_end=0.5))
        m.fit(X[:300], y[:300], TrainConfig(epochs=2, batch_size=32, seed=seed))
        runs.append(m.predict(X[300:]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


@pytest.mark.parametrize(
    "config, seq2seq",
    [
        (dict(bidirectional=True, num_layers=2, dropout=0.1), Seq2SeqConfig()),
        (dict(horizons=(1,)), Seq2SeqConfig(attention="dot")),
    ],
)
def test_variants_train_save_and_load(xy, tmp_path, config, seq2seq):
    X, y = xy
    cfg = ModelConfig(
        **{**CFG.to_dict(), **config, "horizons": config.get("horizons", CFG.horizons)}
    )
    yy = y[:, : cfg.n_outputs]
    m = Seq2SeqForecaster(cfg, seq2seq)
    m.fit(X[:300], yy[:300], TrainConfig(epochs=2, batch_size=64))
    loaded = load_forecaster(m.save(tmp_path / "s.pt"))
    assert loaded.seq2seq_config == seq2seq and loaded.config == cfg
    assert_same_forecasts(loaded, m, X)
    assert_live_parity(loaded, X[300:])


def test_save_load_identical_and_live_parity(fitted, xy, tmp_path):
    X, y = xy
    fitted.metadata = {"symbol": "S"}
    path = fitted.save(tmp_path / "s.pt")
    for loaded in (load_forecaster(path), Seq2SeqForecaster.load(path)):
        assert type(loaded) is Seq2SeqForecaster and loaded.metadata == {"symbol": "S"}
        assert_same_forecasts(loaded, fitted, X)
        assert loaded.history == fitted.history
    assert_live_parity(fitted, X[600:])
    m = load_forecaster(path)
    m.update_calibration(X[600:700], y[600:700], window=50)
    assert m.calibration.size == 50


# -- crafted files ----------------------------------------------------------------------


@pytest.fixture
def saved(fitted, tmp_path):
    return fitted.save(tmp_path / "s.pt")


@pytest.mark.parametrize(
    "edit, match",
    [
        ({"tensors": {"net.head.weight": np.full((2, 32), np.nan, np.float32)}}, "NaN or inf"),
        ({"tensors": {"net.head.bias": np.array([np.inf, 0], np.float32)}}, "NaN or inf"),
        ({"tensors": {"net.head.weight": np.zeros((2, 32), np.float64)}}, "dtype 'F64'.*needs F32"),
        ({"tensors": {"net.head.weight": np.zeros((3, 32), np.float32)}}, "shape mismatch"),
        ({"tensors": {"net.norm.weight": None}}, "missing"),
        ({"tensors": {"y_std": np.zeros(2)}}, "y_std must be > 0"),
        ({"kind_config": lambda kc: kc["seq2seq"].update(attention="cosine")}, "bad seq2seq"),
        ({"kind_config": lambda kc: kc.pop("seq2seq")}, "lacks 'seq2seq'"),
        ({"kind_config": lambda kc: kc.update(extra=1)}, "unknown key"),
        ({"meta": {"config": {**CFG.to_dict(), "hidden_dim": 2000}}}, "shape mismatch"),
        ({"meta": {"kind": "seq3seq"}}, "unknown forecaster kind"),
    ],
)
def test_crafted_files_are_refused(saved, edit, match):
    with pytest.raises(ModelFileError, match=match) as e:
        load_forecaster(rewrite(saved, **edit))
    assert "\n" not in str(e.value) and len(str(e.value)) < 400
