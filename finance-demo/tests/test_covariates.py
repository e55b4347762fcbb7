"""Covariates through the pipeline: settings, dataset, live = batch, model spec, errors."""

from __future__ import annotations

import numpy as np
import pytest
from data_fetcher import load_sample
from finance_demo import (
    MultiSystem,
    PipelineError,
    System,
    batch_predict,
    build_dataset,
    load_settings,
    load_settings_file,
    settings_from_flags,
    spec_of,
    train_model,
)
from finance_demo.forecast import forecast

OHLCV = ["Open", "High", "Low", "Close", "Volume"]
COVARIATES = ("vix", "rate")


def settings_for(groups=("trend_fft",), covariates=COVARIATES, step_size=1, epochs=1):
    return load_settings(
        {
            "buffer": {"buffer_size": 30, "step_size": step_size},
            "features": {"window_size": 4, "groups": list(groups), "covariates": list(covariates)},
            "model": {"seq_len": 5, "hidden_dim": 8, "num_layers": 1},
            "training": {"epochs": epochs, "batch_size": 64, "val_fraction": 0.2},
            "evaluation": {"test_fraction": 0.2},
        }
    )


@pytest.fixture(scope="module")
def sample():
    """The last 400 real daily S&P 500 candles, with two synthetic covariate columns."""
    candles = load_sample("^GSPC").iloc[-400:].copy()
    rng = np.random.default_rng(0)
    candles["vix"] = 15 + np.cumsum(rng.normal(0, 0.5, len(candles)))
    candles["rate"] = np.linspace(1.0, 2.5, len(candles))
    return candles


_MODELS: dict = {}


def model_for(sample, groups=("trend_fft",), step_size=1):
    key = (tuple(groups), step_size)
    if key not in _MODELS:
        settings = settings_for(groups, step_size=step_size)
        _MODELS[key] = train_model(sample, settings, symbol="^GSPC", interval="1d")
    return _MODELS[key]


def stream(system, candles, start=0, as_mapping=True):
    preds, inputs = {}, {}
    for t in range(start, len(candles)):
        row = candles.iloc[t] if as_mapping else candles[OHLCV + list(COVARIATES)].to_numpy()[t]
        pred = system.process_row(candles.index[t], row)
        if pred is not None:
            preds[t] = pred
            inputs[t] = system.ring.get_window()
    return preds, inputs


