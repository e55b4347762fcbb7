"""EnsembleForecaster: a weighted blend of forecasters of any kinds, in one file."""

import json

import numpy as np
import pytest

from model import (
    EnsembleConfig,
    EnsembleForecaster,
    Forecaster,
    Model,
    ModelConfig,
    ModelFileError,
    TrainConfig,
    TreeConfig,
    TreeForecaster,
    load_forecaster,
)

from .conftest import make_data
from .forecaster_files import assert_live_parity, assert_same_forecasts, parts, rewrite

CFG = ModelConfig(seq_len=8, hidden_dim=8, num_layers=1, horizons=(1, 2))
TREE = TreeConfig(n_estimators=40, num_leaves=8, min_child_samples=10)
TRAIN = TrainConfig(epochs=4, batch_size=64, seed=2)


def _members():
    return [Model(CFG), TreeForecaster(CFG, TREE), TreeForecaster(CFG, TREE, kind="rf")]


@pytest.fixture(scope="module")
def xy():
    return make_data(n=700, horizons=2, seed=5)


@pytest.fixture(scope="module")
def fixed(xy):
    X, y = xy
    e = EnsembleForecaster(_members(), EnsembleConfig(weights=(1, 2, 1)))
    e.fit(X[:500], y[:500], TRAIN)
    return e


def test_blend_is_the_weighted_mean_of_the_members(fixed, xy):
    X, y = xy
    assert isinstance(fixed, Forecaster) and fixed.kind == "ensemble"
    np.testing.assert_allclose(fixed.weights, [0.25, 0.5, 0.25])
    f = fixed.forecast(X[500:], 0.9)
    parts_ = [m.forecast(X[500:]) for m in fixed.members]
    np.testing.assert_allclose(
        f.mean, sum(w * p.mean for w, p in zip(fixed.weights, parts_, strict=True))
    )
    np.testing.assert_allclose(
        f.sigma, sum(w * p.sigma for w, p in zip(fixed.weights, parts_, strict=True))
    )
    coverage = ((y[500:] >= f.lower) & (y[500:] <= f.upper)).mean(axis=0)
    assert np.all((coverage > 0.8) & (coverage < 0.98)), coverage
    # the blend has its own calibration: scores of the blend on the 75 validation samples
    assert fixed.calibration.size == 75
    assert [r["kind"] for r in fixed.history] == ["lstm", "gbdt", "rf"]
    assert all(m.training_summary["n_train"] == 425 for m in fixed.members)


def test_adaptive_weights_follow_inverse_mae(xy):
    X, y = xy
    good = TreeForecaster(CFG, TREE)
    good.fit(X[:500], y[:500])
    bad = Model(CFG)  # untrained: its forecasts are far off
    e = EnsembleForecaster([good, bad], EnsembleConfig(weighting="adaptive", window=30))
    np.testing.assert_array_equal(e.weights, [0.5, 0.5])  # no outcome yet: fixed weights
    e.update(X[500:520], y[500:520])
    mae = [np.abs(m.forecast(X[500:520]).mean - y[500:520]).mean() for m in (good, bad)]
    inverse = 1 / np.array(mae)
    np.testing.assert_allclose(e.weights, inverse / inverse.sum())
    assert e.weights[0] > 0.8
    for i in range(520, 540):  # the live loop: one outcome at a time, rolling window
        e.observe(X[i], y[i])
    assert e.errors.shape == (30, 2)
    rebuilt = EnsembleForecaster([good, bad], EnsembleConfig(weighting="adaptive", window=30))
    rebuilt.update(X[510:540], y[510:540])
    np.testing.assert_allclose(e.weights, rebuilt.weights)
    fixed = EnsembleForecaster([good, bad])
    fixed.update(X[500:520], y[500:520])
    np.testing.assert_array_equal(fixed.weights, [0.5, 0.5])


def test_adaptive_fit_starts_from_validation_errors(xy):
    X, y = xy
    e = EnsembleForecaster(_members()[1:], EnsembleConfig(weighting="adaptive", window=50))
    e.fit(X[:500], y[:500])
    assert e.errors.shape == (50, 2) and abs(e.weights.sum() - 1) < 1e-12
    assert e.training_summary["weights"] == e.weights.tolist()


