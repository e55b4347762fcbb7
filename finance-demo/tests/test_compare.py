import importlib
import json
import subprocess
import sys

import numpy as np
import pytest
from data_fetcher import load_sample
from finance_demo import SettingsError, backtest, check_kinds, compare_models, load_settings
from finance_demo.stats import diebold_mariano

from model import MissingExtraError, metrics

KINDS = ("lstm", "seq2seq", "gbdt", "rf", "ensemble")
SMALL = {
    "buffer": {"buffer_size": 20, "step_size": 1},
    "features": {"window_size": 4, "groups": ["trend_fft"]},
    "model": {"seq_len": 6, "hidden_dim": 8, "num_layers": 1},
    "training": {"epochs": 2, "batch_size": 128, "val_fraction": 0.2},
}


@pytest.fixture(scope="module")
def sample():
    """The last 700 days of the shipped S&P 500 sample."""
    return load_sample("^GSPC").iloc[-700:]


@pytest.fixture(scope="module")
def settings():
    return load_settings(SMALL)


@pytest.fixture(scope="module")
def comparison(sample, settings):
    return compare_models(sample, settings, KINDS, folds=2, symbol="^GSPC", interval="1d")


@pytest.fixture(scope="module")
def plain(sample, settings):
    return backtest(sample, settings, folds=2, symbol="^GSPC", interval="1d")


def test_every_kind_is_scored_on_the_backtests_targets(comparison, plain):
    p, q = comparison.predictions, plain.predictions
    np.testing.assert_array_equal(p["y"], q["y"])
    np.testing.assert_array_equal(p["tick"], q["tick"])
    for name in ("ridge", "drift", "ewma_lower", "ewma_upper", "constant_upper"):
        np.testing.assert_array_equal(p[name], q[name])
    # the LSTM trains with the same seed on the same candles: the same forecasts
    np.testing.assert_array_equal(p["lstm"], q["lstm"])
    for kind in KINDS:
        assert p[kind].shape == p["y"].shape and np.isfinite(p[kind]).all()
        assert (p[f"{kind}_lower"] <= p[kind]).all() and (p[kind] <= p[f"{kind}_upper"]).all()
    m, b = comparison.metrics["h1"], plain.metrics["h1"]
    assert m["samples"] == b["samples"] == len(p["y"])
    assert m["points"]["persistence"] == b["points"]["persistence"]
    assert m["points"]["lstm"]["mae"] == b["points"]["lstm"]["mae"]
    # kinds differ: the comparison is not one model under five names
    assert len({round(m["points"][k]["mae"], 12) for k in KINDS}) == len(KINDS)


def test_the_scores_and_tests_recompute_from_the_columns(comparison):
    p, m, lvl = comparison.predictions, comparison.metrics["h1"], comparison.level
    y = p["y"][:, 0]
    for kind in KINDS:
        pred = p[kind][:, 0]
        point, band = m["points"][kind], m["intervals"][kind]
        assert point["mae"] == pytest.approx(np.mean(np.abs(y - pred)), rel=1e-12)
        assert point["direction_accuracy"] == pytest.approx(np.mean((pred > 0) == (y > 0)))
        dm = diebold_mariano(y - pred, y, 1).to_dict()
        assert point["diebold_mariano"] == pytest.approx(dm)
        assert 0 <= dm["pvalue"] <= 1
        lo, hi = p[f"{kind}_lower"][:, 0], p[f"{kind}_upper"][:, 0]
        assert band["coverage"] == pytest.approx(np.mean((lo <= y) & (y <= hi)))
        losses = metrics.winkler_losses(y, lo, hi, lvl)
        for ref in ("ewma", "garch"):
            ref_losses = metrics.winkler_losses(
                y, p[f"{ref}_lower"][:, 0], p[f"{ref}_upper"][:, 0], lvl
            )
            test = diebold_mariano(losses, ref_losses, 1).to_dict()
            assert band[f"dm_{ref}_winkler"] == pytest.approx(test)
            expected = test["statistic"] < 0 and test["pvalue"] < 0.05
            assert comparison.beats(kind, ref) == expected


def test_report_is_json_with_per_kind_folds(comparison):
    body = json.loads(json.dumps(comparison.to_dict(), allow_nan=False))
    assert body["kinds"] == list(KINDS) and body["interrupted"] is False
    assert body["folds_planned"] == 2 and len(body["folds"]) == 2
    for fold in body["folds"]:
        assert set(fold["models"]) == set(KINDS)
        weights = fold["models"]["ensemble"]["weights"]
        assert len(weights) == 2 and sum(weights) == pytest.approx(1.0)
    assert body["winners"] == comparison.winners()
    assert len(body["predictions"]["time"]) == len(body["predictions"]["y"])


