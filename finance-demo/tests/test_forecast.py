"""One-shot forecasts: the regime rule, parity with batch_predict, O(window) work."""

import json
import math
import sqlite3
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from finance_demo import PipelineError, Registry, RegistryError, batch_predict, market_regime
from finance_demo.forecast import (
    REGIME_WINDOW,
    REGIMES,
    completed_candles,
    ensure_model,
    forecast,
)

FLAT = [0.01] * 50


@pytest.mark.parametrize(
    "sigmas, mean, sigma, expected",
    [
        ([*FLAT[:-1], 0.0151], 0.0, 0.01, "volatile"),  # just above 1.5x the median
        ([*FLAT[:-1], 0.0151], 0.05, 0.01, "volatile"),  # volatility wins over a trend
        ([*FLAT[:-1], 0.015], 0.0, 0.01, "ranging"),  # exactly 1.5x is not volatile
        (FLAT, 0.0026, 0.01, "trending up"),
        (FLAT, -0.0026, 0.01, "trending down"),
        (FLAT, 0.0025, 0.01, "ranging"),  # exactly +0.25 sigma is no trend
        (FLAT, -0.0025, 0.01, "ranging"),
        (FLAT, 0.0, 0.01, "ranging"),
        ([0.02, 0.005], 0.0, 0.01, "ranging"),  # calmer than the median
        ([0.01], 0.004, 0.01, "trending up"),  # one prediction: ratio 1
        (FLAT, 0.004, 0.0, "ranging"),  # no sigma: no trend
    ],
)
def test_market_regime_each_branch(sigmas, mean, sigma, expected):
    assert market_regime(sigmas, mean, sigma) == expected
    assert expected in REGIMES


def test_market_regime_needs_a_sigma():
    with pytest.raises(ValueError):
        market_regime([], 0.0, 0.01)
    assert market_regime([np.nan, 0.01, 0.01, 0.03], 0.0, 0.01) == "volatile"  # NaN ignored