def test_save_load_identical(fixed, xy, tmp_path):
    X, _ = xy
    fixed.metadata = {"symbol": "E"}
    path = fixed.save(tmp_path / "e.pt")
    header, _ = parts(path)
    members = json.loads(header["__metadata__"]["kind_config"])["members"]
    assert [m["kind"] for m in members] == ["lstm", "gbdt", "rf"]
    assert "m0.net.head.weight" in header and "m1.tree.mean.0" in header
    loaded = load_forecaster(path)
    assert type(loaded) is EnsembleForecaster and loaded.metadata == {"symbol": "E"}
    assert [type(m) for m in loaded.members] == [Model, TreeForecaster, TreeForecaster]
    assert loaded.members[2].kind == "rf"
    assert_same_forecasts(loaded, fixed, X)
    for a, b in zip(loaded.members, fixed.members, strict=True):
        assert_same_forecasts(a, b, X[:50])
        assert a.history == b.history
    assert_live_parity(loaded, X[500:])
    assert EnsembleForecaster.load(path).ensemble_config == fixed.ensemble_config


def test_adaptive_state_is_saved(xy, tmp_path):
    X, y = xy
    good = TreeForecaster(CFG, TREE)
    good.fit(X[:500], y[:500])
    e = EnsembleForecaster([good, Model(CFG)], EnsembleConfig(weighting="adaptive", window=30))
    e.update(X[500:520], y[500:520])
    loaded = load_forecaster(e.save(tmp_path / "a.pt"))
    np.testing.assert_array_equal(loaded.errors, e.errors)
    np.testing.assert_array_equal(loaded.weights, e.weights)
    assert_same_forecasts(loaded, e, X)


def test_bad_members():
    with pytest.raises(ValueError, match="1 to 64 members"):
        EnsembleForecaster([])
    with pytest.raises(ValueError, match="horizons"):
        EnsembleForecaster([Model(CFG), Model(horizons=(1,))])
    with pytest.raises(ValueError, match="3 values for 2 members"):
        EnsembleForecaster([Model(CFG), Model(CFG)], EnsembleConfig(weights=(1, 1, 1)))
    with pytest.raises(ValueError, match="no ensembles"):
        EnsembleForecaster([EnsembleForecaster([Model(CFG)])])


# -- crafted files ----------------------------------------------------------------------


@pytest.fixture
def saved(fixed, tmp_path):
    return fixed.save(tmp_path / "e.pt")


def _refused(path, match):
    with pytest.raises(ModelFileError, match=match) as e:
        load_forecaster(path)
    assert "\n" not in str(e.value) and len(str(e.value)) < 400


def _members_edit(change):
    def edit(kc):
        change(kc["members"])

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        ({"kind_config": _members_edit(lambda ms: ms.pop())}, "3 weights for 2 members"),
        (
            {
                "kind_config": lambda kc: (
                    kc["members"].pop(),
                    kc["ensemble"].update(weights=None),
                )
            },
            "tensors .*m2.* belong to no member .the header lists 2",
        ),
        (
            {"kind_config": _members_edit(lambda ms: ms.append(dict(ms[0])))},
            "member 3 has no tensors|3 weights for 4 members",
        ),
        (
            {"kind_config": lambda kc: kc["ensemble"].update(weights=[1, 1])},
            "2 weights for 3 members",
        ),
        ({"tensors": {"ensemble.errors": np.zeros((3, 2))}}, "shape mismatch"),
        (
            {"kind_config": _members_edit(lambda ms: ms[1].update(kind="xgb"))},
            "unknown forecaster kind",
        ),
        (
            {"kind_config": _members_edit(lambda ms: ms[1].update(kind="ensemble"))},
            "itself an ensemble",
        ),
        ({"kind_config": _members_edit(lambda ms: ms[0].update(extra=1))}, "must be a mapping of"),
        (
            {"kind_config": _members_edit(lambda ms: ms[2]["config"].update(seq_len=7))},
            "n_features",
        ),
        ({"kind_config": lambda kc: kc.update(members="x")}, "members must be a list"),
        ({"kind_config": lambda kc: kc.update(colour=1)}, "unknown key"),
        ({"tensors": {"m0.net.head.weight": np.full((4, 8), np.nan, np.float32)}}, "NaN or inf"),
        ({"tensors": {"m1.sigma_floor": None}}, "missing"),
        ({"tensors": {"m9.x": np.zeros(1)}}, "belong to no member"),
        ({"meta": {"config": {"seq_len": 9, "horizons": [1, 2]}}}, "does not match the members"),
    ],
)
def test_crafted_files_are_refused(saved, edit, match):
    _refused(rewrite(saved, **edit), match)
