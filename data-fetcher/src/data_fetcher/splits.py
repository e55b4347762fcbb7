"""Unadjusted stock splits in a user's file: a one-candle jump by a split ratio."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

__all__ = ["SplitSuspect", "adjust_for_splits", "find_unadjusted_splits", "split_warning"]

logger = logging.getLogger("data_fetcher")

#: Price factors (new close / previous close) of the common splits, as ``new:old``:
#: ``1:2`` halves the price (a 2-for-1 split), ``3:1`` triples it (a 1-for-3 reverse
#: split), ``2:3`` is a 3-for-2 split.
_RATIOS = ("1:2", "1:3", "1:4", "1:5", "1:10", "2:3", "2:1", "3:1", "4:1", "5:1", "10:1", "3:2")
#: A one-candle close ratio within this relative distance of a split factor matches it.
TOLERANCE = 0.015
#: ... and the jump must be an extreme outlier: |log return| above this many robust
#: sigmas (1.4826 * median absolute deviation) of the previous ``WINDOW`` returns.
SIGMAS = 10.0
WINDOW = 60
_MIN_HISTORY = 20  # fewer previous returns than this: no judgement


def _factor(ratio: str) -> Fraction:
    new, old = ratio.split(":")
    return Fraction(int(new), int(old))


@dataclass(frozen=True)
class SplitSuspect:
    """A candle whose close jumped by a split ratio from the previous one.

    Attributes:
        time: Stamp of the first candle at the new price level.
        ratio: ``"new:old"`` price ratio, e.g. ``"1:2"`` (price halved: a 2-for-1 split
            not adjusted for) or ``"3:1"`` (price tripled: a reverse split).
        change: Relative change of the close, e.g. ``-0.5``.
    """

    time: pd.Timestamp
    ratio: str
    change: float

    @property
    def factor(self) -> float:
        """New price / old price of the split (``0.5`` for ``"1:2"``)."""
        return float(_factor(self.ratio))


def _robust_sigma(returns: np.ndarray) -> float:
    median = np.median(returns)
    return 1.4826 * float(np.median(np.abs(returns - median)))


def find_unadjusted_splits(candles: pd.DataFrame, symbol: str = "?") -> list[SplitSuspect]:
    """Find one-candle close jumps that look like splits the prices were not adjusted for.

    A candle is a suspect when its close divided by the previous close is within 1.5 % of
    a common split factor (2, 3, 4, 5, 10, 3/2 and their inverses) and its log return is
    an extreme outlier: more than 10 robust sigmas of the previous 60 returns (at least
    20 of them needed). Crashes such as 1987 (-20 %) match no split factor.

    Args:
        candles: Validated candles.
        symbol: Unused except in messages of callers (kept for a uniform signature).

    Returns:
        The suspects in time order (empty when none).

    Examples:
        >>> idx = pd.date_range("2024-01-01", periods=80, freq="D", tz="UTC")
        >>> close = 100 * np.exp(np.sin(np.arange(80)) / 100)
        >>> close[50:] /= 2
        >>> df = pd.DataFrame({"Close": close}, index=idx)
        >>> [(str(s.time.date()), s.ratio) for s in find_unadjusted_splits(df)]
        [('2024-02-20', '1:2')]
    """
    close = candles["Close"].to_numpy(dtype=float)
    if len(close) <= _MIN_HISTORY + 1:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = close[1:] / close[:-1]
        returns = np.log(jump)
    suspects = []
    factors = np.array([float(_factor(r)) for r in _RATIOS])
    near = np.abs(jump[:, None] / factors[None, :] - 1) <= TOLERANCE
    for k in np.flatnonzero(near.any(axis=1)):  # k: return index; candle k + 1
        history = returns[max(0, k - WINDOW) : k]
        history = history[np.isfinite(history)]
        if len(history) < _MIN_HISTORY:
            continue
        sigma = _robust_sigma(history)
        if abs(returns[k] - np.median(history)) <= SIGMAS * sigma:
            continue
        ratio = _RATIOS[int(np.argmax(near[k]))]
        suspects.append(
            SplitSuspect(time=candles.index[k + 1], ratio=ratio, change=float(jump[k] - 1))
        )
    return suspects


def _when(stamp: pd.Timestamp) -> str:
    return str(stamp.date()) if stamp == stamp.normalize() else str(stamp)


def split_warning(candles: pd.DataFrame, suspect: SplitSuspect, symbol: str) -> str:
    """The one-line warning for ``suspect`` (close before and after, date, change, ratio)."""
    position = candles.index.get_loc(suspect.time)
    before, after = candles["Close"].iloc[position - 1], candles["Close"].iloc[position]
    return (
        f"{symbol}: close went from {before:.10g} to {after:.10g} on {_when(suspect.time)} "
        f"({suspect.change:+.1%}), which looks like an unadjusted {suspect.ratio} split; "
        "pass adjust_splits=True to adjust"
    )


def adjust_for_splits(candles: pd.DataFrame, suspects: list[SplitSuspect]) -> pd.DataFrame:
    """Adjust the candles before each suspect to the price level after it.

    Prices (Open/High/Low/Close) before a suspect are multiplied by its factor (halved
    for ``"1:2"``) and the volume divided by it, as a split adjustment does.

    Returns:
        A copy; ``candles`` itself is not modified.
    """
    out = candles.copy()
    if not suspects:
        return out
    scale = np.ones(len(out))
    for suspect in suspects:
        scale[: out.index.get_loc(suspect.time)] *= suspect.factor
    for col in ("Open", "High", "Low", "Close"):
        out[col] = out[col].to_numpy() * scale
    out["Volume"] = out["Volume"].to_numpy() / scale
    return out
