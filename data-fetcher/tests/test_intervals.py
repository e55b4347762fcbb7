import pandas as pd
import pytest
from data_fetcher import DataError
from data_fetcher.intervals import check_interval, check_period, infer_interval, resample_candles


def test_check_interval(args, expected):
    if expected is None:
        assert check_interval(args["value"]) == args["value"]
    else:
        with pytest.raises(ValueError, match=expected):
            check_interval(args["value"])


def test_check_period(args, expected):
    if expected is None:
        assert check_period(args["value"]) == args["value"]
    else:
        with pytest.raises(ValueError, match=expected):
            check_period(args["value"])


def test_infer_interval(args, expected):
    idx = pd.date_range("2024-01-01", periods=args["n"], freq=args["freq"], tz="UTC")
    assert infer_interval(idx) == expected


def test_resample_hourly_to_daily_aggregates_ohlc():
    idx = pd.date_range("2024-01-01 22:00", periods=4, freq="h", tz="UTC")
    df = pd.DataFrame(
        {
            "Open": [1.0, 2, 3, 4],
            "High": [5.0, 6, 7, 9],
            "Low": [0.5, 0.2, 1, 2],
            "Close": [2.0, 3, 4, 5],
            "Volume": [1.0, 2, 3, 4],
        },
        index=idx,
    )
    out = resample_candles(df, "1h", "1d")
    assert out.index.tolist() == [
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timestamp("2024-01-02", tz="UTC"),
    ]
    assert out.iloc[0].tolist() == [1.0, 6.0, 0.2, 3.0, 3.0]
    assert out.iloc[1].tolist() == [3.0, 9.0, 1.0, 5.0, 7.0]


def test_resample_finer_is_error():
    df = pd.DataFrame(
        {c: [1.0] for c in ["Open", "High", "Low", "Close", "Volume"]},
        index=pd.DatetimeIndex(["2024-01-01"], tz="UTC"),
    )
    with pytest.raises(DataError, match="finer"):
        resample_candles(df, "1d", "1h", symbol="X")
    assert resample_candles(df, "1d", "1d") is df
