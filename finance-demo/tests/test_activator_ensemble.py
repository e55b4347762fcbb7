"""The live loop teaches an adaptive ensemble its realized outcomes, as batch ``update`` does."""

import copy
import json

import numpy as np
import pytest
from data_fetcher import Fetcher
from finance_demo import Activator, System, build_dataset, load_settings, spec_of, train_model
from finance_demo.backtest import outcome_lag

TINY = {  # the conftest's tiny settings
    "buffer": {"buffer_size": 20, "step_size": 1},
    "features": {"window_size": 4, "groups": ["trend_fft"]},
    "model": {"seq_len": 6, "hidden_dim": 8, "num_layers": 1},
    "training": {"epochs": 2, "batch_size": 64, "val_fraction": 0.2},
    "evaluation": {"test_fraction": 0.2},
}
STEPPED = {
    **TINY,
    "buffer": {"buffer_size": 20, "step_size": 3},
    "model": {"seq_len": 5, "hidden_dim": 8, "num_layers": 1, "horizons": [1, 3]},
}


@pytest.fixture(scope="module", params=["one_horizon", "stepped_two_horizons"])
def ensemble(request, candles):
    settings = load_settings(TINY if request.param == "one_horizon" else STEPPED)
    return train_model(candles, settings, symbol="WALK", interval="1d", kind="ensemble")


def replay(model, candles, tmp_path, start=300):
    fetcher = Fetcher.from_frame(candles, symbol="WALK", interval="1d", replay_start=start)
    log = tmp_path / "live.jsonl"
    summary = Activator(fetcher, System(model), log=log).execute()
    return summary, [json.loads(line) for line in log.read_text().splitlines()]


def rows_at(model, candles, times):
    """The batch dataset's labeled rows of the predictions made at ``times``."""
    data = build_dataset(candles, spec_of(model)).labeled()
    where = {t: i for i, t in enumerate(data.times.map(lambda s: s.isoformat()))}
    idx = np.array([where[t] for t in times if t in where])
    return data.X[idx], data.y[idx], idx


def test_live_weights_equal_batch_update_on_the_same_outcomes(ensemble, candles, tmp_path):
    live = copy.deepcopy(ensemble)
    summary, records = replay(live, candles, tmp_path)
    n_h = len(ensemble.config.horizons)
    last_h = max(ensemble.config.horizons)
    observed = [r["time"] for r in records if r["type"] == "outcome" and r["horizon"] == last_h]
    assert summary.observed == len(observed) == summary.outcomes // n_h > 20
    X, y, _ = rows_at(ensemble, candles, observed)
    assert len(X) == len(observed)
    batch = copy.deepcopy(ensemble)
    batch.update(X, y)
    np.testing.assert_allclose(live.errors, batch.errors, rtol=0, atol=1e-8)  # float32 nets
    np.testing.assert_allclose(live.weights, batch.weights, rtol=1e-6)
    assert summary.weights == pytest.approx(live.weights.tolist(), rel=1e-12)
    # the weights moved away from the training ones, and every record carries them
    assert not np.allclose(live.weights, ensemble.weights, rtol=1e-4)
    assert all(len(r["weights"]) == 2 for r in records)
    outcome_weights = [r["weights"] for r in records if r["type"] == "outcome"]
    assert outcome_weights[-1] == summary.weights
    assert json.loads(json.dumps(summary.to_dict()))["weights"] == summary.weights


def test_live_ensemble_forecasts_equal_the_walk_forward_ones(ensemble, candles, tmp_path):
    """``forecast_online`` (what ``compare_models`` scores) is what the live loop predicts."""
    _, records = replay(copy.deepcopy(ensemble), candles, tmp_path)
    first_h = ensemble.config.horizons[0]
    preds = [r for r in records if r["type"] == "prediction" and r["horizon"] == first_h]
    X, y, idx = rows_at(ensemble, candles, [r["time"] for r in preds])
    assert len(idx) > 20 and np.all(np.diff(idx) == 1)  # consecutive samples of the replay
    batch = copy.deepcopy(ensemble)
    fc = batch.forecast_online(X, y, lag=outcome_lag(spec_of(ensemble)), level=0.9)
    live = np.array([r["predicted_return"] for r in preds[: len(idx)]])
    np.testing.assert_allclose(live, fc.mean[:, 0], rtol=0, atol=1e-6)
    lower = np.array([r["lower_return"] for r in preds[: len(idx)]])
    np.testing.assert_allclose(lower, fc.lower[:, 0], rtol=0, atol=1e-6)
    # and without learning, the forecasts would differ (the weights matter)
    static = copy.deepcopy(ensemble).forecast(X, level=0.9).mean[:, 0]
    assert np.max(np.abs(static - live)) > 1e-9


def test_forecast_online_is_forecast_then_update_row_by_row(ensemble, candles):
    data = build_dataset(candles, spec_of(ensemble)).labeled()
    X, y = data.X[-40:], data.y[-40:]
    lag = 2
    online = copy.deepcopy(ensemble)
    fc = online.forecast_online(X, y, lag=lag)
    stepwise = copy.deepcopy(ensemble)
    means = []
    for j in range(len(X)):
        if j >= lag:
            stepwise.update(X[j - lag : j - lag + 1], y[j - lag : j - lag + 1])
        means.append(stepwise.forecast(X[j : j + 1]).mean[0])
    np.testing.assert_allclose(fc.mean, np.array(means), rtol=0, atol=1e-9)  # float32 nets
    np.testing.assert_allclose(online.errors, stepwise.errors, rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match="lag must be an integer >= 1"):
        online.forecast_online(X, y, lag=0)


def test_other_models_are_not_taught_and_carry_no_weights(tiny_model, candles, tmp_path):
    before = copy.deepcopy(tiny_model.calibration.scores)
    summary, records = replay(tiny_model, candles, tmp_path)
    assert summary.outcomes > 0 and summary.observed == 0 and summary.weights is None
    assert not any("weights" in r for r in records)
    np.testing.assert_array_equal(tiny_model.calibration.scores, before)
