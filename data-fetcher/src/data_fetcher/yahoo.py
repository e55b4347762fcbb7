"""Candles from Yahoo Finance through yfinance, cached on disk and retried with back-off."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from .base import CandleSource
from .cache import CandleCache, default_ttl
from .errors import DataError, FetcherError, FetchError
from .intervals import check_interval, check_period, interval_timedelta
from .retry import RetryPolicy, call_with_retry
from .validate import validate_candles

__all__ = [
    "YahooSource",
    "check_yahoo_range",
    "classify_error",
    "classify_error_text",
    "newest_complete",
    "normalize_yfinance",
    "yahoo_default_period",
]

logger = logging.getLogger("data_fetcher")

_DROP = ("Dividends", "Stock Splits", "Capital Gains", "Adj Close", "Repaired?")
# Yahoo serves minute bars for recent days only (1m: 8 days, other minutes: 60 days,
# hours: 730 days); ``max`` is clipped to those windows by yfinance itself.
_ALLOWED_PERIODS = {
    "1m": ("1d", "5d", "7d", "max"),
    "minutes": ("1d", "5d", "7d", "1mo", "max"),
    "1h": ("1d", "5d", "7d", "1mo", "3mo", "6mo", "1y", "2y", "ytd", "max"),
}
# Period asked for by fetch_latest(): short, so a poll stays cheap.
_LATEST_PERIOD = {"1m": "1d", "1h": "5d", "60m": "5d", "90m": "5d", "1d": "5d"}
_LATEST_PERIOD.update({"5d": "1mo", "1wk": "1mo", "1mo": "6mo", "3mo": "1y"})
_SUGGEST = "try --source sample (offline data shipped with the package)"

_yf_lock = threading.RLock()


def yahoo_default_period(interval: str) -> str:
    """Period asked of Yahoo when none is given: enough warm-up within its per-interval limit.

    ``1m``/``2m``/``5m`` -> ``5d``, ``15m``/``30m`` -> ``1mo``, ``60m``/``90m``/``1h`` ->
    ``3mo``, daily and longer -> ``2y``; each passes :func:`check_yahoo_range`.

    Raises:
        DataError: ``interval`` is unknown.
    """
    interval = check_interval(interval)
    if interval in ("1m", "2m", "5m"):
        return "5d"
    if interval in ("15m", "30m"):
        return "1mo"
    if interval in ("60m", "90m", "1h"):
        return "3mo"
    return "2y"


def check_yahoo_range(period: str, interval: str) -> None:
    """Reject the combinations that Yahoo never serves (e.g. 1-minute bars for a year).

    Raises:
        DataError: ``period`` is too long for ``interval`` (the message names both).
    """
    kind = "1m" if interval == "1m" else "minutes" if interval.endswith("m") else interval
    if interval in ("60m", "90m"):
        kind = "1h"
    allowed = _ALLOWED_PERIODS.get(kind)
    if allowed is not None and period not in allowed:
        raise DataError(
            f"period {period!r} is too long for interval {interval!r} on Yahoo; "
            f"use one of {', '.join(allowed)}"
        )


def normalize_yfinance(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Turn what ``Ticker.history()`` or ``download()`` returned into plain candles.

    Flattens ``download()``'s ``('Price', 'Ticker')`` MultiIndex columns (keeping
    ``symbol``), drops Dividends / Stock Splits / Capital Gains / Adj Close and keeps the
    exchange time zone of the index. The result is validated.

    Raises:
        DataError: The frame is empty or is not candles.
    """
    if isinstance(frame.columns, pd.MultiIndex):
        level = next(
            (
                i
                for i in range(frame.columns.nlevels)
                if "Close" in frame.columns.get_level_values(i)
            ),
            0,
        )
        others = [i for i in range(frame.columns.nlevels) if i != level]
        for other in sorted(others, reverse=True):
            values = frame.columns.get_level_values(other)
            if symbol in values:
                frame = frame.xs(symbol, axis=1, level=other)
            else:
                frame = frame.droplevel(other, axis=1)
        frame.columns.name = None
    frame = frame.drop(columns=[c for c in _DROP if c in frame.columns])
    if frame.empty:
        raise DataError(f"{symbol}: Yahoo returned no candles (empty result)")
    return validate_candles(frame, symbol)


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def classify_error(exc: BaseException) -> str:
    """Sort a yfinance or HTTP failure into the kinds that decide retries and messages.

    Returns:
        ``network``, ``rate_limit`` or ``server`` (all three are retried),
        ``unknown_symbol``, ``empty`` (Yahoo knows the symbol but sent no candles) or
        ``other``.
    """
    from yfinance import exceptions as yfe

    if isinstance(exc, yfe.YFRateLimitError):
        return "rate_limit"
    if isinstance(exc, yfe.YFPricesMissingError) and exc.yahoo_reason is None:
        return "empty"
    if isinstance(exc, yfe.YFTickerMissingError):
        return "unknown_symbol"
    status = _status(exc)
    if status is not None:
        if status == 429:
            return "rate_limit"
        if status >= 500:
            return "server"
        if status in (400, 404, 422):
            return "unknown_symbol"
        return "other"
    if isinstance(exc, yfe.YFDataException) and "DOWN" in str(exc):
        return "server"
    if isinstance(exc, json.JSONDecodeError):
        return "server"  # an HTML error page instead of JSON
    if isinstance(exc, (OSError, TimeoutError)) or type(exc).__name__ in _NETWORK_NAMES:
        return "network"
    return "other"