def test_ctrl_c_after_a_fold_gives_the_finished_folds(sample, settings):
    def interrupt(done, total, info):
        if done == 1:
            raise KeyboardInterrupt

    rep = compare_models(sample, settings, ("gbdt", "rf"), folds=3, progress=interrupt)
    assert rep.interrupted is True and rep.folds_planned == 3 and len(rep.folds) == 1
    assert rep.metrics["h1"]["samples"] == rep.folds[0]["test_samples"]


def test_ctrl_c_before_any_fold_propagates(sample, settings, monkeypatch):
    bt = importlib.import_module("finance_demo.backtest")  # the module (the name: the function)

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bt, "train_model", stop)
    with pytest.raises(KeyboardInterrupt):
        compare_models(sample, settings, ("gbdt",), folds=2)


def test_check_kinds_errors(args, expected):
    with pytest.raises(SettingsError) as err:
        check_kinds(args["kinds"])
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_check_kinds(args, expected):
    assert check_kinds(args["kinds"]) == tuple(expected)


def test_bad_kinds_fail_before_any_training(sample, settings, monkeypatch):
    bt = importlib.import_module("finance_demo.backtest")

    monkeypatch.setattr(bt, "make_plan", lambda *a, **k: pytest.fail("planned"))
    with pytest.raises(SettingsError, match="unknown model kind 'gbm'"):
        compare_models(sample, settings, ("lstm", "gbm"))


def test_a_missing_lightgbm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # import lightgbm -> ImportError
    with pytest.raises(MissingExtraError) as err:
        check_kinds("lstm,gbdt,ensemble")
    message = str(err.value)
    assert message == (
        "model kinds gbdt, ensemble need LightGBM, which is not installed: "
        "pip install 'model[trees]'"
    )
    assert check_kinds("lstm,seq2seq") == ("lstm", "seq2seq")  # no tree: no LightGBM needed


def test_exports_named_like_their_submodule_stay_the_export():
    """``import finance_demo.backtest`` must not turn ``finance_demo.backtest`` into the module."""
    code = """
import importlib, pkgutil, sys, types
import finance_demo
clashes = sorted(
    m.name for m in pkgutil.iter_modules(finance_demo.__path__)
    if finance_demo._EXPORTS.get(m.name) == f"finance_demo.{m.name}"
)
assert "backtest" in clashes, clashes
for name in clashes:
    for order in ("module first", "name first"):
        for key in [k for k in sys.modules if k.startswith("finance_demo.")]:
            del sys.modules[key]
        finance_demo.__dict__.pop(name, None)
        if order == "module first":
            importlib.import_module(f"finance_demo.{name}")
            exec(f"import finance_demo.{name}")
        value = getattr(finance_demo, name)
        exec(f"from finance_demo import {name} as imported")
        module = sys.modules[f"finance_demo.{name}"]
        assert not isinstance(value, types.ModuleType), (name, order)
        assert value is getattr(module, name) is imported, (name, order)
        importlib.import_module(f"finance_demo.{name}")
        assert getattr(finance_demo, name) is getattr(module, name), (name, order)
import finance_demo.backtest
from finance_demo import backtest
assert callable(backtest) and backtest.__name__ == "backtest"
print("ok", clashes)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def _report(tests):
    """A report whose only content is its DM tests: ``{kind: {(ref, h): (stat, p)}}``."""
    from finance_demo import ComparisonReport

    metrics = {}
    for kind, cases in tests.items():
        for (ref, h), (stat, p) in cases.items():
            m = metrics.setdefault(f"h{h}", {"points": {}, "intervals": {}})
            test = {"statistic": stat, "pvalue": p}
            if ref == "persistence":
                m["points"].setdefault(kind, {})["diebold_mariano"] = test
            else:
                m["intervals"].setdefault(kind, {})[f"dm_{ref}_winkler"] = test
    return ComparisonReport(
        symbol="X", interval="1d", kinds=tuple(tests), level=0.9, horizons=(1, 5),
        step_size=1, settings={}, folds=[], predictions={}, metrics=metrics, versions={},
        seconds=0.0,
    )  # fmt: skip


def test_winners_beat_both_references_on_every_horizon():
    good = {("persistence", 1): (-2.5, 0.01), ("ewma", 1): (-3.0, 0.003)}
    good |= {("persistence", 5): (-2.1, 0.04), ("ewma", 5): (-2.2, 0.03)}
    one_horizon = {**good, ("ewma", 5): (-1.2, 0.2)}  # not significant at h5
    worse = {**good, ("persistence", 1): (2.5, 0.01)}  # significant, but the wrong way
    missing = {**good, ("ewma", 1): (None, None)}
    rep = _report({"a": good, "b": one_horizon, "c": worse, "d": missing})
    assert rep.winners() == ["a"]
    assert rep.beats("b", "persistence") and not rep.beats("b", "ewma")
    assert not rep.beats("c", "persistence") and rep.beats("c", "ewma")
    assert not rep.beats("d", "ewma")
    assert rep.to_dict()["winners"] == ["a"]
