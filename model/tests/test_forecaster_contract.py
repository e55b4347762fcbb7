"""The Forecaster contract, checked for every kind alike.

Each kind trains (tiny sizes, seconds), is a ``Forecaster``, saves, loads through
``load_forecaster`` with identical forecasts (``assert_array_equal``), serves one sequence
exactly as row ``i`` of the batch (1e-6), updates its calibration, and a file of it whose
kind is unknown, or whose tensors are mistyped or NaN, is refused in one line.
"""

import numpy as np
import pytest
from model.fileformat import KINDS

from model import (
    FORECASTERS,
    EnsembleConfig,
    EnsembleForecaster,
    Forecaster,
    Model,
    ModelConfig,
    ModelFileError,
    Seq2SeqForecaster,
    TrainConfig,
    TreeConfig,
    TreeForecaster,
    load_forecaster,
)

from .conftest import make_data
from .forecaster_files import assert_live_parity, assert_same_forecasts, parts, rewrite

CFG = ModelConfig(seq_len=8, hidden_dim=8, num_layers=1, horizons=(1, 2))
TREE = TreeConfig(n_estimators=30, num_leaves=8, min_child_samples=10)
TRAIN = TrainConfig(epochs=3, batch_size=64, seed=0)

BUILD = {
    "lstm": lambda: Model(CFG),
    "seq2seq": lambda: Seq2SeqForecaster(CFG),
    "gbdt": lambda: TreeForecaster(CFG, TREE),
    "rf": lambda: TreeForecaster(CFG, TREE, kind="rf"),
    "ensemble": lambda: EnsembleForecaster(
        [Model(CFG), TreeForecaster(CFG, TREE)], EnsembleConfig(weighting="adaptive")
    ),
}


def test_every_kind_is_registered():
    assert set(FORECASTERS) == set(KINDS) == set(BUILD)


@pytest.fixture(scope="module")
def xy():
    return make_data(n=500, horizons=2, seed=8)


@pytest.fixture(scope="module", params=sorted(BUILD))
def fitted(request, xy):
    X, y = xy
    m = BUILD[request.param]()
    history = m.fit(X[:400], y[:400], TRAIN)
    assert history and m.history == history
    return m


def test_it_is_a_trained_forecaster(fitted, xy):
    X, y = xy
    assert isinstance(fitted, Forecaster) and FORECASTERS[fitted.kind] is type(fitted)
    assert fitted.horizons == (1, 2) and fitted.training_summary["n_train"] == 340
    f = fitted.forecast(X[400:], 0.9)
    assert all(a.shape == (100, 2) for a in (f.mean, f.sigma, f.lower, f.upper))
    assert np.all(f.sigma > 0) and np.all(f.lower < f.upper)
    # better than an untrained forecaster of the same kind on held-out data
    untrained_error = np.abs(y[400:]).mean()  # the zero forecast
    assert np.abs(f.mean - y[400:]).mean() < untrained_error


def test_save_load_identical(fitted, xy, tmp_path):
    X, _ = xy
    fitted.metadata = {"kind": fitted.kind}
    path = fitted.save(tmp_path / "f.pt")
    assert parts(path)[0]["__metadata__"]["kind"] == fitted.kind
    loaded = load_forecaster(path)
    assert type(loaded) is type(fitted) and loaded.kind == fitted.kind
    assert loaded.metadata == {"kind": fitted.kind} and loaded.config == fitted.config
    assert_same_forecasts(loaded, fitted, X)
    assert_same_forecasts(loaded, fitted, X, level=0.5)
    assert type(fitted).load(path).kind == fitted.kind


def test_forecast_one_is_row_i_of_forecast(fitted, xy):
    X, _ = xy
    assert_live_parity(fitted, X[400:])
    assert_live_parity(fitted, X[400:].astype(np.float64), level=0.8)


def test_update_calibration(fitted, xy, tmp_path):
    X, y = xy
    m = load_forecaster(fitted.save(tmp_path / "c.pt"))  # a copy: fitted is shared
    before = m.forecast(X[400:])
    m.update_calibration(X[400:], 10 * y[400:], window=100)  # far larger errors than seen
    after = m.forecast(X[400:])
    assert m.calibration.size == 100
    assert np.all(after.upper - after.mean > before.upper - before.mean)


#: A float tensor of each kind's file, and its dtype.
FLOAT_TENSOR = {
    "lstm": ("net.head.bias", np.float32),
    "seq2seq": ("net.head.bias", np.float32),
    "gbdt": ("sigma_floor", np.float64),
    "rf": ("sigma_floor", np.float64),
    "ensemble": ("m0.net.head.bias", np.float32),
}


def _refused(path, match):
    with pytest.raises(ModelFileError, match=match) as e:
        load_forecaster(path)
    assert "\n" not in str(e.value) and len(str(e.value)) < 400


def test_crafted_files_are_refused(fitted, tmp_path):
    name, dtype = FLOAT_TENSOR[fitted.kind]
    shape = parts(fitted.save(tmp_path / "f.pt"))[0][name]["shape"]
    cases = [
        ({"meta": {"kind": "prophet"}}, "unknown forecaster kind"),
        ({"tensors": {name: np.full(shape, np.nan, dtype)}}, "NaN or inf"),
        ({"tensors": {name: np.zeros(shape, np.float16)}}, "dtype 'F16'"),
        ({"tensors": {name: np.zeros(shape, np.uint8)}}, "dtype 'U8'"),
        ({"tensors": {name: None}}, "missing"),
        ({"tensors": {"zz": np.zeros(2)}}, "unexpected|belong to no member"),
    ]
    for i, (edit, match) in enumerate(cases):
        _refused(rewrite(fitted.save(tmp_path / f"{i}.pt"), **edit), match)
