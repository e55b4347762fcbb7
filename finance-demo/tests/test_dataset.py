import numpy as np
import pytest
from feature_extraction import FeatureExtraction
from finance_demo import (
    InsufficientDataError,
    PipelineError,
    PipelineSpec,
    build_dataset,
    split_dataset,
)


def test_sequence_count(args, expected, make_candles):
    cfg = PipelineSpec.build(
        buffer_size=args["buffer_size"], step_size=args["step_size"], seq_len=args["seq_len"]
    )
    data = build_dataset(make_candles(args["n"]), cfg)
    assert len(data) == expected["count"]
    assert data.ticks[0] == expected["first_tick"]
    assert data.X.shape == (expected["count"], args["seq_len"], 6)
    assert np.all(np.diff(data.ticks) == args["step_size"])


def test_too_short_history(args, expected, make_candles):
    cfg = PipelineSpec.build(
        buffer_size=args["buffer_size"], step_size=args["step_size"], seq_len=args["seq_len"]
    )
    with pytest.raises(InsufficientDataError, match=expected):
        build_dataset(make_candles(args["n"]), cfg)


@pytest.mark.parametrize("step", [1, 4])
def test_sequences_are_the_windows_features(step, make_candles):
    candles = make_candles(150)
    cfg = PipelineSpec.build(buffer_size=25, step_size=step, seq_len=5, window_size=4)
    data = build_dataset(candles, cfg)
    fe = FeatureExtraction(window_size=4)
    closes = candles["Close"].to_numpy()
    for j in (0, len(data) // 2, len(data) - 1):
        t = data.ticks[j]
        expected = [fe.execute(closes[e - 24 : e + 1]) for e in range(t - 4 * step, t + 1, step)]
        np.testing.assert_allclose(data.X[j], np.stack(expected), rtol=1e-9, atol=1e-12)
        assert data.times[j] == candles.index[t]
        assert data.closes[j] == closes[t]


def test_targets_are_future_log_returns_and_nan_past_the_end(make_candles):
    candles = make_candles(120)
    cfg = PipelineSpec.build(buffer_size=20, seq_len=3, horizons=(1, 4))
    data = build_dataset(candles, cfg)
    closes = candles["Close"].to_numpy()
    t = data.ticks[10]
    np.testing.assert_allclose(data.y[10], np.log(closes[[t + 1, t + 4]] / closes[t]))
    assert np.isnan(data.y[-1]).all()  # last tick: no future at all
    assert np.isnan(data.y[-2, 1]) and np.isfinite(data.y[-2, 0])
    assert len(data.labeled()) == len(data) - 4


def test_no_look_ahead(make_candles):
    """Changing prices after tick t changes no input sequence ending at or before t."""
    candles = make_candles(200)
    cfg = PipelineSpec.build(buffer_size=20, seq_len=5)
    before = build_dataset(candles, cfg)
    changed = candles.copy()
    changed.iloc[150:, changed.columns.get_loc("Close")] *= 1.5
    after = build_dataset(changed, cfg)
    keep = before.ticks < 150
    np.testing.assert_array_equal(before.X[keep], after.X[keep])
    assert not np.array_equal(before.X[~keep], after.X[~keep])


def test_split_is_time_ordered_and_purged(make_candles):
    data = build_dataset(
        make_candles(400), PipelineSpec.build(buffer_size=20, seq_len=5, horizons=(1, 3))
    )
    train, val, test = split_dataset(data, 0.2, 0.2)
    assert train.ticks[-1] < val.ticks[0] < val.ticks[-1] < test.ticks[0]
    # no training target reaches into the validation part, nor validation into test
    assert train.ticks[-1] + 3 < val.ticks[0]
    assert val.ticks[-1] + 3 < test.ticks[0]
    assert np.isfinite(test.y).all()


def test_split_too_small(make_candles):
    data = build_dataset(make_candles(35), PipelineSpec.build(buffer_size=20, seq_len=5))
    with pytest.raises(InsufficientDataError, match="too few to split"):
        split_dataset(data, 0.2, 0.2)


@pytest.mark.parametrize("value", [0.0, -3.0, float("nan"), float("inf"), 1e300])
def test_impossible_closes_are_one_line(make_candles, value):
    candles = make_candles(100)
    candles.iloc[50, candles.columns.get_loc("Close")] = value
    with pytest.raises(PipelineError, match="missing, non-positive or absurd") as info:
        build_dataset(candles, PipelineSpec.build(buffer_size=20, seq_len=5))
    assert "\n" not in str(info.value)