def test_settings_from_a_file_and_flags(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("features:\n  covariates: [vix, rate]\n")
    settings = load_settings_file(path)
    assert settings.features.covariates == COVARIATES
    assert settings.model.input_dim == 24  # the default's 22 features + 2 covariates
    names = settings.features.feature_names(5)
    assert names[-2:] == ["vix", "rate"] and names[settings.model.sigma_anchor_index] == "ewma_vol"
    flags = settings_from_flags({"features.covariates": ["vix"], "features.groups": ["returns"]})
    assert flags.features.covariates == ("vix",) and flags.model.input_dim == 5
    with pytest.raises(PipelineError, match="covariates: 'Close' is the candle column Close"):
        settings_from_flags({"features.covariates": ["Close"]})


def test_dataset_appends_each_windows_last_values(sample):
    spec = settings_for(step_size=3).pipeline
    data = build_dataset(sample, spec)
    assert data.X.shape[2] == 8 == spec.model.input_dim
    cov = sample[list(COVARIATES)].to_numpy()
    # every step of every sequence ends with the covariates of its window's last candle
    for j in (0, len(data) // 2, len(data) - 1):
        ends = data.ticks[j] - np.arange(spec.seq_len)[::-1] * spec.step_size
        np.testing.assert_array_equal(data.X[j, :, -2:], cov[ends])
    plain = build_dataset(sample, settings_for(covariates=(), step_size=3).pipeline)
    np.testing.assert_array_equal(data.X[:, :, :-2], plain.X)


def test_missing_column_is_one_line(sample):
    spec = settings_for().pipeline
    with pytest.raises(PipelineError) as info:
        build_dataset(sample.drop(columns="rate"), spec)
    message = str(info.value)
    assert message.startswith("covariate 'rate' is not a column of the candles (columns: Open,")
    assert "features.covariates needs a csv:PATH or replay:PATH source" in message
    assert "\n" not in message


def test_nan_where_a_window_ends_is_an_error_naming_column_and_stamp(sample):
    spec = settings_for(step_size=3).pipeline
    bad = sample.copy()
    bad.loc[bad.index[30], "vix"] = np.nan  # tick 30 ends no window (29, 32, ...)
    build_dataset(bad, spec)
    bad.loc[bad.index[32], "vix"] = np.nan
    bad.loc[bad.index[50], "rate"] = np.inf
    with pytest.raises(PipelineError) as info:
        build_dataset(bad, spec)
    assert str(info.value).startswith(
        f"covariate 'vix' is missing or not a finite number at {bad.index[32]}"
    )
    bad = sample.astype({"rate": object})
    bad.loc[bad.index[59], "rate"] = "n/a"  # a user's frame with text in it
    with pytest.raises(PipelineError, match=f"covariate 'rate' .* at {bad.index[59]}"):
        build_dataset(bad, spec)


@pytest.mark.parametrize("groups", [("trend_fft",), ("returns", "range_vol")], ids=str)
def test_live_rows_equal_batch(groups, sample):
    model = model_for(sample, groups)
    spec = spec_of(model)
    assert spec.features.covariates == COVARIATES
    system = System(model)
    assert system.needs_rows and system.covariates == COVARIATES
    data = build_dataset(sample, spec)
    for as_mapping in (True, False):
        preds, inputs = stream(System(model), sample, as_mapping=as_mapping)
        assert sorted(preds) == data.ticks.tolist()
        assert all(np.array_equal(inputs[t], data.X[j]) for j, t in enumerate(data.ticks))
    batch = batch_predict(model, sample).set_index("tick")
    got = np.array([preds[t].mean[0] for t in batch.index])
    np.testing.assert_allclose(got, batch["predicted_return"].to_numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("warm", [20, 120])
def test_warm_up_with_candles_matches_streaming(warm, sample):
    model = model_for(sample, step_size=3)
    reference, ref_inputs = stream(System(model), sample)
    system = System(model)
    system.warm_up(sample.iloc[:warm])
    got, inputs = stream(system, sample, start=warm)
    assert sorted(got) == [t for t in sorted(reference) if t >= warm]
    assert all(np.array_equal(inputs[t], ref_inputs[t]) for t in got)


def test_live_refusals_are_one_line(sample):
    model = model_for(sample)
    system = System(model)
    with pytest.raises(PipelineError, match=r"features\.covariates vix,rate come with each candle"):
        system.process_candle(sample.index[0], 100.0)
    with pytest.raises(PipelineError, match="warm_up needs whole rows"):
        system.warm_up(sample["Close"].to_numpy())
    with pytest.raises(PipelineError, match="covariate 'vix' is not a column"):
        System(model).warm_up(sample[OHLCV])
    with pytest.raises(PipelineError, match="needs covariate 'rate' in each row"):
        system.process_row(sample.index[0], sample.iloc[0].drop("rate"))
    with pytest.raises(
        ValueError, match=r"must be 7 numbers \(Open, High, Low, Close, Volume, vix"
    ):
        system.process_row(sample.index[0], sample[OHLCV].to_numpy()[0])
    # a NaN is refused where a window ends (the same rows as the batch path)
    system = System(model)
    rows = sample.iloc[:30].copy()
    rows.loc[rows.index[3], "vix"] = np.nan  # not read: no window ends there
    system.warm_up(rows.iloc[:29])
    last = rows.iloc[29].copy()
    last["vix"] = np.nan
    with pytest.raises(PipelineError, match=f"covariate 'vix' .* at {rows.index[29]}"):
        system.process_row(rows.index[29], last)
    with pytest.raises(PipelineError, match="multi-symbol live loop does not take covariates"):
        MultiSystem({"^GSPC": model})


def test_model_file_keeps_the_covariates(tmp_path, sample):
    from model import Model

    model = model_for(sample)
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = Model.load(path)
    assert spec_of(loaded).features.covariates == COVARIATES
    assert loaded.metadata["pipeline"]["features"]["covariates"] == list(COVARIATES)
    fc = forecast(loaded, sample)
    assert fc.time.startswith("2018-12-31") and np.isfinite(fc.horizons[0].predicted_return)
    with pytest.raises(PipelineError, match="covariate 'vix' is not a column"):
        forecast(loaded, sample[OHLCV])


def test_an_old_spec_without_the_key_has_no_covariates(sample):
    model = train_model(sample, settings_for(covariates=()), symbol="^GSPC", interval="1d")
    assert "covariates" not in model.metadata["pipeline"]["features"]
    assert spec_of(model).features.covariates == ()


def test_an_informative_covariate_reaches_the_network():
    """A covariate equal to the next return (a leak by construction) beats persistence."""
    candles = load_sample("^GSPC").iloc[-1200:].copy()
    log_close = np.log(candles["Close"].to_numpy())
    nxt = np.append(log_close[1:] - log_close[:-1], 0.0)
    candles["future"] = nxt  # at tick t: log(close[t+1] / close[t]), the h1 target
    settings = load_settings(
        {
            "buffer": {"buffer_size": 10},
            "features": {"window_size": 3, "groups": ["trend_fft"], "covariates": ["future"]},
            "model": {"seq_len": 3, "hidden_dim": 16, "num_layers": 1},
            "training": {"epochs": 40, "batch_size": 64, "val_fraction": 0.2, "patience": 40},
            "evaluation": {"test_fraction": 0.2},
        }
    )
    model = train_model(candles, settings, symbol="^GSPC", interval="1d")
    h1 = model.metadata["evaluation"]["h1"]
    assert h1["mae"] < 0.35 * h1["mae_persistence"], h1


def test_the_live_loop_on_a_replay_with_covariates(tmp_path, sample):
    """Activator over a replayed frame: the rows carry the covariates; a gap is a bad candle."""
    from data_fetcher import Fetcher
    from finance_demo import Activator

    model = model_for(sample)
    feed = Fetcher.from_frame(sample, symbol="^GSPC", interval="1d", replay_start=-40)
    log = tmp_path / "live.jsonl"
    summary = Activator(feed, System(model), max_ticks=40, log=log).execute()
    assert (summary.ticks, summary.predictions, summary.bad_candles) == (40, 40, 0)
    # the live predictions are the batch ones at the same ticks
    import json

    batch = batch_predict(model, sample).set_index("time")
    preds = [json.loads(line) for line in log.read_text().splitlines()]
    preds = [r for r in preds if r["type"] == "prediction"]
    got = np.array([r["predicted_return"] for r in preds])
    want = batch["predicted_return"].to_numpy()[-40:]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    gap = sample.copy()
    gap.loc[gap.index[-10], "vix"] = np.nan
    feed = Fetcher.from_frame(gap, symbol="^GSPC", interval="1d", replay_start=-40)
    summary = Activator(feed, System(model), max_ticks=40).execute()
    assert summary.bad_candles == 1 and summary.predictions == 39
