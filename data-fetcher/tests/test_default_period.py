import data_fetcher
import pytest
from data_fetcher import INTERVALS, Fetcher, default_period, load_sample
from data_fetcher.testing import YahooChartSession
from data_fetcher.yahoo import check_yahoo_range

YAHOO = {
    "1m": "5d",
    "2m": "5d",
    "5m": "5d",
    "15m": "1mo",
    "30m": "1mo",
    "60m": "3mo",
    "90m": "3mo",
    "1h": "3mo",
    "1d": "2y",
    "5d": "2y",
    "1wk": "2y",
    "1mo": "2y",
    "3mo": "2y",
}


@pytest.mark.parametrize("interval", list(INTERVALS))
def test_yahoo_default_is_yahoos_and_allowed(interval):
    period = default_period("yahoo", interval)
    assert period == YAHOO[interval]
    check_yahoo_range(period, interval)  # within what Yahoo serves for the interval
    assert Fetcher("MSFT", None, interval, source="yahoo").period == period


def test_yahoo_default_interval():
    assert default_period("yahoo", None) == "3mo"
    assert Fetcher("MSFT", source="yahoo").period == "3mo"


@pytest.mark.parametrize("source", ["sample", "csv:x.csv", "replay", "replay:x.csv"])
def test_history_sources_default_to_max(source):
    assert default_period(source, "1d") == "max"
    assert default_period(source, None) == "max"


def test_sample_default_is_whole_series():
    fetcher = Fetcher("MSFT", interval="1d", source="sample")
    assert fetcher.period == "max"
    assert len(fetcher.fetch_historical()) == len(load_sample("MSFT"))


def test_csv_default_is_whole_file(tmp_path):
    path = tmp_path / "ibm.csv"
    load_sample("IBM").to_csv(path)
    fetcher = Fetcher("IBM", interval="1d", source=f"csv:{path}")
    assert fetcher.period == "max"
    assert len(fetcher.fetch_historical()) == len(load_sample("IBM"))


def test_replay_default_is_whole_series(tmp_path):
    whole = len(load_sample("IBM"))
    feed = Fetcher("IBM", interval="1d", source="replay", replay_start=-1)
    assert feed.period == "max" and len(feed.fetch_historical()) == whole - 1
    path = tmp_path / "ibm.csv"
    load_sample("IBM").to_csv(path)
    feed = Fetcher("IBM", interval="1d", source=f"replay:{path}", replay_start=-1)
    assert feed.period == "max" and len(feed.fetch_historical()) == whole - 1


def test_explicit_period_still_wins():
    assert Fetcher("MSFT", "1y", "1d", source="sample").period == "1y"
    assert len(Fetcher("MSFT", "1mo", "1d", source="sample").fetch_historical()) < 30
    assert Fetcher("MSFT", "5d", "1d", source="yahoo").period == "5d"


def test_yahoo_default_period_is_what_is_asked(yf_isolated):
    session = YahooChartSession()
    fetcher = Fetcher("MSFT", interval="1d", source="yahoo", session=session, use_cache=False)
    candles = fetcher.fetch_historical()
    assert session.log[-1][2].get("range") == "2y"
    assert 400 < len(candles) < 520


def test_unknown_source_or_interval():
    with pytest.raises(ValueError, match="unknown"):
        default_period("yahooo", "1d")
    with pytest.raises(ValueError, match="interval"):
        default_period("yahoo", "2h")
    assert "default_period" in data_fetcher.__all__
