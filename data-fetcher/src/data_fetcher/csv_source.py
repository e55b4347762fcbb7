"""Candles from a user's CSV file, tolerant of common layouts and strict about the rest."""

from __future__ import annotations

import gzip
import logging
import lzma
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .base import CandleSource
from .errors import DataError, FetcherError, FetchError
from .intervals import (
    check_interval,
    check_period,
    slice_period,
    to_interval,
)
from .splits import adjust_for_splits, find_unadjusted_splits, split_warning
from .validate import COLUMNS, check_nanosecond_range, validate_candles

__all__ = ["CsvSource", "read_candles_csv", "write_candles_csv"]

logger = logging.getLogger("data_fetcher")

_OHL = ["Open", "High", "Low"]
_DATE_NAMES = ("date", "datetime", "timestamp", "time", "index")
_ALIASES = {
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "Close",
    "adjclose": "Adj Close",
    "adjustedclose": "Adj Close",
    "volume": "Volume",
    "vol": "Volume",
}


# ``Datetime[America/New_York]``: the index column's header carries the zone name.
_ZONE_HEADER = re.compile(r"^\s*(?P<name>[^\[\]]*?)\s*\[(?P<zone>[^\[\]]+)\]\s*$")


def _key(name: object) -> str:
    return re.sub(r"[\s_.\-]", "", str(name)).lower()


def _split_zone(name: object) -> tuple[str, str | None]:
    match = _ZONE_HEADER.match(str(name))
    if match is None:
        return str(name), None
    return match["name"], match["zone"].strip()


def write_candles_csv(candles: pd.DataFrame, path_or_buffer, *, symbol: str = "?") -> None:
    """Write candles so that :func:`read_candles_csv` reads back exactly the same candles.

    The index column is headed ``NAME[ZONE]`` (e.g. ``Datetime[America/New_York]``) and
    holds ISO-8601 stamps with their UTC offset (nanoseconds kept); prices and volumes
    are written with ``repr`` precision, so every float comes back bit for bit. Extra
    numeric columns (covariates) follow the five candle columns (NaN as a blank cell). A path
    ending in ``.gz``, ``.bz2``, ``.zip``, ``.xz`` or ``.zst`` is compressed.

    Args:
        candles: Candles (validated first: a bad frame is a ``DataError``).
        path_or_buffer: A path, or an open text buffer.
        symbol: Named in messages.

    Examples:
        >>> import io
        >>> from data_fetcher import load_sample
        >>> buffer = io.StringIO()
        >>> write_candles_csv(load_sample("IBM").iloc[:1], buffer)
        >>> buffer.getvalue().splitlines()[0]
        'Date[America/New_York],Open,High,Low,Close,Volume'
    """
    frame = validate_candles(candles, symbol, extras=True)
    zone = str(frame.index.tz)
    stamps = [t.isoformat() for t in frame.index]
    out = pd.DataFrame({f"{frame.index.name or 'Date'}[{zone}]": stamps})
    for col in frame.columns:  # the candles, then their extra numeric columns (covariates)
        out[col] = [repr(float(v)) if v == v else "" for v in frame[col].to_numpy()]
    if isinstance(path_or_buffer, (str, Path)):
        out.to_csv(Path(path_or_buffer), index=False, compression="infer")
    else:
        out.to_csv(path_or_buffer, index=False)


def _parse_dates(
    values: pd.Series, name: str, tz: str, zone: str | None = None
) -> pd.DatetimeIndex:
    text = values.astype("string").str.strip()
    try:
        stamps = pd.to_datetime(text, format="ISO8601")
    except (ValueError, TypeError):
        try:  # mixed UTC offsets (e.g. across a DST change): bring them to UTC
            stamps = pd.to_datetime(text, format="ISO8601", utc=True)
        except (ValueError, TypeError):
            try:
                stamps = pd.to_datetime(text, format="mixed", utc=None)
            except (ValueError, TypeError) as exc:
                raise DataError(f"{name}: cannot read the dates ({exc})") from None
    index = pd.DatetimeIndex(stamps)
    if index.hasnans:
        row = int(pd.Series(index.isna()).to_numpy().argmax())
        raise DataError(f"{name}: missing date in data row {row + 1}")
    check_nanosecond_range(index, name, rows=True)
    if zone is not None:  # the zone named in the header (write_candles_csv)
        try:
            if index.tz is None:
                index = index.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
            else:
                index = index.tz_convert(zone)
        except Exception as exc:  # an unknown zone name: pytz / zoneinfo errors vary
            raise DataError(
                f"{name}: unknown time zone {zone!r} in the date header ({exc})"
            ) from None
        if index.hasnans:
            raise DataError(f"{name}: some timestamps are ambiguous in time zone {zone}")
    elif index.tz is None:
        index = index.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    return index


