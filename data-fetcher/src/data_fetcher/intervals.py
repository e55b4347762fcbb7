"""Interval and period strings (yfinance spelling), and OHLC resampling between intervals."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .errors import DataError

logger = logging.getLogger("data_fetcher")

__all__ = [
    "INTERVALS",
    "PERIODS",
    "check_coarser",
    "check_interval",
    "check_period",
    "drop_before",
    "infer_interval",
    "interval_timedelta",
    "resample_candles",
    "slice_period",
    "to_interval",
]

# Nominal length of each interval, in ascending order (months and weeks are nominal).
INTERVALS: dict[str, pd.Timedelta] = {
    "1m": pd.Timedelta(minutes=1),
    "2m": pd.Timedelta(minutes=2),
    "5m": pd.Timedelta(minutes=5),
    "15m": pd.Timedelta(minutes=15),
    "30m": pd.Timedelta(minutes=30),
    "60m": pd.Timedelta(hours=1),
    "90m": pd.Timedelta(minutes=90),
    "1h": pd.Timedelta(hours=1),
    "1d": pd.Timedelta(days=1),
    "5d": pd.Timedelta(days=5),
    "1wk": pd.Timedelta(weeks=1),
    "1mo": pd.Timedelta(days=30),
    "3mo": pd.Timedelta(days=91),
}

PERIODS: tuple[str, ...] = (
    "1d",
    "5d",
    "7d",
    "1mo",
    "3mo",
    "6mo",
    "1y",
    "2y",
    "5y",
    "10y",
    "ytd",
    "max",
)

_PERIOD_OFFSETS = {
    "1d": pd.DateOffset(days=1),
    "5d": pd.DateOffset(days=5),
    "7d": pd.DateOffset(days=7),
    "1mo": pd.DateOffset(months=1),
    "3mo": pd.DateOffset(months=3),
    "6mo": pd.DateOffset(months=6),
    "1y": pd.DateOffset(years=1),
    "2y": pd.DateOffset(years=2),
    "5y": pd.DateOffset(years=5),
    "10y": pd.DateOffset(years=10),
}

# pandas resampling rule per target interval (weeks start on Monday, months on the 1st,
# as yfinance labels them).
_RULES = {
    "1m": "1min",
    "2m": "2min",
    "5m": "5min",
    "15m": "15min",
    "30m": "30min",
    "60m": "1h",
    "90m": "90min",
    "1h": "1h",
    "1d": "1D",
    "5d": "5D",
    "1wk": "W-MON",
    "1mo": "MS",
    "3mo": "QS",
}


def check_interval(interval: str) -> str:
    """Return ``interval`` if yfinance knows it.

    Args:
        interval: A yfinance interval such as ``"1h"`` or ``"1d"``.

    Returns:
        The same string.

    Raises:
        ValueError: The interval is unknown; the message names it and lists the valid ones.
    """
    if interval not in INTERVALS:
        raise DataError(f"interval {interval!r} is not one of {', '.join(INTERVALS)}")
    return interval


def check_period(period: str) -> str:
    """Return ``period`` if yfinance knows it.

    Args:
        period: A yfinance period such as ``"7d"``, ``"1y"`` or ``"max"``.

    Returns:
        The same string.

    Raises:
        ValueError: The period is unknown; the message names it and lists the valid ones.
    """
    if period not in PERIODS:
        raise DataError(f"period {period!r} is not one of {', '.join(PERIODS)}")
    return period


def interval_timedelta(interval: str) -> pd.Timedelta:
    """Nominal length of ``interval`` (a month counts 30 days)."""
    return INTERVALS[check_interval(interval)]


def infer_interval(index: pd.DatetimeIndex) -> str | None:
    """Guess the native interval of candles from the median spacing of their stamps.

    Daily bars (with weekend gaps) give ``"1d"``; returns ``None`` when no interval fits.
    """
    if len(index) < 2:
        return None
    step = pd.Series(index).diff().median()
    for name in ("1m", "2m", "5m", "15m", "30m", "1h", "90m"):
        if step == INTERVALS[name]:
            return name
    days = step / pd.Timedelta(days=1)
    for name, (low, high) in {
        "1d": (0.9, 1.6),
        "1wk": (6.5, 7.5),
        "1mo": (27.5, 31.5),
        "3mo": (88, 93),
    }.items():
        if low <= days <= high:
            return name
    return None


def slice_period(candles: pd.DataFrame, period: str) -> pd.DataFrame:
    """Keep the candles of the last ``period`` of the series (counted from its last stamp).

    ``"max"`` keeps everything; ``"ytd"`` keeps the calendar year of the last candle.
    """
    check_period(period)
    if period == "max" or candles.empty:
        return candles
    last = candles.index[-1]
    if period == "ytd":
        start = pd.Timestamp(year=last.year, month=1, day=1, tz=last.tz)
        return candles[candles.index >= start]
    start = last - _PERIOD_OFFSETS[period]
    return candles[candles.index > start]


def parse_since(since: str | pd.Timestamp, symbol: str = "?") -> pd.Timestamp:
    """Read a ``since`` date (str, datetime or Timestamp; naive stays naive).

    Raises:
        DataError: Not a date (one line naming the value).
    """
    try:
        # numbers would be read as nanoseconds since 1970: not a date a user means
        stamp = pd.NaT if isinstance(since, (bool, int, float)) else pd.Timestamp(since)
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if stamp is pd.NaT or not isinstance(stamp, pd.Timestamp):
        raise DataError(f"{symbol}: since={since!r} is not a date (use e.g. 2020-01-31)")
    return stamp


def drop_before(
    candles: pd.DataFrame, since: str | pd.Timestamp | None, symbol: str = "?"
) -> pd.DataFrame:
    """Keep the candles stamped on or after ``since``.

    Args:
        candles: Candles (tz-aware index).
        since: A date or instant; a naive one is read in the candles' time zone. ``None``
            keeps every candle.
        symbol: Named in messages.

    Returns:
        The candles from ``since`` on (``candles`` itself when ``since`` is ``None``).

    Raises:
        DataError: ``since`` is not a date, or no candle is left.

    Examples:
        >>> idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="America/New_York")
        >>> df = pd.DataFrame({"Close": [1.0, 2.0, 3.0]}, index=idx)
        >>> drop_before(df, "2024-01-02", "X")["Close"].tolist()
        [2.0, 3.0]
    """
    if since is None:
        return candles
    stamp = parse_since(since, symbol)
    tz = getattr(candles.index, "tz", None)
    if stamp.tzinfo is None and tz is not None:
        stamp = stamp.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
        if stamp is pd.NaT:
            raise DataError(f"{symbol}: since={since!r} is ambiguous in time zone {tz}")
    elif stamp.tzinfo is not None and tz is None:
        stamp = stamp.tz_localize(None)
    kept = candles[candles.index >= stamp]
    if kept.empty:
        last = f" (the last is {candles.index[-1]})" if len(candles) else ""
        raise DataError(f"no candle of {symbol} on or after {since}{last}")
    return kept


def check_coarser(native: str, interval: str, *, symbol: str = "?") -> str:
    """Return ``interval`` if candles at ``native`` can be aggregated to it.

    Raises:
        DataError: ``interval`` is finer than ``native`` (or either is unknown).
    """
    if interval_timedelta(interval) < interval_timedelta(native):
        raise DataError(
            f"{symbol}: interval {interval!r} is finer than the data's native {native!r}; "
            f"use {native!r} or a coarser interval"
        )
    return interval


def resample_candles(
    candles: pd.DataFrame, native: str, interval: str, *, symbol: str = "?"
) -> pd.DataFrame:
    """Aggregate candles to a coarser interval.

    Each bin takes the first Open, max High, min Low, last Close and summed Volume (and
    an extra column, a covariate, its value at the bin's last candle); bins without any
    candle are dropped. Weeks start on Monday and months on the 1st.

    Args:
        candles: Candles at the ``native`` interval.
        native: The interval of ``candles``.
        interval: The wanted interval, equal to or coarser than ``native``.
        symbol: Named in error messages.

    Returns:
        The resampled candles (``candles`` itself when the intervals are the same).

    Raises:
        DataError: ``interval`` is finer than ``native``.
    """
    if check_coarser(native, interval, symbol=symbol) == native:
        return candles
    rule = _RULES[interval]
    kwargs = {"label": "left", "closed": "left"} if interval == "1wk" else {}
    grouped = candles.resample(rule, **kwargs)
    out = pd.DataFrame(
        {
            "Open": grouped["Open"].first(),
            "High": grouped["High"].max(),
            "Low": grouped["Low"].min(),
            "Close": grouped["Close"].last(),
            "Volume": grouped["Volume"].sum(),
        }
    )
    extras = [c for c in candles.columns if c not in out.columns]
    if extras:  # covariates: the value at each bin's last candle, NaN kept
        last = pd.Series(np.arange(len(candles)), index=candles.index).resample(rule, **kwargs)
        rows = last.max()
        full = rows.notna().to_numpy()
        taken = candles[extras].iloc[rows[full].to_numpy(dtype=np.int64)]
        for col in extras:
            values = np.full(len(out), np.nan)
            values[full] = taken[col].to_numpy(dtype=np.float64)
            out[col] = values
    counts = grouped["Close"].count()
    out = out[counts > 0]
    out.index.name = candles.index.name
    out.attrs = dict(candles.attrs)  # e.g. "filled_columns" of a close-only CSV
    return out


def to_interval(candles: pd.DataFrame, interval: str | None, symbol: str = "?") -> pd.DataFrame:
    """Resample candles from their native (inferred) interval to ``interval``.

    Args:
        candles: Validated candles.
        interval: The wanted interval (``None``: keep the candles as they are).
        symbol: Named in messages.

    Returns:
        The candles at ``interval``; unchanged, with a logged warning, when their own
        interval cannot be inferred from the stamps.

    Raises:
        DataError: ``interval`` is unknown or finer than the candles' interval.
    """
    if interval is None:
        return candles
    native = infer_interval(candles.index)
    if native is None:
        check_interval(interval)
        logger.warning("%s: cannot tell the interval of the candles; kept as they are", symbol)
        return candles
    return resample_candles(candles, native, interval, symbol=symbol)
