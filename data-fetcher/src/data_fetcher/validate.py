"""Check and repair candles so that every source returns exactly the candles contract."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = ["COLUMNS", "validate_candles"]

COLUMNS: tuple[str, ...] = ("Open", "High", "Low", "Close", "Volume")
_PRICES = ["Open", "High", "Low", "Close"]

logger = logging.getLogger("data_fetcher")


def validate_candles(candles: pd.DataFrame, symbol: str, *, tz: str | None = None) -> pd.DataFrame:
    """Return a clean copy of ``candles`` that meets the candles contract.

    Keeps exactly ``Open, High, Low, Close, Volume`` as float64 on a tz-aware, strictly
    increasing ``DatetimeIndex`` (nanosecond resolution). Unsorted rows and duplicated
    stamps are repaired (first row kept) with a logged warning; rows with any NaN are
    dropped and counted in a warning; OHLC inconsistencies (High below Open/Close, Low
    above them) are warned about.

    Args:
        candles: Candles from any source.
        symbol: Named in every message.
        tz: Time zone given to a naive index (``None``: a naive index is an error).

    Returns:
        The validated candles.

    Raises:
        DataError: Empty data, missing columns, non-numeric values, negative prices, or an
            index that is not made of timestamps.
    """
    if not isinstance(candles, pd.DataFrame):
        raise DataError(f"{symbol}: expected a DataFrame of candles, got {type(candles).__name__}")
    if candles.empty:
        raise DataError(f"{symbol}: no candles (empty result)")
    missing = [c for c in COLUMNS if c not in candles.columns]
    if missing:
        raise DataError(f"{symbol}: missing column(s) {', '.join(missing)}")
    frame = candles.loc[:, list(COLUMNS)].copy()
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        try:
            index = pd.DatetimeIndex(pd.to_datetime(index, format="mixed"))
        except (ValueError, TypeError) as exc:
            raise DataError(f"{symbol}: the index is not made of timestamps ({exc})") from None
    if index.tz is None:
        if tz is None:
            raise DataError(f"{symbol}: the timestamps have no time zone")
        index = index.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    frame.index = index.as_unit("ns")  # one resolution whatever the source (s, us, ns)
    frame.index.name = candles.index.name or "Date"
    for col in COLUMNS:
        if not pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col]):
            converted = pd.to_numeric(frame[col], errors="coerce")
            bad = converted.isna() & frame[col].notna()
            if bad.any():
                stamp = frame.index[np.argmax(bad.to_numpy())]
                value = frame[col][bad].iloc[0]
                raise DataError(f"{symbol}: non-numeric value {value!r} in column {col} at {stamp}")
            frame[col] = converted
        frame[col] = frame[col].astype("float64")
    if frame.index.hasnans:
        raise DataError(f"{symbol}: some timestamps are missing or ambiguous")
    if not frame.index.is_monotonic_increasing:
        logger.warning("%s: candles were not in time order; sorted them", symbol)
        frame = frame.sort_index(kind="stable")
    duplicated = frame.index.duplicated(keep="first")
    if duplicated.any():
        logger.warning(
            "%s: dropped %d candle(s) with a duplicated timestamp", symbol, int(duplicated.sum())
        )
        frame = frame[~duplicated]
    nan_rows = frame.isna().any(axis=1)
    if nan_rows.any():
        logger.warning("%s: dropped %d candle(s) with missing values", symbol, int(nan_rows.sum()))
        frame = frame[~nan_rows]
    if frame.empty:
        raise DataError(f"{symbol}: no candles left after dropping rows with missing values")
    values = frame.to_numpy()
    if not np.isfinite(values).all():
        raise DataError(f"{symbol}: infinite values in the candles")
    negative = (frame[_PRICES] < 0).any(axis=1) | (frame["Volume"] < 0)
    if negative.any():
        raise DataError(
            f"{symbol}: negative price or volume at {frame.index[np.argmax(negative.to_numpy())]}"
        )
    high_bad = frame["High"] < frame[["Open", "Close"]].max(axis=1)
    low_bad = frame["Low"] > frame[["Open", "Close"]].min(axis=1)
    inconsistent = int((high_bad | low_bad).sum())
    if inconsistent:
        logger.warning(
            "%s: %d candle(s) with High below Open/Close or Low above them", symbol, inconsistent
        )
    frame.attrs = dict(candles.attrs)  # e.g. "filled_columns" of a close-only CSV
    return frame
