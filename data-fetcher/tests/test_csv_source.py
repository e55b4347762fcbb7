import gzip
import logging

import pandas as pd
import pytest
from data_fetcher import DataError, Fetcher, FetchError, load_sample, read_candles_csv


def write(tmp_path, text, name="prices.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_layout(tmp_path, args, expected):
    candles = read_candles_csv(write(tmp_path, args["text"]))
    assert len(candles) == expected["rows"]
    assert candles["Close"].tolist() == expected["close"]
    assert candles["Open"].iloc[0] == expected["open0"]
    assert str(candles.index.tz) == expected["tz"]
    # extra numeric columns (covariates) are kept after the candles; text columns are not
    extras = expected.get("extras", [])
    assert list(candles.columns) == ["Open", "High", "Low", "Close", "Volume", *extras]


def test_bad_layout(tmp_path, args, expected):
    with pytest.raises(DataError, match=expected) as info:
        read_candles_csv(write(tmp_path, args["text"]))
    assert "prices.csv" in str(info.value) and "\n" not in str(info.value)


def test_missing_file_is_fetch_error(tmp_path):
    with pytest.raises(FetchError, match="CSV file not found"):
        Fetcher("X", "max", "1d", source=f"csv:{tmp_path / 'nope.csv'}").fetch_historical()


def test_repairs_are_logged(tmp_path, caplog):
    text = (
        "Date,Open,High,Low,Close,Volume\n2024-01-03,2,3,2,3,10\n2024-01-02,1,2,1,2,10\n"
        "2024-01-03,9,9,9,9,9\n2024-01-04,,,,,\n2024-01-05,5,4,4,5,1\n"
    )
    with caplog.at_level(logging.WARNING, logger="data_fetcher"):
        read_candles_csv(write(tmp_path, text))
    assert "not in time order" in caplog.text
    assert "dropped 1 candle(s) with a duplicated timestamp" in caplog.text
    assert "dropped 1 candle(s) with missing values" in caplog.text
    assert "1 candle(s) with High below Open/Close" in caplog.text


def test_full_sample_round_trip_through_csv(tmp_path):
    """Done-when: the whole real series comes back from a user's (gzipped) CSV file."""
    sample = load_sample("^GSPC")
    path = tmp_path / "gspc.csv.gz"
    with gzip.open(path, "wt") as fh:
        sample.tz_localize(None).to_csv(fh)
    candles = Fetcher("^GSPC", "max", "1d", source=f"csv:{path}", tz="America/New_York")
    pd.testing.assert_frame_equal(candles.fetch_historical(), sample)


def test_csv_period_and_resample(tmp_path):
    path = tmp_path / "fx.csv"
    load_sample("EURUSD=X").to_csv(path)
    daily = Fetcher("EURUSD=X", "1mo", "1d", source=f"csv:{path}").fetch_historical()
    assert len(daily) == 26
    with pytest.raises(DataError, match="finer"):
        Fetcher("EURUSD=X", "1mo", "5m", source=f"csv:{path}").fetch_historical()


def test_csv_is_not_live(tmp_path):
    path = write(tmp_path, "Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,10\n")
    with pytest.raises(FetchError, match="not a live feed"):
        Fetcher("X", "max", "1d", source=f"csv:{path}").fetch_latest()
