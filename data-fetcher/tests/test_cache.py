import gzip

import pytest
from data_fetcher import CACHE_ENV, CandleCache, Fetcher, default_cache_dir, load_sample
from data_fetcher.testing import YahooChartSession

pytestmark = pytest.mark.usefixtures("yf_isolated")


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def fetcher(session, cache_dir, clock, **kw):
    return Fetcher(
        "MSFT",
        "1mo",
        "1d",
        source="yahoo",
        session=session,
        cache_dir=cache_dir,
        clock=clock,
        sleep=lambda s: None,
        **kw,
    )


def test_cache_hit_needs_no_network(tmp_path):
    clock = Clock()
    first = fetcher(YahooChartSession(), tmp_path, clock).fetch_historical()
    offline = YahooChartSession(offline=True)
    again = fetcher(offline, tmp_path, clock).fetch_historical()
    assert offline.log == []
    assert again.equals(first)
    assert str(again.index.tz) == "America/New_York"


def test_cache_expires(tmp_path):
    clock = Clock()
    fetcher(YahooChartSession(), tmp_path, clock, cache_ttl=60).fetch_historical()
    clock.now += 61
    session = YahooChartSession()
    fetcher(session, tmp_path, clock, cache_ttl=60).fetch_historical()
    assert session.chart_requests >= 1


@pytest.mark.parametrize("garbage", [b"", b"not gzip at all", gzip.compress(b"{broken json")])
def test_corrupt_cache_file_is_refetched(tmp_path, garbage, caplog):
    clock = Clock()
    f = fetcher(YahooChartSession(), tmp_path, clock)
    path = f.source.cache.path(("MSFT", "1d", "1mo"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(garbage)
    session = YahooChartSession()
    candles = fetcher(session, tmp_path, clock).fetch_historical()
    assert len(candles) == 23 and session.chart_requests >= 1
    assert "unreadable cache file" in caplog.text
    # and the file was rewritten with a good entry
    assert (
        fetcher(YahooChartSession(offline=True), tmp_path, clock).fetch_historical().equals(candles)
    )


def test_use_cache_false_always_asks_and_writes_nothing(tmp_path):
    clock = Clock()
    fetcher(YahooChartSession(), tmp_path, clock, use_cache=False).fetch_historical()
    assert not any(tmp_path.glob("*.json.gz"))
    session = YahooChartSession()
    fetcher(session, tmp_path, clock, use_cache=False).fetch_historical()
    assert session.chart_requests >= 1


def test_cache_keys_differ_by_symbol_interval_period(tmp_path):
    cache = CandleCache(tmp_path)
    paths = {
        cache.path(k)
        for k in [
            ("MSFT", "1d", "1mo"),
            ("MSFT", "1h", "1mo"),
            ("MSFT", "1d", "1y"),
            ("^GSPC", "1d", "1mo"),
        ]
    }
    assert len(paths) == 4


def test_cache_round_trip_is_exact(tmp_path):
    cache = CandleCache(tmp_path, ttl=10)
    for symbol in ("^GSPC", "EURUSD=X"):
        candles = load_sample(symbol)
        cache.store((symbol, "x", "max"), candles)
        assert cache.load((symbol, "x", "max")).equals(candles)


def test_env_var_and_argument_choose_the_directory(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    assert Fetcher("MSFT", "1mo", "1d").source.cache.directory == tmp_path / "env"
    explicit = Fetcher("MSFT", "1mo", "1d", cache_dir=tmp_path / "arg")
    assert explicit.source.cache.directory == tmp_path / "arg"
    monkeypatch.delenv(CACHE_ENV)
    assert "stock-analyzer" in str(default_cache_dir())


def test_negative_ttl_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="ttl"):
        CandleCache(tmp_path, ttl=-1)


def test_default_ttl_follows_the_interval_length(args, expected):
    from data_fetcher.cache import default_ttl

    assert default_ttl(args["interval"]) == expected
