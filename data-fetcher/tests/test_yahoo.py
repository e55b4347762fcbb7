import random

import data_fetcher
import pandas as pd
import pytest
from data_fetcher import DataError, Fetcher, FetchError, RetryPolicy, normalize_yfinance
from data_fetcher.testing import YahooChartSession

pytestmark = pytest.mark.usefixtures("yf_isolated")


def make(symbol, period="1mo", interval="1d", *, session, sleeps=None, **kw):
    return Fetcher(
        symbol,
        period,
        interval,
        source="yahoo",
        session=session,
        use_cache=False,
        sleep=(sleeps.append if sleeps is not None else None) or (lambda s: None),
        rng=random.Random(0),
        **kw,
    )


def test_history_through_yfinance(args, expected):
    session = YahooChartSession()
    candles = make(
        args["symbol"], args["period"], args["interval"], session=session
    ).fetch_historical()
    assert list(candles.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert (candles.dtypes == "float64").all()
    assert str(candles.index.tz) == expected["tz"]
    assert candles.index.is_monotonic_increasing and candles.index.is_unique
    assert candles.index.name == expected["index_name"]
    assert len(candles) == expected["rows"]
    last = pd.Timestamp(expected["last"])
    assert (
        candles.index[-1].tz_localize(None) == last
        or candles.index[-1].tz_convert("UTC").tz_localize(None) == last
    )
    assert session.chart_requests >= 1


def test_daily_values_equal_the_sample(yf_isolated):
    candles = make("IBM", "3mo", "1d", session=YahooChartSession()).fetch_historical()
    sample = data_fetcher.load_sample("IBM").loc[candles.index]
    pd.testing.assert_frame_equal(candles, sample, check_names=False, rtol=1e-6)


def test_hourly_values_equal_the_sample():
    candles = make("EURUSD=X", "5d", "1h", session=YahooChartSession()).fetch_historical()
    sample = data_fetcher.load_sample("EURUSD=X")
    sample = sample.loc[candles.index.tz_convert("UTC")]
    assert candles["Close"].to_numpy() == pytest.approx(sample["Close"].to_numpy(), rel=1e-6)


def test_fault_gives_one_line_error(args, expected, sleeps):
    session = YahooChartSession(**args["session"])
    fetcher = make(args["symbol"], args.get("period", "1mo"), session=session, sleeps=sleeps)
    with pytest.raises(getattr(data_fetcher, expected["error"]), match=expected["match"]) as info:
        fetcher.fetch_historical()
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert fetcher.source.attempts == expected["attempts"]
    assert len(sleeps) == expected["attempts"] - 1


def test_transient_fault_then_success(args, expected, sleeps):
    session = YahooChartSession(faults=args["faults"])
    fetcher = make("MSFT", session=session, sleeps=sleeps)
    candles = fetcher.fetch_historical()
    assert len(candles) == 23
    assert fetcher.source.attempts == expected
    assert len(sleeps) == expected - 1
    assert session.faults == []


def test_backoff_grows_and_is_jittered(sleeps):
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=100.0, jitter=0.5)
    fetcher = make("MSFT", session=YahooChartSession(offline=True), sleeps=sleeps, retry=policy)
    with pytest.raises(FetchError):
        fetcher.fetch_historical()
    assert len(sleeps) == 4
    for k, wait in enumerate(sleeps):
        assert 0.5 * 2**k <= wait <= 2**k


def test_unknown_symbol_is_not_retried(sleeps):
    session = YahooChartSession()
    with pytest.raises(FetchError, match="unknown symbol"):
        make("ZZZZ", session=session, sleeps=sleeps).fetch_historical()
    assert sleeps == []


def test_yahoo_range_limits(args, expected):
    if expected is None:
        Fetcher("MSFT", args["period"], args["interval"], source="yahoo")
    else:
        with pytest.raises(ValueError, match=expected):
            Fetcher("MSFT", args["period"], args["interval"], source="yahoo")


def test_fetch_latest_returns_newest_completed_candle_once():
    session = YahooChartSession()
    last = data_fetcher.load_sample("MSFT").index[-1]
    # The wall clock is in the middle of the last daily candle: it is still forming.
    now = (last + pd.Timedelta(hours=12)).timestamp()
    fetcher = make("MSFT", "1mo", "1d", session=session, clock=lambda: now)
    row = fetcher.fetch_latest()
    assert len(row) == 1 and row.index[0] == data_fetcher.load_sample("MSFT").index[-2]
    assert fetcher.fetch_latest() is None  # nothing new since
    fetcher.source.clock = lambda: (last + pd.Timedelta(days=1)).timestamp()
    assert fetcher.fetch_latest().index[0] == last
    assert fetcher.is_live and not fetcher.exhausted


def test_fetch_latest_after_history_skips_known_candles():
    session = YahooChartSession()
    fetcher = make("EURUSD=X", "5d", "1h", session=session)
    history = fetcher.fetch_historical()
    assert fetcher.fetch_latest() is None
    assert fetcher.source.last_stamp == history.index[-1]
    # fetch_latest asks for a short period only
    assert session.log[-1][2].get("range") == "5d"


def test_fetch_latest_network_down_is_one_line(sleeps):
    fetcher = make("MSFT", session=YahooChartSession(offline=True), sleeps=sleeps)
    with pytest.raises(FetchError, match="--source sample"):
        fetcher.fetch_latest()


def test_injected_session_must_be_a_session():
    with pytest.raises(data_fetcher.FetcherError, match="Yahoo request failed"):
        make("MSFT", session=object()).fetch_historical()


def test_normalize_download_multiindex():
    sample = data_fetcher.load_sample("MSFT").iloc[-5:]
    wide = sample.assign(Dividends=0.0, **{"Stock Splits": 0.0})
    wide.columns = pd.MultiIndex.from_product([wide.columns, ["MSFT"]], names=["Price", "Ticker"])
    out = normalize_yfinance(wide, "MSFT")
    pd.testing.assert_frame_equal(out, sample)


def test_normalize_empty_frame_is_data_error():
    with pytest.raises(DataError, match="MSFT: Yahoo returned no candles"):
        normalize_yfinance(pd.DataFrame(), "MSFT")


def test_yfinance_state_restored_after_call():
    import yfinance as yf

    before = yf.config.debug.hide_exceptions
    make("MSFT", session=YahooChartSession()).fetch_historical()
    assert yf.config.debug.hide_exceptions == before


def closed_market_session():
    """Yahoo's answer before the open / at a weekend: a valid chart without any candle."""
    empty = data_fetcher.load_sample("MSFT").iloc[:0]
    return YahooChartSession(candles={"MSFT": empty})


@pytest.mark.parametrize("interval", ["5m", "1h", "1d"])
def test_fetch_latest_on_an_empty_answer_is_no_new_candle(interval, sleeps):
    fetcher = make("MSFT", "5d", interval, session=closed_market_session(), sleeps=sleeps)
    assert fetcher.fetch_latest() is None
    assert fetcher.fetch_latest() is None
    assert sleeps == []  # not retried as a failure
    with pytest.raises(DataError, match="MSFT: Yahoo returned no candles"):
        fetcher.fetch_historical()


def test_fetch_latest_resumes_after_empty_answers():
    session = YahooChartSession(faults=["empty", "empty"])
    last = data_fetcher.load_sample("MSFT").index[-1]
    fetcher = make(
        "MSFT",
        "1mo",
        "1d",
        session=session,
        clock=lambda: (last + pd.Timedelta(days=1)).timestamp(),
    )
    assert fetcher.fetch_latest() is None
    assert fetcher.fetch_latest().index[0] == last