def read_candles_csv(
    path: str | Path, *, symbol: str | None = None, tz: str = "UTC", adjust_splits: bool = False
) -> pd.DataFrame:
    """Read candles from a CSV file (plain or compressed).

    Accepted layouts: a date column named ``Date``, ``Datetime``, ``Timestamp`` or
    ``Time`` (or an unnamed first column, as ``DataFrame.to_csv`` writes it); column names
    in any case, with spaces or underscores; an ``Adj Close`` column, which adjusts
    Open/High/Low/Close the way yfinance's ``auto_adjust`` does (and stands for Close when
    there is no Close). Extra numeric columns (covariates such as ``vix``: numbers, blanks
    allowed) are kept after the five candle columns, as float64 on the same rows (a blank
    or a cell that is not a number is NaN); text columns are ignored. A missing ``Volume``
    is filled with 0 (with a warning). A close-only file (a date and a close column) is
    accepted: Open, High and Low are set to Close and Volume to 0 (one info line). The
    columns filled this way are listed in ``candles.attrs["filled_columns"]``. Anything
    else is a
    :class:`DataError` naming the file and the problem.

    Args:
        path: The file.
        symbol: Used in messages instead of the file name.
        tz: Time zone given to naive timestamps (stamps with an offset keep it).
        adjust_splits: Adjust the prices before each suspected unadjusted split (see
            :func:`find_unadjusted_splits`); ``False`` logs one warning per suspect.

    Returns:
        Validated candles.

    Raises:
        FetchError: The file cannot be opened.
        DataError: The content is not candles.
    """
    path = Path(path)
    name = symbol or path.name
    try:
        candles = _read_candles_csv(path, name, tz)
    except FetcherError:
        raise
    except (ValueError, TypeError, OverflowError, ArithmeticError, LookupError) as exc:
        # a safety net: whatever pandas raised on odd content is a one-line DataError
        raise DataError(f"{name}: not a readable candles CSV file ({_short(exc)})") from None
    suspects = find_unadjusted_splits(candles, name)
    if suspects and adjust_splits:
        candles = adjust_for_splits(candles, suspects)
        logger.info(
            "%s: adjusted the prices for %s",
            name,
            ", ".join(f"a {s.ratio} split on {s.time}" for s in suspects),
        )
    else:
        for suspect in suspects:
            logger.warning("%s", split_warning(candles, suspect, name))
    return candles


def _short(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.encode("ascii", "backslashreplace").decode()
    return text if len(text) <= limit else text[: limit - 3] + "..."


_CORRUPT = (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, lzma.LZMAError)


def _read_raw(path: Path, name: str) -> pd.DataFrame:
    try:
        return pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=["", "NaN", "nan", "null"]
        )
    except FileNotFoundError:
        raise FetchError(f"CSV file not found: {path}") from None
    except (IsADirectoryError, PermissionError, NotADirectoryError) as exc:
        raise FetchError(f"cannot read CSV file {path}: {_short(exc)}") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{name}: not a UTF-8 text file (byte {exc.object[exc.start : exc.start + 1]!r} at "
            f"position {exc.start}); save it as UTF-8 CSV"
        ) from None
    except _CORRUPT as exc:
        raise DataError(
            f"{name}: corrupt or truncated compressed file ({type(exc).__name__}: {_short(exc)})"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: the CSV file is empty") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{name}: not a readable CSV file ({_short(exc)})") from None
    except OSError as exc:
        if exc.errno is None:  # bz2/lzma "Invalid data stream" and the like: the content
            raise DataError(f"{name}: corrupt or truncated file ({_short(exc)})") from None
        raise FetchError(f"cannot read CSV file {path}: {_short(exc)}") from None


