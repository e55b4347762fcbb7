import logging

import pandas as pd
import pytest
from data_fetcher import DataError, Fetcher, read_candles_csv, validate_candles

FILLED = ["Open", "High", "Low", "Volume"]


def write(tmp_path, text, name="closes.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "header", ["Date,Close", "date,close", "DATE , CLOSE", "Date,Adj Close", "timestamp,adj_close"]
)
def test_close_only_is_filled(tmp_path, header, caplog):
    path = write(tmp_path, f"{header}\n2024-01-02,10.5\n2024-01-03,11\n2024-01-04,12.25\n")
    with caplog.at_level(logging.INFO, logger="data_fetcher"):
        candles = read_candles_csv(path)
    assert list(candles.columns) == ["Open", "High", "Low", "Close", "Volume"]
    for col in ("Open", "High", "Low", "Close"):
        assert candles[col].tolist() == [10.5, 11.0, 12.25]
    assert candles["Volume"].tolist() == [0.0, 0.0, 0.0]
    assert candles.attrs["filled_columns"] == FILLED
    records = [r for r in caplog.records if r.name == "data_fetcher"]
    assert len(records) == 1 and records[0].levelno == logging.INFO
    assert "close-only" in records[0].getMessage()


def test_close_wins_over_adj_close_and_adjusts_the_fill(tmp_path):
    path = write(tmp_path, "Date,Close,Adj Close\n2024-01-02,10,5\n2024-01-03,12,6\n")
    candles = read_candles_csv(path)
    assert candles["Close"].tolist() == [5.0, 6.0]
    assert candles["Open"].tolist() == [5.0, 6.0] and candles["High"].tolist() == [5.0, 6.0]
    assert candles.attrs["filled_columns"] == FILLED


def test_close_only_keeps_attrs_through_repairs_and_sources(tmp_path):
    # unsorted, duplicated and NaN rows: validation sorts, drops, and keeps the attrs
    text = "Date,Close\n2024-01-03,3\n2024-01-02,2\n2024-01-03,9\n2024-01-04,\n2024-01-05,5\n"
    path = write(tmp_path, text)
    candles = read_candles_csv(path)
    assert candles["Close"].tolist() == [2.0, 3.0, 5.0]
    assert candles.attrs["filled_columns"] == FILLED
    assert validate_candles(candles, "X").attrs["filled_columns"] == FILLED
    csv = Fetcher("X", interval="1d", source=f"csv:{path}")
    assert csv.fetch_historical().attrs["filled_columns"] == FILLED
    replay = Fetcher("X", interval="1d", source=f"replay:{path}", replay_start=2)
    assert replay.fetch_historical().attrs["filled_columns"] == FILLED
    assert replay.fetch_latest().attrs["filled_columns"] == FILLED
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    lines = "".join(f"{d.date()},{i + 1}\n" for i, d in enumerate(days))
    path = write(tmp_path, "Date,Close\n" + lines, "long.csv")
    weekly = Fetcher("X", interval="1wk", source=f"csv:{path}").fetch_historical()
    assert weekly.attrs["filled_columns"] == FILLED
    assert (
        Fetcher("X", "1mo", "1d", source=f"csv:{path}").fetch_historical().attrs["filled_columns"]
        == FILLED
    )


def test_full_file_has_no_filled_columns(tmp_path):
    path = write(tmp_path, "Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,10\n")
    assert "filled_columns" not in read_candles_csv(path).attrs
    path = write(tmp_path, "Date,Open,High,Low,Close\n2024-01-02,1,2,1,2\n", "nov.csv")
    assert read_candles_csv(path).attrs["filled_columns"] == ["Volume"]


@pytest.mark.parametrize(
    "text", ["Date,Open,High,Low,Volume\n2024-01-02,1,2,1,10\n", "Date,Price\n2024-01-02,1\n"]
)
def test_no_close_is_one_line_naming_columns(tmp_path, text):
    with pytest.raises(DataError, match="no Close \\(or Adj Close\\) column; found") as info:
        read_candles_csv(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message and text.split("\n")[0].replace(",", ", ") in message
