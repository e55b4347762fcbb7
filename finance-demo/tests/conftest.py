import numpy as np
import pandas as pd
import pytest
import torch
from finance_demo import load_settings, train_model

# One sequence at a time is too small to share between threads; on a busy 2-core
# machine a second thread only adds tail latency.
torch.set_num_threads(1)

TINY = {
    "buffer": {"buffer_size": 20, "step_size": 1},
    "features": {"window_size": 4, "groups": ["trend_fft"]},
    "model": {"seq_len": 6, "hidden_dim": 8, "num_layers": 1},
    "training": {"epochs": 2, "batch_size": 64, "val_fraction": 0.2},
    "evaluation": {"test_fraction": 0.2},
}


def make_candles(n=400, seed=0, freq="B", start="2020-01-01"):
    """A geometric random walk as a candles frame (tz-aware, strictly increasing)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, n)))
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    return pd.DataFrame(
        {
            "Open": close,
            "High": close * 1.01,
            "Low": close * 0.99,
            "Close": close,
            "Volume": np.full(n, 1e6),
        },
        index=index,
    )


@pytest.fixture(name="make_candles", scope="session")
def make_candles_fixture():
    return make_candles


@pytest.fixture(scope="session")
def candles():
    return make_candles()


@pytest.fixture(scope="session")
def tiny_settings():
    return load_settings(TINY)


@pytest.fixture(scope="session")
def tiny_model(candles, tiny_settings):
    """A small model trained for 2 epochs on the synthetic walk (about a second)."""
    return train_model(candles, tiny_settings, symbol="WALK", interval="1d")


@pytest.fixture(scope="session")
def stepped_model(candles):
    """Like tiny_model, but step_size 3 and two horizons."""
    settings = load_settings(
        {
            **TINY,
            "buffer": {"buffer_size": 20, "step_size": 3},
            "model": {"seq_len": 5, "hidden_dim": 8, "num_layers": 1, "horizons": [1, 3]},
        }
    )
    return train_model(candles, settings, symbol="WALK", interval="1d")


class FakeFeed:
    """A scripted fetcher: a history, then one item per ``fetch_latest`` call.

    Items are candle frames (one row), ``None`` (nothing new) or an exception to raise.
    """

    def __init__(self, history, items, interval="1d", symbol="WALK", is_live=False):
        self.history = history
        self.items = list(items)
        self.interval = interval
        self.symbol = symbol
        self.is_live = is_live
        self.calls = 0

    def fetch_historical(self):
        return self.history

    def fetch_latest(self):
        self.calls += 1
        if not self.items:
            return None
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    @property
    def exhausted(self):
        return not self.items


@pytest.fixture(name="FakeFeed", scope="session")
def fake_feed_class():
    return FakeFeed
