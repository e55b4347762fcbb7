"""Check and repair candles so that every source returns exactly the candles contract."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = [
    "COLUMNS",
    "MAX_PRICE",
    "MAX_VOLUME",
    "check_nanosecond_range",
    "extra_columns",
    "validate_candles",
]

COLUMNS: tuple[str, ...] = ("Open", "High", "Low", "Close", "Volume")
_PRICES = ["Open", "High", "Low", "Close"]

#: Larger prices or volumes are refused: no real market quotes them, and feature kernels
#: must never see values like 1e300.
MAX_PRICE = 1e12
MAX_VOLUME = 1e18

logger = logging.getLogger("data_fetcher")

# pandas' nanosecond range, as users read it
_NS_RANGE = "1677-09-22 to 2262-04-11"


def check_nanosecond_range(
    index: pd.DatetimeIndex, symbol: str, rows: bool = False
) -> pd.DatetimeIndex:
    """Refuse stamps that pandas cannot hold at nanosecond resolution.

    Args:
        index: Stamps at any resolution (``s``, ``ms``, ``us``, ``ns``).
        symbol: Named in the message.
        rows: Name the data row (1-based) of the first bad stamp, as in a file.

    Returns:
        ``index`` unchanged.

    Raises:
        DataError: A stamp is before 1677-09-22 or after 2262-04-11 (one line naming it).
    """
    if index.unit == "ns" or not len(index):
        return index
    utc = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
    low, high = pd.Timestamp.min.as_unit(utc.unit), pd.Timestamp.max.as_unit(utc.unit)
    bad = (utc < low) | (utc > high)
    if bad.any():
        position = int(np.argmax(bad))
        where = f" in data row {position + 1}" if rows else ""
        raise DataError(
            f"{symbol}: date {index[position]}{where} is outside the supported range {_NS_RANGE}"
        )
    return index


def _first(frame: pd.DataFrame, bad: pd.DataFrame) -> tuple[pd.Timestamp, str, float]:
    """Stamp, column and value of the first bad cell (earliest row, then column order)."""
    cells = bad.to_numpy()
    row = int(np.argmax(cells.any(axis=1)))
    col = bad.columns[int(np.argmax(cells[row]))]
    return frame.index[row], col, float(frame[col].iloc[row])


def _check_values(frame: pd.DataFrame, symbol: str) -> None:
    """One rule per kind of impossible number, each a one-line DataError naming the cell."""
    prices, volume = frame[_PRICES], frame[["Volume"]]
    rules = (
        (~np.isfinite(frame), "infinite value {value!r} in column {col} at {stamp}"),
        (prices <= 0, "price {value!r} in column {col} at {stamp} is not positive"),
        (volume < 0, "negative volume {value!r} at {stamp}"),
        (prices > MAX_PRICE, "price {value!r} in column {col} at {stamp} is above 1e12"),
        (volume > MAX_VOLUME, "volume {value!r} at {stamp} is above 1e18"),
    )
    for bad, message in rules:
        if bad.to_numpy().any():
            stamp, col, value = _first(frame, bad)
            raise DataError(f"{symbol}: " + message.format(col=col, value=value, stamp=stamp))


def extra_columns(candles: pd.DataFrame) -> list[str]:
    """The numeric columns of ``candles`` beyond the candles' own (covariates), in order.

    A column counts when its dtype is numeric (not bool), or when at least one of its
    cells reads as a number (a CSV column of numbers with a few blanks or ``n/a``); a
    text column (a ``Symbol`` column, notes) does not. ``Adj Close`` and non-string
    column names are never extra columns.

    Args:
        candles: A candles frame.

    Returns:
        The column names.
    """
    out = []
    for col in candles.columns:
        if not isinstance(col, str) or col in COLUMNS or col == "Adj Close":
            continue
        values = candles[col]
        if not isinstance(values, pd.Series):  # a duplicated column name
            continue
        if pd.api.types.is_bool_dtype(values):
            continue
        if (
            pd.api.types.is_numeric_dtype(values)
            or pd.to_numeric(values, errors="coerce").notna().any()
        ):
            out.append(col)
    return out


def validate_candles(
    candles: pd.DataFrame, symbol: str, *, tz: str | None = None, extras: bool = False
) -> pd.DataFrame:
    """Return a clean copy of ``candles`` that meets the candles contract.

    Keeps exactly ``Open, High, Low, Close, Volume`` as float64 on a tz-aware, strictly
    increasing ``DatetimeIndex`` (nanosecond resolution). Unsorted rows and duplicated
    stamps are repaired (first row kept) with a logged warning; rows with any NaN are
    dropped and counted in a warning; OHLC inconsistencies (High below Open/Close, Low
    above them) are warned about.

    With ``extras``, the :func:`extra_columns` (covariates such as ``vix``) are kept after
    those five, as float64 on the same rows: a cell that is not a number becomes NaN, and
    NaN or inf are kept (the rows follow the candles; whoever reads a covariate checks its
    values where it needs them, naming the stamp).

    Args:
        candles: Candles from any source.
        symbol: Named in every message.
        tz: Time zone given to a naive index (``None``: a naive index is an error).
        extras: Keep the extra numeric columns.

    Returns:
        The validated candles.

    Raises:
        DataError: Empty data, missing columns, non-numeric values, an index that is not
            made of timestamps or holds stamps outside 1677-09-22..2262-04-11, or an
            impossible number: an infinite value, a price <= 0 or above 1e12, a negative
            volume or one above 1e18 (the message names the column, the stamp and the value).
    """
    if not isinstance(candles, pd.DataFrame):
        raise DataError(f"{symbol}: expected a DataFrame of candles, got {type(candles).__name__}")
    if candles.empty:
        raise DataError(f"{symbol}: no candles (empty result)")
    missing = [c for c in COLUMNS if c not in candles.columns]
    if missing:
        raise DataError(f"{symbol}: missing column(s) {', '.join(missing)}")
    kept = extra_columns(candles) if extras else []
    frame = candles.loc[:, [*COLUMNS, *kept]].copy()
    for col in kept:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
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
    check_nanosecond_range(index, symbol)
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
    nan_rows = frame[list(COLUMNS)].isna().any(axis=1)
    if nan_rows.any():
        logger.warning("%s: dropped %d candle(s) with missing values", symbol, int(nan_rows.sum()))
        frame = frame[~nan_rows]
    if frame.empty:
        raise DataError(f"{symbol}: no candles left after dropping rows with missing values")
    _check_values(frame[list(COLUMNS)] if kept else frame, symbol)
    high_bad = frame["High"] < frame[["Open", "Close"]].max(axis=1)
    low_bad = frame["Low"] > frame[["Open", "Close"]].min(axis=1)
    inconsistent = int((high_bad | low_bad).sum())
    if inconsistent:
        logger.warning(
            "%s: %d candle(s) with High below Open/Close or Low above them", symbol, inconsistent
        )
    frame.attrs = dict(candles.attrs)  # e.g. "filled_columns" of a close-only CSV
    return frame
