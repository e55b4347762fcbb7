"""Tree forecasters (LightGBM gbdt and random forest): training, intervals, files."""

import re
import sys

import lightgbm
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import (
    Forecaster,
    MissingExtraError,
    ModelConfig,
    ModelFileError,
    TrainConfig,
    TreeConfig,
    TreeForecaster,
    load_forecaster,
    metrics,
)

from .conftest import make_data
from .forecaster_files import assert_live_parity, assert_same_forecasts, parts, rewrite

CONFIG = ModelConfig(seq_len=8, horizons=(1, 3))
TREE = TreeConfig(n_estimators=60, num_leaves=8, min_child_samples=10, seed=3)


@pytest.fixture(scope="module")
def xy():
    return make_data(n=700, horizons=2, seed=4)


@pytest.fixture(scope="module", params=["gbdt", "rf"])
def fitted(request, xy):
    X, y = xy
    m = TreeForecaster(CONFIG, TREE, kind=request.param)
    m.fit(X[:500], y[:500], TrainConfig(num_threads=1))
    return m


def test_it_learns_the_signal_and_covers(fitted, xy):
    X, y = xy
    f = fitted.forecast(X[500:], 0.9)
    assert isinstance(fitted, Forecaster) and f.mean.shape == (200, 2)
    # the target is 0.01 * X[:, -1, 0] (times the horizon) plus noise: real skill
    assert metrics.skill(y[500:, 0], f.mean[:, 0]) > 0.1
    assert np.abs(y[500:] - f.mean).mean() < 0.8 * np.abs(y[500:]).mean()
    coverage = ((y[500:] >= f.lower) & (y[500:] <= f.upper)).mean(axis=0)
    assert np.all((coverage > 0.8) & (coverage < 0.97)), coverage
    assert np.all(f.sigma > 0) and np.all(f.lower < f.mean) and np.all(f.mean < f.upper)
    # the scale booster tracks the heteroscedastic noise (it grows with |X[:, -1, 1]|)
    loud = np.abs(X[500:, -1, 1]) > 1.0
    assert f.sigma[loud, 0].mean() > f.sigma[~loud, 0].mean()


def test_records_and_summary(fitted):
    assert [(r["horizon"], r["booster"]) for r in fitted.history] == [
        (1, "mean"),
        (1, "scale"),
        (3, "mean"),
        (3, "scale"),
    ]
    for r in fitted.history:
        assert 1 <= r["best_round"] <= r["rounds"] <= TREE.n_estimators
    s = fitted.training_summary
    assert s["n_train"] == 425 and s["n_val"] == 75 and s["tree"] == TREE.to_dict()


def test_early_stopping_on_validation(xy):
    X, _ = xy
    noise = np.random.default_rng(0).normal(size=(len(X), 2)) * 0.01
    m = TreeForecaster(CONFIG, TreeConfig(n_estimators=500, early_stopping_rounds=5))
    seen = []
    m.fit(
        X[:300],
        noise[:300],
        X_val=X[300:400],
        y_val=noise[300:400],
        progress=lambda i, n, r: seen.append((i, n)),
    )
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert all(r["rounds"] < 500 and r["rounds"] == r["best_round"] + 5 for r in m.history)


def test_deterministic_and_seeded(xy):
    X, y = xy
    runs = []
    for seed in (3, 3, 4):
        m = TreeForecaster(CONFIG, TreeConfig(n_estimators=30, seed=seed), kind="rf")
        m.fit(X[:400], y[:400], TrainConfig(num_threads=1))
        runs.append(m.forecast(X[400:]))
    np.testing.assert_array_equal(runs[0].mean, runs[1].mean)
    np.testing.assert_array_equal(runs[0].upper, runs[1].upper)
    assert not np.array_equal(runs[0].mean, runs[2].mean)


def test_gbdt_and_rf_differ(xy):
    X, y = xy
    a = TreeForecaster(CONFIG, TREE, kind="gbdt")
    b = TreeForecaster(CONFIG, TREE, kind="rf")
    a.fit(X[:400], y[:400])
    b.fit(X[:400], y[:400])
    assert not np.allclose(a.predict(X[400:]), b.predict(X[400:]))


def test_live_parity_and_longer_sequences(fitted, xy):
    X, _ = xy
    assert_live_parity(fitted, X[500:])
    longer = np.concatenate([np.zeros((len(X), 4, 6)), X], axis=1)  # the last 8 are used
    np.testing.assert_array_equal(fitted.predict(longer), fitted.predict(X))
    np.testing.assert_array_equal(fitted.execute(X[7]), fitted.predict(X[7:8])[0])
    with pytest.raises(ValueError, match="at least seq_len=8"):
        fitted.predict(X[:, :5])


