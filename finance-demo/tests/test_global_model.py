"""One global model over many symbols: scaling, embedding, binding, files, the backtest."""

import dataclasses

import numpy as np
import pytest
from finance_demo import (
    ForeignModelError,
    InsufficientDataError,
    SettingsError,
    SymbolModel,
    System,
    backtest_global,
    batch_predict,
    bind_symbol,
    is_global,
    make_engine,
    spec_of,
    train_global,
)
from finance_demo.global_model import _time_folds

from model import load_forecaster


def stream(system, candles):
    """Feed candles one by one to a live System; its predictions by tick."""
    out = {}
    for t, c in zip(candles.index, candles["Close"].to_numpy(), strict=True):
        pred = system.process_candle(t, c)
        if pred is not None:
            out[pred.tick] = pred
    return out


def _scaled(candles, factor):
    """The same walk with ``factor`` times its log returns (a louder or quieter market)."""
    out = candles.copy()
    logs = np.log(candles["Close"].to_numpy())
    close = np.exp(logs[0] + factor * (logs - logs[0]))
    for col in ("Open", "High", "Low", "Close"):
        out[col] = close * (candles[col] / candles["Close"]).to_numpy()
    return out


@pytest.fixture(scope="module")
def market(make_candles):
    quiet = _scaled(make_candles(360, seed=1), 0.1)  # a currency pair's size of moves
    return {"LOUD": make_candles(400, seed=0), "QUIET": quiet, "MID": make_candles(300, seed=2)}


@pytest.fixture(scope="module")
def global_model(market, tiny_settings):
    return train_global(market, tiny_settings, interval="1d")


def test_one_network_scaled_per_symbol(global_model, market, tiny_settings):
    meta = global_model.metadata["global"]
    assert meta["symbols"] == ["LOUD", "QUIET", "MID"] and meta["embedding"] is True
    # the inputs carry the one-hot code of the symbol
    n_features = tiny_settings.model.input_dim
    assert global_model.config.input_dim == n_features + 3
    # each symbol's targets are scaled by its own training-part spread
    loud, quiet = (np.asarray(meta["y_scale"][i]) for i in (0, 1))
    np.testing.assert_allclose(quiet / loud, 0.1, rtol=0.15)
    assert set(global_model.metadata["evaluation"]) == set(market)
    for symbol, evaluation in global_model.metadata["evaluation"].items():
        assert evaluation["h1"]["samples"] == global_model.metadata["dataset"][symbol]["test"]


def test_bound_forecast_is_the_network_on_scaled_inputs(global_model, market):
    bound = bind_symbol(global_model, "QUIET")
    assert isinstance(bound, SymbolModel) and spec_of(bound).symbol == "QUIET"
    data = batch_predict(bound, market["QUIET"])
    assert len(data) > 0
    from finance_demo import build_dataset

    X = build_dataset(market["QUIET"], spec_of(bound)).X
    i = 1
    meta = global_model.metadata["global"]
    code = np.zeros((*X.shape[:-1], 3))
    code[..., i] = 1.0
    raw = (X - np.asarray(meta["x_mean"][i])) / np.asarray(meta["x_std"][i])
    direct = global_model.forecast(np.concatenate([raw, code], axis=-1), level=0.9)
    got = bound.forecast(X, level=0.9)
    scale = np.asarray(meta["y_scale"][i])
    np.testing.assert_allclose(got.mean, direct.mean * scale, rtol=1e-12)
    np.testing.assert_allclose(got.upper, direct.upper * scale, rtol=1e-12)
    # the quiet symbol's forecasts come back in its own (small) units
    assert np.median(got.upper - got.lower) < 0.3 * np.median(
        bind_symbol(global_model, "LOUD").forecast(X).upper
        - bind_symbol(global_model, "LOUD").forecast(X).lower
    )


def test_saved_once_forecasts_any_symbol_live_equals_batch(global_model, market, tmp_path):
    path = tmp_path / "global.safetensors"
    global_model.save(path)
    loaded = load_forecaster(path)
    assert is_global(loaded)
    for symbol in market:
        before = batch_predict(bind_symbol(global_model, symbol), market[symbol])
        after = batch_predict(bind_symbol(loaded, symbol), market[symbol])
        np.testing.assert_array_equal(before["predicted_return"], after["predicted_return"])
    bound = bind_symbol(loaded, "MID")
    live = stream(System(bound), market["MID"])
    batch = batch_predict(bound, market["MID"]).set_index("tick")
    assert sorted(live) == sorted(batch.index)
    got = np.array([live[t].mean[0] for t in batch.index])
    np.testing.assert_allclose(got, batch["predicted_return"].to_numpy(), rtol=0, atol=1e-6)


def test_unbound_or_unknown_symbol_is_one_clear_error(global_model):
    with pytest.raises(ForeignModelError, match="global model of 3 symbols"):
        spec_of(global_model)
    with pytest.raises(SettingsError, match=r"3 symbols \(LOUD, QUIET, MID\).*--symbol"):
        bind_symbol(global_model, None)
    with pytest.raises(SettingsError, match="does not know 'IBM'; it was trained on LOUD"):
        bind_symbol(global_model, "IBM")
    with pytest.raises(ForeignModelError, match="not a global model"):
        SymbolModel(bind_symbol(global_model, "MID"), "MID")