def test_forecast_equals_the_last_tick_of_batch_predict(tiny_model, candles):
    fc = forecast(tiny_model, candles)
    rows = batch_predict(tiny_model, candles)
    last = rows[rows["tick"] == rows["tick"].max()].iloc[0]
    (h,) = fc.horizons
    assert fc.time == candles.index[-1].isoformat() and fc.symbol == "WALK"
    assert fc.close == round(float(candles["Close"].iloc[-1]), fc.price_decimals)
    assert math.isclose(h.predicted_return, last["predicted_return"], rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(h.lower_return, last["lower_return"], rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(h.upper_return, last["upper_return"], rel_tol=1e-9, abs_tol=1e-12)
    assert h.predicted_price == round(last["predicted_price"], fc.price_decimals)
    assert h.lower_price <= h.predicted_price <= h.upper_price
    assert h.direction == ("up" if h.predicted_return > 0 else "down")
    assert fc.recent == REGIME_WINDOW and fc.regime in REGIMES
    assert fc.level == 0.9
    json.dumps(fc.to_dict(), allow_nan=False)


def test_forecast_does_window_work_on_a_long_history(tiny_model, make_candles, monkeypatch):
    long = make_candles(20_000, seed=3)
    seen = []
    original = tiny_model.forecast

    def recording(X, level=0.9):
        seen.append(len(X))
        return original(X, level=level)

    monkeypatch.setattr(tiny_model, "forecast", recording)
    fc = forecast(tiny_model, long)
    assert seen == [REGIME_WINDOW]
    tail = long.iloc[-500:]
    assert forecast(tiny_model, tail).to_dict() == fc.to_dict()


def test_forecast_horizons_level_and_errors(stepped_model, candles):
    both = forecast(stepped_model, candles)
    assert [h.horizon for h in both.horizons] == [1, 3]
    only = forecast(stepped_model, candles, horizons=[3])
    assert [h.horizon for h in only.horizons] == [3]
    assert only.horizons[0] == both.horizons[1]
    narrow = forecast(stepped_model, candles, level=0.5)
    assert narrow.level == 0.5
    width = [h.upper_return - h.lower_return for h in both.horizons]
    assert all(
        h.upper_return - h.lower_return < w for h, w in zip(narrow.horizons, width, strict=True)
    )
    with pytest.raises(PipelineError, match="not 7"):
        forecast(stepped_model, candles, horizons=[7])
    with pytest.raises(PipelineError):
        forecast(stepped_model, candles, level=1.5)
    with pytest.raises(PipelineError, match="too few"):
        forecast(stepped_model, candles.iloc[:10])


def test_completed_candles_drops_the_one_in_progress(candles):
    now = candles.index[-1] + pd.Timedelta(hours=12)
    assert len(completed_candles(candles, "1d", now)) == len(candles) - 1
    assert len(completed_candles(candles, "1d", now + pd.Timedelta(days=1))) == len(candles)
    assert completed_candles(candles, None, now) is candles


def test_ensure_model_trains_reuses_and_retrains(tmp_path, candles, tiny_settings):
    reg = Registry(tmp_path)
    calls = []

    def fetch():
        calls.append(1)
        return candles

    with pytest.raises(RegistryError, match=r"no model for WALK 1d.*--auto-train"):
        ensure_model(reg, "WALK", "1d", fetch)
    entry, trained = ensure_model(reg, "WALK", "1d", fetch, settings=tiny_settings, auto_train=True)
    assert trained and entry.symbol == "WALK" and entry.interval == "1d" and calls == [1]
    again, trained = ensure_model(reg, "WALK", "1d", fetch, auto_train=True)
    assert again == entry and not trained and calls == [1]
    conn = sqlite3.connect(tmp_path / "index.sqlite")
    conn.execute("UPDATE models SET created = '2000-01-01T00:00:00+00:00'")
    conn.commit()
    conn.close()
    with pytest.raises(RegistryError, match=r"9\d+\.\d days old, over the maximum age of 24\.0 h"):
        ensure_model(reg, "WALK", "1d", fetch, max_age=timedelta(days=1))
    fresh, trained = ensure_model(
        reg, "WALK", "1d", fetch, settings=tiny_settings, auto_train=True, max_age=timedelta(days=1)
    )
    assert trained and fresh.id != entry.id and reg.latest("WALK", "1d") == fresh


def test_forecast_carries_the_direction_head(tiny_model, tiny_settings, candles):
    import dataclasses

    from finance_demo import train_model

    net = dataclasses.replace(tiny_settings.model, heads=("return", "direction"))
    model = train_model(candles, dataclasses.replace(tiny_settings, model=net), "WALK")
    fc = forecast(model, candles)
    (h,) = fc.horizons
    assert 0 < h.p_up < 1 and forecast(model, candles).horizons[0].p_up == h.p_up
    assert fc.to_dict()["horizons"][0]["p_up"] == h.p_up
    json.dumps(fc.to_dict(), allow_nan=False)
    plain = forecast(tiny_model, candles)  # no head: no p_up key
    assert plain.horizons[0].p_up is None and "p_up" not in plain.to_dict()["horizons"][0]
    assert plain.horizons[0].trend is None and "trend" not in plain.to_dict()["horizons"][0]
    assert h.trend is None and "trend" not in fc.to_dict()["horizons"][0]


def test_forecast_carries_the_trend_head(candles, tiny_settings):
    import dataclasses

    from finance_demo import train_model

    net = dataclasses.replace(tiny_settings.model, heads=("return", "trend"))
    model = train_model(candles, dataclasses.replace(tiny_settings, model=net), "WALK")
    fc = forecast(model, candles)
    (h,) = fc.horizons
    assert -1 < h.trend < 1 and h.p_up is None
    assert fc.to_dict()["horizons"][0]["trend"] == h.trend
    assert "p_up" not in fc.to_dict()["horizons"][0]
    from finance_demo.dataset import build_dataset
    from finance_demo.system import spec_of

    data = build_dataset(candles, spec_of(model))
    assert h.trend == pytest.approx(float(model.forecast(data.X[-1:]).trend[0, 0]), abs=1e-6)