def test_update_calibration(fitted, xy, tmp_path):
    X, y = xy
    m = TreeForecaster.load(fitted.save(tmp_path / "c.pt"))  # a copy: fitted is shared
    before = m.calibration.size
    m.update_calibration(X[500:600], y[500:600], window=80)
    assert before == 75 and m.calibration.size == 80
    m.update_calibration(X[600:], y[600:], window=None)
    assert m.calibration.size == 180


def test_save_load_identical(fitted, xy, tmp_path):
    X, _ = xy
    fitted.metadata = {"symbol": "X", "n": [1, 2]}
    path = fitted.save(tmp_path / "t.pt")
    header, _ = parts(path)
    assert header["__metadata__"]["kind"] == fitted.kind
    assert header["tree.mean.0"]["dtype"] == "U8"
    for loaded in (load_forecaster(path), TreeForecaster.load(path)):
        assert type(loaded) is TreeForecaster and loaded.kind == fitted.kind
        assert loaded.tree_config == TREE and loaded.config == CONFIG
        assert_same_forecasts(loaded, fitted, X)
        assert loaded.metadata == fitted.metadata and loaded.history == fitted.history
        assert_live_parity(loaded, X[:50])


def test_bad_settings():
    with pytest.raises(ValueError, match="bagging_fraction < 1"):
        TreeForecaster(tree=TreeConfig(bagging_fraction=1.0), kind="rf")
    with pytest.raises(ValueError, match="kind must be"):
        TreeForecaster(kind="xgb")
    with pytest.raises(ValueError, match="not fitted"):
        TreeForecaster().forecast(np.zeros((1, 20, 6)))
    with pytest.raises(ValueError, match="cannot be saved"):
        TreeForecaster().to_bytes()


def test_missing_lightgbm_is_one_line(monkeypatch, xy):
    X, y = xy
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'model\[trees\]'") as e:
        TreeForecaster(CONFIG).fit(X, y)
    assert "\n" not in str(e.value) and isinstance(e.value, ImportError)


# -- crafted files: refused in one line, before LightGBM parses anything ----------------


@pytest.fixture
def saved(fitted, tmp_path):
    return fitted.save(tmp_path / "t.pt")