_NETWORK_NAMES = ("ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout", "DNSError")
_TEXT_KINDS = {
    "YFRateLimitError": "rate_limit",
    "YFTickerMissingError": "unknown_symbol",
    "YFTzMissingError": "unknown_symbol",
    "JSONDecodeError": "server",
    "OSError": "network",
    "TimeoutError": "network",
    **dict.fromkeys(_NETWORK_NAMES, "network"),
}


def classify_error_text(text: str) -> str:
    """:func:`classify_error` for a failure that yfinance only kept as ``repr(exc)``.

    ``yfinance.download()`` catches the exception of each ticker and keeps its ``repr``
    (e.g. ``"YFRateLimitError('Too Many Requests...')"``, ``"HTTPError('404 Client
    Error: ...')"``); this sorts such a text into the same kinds.

    Examples:
        >>> classify_error_text("DNSError('Failed to resolve host')")
        'network'
        >>> classify_error_text("HTTPError('503 Server Error: for url: ...')")
        'server'
    """
    name = text.partition("(")[0].strip().rpartition(".")[2]
    if name == "YFPricesMissingError":
        # without a reason from Yahoo the message speculates "possibly delisted"
        return "empty" if "possibly delisted;" in text else "unknown_symbol"
    if name in _TEXT_KINDS:
        return _TEXT_KINDS[name]
    status = re.search(r"\b([45]\d\d) (?:Client|Server) Error", text)
    if status:
        code = int(status.group(1))
        if code == 429:
            return "rate_limit"
        if code >= 500:
            return "server"
        return "unknown_symbol" if code in (400, 404, 422) else "other"
    if name == "YFDataException" and "DOWN" in text:
        return "server"
    return "other"


def _transient(exc: BaseException) -> bool:
    return classify_error(exc) in ("network", "rate_limit", "server")


