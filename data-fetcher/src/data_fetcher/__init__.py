"""data_fetcher: validated OHLCV candles from Yahoo Finance, shipped samples, CSV and replay.

Examples:
    >>> from data_fetcher import Fetcher
    >>> Fetcher("MSFT", period="1y", interval="1wk", source="sample").fetch_historical().shape
    (53, 5)
"""

from .base import CandleSource, register_source, source_names
from .cache import CACHE_ENV, CandleCache, default_cache_dir
from .csv_source import CsvSource, read_candles_csv, write_candles_csv
from .errors import DataError, FetcherError, FetchError
from .fetcher import Fetcher, default_period
from .intervals import INTERVALS, PERIODS, drop_before, resample_candles
from .multi import MAX_SYMBOLS, MultiFetcher
from .replay import ReplaySource
from .retry import RetryPolicy
from .sample import SAMPLE_SYMBOLS, SampleSource, load_sample
from .splits import SplitSuspect, adjust_for_splits, find_unadjusted_splits
from .validate import COLUMNS, validate_candles
from .yahoo import YahooSource, normalize_yfinance

__version__ = "1.0.0"
__all__ = [
    "CACHE_ENV",
    "COLUMNS",
    "INTERVALS",
    "MAX_SYMBOLS",
    "PERIODS",
    "SAMPLE_SYMBOLS",
    "CandleCache",
    "CandleSource",
    "CsvSource",
    "DataError",
    "FetchError",
    "Fetcher",
    "FetcherError",
    "MultiFetcher",
    "ReplaySource",
    "RetryPolicy",
    "SampleSource",
    "SplitSuspect",
    "YahooSource",
    "__version__",
    "adjust_for_splits",
    "default_cache_dir",
    "default_period",
    "drop_before",
    "find_unadjusted_splits",
    "load_sample",
    "normalize_yfinance",
    "read_candles_csv",
    "register_source",
    "resample_candles",
    "source_names",
    "validate_candles",
    "write_candles_csv",
]