def _refused(path, match, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("LightGBM was asked to parse a refused file")

    monkeypatch.setattr(lightgbm, "Booster", never)
    with pytest.raises(ModelFileError, match=match) as e:
        load_forecaster(path)
    message = str(e.value)
    assert "\n" not in message and len(message) < 400
    return message


def _bump(which, h, delta):
    def edit(kc):
        kc["booster_bytes"][which][h] += delta

    return edit


def test_unknown_kind_file(saved, monkeypatch):
    _refused(rewrite(saved, meta={"kind": "xgboost"}), "unknown forecaster kind", monkeypatch)


def test_booster_size_above_the_stored_tensor(saved, monkeypatch):
    path = rewrite(saved, kind_config=_bump("scale", 1, 1000))
    _refused(
        path, r"tree.scale.1 claims \d+ bytes of text, the stored tensor has shape", monkeypatch
    )


def test_booster_size_over_the_cap(saved, monkeypatch):
    path = rewrite(saved, kind_config=_bump("mean", 0, 1 << 30))
    _refused(path, "bytes .1 to 268435456 allowed", monkeypatch)


def test_wrong_dtype(saved, monkeypatch):
    raw = rewrite(saved)  # unchanged copy
    import safetensors.numpy

    arrays = safetensors.numpy.load(raw.read_bytes())
    text = arrays["tree.mean.0"]
    as_float = text[: text.size // 4 * 4].view(np.float32).copy()
    as_float[~np.isfinite(as_float)] = 0
    path = rewrite(
        saved,
        kind_config=lambda kc: kc["booster_bytes"]["mean"].__setitem__(0, as_float.size),
        tensors={"tree.mean.0": as_float},
    )
    _refused(path, "dtype 'F32', its (gbdt|rf) header needs U8", monkeypatch)


@pytest.mark.parametrize(
    "tree, match",
    [
        ({"n_estimators": 100_000, "num_leaves": 65_536}, "bad tree .*n_estimators \\* num_leaves"),
        ({"num_leaves": 10**12}, "bad tree .*num_leaves must be at most 65536"),
        ({"n_estimators": 2}, "holds \\d+ trees, more than n_estimators=2"),
        ({"num_leaves": 2}, "claims \\d+ leaves \\(num_leaves=2\\)"),
        ({"colour": 1}, "bad tree .*colour"),
    ],
)
def test_header_claiming_huge_or_other_trees(saved, monkeypatch, tree, match):
    path = rewrite(saved, kind_config=lambda kc: kc["tree"].update(tree))
    _refused(path, match, monkeypatch)


def _edit_text(saved, change):
    import safetensors.numpy

    text = safetensors.numpy.load(saved.read_bytes())["tree.mean.0"].tobytes().decode()
    new = np.frombuffer(change(text).encode(), dtype=np.uint8).copy()
    return rewrite(
        saved,
        kind_config=lambda kc: kc["booster_bytes"]["mean"].__setitem__(0, int(new.size)),
        tensors={"tree.mean.0": new},
    )


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda t: t.replace("num_leaves=", "num_leaves=999999", 1), "claims 999999\\d* leaves"),
        (
            lambda t: t.replace("split_feature=", "split_feature=4000 ", 1),
            "split_feature entries|outside",
        ),
        (lambda t: t.replace("max_feature_idx=47", "max_feature_idx=99999"), "max_feature_idx"),
        (lambda t: "import os\n" + t, "not a LightGBM text model"),
        (lambda t: t.replace("leaf_value=", "leaf_value=x ", 1), "leaf_value entries"),
        (lambda t: re.sub(r"leaf_value=\S+", "leaf_value=x", t, count=1), "non-numeric leaf_value"),
        (lambda t: re.sub(r"threshold=\S+", "threshold=1e999", t, count=1), "non-finite threshold"),
        (lambda t: re.sub(r"decision_type=\d+", "decision_type=1", t, count=1), "decision_type"),
        (
            lambda t: re.sub(r"left_child=\S+", "left_child=0", t, count=1),
            "do not form a binary tree",
        ),
        (lambda t: t.replace("num_cat=0", "num_cat=1", 1), "categorical or linear"),
        (lambda t: t.replace("\nshrinkage=", "\nextra=1\nshrinkage=", 1), "fields LightGBM writes"),
        (lambda t: t.replace("Tree=1\n", "Tree=7\n", 1), "tree 1 is numbered '7'"),
        (lambda t: t.replace("feature_infos=[", "feature_infos=[x", 1), "feature_infos"),
        (lambda t: t.replace("objective=regression", "objective=lambdarank"), "objective"),
        (lambda t: t.replace("end of trees", "end"), "no 'end of trees'"),
    ],
)
def test_crafted_booster_text(saved, monkeypatch, change, match):
    _refused(_edit_text(saved, change), match, monkeypatch)


@pytest.mark.parametrize(
    "edit, match",
    [
        ({"kind_config": lambda kc: kc.update(n_features=7)}, "n_features"),
        ({"kind_config": lambda kc: kc.update(extra=1)}, "unknown key"),
        ({"tensors": {"sigma_floor": np.zeros(2)}}, "sigma_floor must be > 0"),
        ({"tensors": {"sigma_floor": np.full(2, np.nan)}}, "NaN or inf"),
        ({"tensors": {"tree.scale.1": None}}, "missing"),
        ({"kind_config": lambda kc: kc["booster_bytes"]["mean"].pop()}, "must list 2 sizes"),
        ({"kind_config": lambda kc: kc.update(booster_bytes=[1])}, "booster_bytes is malformed"),
        ({"meta": {"config": {"seq_len": 9, "horizons": [1, 3]}}}, "n_features"),
    ],
)
def test_other_crafted_fields(saved, monkeypatch, edit, match):
    _refused(rewrite(saved, **edit), match, monkeypatch)


_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(st.data())
def test_mutated_booster_texts_raise_only_model_file_errors(fitted, tmp_path, data):
    """LightGBM aborts the process on some malformed texts: none may reach it."""
    import safetensors.numpy

    path = fitted.save(tmp_path / "z.pt")
    text = bytearray(safetensors.numpy.load(path.read_bytes())["tree.scale.0"].tobytes())
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(text) - 1))
        text[i] = data.draw(st.sampled_from(b"0123456789-.=e \n[]:x"))
    new = np.frombuffer(bytes(text), dtype=np.uint8).copy()
    path = rewrite(
        path,
        kind_config=lambda kc: kc["booster_bytes"]["scale"].__setitem__(0, int(new.size)),
        tensors={"tree.scale.0": new},
    )
    try:
        load_forecaster(path)
    except ModelFileError as e:
        assert "\n" not in str(e) and len(str(e)) < 400


def test_file_without_max_bin_was_trained_with_255_bins(saved):
    assert load_forecaster(saved).tree_config.max_bin == TREE.max_bin == 63
    path = rewrite(saved, kind_config=lambda kc: kc["tree"].pop("max_bin"))  # in place
    assert load_forecaster(path).tree_config.max_bin == 255