def _short(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def _yfinance_raising() -> Iterator[None]:
    """Make yfinance raise its errors instead of logging them, and keep its warnings quiet."""
    import yfinance as yf

    yf_logger = logging.getLogger("yfinance")
    with _yf_lock:
        hidden, level = yf.config.debug.hide_exceptions, yf_logger.level
        yf.config.debug.hide_exceptions = False
        yf_logger.setLevel(logging.CRITICAL)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", module=r"yfinance(\.|$)")
                yield
        finally:
            yf.config.debug.hide_exceptions = hidden
            yf_logger.setLevel(level)


def _candle_end(stamp: pd.Timestamp, interval: str) -> pd.Timestamp:
    if interval == "1mo":
        return stamp + pd.DateOffset(months=1)
    if interval == "3mo":
        return stamp + pd.DateOffset(months=3)
    return stamp + interval_timedelta(interval)


def newest_complete(
    candles: pd.DataFrame, interval: str, now: float, last_stamp: pd.Timestamp | None
) -> pd.DataFrame | None:
    """The newest candle of ``candles`` that has ended by ``now`` if newer than ``last_stamp``.

    A candle is complete when ``stamp + interval <= now`` (``now`` in epoch seconds).

    Returns:
        A one-row copy, or ``None`` when no complete candle is newer than ``last_stamp``.
    """
    wall = pd.Timestamp(now, unit="s", tz="UTC")
    ends = pd.DatetimeIndex([_candle_end(t, interval) for t in candles.index])
    complete = candles[ends <= wall]
    if complete.empty:
        return None
    newest = complete.iloc[-1:]
    if last_stamp is not None and newest.index[0] <= last_stamp:
        return None
    return newest.copy()


class YahooSource(CandleSource):
    """Candles from Yahoo Finance (yfinance ``Ticker.history`` with auto-adjusted prices).

    ``fetch_historical()`` goes through the on-disk cache (unless ``use_cache=False``);
    ``fetch_latest()`` asks for a short recent period, skips the candle still forming and
    returns the newest completed one if it is newer than the last one returned.

    Examples:
        >>> YahooSource("MSFT", period="1mo", interval="1d", use_cache=False).is_live
        True
    """

    is_live = True

    def __init__(
        self,
        symbol: str,
        period: str = "7d",
        interval: str = "1h",
        *,
        session: object | None = None,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        cache_ttl: float | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not symbol or not symbol.strip():
            raise ValueError("symbol must be a non-empty string")
        self.symbol = symbol.strip().upper()
        self.period = check_period(period)
        self.interval = check_interval(interval)
        check_yahoo_range(self.period, self.interval)
        self.session = session
        self.use_cache = use_cache
        ttl = default_ttl(self.interval) if cache_ttl is None else cache_ttl
        self.cache = CandleCache(cache_dir, ttl=ttl, clock=clock)
        self.retry = retry or RetryPolicy()
        self.sleep, self.clock, self.rng, self.timeout = sleep, clock, rng, timeout
        self.last_stamp: pd.Timestamp | None = None
        self.attempts = 0  # attempts made by the last download (for tests and logs)

    @property
    def name(self) -> str:
        """Short name of the source."""
        return "yahoo"

    def _download_once(self, period: str, calls: list[int]) -> pd.DataFrame:
        import yfinance as yf
        from yfinance.data import YfData

        calls.append(1)
        if len(calls) > 1:
            # yfinance memoizes some answers (e.g. the time-zone lookup) in an lru_cache,
            # failed ones included: forget them before trying again.
            YfData.cache_get.cache_clear()
        with _yfinance_raising():
            ticker = yf.Ticker(self.symbol, session=self.session)
            return ticker.history(
                period=period,
                interval=self.interval,
                auto_adjust=True,
                actions=False,
                timeout=self.timeout,
            )

    def download(self, period: str, *, empty_ok: bool = False) -> pd.DataFrame | None:
        """Fetch ``period`` of candles from Yahoo now (no cache), with retries.

        Args:
            period: The period asked of Yahoo.
            empty_ok: Return ``None`` when Yahoo answers without any candle (normal for
                intraday intervals before the open and at weekends) instead of raising.

        Raises:
            FetchError: Unknown symbol, network unreachable, rate limit or server errors
                that outlasted the retries.
            DataError: Yahoo answered but gave no usable candles.
        """
        calls: list[int] = []
        try:
            frame, self.attempts = call_with_retry(
                lambda: self._download_once(period, calls),
                is_transient=_transient,
                policy=self.retry,
                sleep=self.sleep,
                rng=self.rng,
                what=f"Yahoo request for {self.symbol}",
            )
        except Exception as exc:
            self.attempts = getattr(exc, "attempts", 1)
            if empty_ok and classify_error(exc) == "empty":
                return None
            error = self._fetch_error(exc, period)
            if isinstance(error, FetchError):
                error.kind = classify_error(exc)
                error.transient = _transient(exc)
            raise error from None
        if empty_ok and (frame is None or frame.empty):
            return None
        if frame is None or frame.empty:
            raise DataError(
                f"{self.symbol}: Yahoo returned no candles (period={period}, "
                f"interval={self.interval}); the symbol may be delisted or the network "
                f"unreachable; {_SUGGEST}"
            )
        return normalize_yfinance(frame, self.symbol)

    def _fetch_error(self, exc: BaseException, period: str) -> FetcherError:
        kind = classify_error(exc)
        tries = f"after {self.attempts} attempt(s)"
        if kind == "unknown_symbol":
            reason = getattr(exc, "yahoo_reason", None) or "no data found, symbol may be delisted"
            return FetchError(
                f"{self.symbol}: unknown symbol on Yahoo Finance ({reason}); check the "
                "spelling as shown on finance.yahoo.com"
            )
        if kind == "empty":
            return DataError(
                f"{self.symbol}: Yahoo returned no candles (period={period}, "
                f"interval={self.interval}); the market may have been closed or the symbol "
                f"delisted; {_SUGGEST}"
            )
        if kind == "network":
            return FetchError(
                f"{self.symbol}: cannot reach Yahoo Finance, the network looks unreachable "
                f"({type(exc).__name__}: {_short(exc, 80)}) {tries}; {_SUGGEST}"
            )
        if kind == "rate_limit":
            return FetchError(
                f"{self.symbol}: Yahoo Finance is rate-limiting requests {tries}; wait a few "
                f"minutes or {_SUGGEST}"
            )
        if kind == "server":
            status = _status(exc)
            what = f"HTTP {status}" if status else "an unreadable answer"
            return FetchError(
                f"{self.symbol}: Yahoo Finance answered with {what} {tries}; it may be down, "
                f"retry later or {_SUGGEST}"
            )
        return FetchError(
            f"{self.symbol}: Yahoo request failed ({type(exc).__name__}: {_short(exc)})"
        )

    def fetch_historical(self) -> pd.DataFrame:
        """Return the candles of ``period`` at ``interval`` (from the cache when fresh)."""
        key = (self.symbol, self.interval, self.period)
        candles = self.cache.load(key) if self.use_cache else None
        if candles is None:
            candles = self.download(self.period)
            if self.use_cache:
                self.cache.store(key, candles)
        else:
            logger.debug("%s: candles from the cache %s", self.symbol, self.cache.path(key))
        if len(candles):
            self.last_stamp = candles.index[-1]
        return candles

    def fetch_latest(self) -> pd.DataFrame | None:
        """Return the newest completed candle if it is new, else ``None`` (never cached).

        An answer without any candle (before the open, at weekends) is ``None`` too: no new
        candle, not an error.
        """
        candles = self.download(_LATEST_PERIOD.get(self.interval, "1d"), empty_ok=True)
        if candles is None:
            logger.debug("%s: Yahoo sent no candle (market closed?)", self.symbol)
            return None
        newest = newest_complete(candles, self.interval, self.clock(), self.last_stamp)
        if newest is not None:
            self.last_stamp = newest.index[0]
        return newest
