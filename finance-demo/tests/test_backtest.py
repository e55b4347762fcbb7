import json
import re

import numpy as np
import pytest
from finance_demo import (
    BacktestReport,
    InsufficientDataError,
    PipelineError,
    backtest,
    build_dataset,
    fold_bounds,
    split_dataset,
)

from model import Standardizer, metrics

PRED_COLUMNS = (
    "lstm",
    "lstm_lower",
    "lstm_upper",
    "ridge",
    "drift",
    "constant_lower",
    "constant_upper",
    "ewma_lower",
    "ewma_upper",
)


@pytest.fixture(scope="module")
def walk(make_candles):
    return make_candles(n=360, seed=11)


@pytest.fixture(scope="module")
def report(walk, tiny_settings):
    return backtest(walk, tiny_settings, folds=3, symbol="WALK", interval="1d")


def strip_timing(d):
    d = dict(d)
    d.pop("seconds")
    d["folds"] = [{k: v for k, v in f.items() if k != "seconds"} for f in d["folds"]]
    return d


def test_fold_bounds(args, expected):
    assert fold_bounds(**args) == [tuple(b) for b in expected]


def test_fold_bounds_errors(args, expected):
    with pytest.raises(PipelineError, match=re.escape(expected)):
        fold_bounds(**args)


def test_backtest_errors(args, expected, make_candles, tiny_settings):
    with pytest.raises(PipelineError, match=re.escape(expected)):
        backtest(make_candles(n=args["n"]), tiny_settings, **args["options"])


def test_report_shapes_and_folds(report, walk, tiny_settings):
    data = build_dataset(walk, tiny_settings.pipeline).labeled()
    bounds = fold_bounds(len(data), folds=3)
    p = report.predictions
    n = bounds[-1][1] - bounds[0][0]
    assert p["y"].shape == (n, 1) and all(p[c].shape == (n, 1) for c in PRED_COLUMNS)
    assert np.array_equal(p["tick"], data.ticks[bounds[0][0] :])
    assert np.array_equal(p["y"], data.y[bounds[0][0] :])  # exactly the same targets
    assert [f["test_samples"] for f in report.folds] == [b - a for a, b in bounds]
    assert np.all(p["lstm_lower"] <= p["lstm_upper"])
    assert np.all(p["ewma_lower"] < 0) and np.all(p["ewma_upper"] > 0)


def test_metrics_match_the_predictions(report):
    p, m = report.predictions, report.metrics["h1"]
    y = p["y"][:, 0]
    for name in ("lstm", "ridge", "drift"):
        assert m["points"][name]["mae"] == pytest.approx(metrics.mae(y, p[name][:, 0]))
        assert m["points"][name]["direction_accuracy"] == pytest.approx(
            metrics.direction_accuracy(y, p[name][:, 0])
        )
    assert m["points"]["persistence"]["mae"] == pytest.approx(np.mean(np.abs(y)))
    assert m["points"]["persistence"]["skill"] == 0.0
    assert m["always_up"]["direction_accuracy"] == pytest.approx(np.mean(y > 0))
    lstm_iv = m["intervals"]["lstm"]
    assert lstm_iv["coverage"] == pytest.approx(
        metrics.coverage(y, p["lstm_lower"][:, 0], p["lstm_upper"][:, 0])
    )
    assert lstm_iv["winkler"] == pytest.approx(
        metrics.winkler_score(y, p["lstm_lower"][:, 0], p["lstm_upper"][:, 0], report.level)
    )


def test_baselines_use_the_training_rows_of_their_fold(report, walk, tiny_settings):
    p = report.predictions
    for k, fold in enumerate(report.folds):
        rows = p["fold"] == k
        cut = int(p["tick"][rows][0])
        seen = build_dataset(walk.iloc[: cut + 1], tiny_settings.pipeline).labeled()
        assert seen.ticks[-1] + 1 <= cut  # every training target is known at the cut
        assert np.allclose(p["drift"][rows], seen.y.mean())
        assert np.allclose(p["constant_upper"][rows], np.quantile(seen.y, 0.95))
        assert fold["train_samples"] + fold["val_samples"] < len(seen)  # purged gap