def _read_candles_csv(path: Path, name: str, tz: str) -> pd.DataFrame:
    raw = _read_raw(path, name)
    if not len(raw.columns):
        raise DataError(f"{name}: the CSV file is empty")
    zones = {c: _split_zone(c) for c in raw.columns}
    columns = {_key(base): c for c, (base, _) in zones.items()}
    date_col = next((columns[k] for k in _DATE_NAMES if k in columns), None)
    if date_col is None and str(raw.columns[0]).startswith("Unnamed"):
        date_col = raw.columns[0]
    if date_col is None:
        raise DataError(
            f"{name}: no date column (expected Date, Datetime, Timestamp or Time); "
            f"found {', '.join(map(str, raw.columns))}"
        )
    renamed = {}
    for column in raw.columns:
        target = _ALIASES.get(_key(column))
        if target and target not in renamed.values():
            renamed[column] = target
    frame = raw.rename(columns=renamed)[list(renamed.values())]
    # extra columns (covariates such as vix): kept beside the candles when numeric
    for column in raw.columns:
        if column != date_col and column not in renamed and _key(column) not in _ALIASES:
            extra = str(column).strip()
            if extra and extra not in frame and extra not in COLUMNS:
                frame[extra] = raw[column]
    if raw.empty:
        raise DataError(f"{name}: the CSV file has a header but no rows")
    if "Close" not in frame and "Adj Close" in frame:
        frame = frame.rename(columns={"Adj Close": "Close"})
    if "Close" not in frame:
        raise DataError(
            f"{name}: no Close (or Adj Close) column; found {', '.join(map(str, raw.columns))}"
        )
    filled: list[str] = []
    if not any(c in frame for c in _OHL):  # a close-only file (date + close)
        for col in _OHL:
            frame[col] = frame["Close"]
        filled += _OHL
    if "Volume" not in frame and all(c in frame for c in COLUMNS[:4]):
        if not filled:
            logger.warning("%s: no Volume column; using 0", name)
        frame["Volume"] = "0"
        filled.append("Volume")
    if filled[:3] == _OHL:
        logger.info(
            "%s: close-only file; %s filled from Close%s",
            name,
            "/".join(_OHL),
            " and Volume with 0" if "Volume" in filled else "",
        )
    missing = [c for c in COLUMNS if c not in frame]
    if missing:
        raise DataError(
            f"{name}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, raw.columns))}"
        )
    base, zone = zones[date_col] if date_col in zones else (str(date_col), None)
    frame.index = _parse_dates(raw[date_col], name, tz, zone)
    frame.index.name = base if zone is not None and base else "Date"
    adj = frame.pop("Adj Close") if "Adj Close" in frame else None
    candles = validate_candles(frame, name, extras=True)
    if adj is not None:
        adj = pd.to_numeric(adj, errors="coerce")
        adj = adj[~adj.index.duplicated(keep="first")].reindex(candles.index)
        ratio = adj / candles["Close"]
        ok = ratio.notna() & np.isfinite(ratio) & (ratio > 0)
        for col in ("Open", "High", "Low"):
            candles.loc[ok, col] = candles.loc[ok, col] * ratio[ok]
        candles.loc[ok, "Close"] = adj[ok]
        if filled[:3] == _OHL:  # the filled prices follow the adjusted close
            for col in _OHL:
                candles[col] = candles["Close"]
    if filled:
        candles.attrs["filled_columns"] = filled
    return candles


class CsvSource(CandleSource):
    r"""Candles from a CSV file, cut to ``period`` and resampled to ``interval``.

    The native interval is inferred from the spacing of the stamps; ``period`` counts back
    from the last row.

    Examples:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
        >>> from data_fetcher import load_sample
        >>> load_sample("IBM").iloc[:3].to_csv(path)
        >>> CsvSource(path, interval="1d").fetch_historical()["Close"].tolist()
        [100.25, 103.12, 108.0]
    """

    def __init__(
        self,
        path: str | Path,
        period: str = "max",
        interval: str | None = None,
        *,
        symbol: str | None = None,
        tz: str = "UTC",
        adjust_splits: bool = False,
    ) -> None:
        self.path = Path(path)
        self.adjust_splits = adjust_splits
        self.symbol = symbol or self.path.name
        self.period = check_period(period)
        self.interval = None if interval is None else check_interval(interval)
        self.tz = tz

    @property
    def name(self) -> str:
        """Short name of the source."""
        return f"csv:{self.path}"

    def fetch_historical(self) -> pd.DataFrame:
        """Read, validate, resample and cut the file's candles."""
        candles = read_candles_csv(
            self.path, symbol=self.symbol, tz=self.tz, adjust_splits=self.adjust_splits
        )
        candles = to_interval(candles, self.interval, self.symbol)
        return slice_period(candles, self.period)
