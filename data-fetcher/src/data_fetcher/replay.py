"""History played back as a live feed: one candle per ``fetch_latest()`` call."""

from __future__ import annotations

import math
import numbers

import pandas as pd

from .base import CandleSource
from .intervals import infer_interval
from .validate import validate_candles

__all__ = ["HOLDOUT_FRACTION", "ReplaySource", "replay_position"]

#: Default replay point: the start of the last 15 % of the series.
HOLDOUT_FRACTION = 0.15


def replay_position(index: pd.DatetimeIndex, replay_start: int | str | pd.Timestamp | None) -> int:
    """Position of the first replayed candle in ``index``.

    Args:
        index: The stamps of the whole series.
        replay_start: ``None`` (start of the last 15 %: ``n - ceil(0.15 n)``), an int
            position (negative counts from the end, ``len(index)`` means nothing to replay),
            or a timestamp (first candle at or after it; a naive stamp is read in the
            series' time zone).

    Returns:
        An int in ``[0, len(index)]``.

    Raises:
        ValueError: ``replay_start`` is out of range or not a position nor a timestamp.
    """
    n = len(index)
    if replay_start is None:
        return n - math.ceil(HOLDOUT_FRACTION * n)
    if isinstance(replay_start, bool):
        raise ValueError(f"replay_start must be a position or a timestamp, got {replay_start!r}")
    if isinstance(replay_start, numbers.Integral):
        replay_start = int(replay_start)
        position = replay_start + n if replay_start < 0 else replay_start
        if not 0 <= position <= n:
            raise ValueError(f"replay_start={replay_start} is outside a series of {n} candles")
        return position
    try:
        stamp = pd.Timestamp(replay_start)
    except (ValueError, TypeError):
        raise ValueError(
            f"replay_start must be a position or a timestamp, got {replay_start!r}"
        ) from None
    if stamp is pd.NaT:
        raise ValueError(f"replay_start must be a position or a timestamp, got {replay_start!r}")
    if stamp.tzinfo is None and index.tz is not None:
        stamp = stamp.tz_localize(index.tz)
    return int(index.searchsorted(stamp, side="left"))


class ReplaySource(CandleSource):
    """Any candles played back as a live feed.

    :meth:`fetch_historical` returns the candles before the replay point (warm-up);
    each :meth:`fetch_latest` returns the next candle, then ``None`` once
    :attr:`exhausted`.

    Examples:
        >>> import pandas as pd
        >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
        >>> df = pd.DataFrame({c: [1.0, 2.0, 3.0, 4.0] for c in
        ...                    ["Open", "High", "Low", "Close", "Volume"]}, index=idx)
        >>> feed = ReplaySource(df, symbol="X", replay_start=2)
        >>> len(feed.fetch_historical()), feed.fetch_latest()["Close"].item()
        (2, 3.0)
        >>> feed.fetch_latest()["Close"].item(), feed.fetch_latest(), feed.exhausted
        (4.0, None, True)
    """

    def __init__(
        self,
        candles: pd.DataFrame,
        *,
        symbol: str = "?",
        replay_start: int | str | pd.Timestamp | None = None,
        label: str = "replay",
        interval: str | None = None,
    ) -> None:
        self.symbol = symbol
        self.candles = validate_candles(candles, symbol, extras=True)
        self._values = self.candles.to_numpy(dtype="float64")
        #: The candles' interval: as given, else inferred from the stamps (``None`` if
        #: irregular).
        self.interval = interval or infer_interval(self.candles.index)
        self.start = replay_position(self.candles.index, replay_start)
        self.cursor = self.start
        self._label = label

    @property
    def name(self) -> str:
        """Short name of the source."""
        return self._label

    def fetch_historical(self) -> pd.DataFrame:
        """Return the candles before the replay point (may be empty)."""
        return self.candles.iloc[: self.start].copy()

    def fetch_latest(self) -> pd.DataFrame | None:
        """Return the next candle as a one-row frame, or ``None`` when none is left."""
        at = self.advance()
        if at is None:
            return None
        # what ``candles.iloc[at : at + 1].copy()`` gives, built from the arrays (cheaper:
        # a live loop over hundreds of symbols makes one of these per symbol and poll)
        row = pd.DataFrame(
            self._values[at : at + 1].copy(),
            index=self.candles.index[at : at + 1],
            columns=self.candles.columns,
            copy=False,
        )
        if self.candles.attrs:
            row.attrs = dict(self.candles.attrs)
        return row

    def advance(self) -> int | None:
        """Step the feed: the position of the next candle in :attr:`candles`, or ``None``."""
        if self.cursor >= len(self.candles):
            return None
        self.cursor += 1
        return self.cursor - 1

    @property
    def exhausted(self) -> bool:
        """True when every candle has been played back."""
        return self.cursor >= len(self.candles)

    @property
    def remaining(self) -> int:
        """Number of candles not played back yet."""
        return len(self.candles) - self.cursor
