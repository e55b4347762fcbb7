import datetime

import pandas as pd
import pytest
from data_fetcher import DataError, Fetcher, drop_before, load_sample


def test_since_keeps_candles_on_or_after_the_date():
    candles = Fetcher("IBM", interval="1d", source="sample", since="2010-03-01").fetch_historical()
    assert candles.index[0] == pd.Timestamp("2010-03-01", tz="America/New_York")
    whole = load_sample("IBM")
    pd.testing.assert_frame_equal(candles, whole[whole.index >= candles.index[0]])


def test_naive_date_is_read_in_the_candles_zone():
    # EUR/USD hourly is in UTC; New York daily closes are in America/New_York
    fx = Fetcher("EURUSD=X", interval="1h", source="sample", since="2017-06-05 10:00")
    assert fx.fetch_historical().index[0] == pd.Timestamp("2017-06-05 10:00", tz="UTC")
    aware = pd.Timestamp("2017-06-05 10:00", tz="America/New_York")  # 14:00 UTC
    fx = Fetcher("EURUSD=X", interval="1h", source="sample", since=aware)
    assert fx.fetch_historical().index[0] == aware


def test_since_with_a_period_and_a_date_object():
    candles = load_sample("MSFT")
    day = candles.index[-10].date()
    kept = drop_before(candles, day, "MSFT")
    assert len(kept) == 10
    kept = drop_before(candles, datetime.datetime(day.year, day.month, day.day), "MSFT")
    assert len(kept) == 10
    assert drop_before(candles, None, "MSFT") is candles


@pytest.mark.parametrize("value", ["yesterdayish", "2020-13-45", "", 20200101, True, [1]])
def test_bad_date_is_one_line(value):
    with pytest.raises(DataError, match="since=") as info:
        Fetcher("IBM", interval="1d", source="sample", since=value)
    assert repr(value) in str(info.value) and "\n" not in str(info.value)


def test_no_candle_left():
    fetcher = Fetcher("IBM", interval="1d", source="sample", since="2100-01-01")
    with pytest.raises(DataError, match=r"^no candle of IBM on or after 2100-01-01"):
        fetcher.fetch_historical()


def test_since_applies_to_csv(tmp_path):
    path = tmp_path / "x.csv"
    load_sample("MSFT").iloc[:50].to_csv(path)
    since = load_sample("MSFT").index[40]
    candles = Fetcher("MSFT", interval="1d", source=f"csv:{path}", since=since).fetch_historical()
    assert len(candles) == 10 and candles.index[0] == since