def test_each_fold_scaler_saw_only_its_training_rows(report, walk, tiny_settings):
    """The feature scaler of fold k equals the statistics of fold k's fitting rows."""
    t = tiny_settings.training
    p = report.predictions
    for k, fold in enumerate(report.folds):
        rows = p["fold"] == k
        cut = int(p["tick"][rows][0])
        seen = build_dataset(walk.iloc[: cut + 1], tiny_settings.pipeline).labeled()
        fit, val, _ = split_dataset(seen, t.val_fraction, 0.0, 1)
        expected = Standardizer.fit(fit.X)
        assert fold["train_samples"] == len(fit) and fold["val_samples"] == len(val)
        assert np.array_equal(fold["x_mean"], expected.mean)
        assert np.array_equal(fold["x_std"], expected.std)
        # and it differs from statistics that include the fold's test rows
        full = build_dataset(walk, tiny_settings.pipeline).labeled()
        last_test = int(np.flatnonzero(full.ticks == p["tick"][rows][-1])[0])
        leaky = Standardizer.fit(full.X[: last_test + 1])
        assert not np.allclose(fold["x_mean"], leaky.mean)


def test_perturbing_the_future_leaves_every_earlier_prediction_unchanged(
    report, walk, tiny_settings
):
    """Change every candle after a cut (inside the last fold): predictions up to it stay."""
    p = report.predictions
    last_fold = p["fold"] == len(report.folds) - 1
    cut = int(p["tick"][last_fold][len(p["tick"][last_fold]) // 2])
    changed = walk.copy()
    rng = np.random.default_rng(99)
    factor = np.exp(np.cumsum(rng.normal(0, 0.05, len(walk) - cut - 1)))
    for col in ("Open", "High", "Low", "Close"):
        changed.iloc[cut + 1 :, changed.columns.get_loc(col)] *= factor
    other = backtest(changed, tiny_settings, folds=3, symbol="WALK", interval="1d")
    q = other.predictions
    assert np.array_equal(q["tick"], p["tick"])
    early = p["tick"] <= cut
    assert early.sum() > len(report.folds[0]) and (~early).sum() > 0
    for col in PRED_COLUMNS:
        assert np.array_equal(q[col][early], p[col][early]), col  # bit for bit
    assert not np.allclose(q["lstm"][~early], p["lstm"][~early])  # the test can fail


def test_same_seed_same_report_other_seed_other_numbers(report, walk, tiny_settings):
    import dataclasses

    again = backtest(walk, tiny_settings, folds=3, symbol="WALK", interval="1d")
    assert strip_timing(again.to_dict()) == strip_timing(report.to_dict())
    seeded = dataclasses.replace(
        tiny_settings, training=dataclasses.replace(tiny_settings.training, seed=1)
    )
    other = backtest(walk, seeded, folds=3, symbol="WALK", interval="1d")
    assert other.to_dict()["seed"] == 1
    assert not np.array_equal(other.predictions["lstm"], report.predictions["lstm"])
    assert np.array_equal(other.predictions["ridge"], report.predictions["ridge"])


def test_report_json_and_frame(report):
    d = report.to_dict()
    text = json.dumps(d, allow_nan=False)  # no NaN or inf leaks into the JSON
    assert d["symbol"] == "WALK" and d["seed"] == 0 and "torch" in d["versions"]
    assert len(d["predictions"]["time"]) == len(report.predictions["y"])
    assert {"cut_time", "x_mean", "ridge_alpha", "epochs_run"} <= set(d["folds"][0])
    assert "diebold_mariano" in text and "pesaran_timmermann" in text
    frame = report.to_frame()
    assert len(frame) == len(report.predictions["y"]) and set(frame["fold"]) == {1, 2, 3}


def test_retrain_every_and_progress(walk, tiny_settings):
    seen = []
    rep = backtest(
        walk,
        tiny_settings,
        retrain_every=60,
        start=0.6,
        progress=lambda k, n, info: seen.append((k, n, info["test_samples"])),
    )
    assert [s[:2] for s in seen] == [(1, 3), (2, 3), (3, 3)]
    assert [s[2] for s in seen][:2] == [60, 60]
    assert isinstance(rep, BacktestReport)


def test_insufficient_data_is_a_value_error(make_candles, tiny_settings):
    with pytest.raises(ValueError):
        backtest(make_candles(n=60), tiny_settings, folds=50)
    assert issubclass(InsufficientDataError, ValueError)


def test_garch_baseline_is_in_the_report_with_a_winkler_dm_test(report):
    for name, m in report.metrics.items():
        garch = m["intervals"]["garch"]
        assert 0.5 < garch["coverage"] <= 1.0 and garch["winkler"] > 0
        for baseline in ("constant", "ewma", "garch"):
            dm = m["intervals"][baseline]["dm_lstm_winkler"]
            assert set(dm) >= {"statistic", "pvalue"}, (name, baseline)
        assert "dm_lstm_winkler" not in m["intervals"]["lstm"]
    assert {"garch_lower", "garch_upper"} <= set(report.predictions)


def test_garch_sigma_uses_no_later_price(walk):
    from finance_demo.stats import garch_sigma

    log_close = np.log(walk["Close"].to_numpy())
    cut, later = 200, 260
    sigma = garch_sigma(log_close, cut)
    changed = log_close.copy()
    changed[later + 1 :] += np.linspace(0, 0.5, len(changed) - later - 1)  # a later crash/rally
    again = garch_sigma(changed, cut)
    assert np.isnan(sigma[0]) and np.all(np.isfinite(sigma[1:])) and np.all(sigma[1:] > 0)
    np.testing.assert_array_equal(sigma[: later + 1], again[: later + 1])
    assert not np.array_equal(sigma, again)


def test_direction_head_is_scored_when_the_model_has_one(tiny_settings, report):
    import dataclasses

    from data_fetcher import Fetcher
    from finance_demo import backtest

    candles = Fetcher("IBM", period="2y", interval="1d", source="sample").fetch_historical()
    model = dataclasses.replace(tiny_settings.model, heads=("return", "direction"))
    settings = dataclasses.replace(tiny_settings, model=model)
    with_head = backtest(candles, settings, folds=2)
    p_up, y = with_head.predictions["lstm_p_up"][:, 0], with_head.predictions["y"][:, 0]
    assert p_up.shape == y.shape and np.all((p_up > 0) & (p_up < 1))
    head = with_head.metrics["h1"]["direction_head"]
    assert head["direction_accuracy"] == pytest.approx(np.mean((p_up > 0.5) == (y > 0)))
    up = (y > 0).astype(float)
    assert head["brier"] == pytest.approx(np.mean((p_up - up) ** 2))
    assert head["brier_base_rate"] == pytest.approx(np.var(up))
    assert {"pesaran_timmermann", "binomial_vs_always_up"} <= head.keys()
    assert "direction_head" not in report.metrics["h1"]  # a return-only model: no entry
    assert "lstm_p_up" not in report.predictions


def test_trend_head_is_scored_when_the_model_has_one(tiny_settings, report):
    import dataclasses

    from data_fetcher import Fetcher
    from finance_demo import backtest

    candles = Fetcher("IBM", period="2y", interval="1d", source="sample").fetch_historical()
    model = dataclasses.replace(tiny_settings.model, heads=("return", "trend"))
    settings = dataclasses.replace(tiny_settings, model=model)
    with_head = backtest(candles, settings, folds=2)
    trend, y = with_head.predictions["lstm_trend"][:, 0], with_head.predictions["y"][:, 0]
    assert trend.shape == y.shape and np.all((trend > -1) & (trend < 1))
    assert "lstm_p_up" not in with_head.predictions
    head = with_head.metrics["h1"]["trend_head"]
    assert head["direction_accuracy"] == pytest.approx(np.mean((trend > 0) == (y > 0)))
    ranks = [np.argsort(np.argsort(v)) for v in (trend, y)]
    assert head["information_coefficient"] == pytest.approx(np.corrcoef(*ranks)[0, 1])
    assert 0 <= head["ic_p"] <= 1
    assert head["mean_abs_score"] == pytest.approx(np.mean(np.abs(trend)))
    assert {"pesaran_timmermann", "binomial_vs_always_up"} <= head.keys()
    assert "trend_head" not in report.metrics["h1"]


def test_spearman_of_known_orders():
    from finance_demo.backtest_report import _spearman

    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert _spearman(a, a**3) == pytest.approx(1.0)
    assert _spearman(a, -a) == pytest.approx(-1.0)
    assert np.isnan(_spearman(a, np.ones(4)))
