import io
import json
import math
import os
import signal

import numpy as np
import pandas as pd
import pytest
from data_fetcher import Fetcher, FetchError, RetryPolicy
from finance_demo import Activator, IntervalMismatchError, System, batch_predict

from model import metrics


def read_log(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_replay_parity(args, request, candles, tmp_path):
    model = request.getfixturevalue(args["model"])
    fetcher = Fetcher.from_frame(candles, symbol="WALK", interval="1d", replay_start=args["start"])
    log = tmp_path / "p.jsonl"
    summary = Activator(fetcher, System(model), max_ticks=args["max_ticks"], log=log).execute()
    records = read_log(log)
    preds = [r for r in records if r["type"] == "prediction"]
    assert preds, "the replay made no prediction"
    batch = batch_predict(model, candles)
    batch = batch.set_index([batch["time"].map(pd.Timestamp.isoformat), "horizon"])
    got = np.array([r["predicted_return"] for r in preds])
    ref = batch.loc[[(r["time"], r["horizon"]) for r in preds], "predicted_return"].to_numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
    lower = batch.loc[[(r["time"], r["horizon"]) for r in preds], "lower_return"].to_numpy()
    np.testing.assert_allclose([r["lower_return"] for r in preds], lower, atol=1e-6)
    # every tick of the replay that the batch path predicts at is predicted live
    replayed = batch[batch.index.get_level_values(0) >= preds[0]["time"]]
    if args["max_ticks"] is None:
        assert len(preds) == len(replayed)
        assert summary.stopped == "exhausted"
    else:
        assert summary.ticks == args["max_ticks"] and summary.stopped == "max_ticks"


def test_first_polled_tick_predicts(tiny_model, candles):
    fetcher = Fetcher.from_frame(candles, symbol="WALK", interval="1d", replay_start=300)
    summary = Activator(fetcher, System(tiny_model), max_ticks=1).execute()
    assert (summary.warmup, summary.ticks, summary.predictions) == (300, 1, 1)


def test_log_lines_are_complete_and_flushed_at_once(tiny_model, candles, tmp_path):
    log = tmp_path / "sub" / "p.jsonl"
    seen = []

    def on_record(record):
        # the line is already in the file when the loop moves on
        seen.append(read_log(log)[-1] == json.loads(json.dumps(record)))

    fetcher = Fetcher.from_frame(candles, symbol="WALK", interval="1d", replay_start=-30)
    summary = Activator(fetcher, System(tiny_model), log=log, on_record=on_record).execute()
    assert seen and all(seen)
    records = read_log(log)
    pred = next(r for r in records if r["type"] == "prediction")
    assert {
        "time",
        "symbol",
        "close",
        "predicted_return",
        "predicted_price",
        "lower_price",
        "upper_price",
        "horizon",
        "target_time",
    } <= set(pred)
    assert pred["symbol"] == "WALK" and pred["horizon"] == 1
    assert pred["predicted_price"] == pytest.approx(
        pred["close"] * math.exp(pred["predicted_return"])
    )
    assert pred["lower_price"] <= pred["predicted_price"] <= pred["upper_price"]
    target = pd.Timestamp(pred["target_time"])
    assert target == pd.Timestamp(pred["time"]) + pd.offsets.BDay(1)
    assert all(  # business days: a Friday's target is the next Monday
        pd.Timestamp(r["target_time"]).day_of_week < 5 for r in records if r["type"] == "prediction"
    )
    outcomes = [r for r in records if r["type"] == "outcome"]
    assert len(outcomes) == summary.outcomes == summary.predictions - 1 == 29


def test_outcomes_and_live_metrics(tiny_model, candles, tmp_path):
    log = tmp_path / "p.jsonl"
    fetcher = Fetcher.from_frame(candles, symbol="WALK", interval="1d", replay_start=-60)
    summary = Activator(fetcher, System(tiny_model), log=log).execute()
    records = read_log(log)
    preds = {r["time"]: r for r in records if r["type"] == "prediction"}
    outcomes = [r for r in records if r["type"] == "outcome"]
    closes = candles["Close"]
    for o in outcomes:
        p = preds[o["time"]]
        realized = math.log(closes[o["realized_time"]] / closes[o["time"]])
        assert o["realized_return"] == pytest.approx(realized)
        assert o["covered"] == (p["lower_return"] <= realized <= p["upper_return"])
    m = summary.metrics["h1"]
    assert m.count == len(outcomes)
    assert m.mae == pytest.approx(np.mean([abs(o["error"]) for o in outcomes]))
    assert m.direction_accuracy == pytest.approx(np.mean([o["direction_hit"] for o in outcomes]))
    assert m.direction_accuracy == pytest.approx(
        metrics.direction_accuracy(
            [o["realized_return"] for o in outcomes], [o["predicted_return"] for o in outcomes]
        )
    )
    assert m.coverage == pytest.approx(np.mean([o["covered"] for o in outcomes]))


def test_outcomes_for_longer_horizons(stepped_model, candles):
    fetcher = Fetcher.from_frame(candles, symbol="WALK", interval="1d", replay_start=-40)
    stream = io.StringIO()
    summary = Activator(fetcher, System(stepped_model), log=stream).execute()
    outcomes = [json.loads(x) for x in stream.getvalue().splitlines() if '"outcome"' in x]
    h3 = [o for o in outcomes if o["horizon"] == 3]
    assert h3 and summary.metrics["h3"].count == len(h3)
    for o in h3:
        assert candles.index.get_loc(o["realized_time"]) - candles.index.get_loc(o["time"]) == 3


def test_seen_stamps_are_skipped(FakeFeed, tiny_model, candles):
    history, rest = candles.iloc[:200], candles.iloc[200:]
    items = [rest.iloc[[0]], rest.iloc[[0]], None, history.iloc[[-1]], rest.iloc[[1]]]
    feed = FakeFeed(history, items)
    summary = Activator(feed, System(tiny_model)).execute()
    assert (summary.ticks, summary.predictions, summary.skipped) == (2, 2, 2)


def test_fetch_errors_are_retried_and_state_is_kept(FakeFeed, tiny_model, candles):
    history, rest = candles.iloc[:200], candles.iloc[200:230]
    clean = [rest.iloc[[i]] for i in range(len(rest))]
    flaky = list(clean)
    flaky.insert(5, FetchError("network down"))
    flaky.insert(5, FetchError("network down"))
    messages = []
    runs = []
    for items in (clean, flaky):
        out = io.StringIO()
        Activator(
            FakeFeed(history, items),
            System(tiny_model),
            log=out,
            retry=RetryPolicy(base_delay=0.0, max_delay=0.0, jitter=0.0),
            echo=messages.append,
        ).execute()
        runs.append([json.loads(x) for x in out.getvalue().splitlines()])
    assert runs[0] == runs[1]
    assert sum("fetch failed (network down); retrying" in m for m in messages) == 2


def test_sigterm_stops_after_the_current_tick(tiny_model, candles, tmp_path):
    log = tmp_path / "p.jsonl"
    fetcher = Fetcher.from_frame(candles, symbol="WALK", interval="1d", replay_start=-50)
    before = signal.getsignal(signal.SIGTERM)

    def on_record(record):
        if record["type"] == "prediction":
            os.kill(os.getpid(), signal.SIGTERM)

    messages = []
    summary = Activator(
        fetcher, System(tiny_model), log=log, on_record=on_record, echo=messages.append
    ).execute()
    assert summary.stopped == "signal"
    assert summary.ticks == 1 and summary.predictions == 1
    assert len(read_log(log)) == 1
    assert any("SIGTERM" in m for m in messages)
    assert signal.getsignal(signal.SIGTERM) is before


def test_live_source_waits_between_polls(FakeFeed, tiny_model, candles):
    feed = FakeFeed(candles.iloc[:200], [None, candles.iloc[[200]], None], is_live=True)
    act = Activator(feed, System(tiny_model), poll_interval=0, max_ticks=1)
    assert act.execute().ticks == 1


def test_interval_mismatch(args, expected, tiny_model, FakeFeed, make_candles):
    history = make_candles(200, freq=args["freq"])
    feed = FakeFeed(history, [], interval=args["fetcher_interval"])
    with pytest.raises(IntervalMismatchError, match=expected):
        Activator(feed, System(tiny_model)).execute()


def test_new_candle_too_close_is_refused(FakeFeed, tiny_model, candles):
    late = candles.iloc[[199]].copy()
    late.index = late.index + pd.Timedelta("1h")
    feed = FakeFeed(candles.iloc[:200], [late])
    with pytest.raises(IntervalMismatchError, match="came 0 days 01:00:00 after"):
        Activator(feed, System(tiny_model)).execute()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"poll_interval": -1}, "poll_interval must be a finite number >= 0"),
        ({"max_ticks": 0}, "max_ticks"),
    ],
)
def test_bad_arguments(FakeFeed, tiny_model, candles, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Activator(FakeFeed(candles, []), System(tiny_model), **kwargs)


def test_recalibration_rolls_the_interval_over_realized_outcomes(args, request, candles, tmp_path):
    import copy

    model = copy.deepcopy(request.getfixturevalue(args["model"]))
    # intervals five times too wide: the calibration from training, inflated
    model.calibration = type(model.calibration)(model.calibration.scores * 5.0)
    window = args["window"]

    def run(recalibrate):
        m = copy.deepcopy(model)
        fetcher = Fetcher.from_frame(candles, symbol="WALK", interval="1d", replay_start=100)
        log = tmp_path / f"r{recalibrate}.jsonl"
        act = Activator(fetcher, System(m), log=log, recalibrate=recalibrate)
        return m, act.execute(), read_log(log)

    static, static_summary, static_log = run(None)
    assert static.calibration is not model.calibration  # a copy, untouched below
    np.testing.assert_array_equal(static.calibration.scores, model.calibration.scores)
    assert static_summary.recalibrated == 0

    rolled, summary, log = run(window)
    n_h = len(model.config.horizons)
    complete = summary.outcomes // n_h  # predictions whose every horizon was realized
    assert summary.recalibrated == complete > window
    assert rolled.calibration.scores.shape == (window, n_h)
    # the retained scores are the live ones: |realized - predicted| / sigma, all far
    # below the inflated training scores
    assert np.median(rolled.calibration.scores) < 0.5 * np.median(model.calibration.scores)
    widths = [r["upper_return"] - r["lower_return"] for r in log if r["type"] == "prediction"]
    static_widths = [
        r["upper_return"] - r["lower_return"] for r in static_log if r["type"] == "prediction"
    ]
    half = len(widths) // 2
    assert widths[:n_h] == static_widths[:n_h]  # before any outcome: the same interval
    assert np.median(widths[half:]) < 0.5 * np.median(static_widths[half:])
    covered = [r["covered"] for r in log if r["type"] == "outcome"]
    static_covered = [r["covered"] for r in static_log if r["type"] == "outcome"]
    assert np.mean(static_covered) > 0.99  # the inflated interval covers everything
    assert np.mean(covered[len(covered) // 2 :]) < np.mean(static_covered)


def test_recalibrate_must_be_positive(tiny_model, candles):
    fetcher = Fetcher.from_frame(candles, symbol="WALK", interval="1d")
    with pytest.raises(ValueError, match="recalibrate"):
        Activator(fetcher, System(tiny_model), recalibrate=0)


def test_an_ohlcv_model_runs_in_the_live_loop_like_the_batch(candles):
    """Models of the OHLCV feature groups get whole candles in the live loop too."""
    from finance_demo import load_settings, train_model

    settings = load_settings(
        {
            "buffer": {"buffer_size": 40},
            "features": {"window_size": 4, "groups": ["trend_fft", "range_vol", "volume"]},
            "model": {"seq_len": 5, "hidden_dim": 8, "num_layers": 1},
            "training": {"epochs": 1},
        }
    )
    model = train_model(candles, settings, symbol="WALK", interval="1d")
    feed = Fetcher.from_frame(candles, symbol="WALK", interval="1d", replay_start=-30)
    stream = io.StringIO()
    summary = Activator(feed, System(model), log=stream).execute()
    assert summary.predictions == 30 and summary.bad_candles == 0
    live = [json.loads(x) for x in stream.getvalue().splitlines() if '"prediction"' in x]
    batch = batch_predict(model, candles).set_index("tick")
    got = np.array([r["predicted_return"] for r in live])
    np.testing.assert_allclose(got, batch["predicted_return"].to_numpy()[-30:], atol=1e-6)
