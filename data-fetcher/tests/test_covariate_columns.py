"""Extra numeric columns (covariates) ride beside the candles on the same rows."""

import math

import numpy as np
import pandas as pd
from data_fetcher import Fetcher, read_candles_csv
from data_fetcher.validate import extra_columns, validate_candles

TEXT = (
    "Date,Open,High,Low,Close,Volume, vix ,rate,Ticker\n"
    "2024-01-03,2,3,2,3,10,13.5,n/a,X\n"
    "2024-01-02,1,2,1,2,10,12.0,5.25,X\n"  # out of order: sorted, the extras follow
    "2024-01-03,9,9,9,9,9,99,99,X\n"  # duplicated stamp: first row kept
    "2024-01-04,,,,,,1,1,X\n"  # a candle with no prices: dropped with its extras
    "2024-01-05,5,5,4,5,1,,5.5,X\n"
)


def test_csv_keeps_numeric_extra_columns_on_the_candles_rows(tmp_path):
    path = tmp_path / "cov.csv"
    path.write_text(TEXT)
    candles = read_candles_csv(path)
    assert list(candles.columns) == ["Open", "High", "Low", "Close", "Volume", "vix", "rate"]
    assert candles["Close"].tolist() == [2.0, 3.0, 5.0]
    assert candles["vix"].tolist()[:2] == [12.0, 13.5] and math.isnan(candles["vix"].iloc[2])
    rate = candles["rate"].tolist()
    assert rate[0] == 5.25 and math.isnan(rate[1]) and rate[2] == 5.5  # "n/a": NaN, kept
    assert candles["vix"].dtype == np.float64


def test_replay_of_a_csv_carries_the_extra_columns(tmp_path):
    path = tmp_path / "cov.csv"
    path.write_text(TEXT)
    feed = Fetcher("X", "max", "1d", source=f"replay:{path}", replay_start=1)
    assert feed.fetch_historical()["vix"].tolist() == [12.0]
    row = feed.fetch_latest()
    assert list(row.columns)[5:] == ["vix", "rate"] and row["vix"].item() == 13.5
    csv = Fetcher("X", "max", "1d", source=f"csv:{path}").fetch_historical()
    assert list(csv.columns)[5:] == ["vix", "rate"]


def test_a_frame_keeps_its_numeric_extras_only_when_asked():
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    frame = pd.DataFrame(
        {
            "Open": 1.0,
            "High": 2.0,
            "Low": 1.0,
            "Close": 1.5,
            "Volume": 3.0,
            "vix": [1.0, np.inf, 3.0, 4.0],
            "flag": [True, False, True, True],
            "name": ["a", "b", "c", "d"],
            "Adj Close": 1.4,
        },
        index=index,
    )
    assert extra_columns(frame) == ["vix"]
    assert list(validate_candles(frame, "X").columns) == ["Open", "High", "Low", "Close", "Volume"]
    kept = validate_candles(frame, "X", extras=True)
    assert list(kept.columns)[5:] == ["vix"] and np.isinf(kept["vix"].iloc[1])  # checked later
    feed = Fetcher.from_frame(frame, symbol="X", replay_start=2)
    assert feed.fetch_historical()["vix"].tolist()[0] == 1.0
    assert feed.fetch_latest()["vix"].item() == 3.0


def test_resampling_takes_each_bins_last_value_nan_included():
    index = pd.date_range("2024-01-01", periods=6, freq="30min", tz="UTC")
    frame = pd.DataFrame(
        {
            "Open": 1.0,
            "High": 2.0,
            "Low": 1.0,
            "Close": [1.0, 2, 3, 4, 5, 6],
            "Volume": 1.0,
            "vix": [10.0, 11, 12, np.nan, 14, 15],
        },
        index=index,
    )
    out = Fetcher.from_frame(frame, symbol="X", interval="1h").source.candles
    assert out["Close"].tolist() == [2.0, 4.0, 6.0]
    vix = out["vix"].tolist()
    assert vix[0] == 11.0 and math.isnan(vix[1]) and vix[2] == 15.0  # no silent fill


def test_written_csv_reads_back_with_its_covariates(tmp_path):
    from data_fetcher import write_candles_csv

    path = tmp_path / "cov.csv"
    path.write_text(TEXT)
    candles = read_candles_csv(path)
    out = tmp_path / "out.csv"
    write_candles_csv(candles, out)
    back = read_candles_csv(out)
    pd.testing.assert_frame_equal(back, candles)  # NaN cells included