def test_a_per_symbol_model_passes_through(tiny_model):
    assert bind_symbol(tiny_model, None) is tiny_model
    assert bind_symbol(tiny_model, "OTHER") is tiny_model


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m["x_std"][0].__setitem__(0, 0.0), "not finite and positive"),
        (lambda m: m["y_scale"][0].__setitem__(0, -1.0), "target scales are not positive"),
        (lambda m: m["x_mean"][0].pop(), "do not match its network"),
        (lambda m: m.pop("x_mean"), "scalers are broken"),
        (lambda m: m.__setitem__("y_scale", None), "scalers are broken"),
    ],
)
def test_broken_scalers_in_a_crafted_file_are_refused(global_model, tmp_path, mutate, message):
    import copy

    crafted = copy.deepcopy(global_model)
    mutate(crafted.metadata["global"])
    path = tmp_path / "crafted.safetensors"
    crafted.save(path)
    with pytest.raises(ForeignModelError, match=message):
        bind_symbol(load_forecaster(path), "LOUD")


def test_without_embedding_the_inputs_are_the_features(market, tiny_settings):
    model = train_global(market, tiny_settings, embedding=False)
    assert model.config.input_dim == tiny_settings.model.input_dim
    assert batch_predict(bind_symbol(model, "LOUD"), market["LOUD"]).shape[0] > 0


def test_bad_symbol_sets(market, tiny_settings, make_candles):
    with pytest.raises(SettingsError, match="at least one symbol"):
        train_global({}, tiny_settings)
    with pytest.raises(SettingsError, match="listed twice"):
        train_global({"A": market["LOUD"], "a": market["MID"]}, tiny_settings)
    with pytest.raises(InsufficientDataError, match=r"^SHORT: "):
        train_global({"LOUD": market["LOUD"], "SHORT": make_candles(30)}, tiny_settings)


def test_the_sigma_anchor_is_off_for_one_global_model(market, tiny_settings):
    features = dataclasses.replace(tiny_settings.features, groups=("trend_fft", "ewma_vol"))
    auto = dataclasses.replace(tiny_settings, features=features)
    assert auto.model.sigma_anchor_index is not None  # per-symbol models would blend
    model = train_global(market, auto, embedding=False)
    assert model.config.sigma_anchor_index is None  # its inputs are scaled per symbol
    ewma = dataclasses.replace(auto.model, sigma_anchor="ewma_vol")
    named = dataclasses.replace(auto, model=ewma)
    with pytest.raises(SettingsError, match="sigma_anchor ewma_vol does not work with one global"):
        train_global(market, named)


def test_global_model_of_another_kind(market, tiny_settings):
    model = train_global(market, tiny_settings, kind="gbdt")
    assert model.kind == "gbdt"
    assert batch_predict(bind_symbol(model, "QUIET"), market["QUIET"]).shape[0] > 0


def test_folds_share_one_calendar(market, tiny_settings):
    from finance_demo.backtest import make_plan

    plans = {s: make_plan(c, tiny_settings, 3, None, None, 0.5) for s, c in market.items()}
    bounds = _time_folds(plans, 3)
    latest_start = max(p.data.times[p.bounds[0][0]] for p in plans.values())
    for k in range(3):
        starts = [
            plans[s].data.times[bounds[s][k][0]]
            for s in market
            if bounds[s][k][1] > bounds[s][k][0]
        ]
        # every symbol's fold k starts on or after the same stamp, and nothing of any
        # symbol stamped before it is in fold k
        first = min(starts)
        assert first >= latest_start
        for s in market:
            a, b = bounds[s][k]
            if a < b:
                assert (plans[s].data.times[:a] < first).all()
    for s in market:  # the blocks tile each symbol's samples from the first fold on
        assert [b for _, b in bounds[s][:-1]] == [a for a, _ in bounds[s][1:]]
        assert bounds[s][-1][1] == len(plans[s].data)


def test_backtest_global_beside_per_symbol(market, tiny_settings, make_candles):
    early = make_candles(200, start="2015-01-01")  # ends before the common first fold
    candles = {**market, "EARLY": early}
    result = backtest_global(candles, tiny_settings, folds=2)
    assert result.symbols == ("LOUD", "QUIET", "MID", "EARLY") and result.folds == 2
    assert [e["symbol"] for e in result.errors] == ["EARLY"]
    assert [r["symbol"] for r in result.rows] == ["LOUD", "QUIET", "MID"]
    for row in result.rows:
        assert row["samples"] > 0
        for name in ("per_symbol", "global"):
            assert 0 < row[name]["mae"] < 1 and 0 <= row[name]["coverage"] <= 1
            assert np.isfinite(row[name]["winkler"])
        assert 0 <= row["dm_mae"]["pvalue"] <= 1 and 0 <= row["dm_winkler"]["pvalue"] <= 1
    body = result.to_dict()
    assert body["rows"][0]["symbol"] == "LOUD"
    # the same report from a pool of processes, bit for bit
    with make_engine("process", 2) as engine:
        pooled = backtest_global(candles, tiny_settings, folds=2, engine=engine)
    strip = lambda r: {**r.to_dict(), "seconds": None}  # noqa: E731
    assert strip(pooled) == strip(result)


def test_backtest_global_quiet_symbol_scaled_back(market, tiny_settings):
    result = backtest_global(market, tiny_settings, folds=2, embedding=False)
    rows = {r["symbol"]: r for r in result.rows}
    # the quiet symbol's errors are in its own units: about a tenth of the loud one's
    ratio = rows["QUIET"]["global"]["mae"] / rows["LOUD"]["global"]["mae"]
    assert 0.05 < ratio < 0.2
    assert dataclasses.asdict(result)["horizons"] == (1,)
