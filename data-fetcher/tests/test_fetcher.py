import data_fetcher
import pandas as pd
import pytest
from data_fetcher import CandleSource, DataError, Fetcher, FetcherError, FetchError


def test_public_imports():
    assert issubclass(DataError, FetcherError) and issubclass(FetchError, FetcherError)
    for name in data_fetcher.__all__:
        assert hasattr(data_fetcher, name)


def test_done_when_full_sample_offline():
    candles = Fetcher("^GSPC", period="max", interval="1d", source="sample").fetch_historical()
    assert len(candles) == 5031 and candles.index.tz is not None


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("yahooo", "source 'yahooo' is unknown"),
        ("csv", "needs a file"),
        ("yahoo:x", "takes no argument"),
        (42, "must be a string"),
    ],
)
def test_bad_source(source, match):
    with pytest.raises(ValueError, match=match):
        Fetcher("MSFT", "1mo", "1d", source=source)


def test_register_own_source():
    class Constant(CandleSource):
        def __init__(self, symbol):
            self.symbol = symbol

        def fetch_historical(self):
            return data_fetcher.load_sample(self.symbol).iloc[-3:]

    data_fetcher.register_source("constant", lambda symbol, *a, **kw: Constant(symbol))
    assert "constant" in data_fetcher.source_names()
    assert len(Fetcher("IBM", "max", "1d", source="constant").fetch_historical()) == 3
    assert len(Fetcher("IBM", "max", "1d", source=Constant("IBM")).fetch_historical()) == 3
    with pytest.raises(ValueError, match="no ':'"):
        data_fetcher.register_source("a:b", lambda *a, **k: None)


def test_default_interval_on_daily_sample_is_clear_error():
    with pytest.raises(DataError, match="'1h' is finer than the data's native '1d'"):
        Fetcher("MSFT", source="sample")


def test_interval_none_means_native():
    f = Fetcher("EURUSD=X", "7d", None, source="sample")
    assert pd.Series(f.fetch_historical().index).diff().min() == pd.Timedelta(hours=1)


def test_repr_names_the_source():
    assert "source='sample'" in repr(Fetcher("IBM", "1y", "1d", source="sample"))
