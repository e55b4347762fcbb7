import data_fetcher
import numpy as np
import pandas as pd
import pytest
from data_fetcher import SAMPLE_SYMBOLS, Fetcher, FetchError, load_sample


def test_every_sample_symbol(args, expected):
    candles = Fetcher(args["symbol"], "max", args["interval"], source="sample").fetch_historical()
    assert SAMPLE_SYMBOLS[args["symbol"]] == args["interval"]
    assert len(candles) == expected["rows"]
    assert str(candles.index.tz) == expected["tz"]
    assert candles.index[0].tz_localize(None) == pd.Timestamp(expected["first"])
    assert candles.index[-1].tz_localize(None) == pd.Timestamp(expected["last"])
    assert list(candles.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert (candles.dtypes == "float64").all() and candles.notna().all().all()
    assert candles.index.is_monotonic_increasing and candles.index.is_unique
    assert (candles["High"] >= candles[["Open", "Close"]].max(axis=1)).all()


def test_period_counts_back_from_last_candle(args, expected):
    native = SAMPLE_SYMBOLS[args["symbol"]]
    candles = Fetcher(args["symbol"], args["period"], native, source="sample").fetch_historical()
    assert len(candles) == expected
    assert candles.index[-1] == load_sample(args["symbol"]).index[-1]


def test_resampled_interval(args, expected):
    candles = Fetcher(**args, source="sample").fetch_historical()
    assert len(candles) == expected["rows"]
    assert candles.index[0].tz_localize(None) == pd.Timestamp(expected["first_stamp"])
    native = load_sample(args["symbol"])
    # each bin aggregates its native candles: first open, max high, min low, last close, sum
    stamp = candles.index[1]
    end = candles.index[2]
    part = native[(native.index >= stamp) & (native.index < end)]
    row = candles.loc[stamp]
    assert row["Open"] == part["Open"].iloc[0] and row["Close"] == part["Close"].iloc[-1]
    assert row["High"] == part["High"].max() and row["Low"] == part["Low"].min()
    assert row["Volume"] == pytest.approx(part["Volume"].sum())


def test_bad_sample_request(args, expected):
    with pytest.raises(getattr(data_fetcher, expected["error"]), match=expected["match"]):
        Fetcher(**{"period": "max", **args}, source="sample").fetch_historical()


def test_sample_is_not_live():
    fetcher = Fetcher("MSFT", "1mo", "1d", source="sample")
    assert not fetcher.is_live and not fetcher.exhausted
    with pytest.raises(FetchError, match=r"not a live feed.*replay"):
        fetcher.fetch_latest()


def test_symbol_is_case_insensitive_and_copies_are_independent():
    a = load_sample("msft")
    a.iloc[0, 0] = -1.0
    assert load_sample("MSFT").iloc[0, 0] > 0


def test_daily_sample_matches_yfinance_localization():
    idx = load_sample("IBM").index
    assert (idx == idx.normalize()).all()
    assert np.unique(idx.tz_convert("UTC").hour).tolist() == [4, 5]  # EDT / EST midnights


def test_sample_files_ship_with_the_package():
    from importlib import resources

    files = {p.name for p in resources.files("data_fetcher").joinpath("data").iterdir()}
    assert {
        "sp500_daily.csv.gz",
        "msft_daily.csv.gz",
        "ibm_daily.csv.gz",
        "eurusd_hourly.csv.gz",
        "README.md",
    } <= files
