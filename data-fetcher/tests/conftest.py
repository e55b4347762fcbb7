import pytest
from data_fetcher.testing import isolated_yfinance


@pytest.fixture
def yf_isolated(tmp_path):
    """Fresh yfinance state (singleton session, lru_cache, tz/cookie cache in tmp_path)."""
    with isolated_yfinance(tmp_path / "py-yfinance"):
        yield


@pytest.fixture
def sleeps():
    """A fake sleep that records the waits instead of waiting."""
    waits: list[float] = []
    return waits


@pytest.fixture(autouse=True)
def _no_user_cache(tmp_path, monkeypatch):
    """Never touch the real user cache directory from a test."""
    monkeypatch.setenv("STOCK_ANALYZER_CACHE_DIR", str(tmp_path / "candle-cache"))
