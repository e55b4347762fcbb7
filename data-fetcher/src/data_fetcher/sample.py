"""Real historical candles shipped inside the package (see data/README.md for sources)."""

from __future__ import annotations

import functools
from importlib import resources

import pandas as pd

from .base import CandleSource
from .errors import FetchError
from .intervals import check_coarser, check_interval, check_period, resample_candles, slice_period
from .validate import validate_candles

__all__ = ["SAMPLE_SYMBOLS", "SampleSource", "load_sample"]

#: Symbol (as spelled on Yahoo) -> native interval of the shipped series.
SAMPLE_SYMBOLS: dict[str, str] = {"^GSPC": "1d", "MSFT": "1d", "IBM": "1d", "EURUSD=X": "1h"}

_FILES = {
    "^GSPC": "sp500_daily.csv.gz",
    "MSFT": "msft_daily.csv.gz",
    "IBM": "ibm_daily.csv.gz",
    "EURUSD=X": "eurusd_hourly.csv.gz",
}
# Daily files have naive dates of US trading days: localize them like yfinance does.
_DAILY_TZ = "America/New_York"


def _sample_key(symbol: str) -> str:
    key = symbol.strip().upper()
    if key not in SAMPLE_SYMBOLS:
        raise FetchError(
            f"no sample data for symbol {symbol!r}; sample symbols are {', '.join(SAMPLE_SYMBOLS)}"
        )
    return key


@functools.lru_cache(maxsize=len(_FILES))
def _read(key: str) -> pd.DataFrame:
    with resources.files(__package__).joinpath("data", _FILES[key]).open("rb") as fh:
        frame = pd.read_csv(fh, index_col="Date", compression="gzip")
    native = SAMPLE_SYMBOLS[key]
    if native == "1d":
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index, format="%Y-%m-%d"))
        frame.index = frame.index.tz_localize(_DAILY_TZ)
    else:
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index, format="ISO8601", utc=True))
    frame.index.name = "Date" if native == "1d" else "Datetime"
    return validate_candles(frame, key)


def load_sample(symbol: str) -> pd.DataFrame:
    """Return the whole shipped series of ``symbol`` at its native interval.

    Args:
        symbol: One of :data:`SAMPLE_SYMBOLS` (case-insensitive).

    Returns:
        Candles: daily series in ``America/New_York``, the hourly one in UTC.

    Raises:
        FetchError: No sample series for that symbol.
    """
    return _read(_sample_key(symbol)).copy()


class SampleSource(CandleSource):
    """The shipped sample series of a symbol, cut to ``period`` and resampled to ``interval``.

    ``period`` is counted back from the last candle of the series (the data is historical);
    an ``interval`` coarser than the native one is aggregated, a finer one is an error.

    Examples:
        >>> candles = SampleSource("^GSPC", period="1mo", interval="1wk").fetch_historical()
        >>> list(candles.columns), str(candles.index.tz)
        (['Open', 'High', 'Low', 'Close', 'Volume'], 'America/New_York')
    """

    def __init__(self, symbol: str, period: str = "max", interval: str | None = None) -> None:
        self.symbol = _sample_key(symbol)
        self.period = check_period(period)
        self.native = SAMPLE_SYMBOLS[self.symbol]
        self.interval = check_coarser(
            self.native, check_interval(interval or self.native), symbol=self.symbol
        )

    @property
    def name(self) -> str:
        """Short name of the source."""
        return "sample"

    def fetch_historical(self) -> pd.DataFrame:
        """Return the sample candles for the symbol, period and interval."""
        candles = resample_candles(
            load_sample(self.symbol), self.native, self.interval, symbol=self.symbol
        )
        return slice_period(candles, self.period)
