"""Vectorized dataset building: candles → windows → features → sequences → targets.

No look-ahead: the sequence of tick ``t`` is built from ``close[.. t]`` only; only its
target, ``log(close[t + h] / close[t])``, looks ahead, and it is ``NaN`` where ``t + h``
is past the end. The train/validation/test split is time-ordered, with a purge gap so
that no training target reaches into the validation or test part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from finance_demo.config import PipelineSpec
from finance_demo.errors import InsufficientDataError, PipelineError

__all__ = [
    "Dataset",
    "build_dataset",
    "check_covariates",
    "closes_of",
    "covariates_of",
    "feature_inputs",
    "split_dataset",
]


@dataclass(frozen=True)
class Dataset:
    """Sequences and targets of a candle history, one sample per emitting tick.

    Attributes:
        X: ``(N, seq_len, n_features)`` float64 input sequences.
        y: ``(N, H)`` float64 log returns per horizon (``NaN`` past the end).
        ticks: ``(N,)`` position of each sample's last candle in the history.
        times: ``(N,)`` stamps of those candles (a ``DatetimeIndex``).
        closes: ``(N,)`` their closes.
        horizons: The horizons of the ``y`` columns.
    """

    X: np.ndarray
    y: np.ndarray
    ticks: np.ndarray
    times: Any
    closes: np.ndarray
    horizons: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.X)

    def subset(self, index: Any) -> Dataset:
        """Return the samples selected by a slice or an index array."""
        return Dataset(
            X=self.X[index],
            y=self.y[index],
            ticks=self.ticks[index],
            times=self.times[index],
            closes=self.closes[index],
            horizons=self.horizons,
        )

    def labeled(self) -> Dataset:
        """Return the samples whose every target is known (all but the last few)."""
        return self.subset(slice(0, int(np.isfinite(self.y).all(axis=1).sum())))


def closes_of(candles: Any) -> np.ndarray:
    """Return the ``Close`` column as float64, checking that every close is positive.

    Args:
        candles: A candles DataFrame.

    Returns:
        The closes, oldest first.

    Raises:
        PipelineError: No ``Close`` column, or a close that is missing, not positive or
            above ``data_fetcher.MAX_PRICE`` (the candles contract's one rule).
    """
    if "Close" not in getattr(candles, "columns", ()):
        raise PipelineError("the candles have no 'Close' column")
    from data_fetcher.validate import MAX_PRICE

    closes = candles["Close"].to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(closes) & (closes > 0) & (closes <= MAX_PRICE))
    if bad.any():
        raise PipelineError(
            f"the candles have {int(bad.sum())} missing, non-positive or absurd (> 1e12) closes "
            f"(first at {candles.index[int(np.argmax(bad))]})"
        )
    return closes


def feature_inputs(candles: Any, features: Any) -> np.ndarray:
    """Return what the feature groups read: the closes ``(T,)`` or OHLCV rows ``(T, 5)``.

    Args:
        candles: A candles DataFrame.
        features: A ``FeatureConfig`` (or anything with ``needs_ohlcv`` and ``groups``).

    Returns:
        float64 closes (close-only groups) or ``Open, High, Low, Close, Volume`` rows.

    Raises:
        PipelineError: Bad closes (see :func:`closes_of`); with OHLCV groups, a missing
            column, an Open/High/Low that is missing or not positive, a Volume that is
            missing or negative, or columns that the source filled from Close
            (``candles.attrs["filled_columns"]``: a close-only file).
    """
    closes = closes_of(candles)
    if not features.needs_ohlcv:
        return closes
    from feature_extraction import GROUPS, OHLCV

    needing = [g for g in features.groups if GROUPS[g].needs_ohlcv]
    used = {c for g in needing for c in GROUPS[g].columns if c != "Close"}
    filled = [c for c in getattr(candles, "attrs", {}).get("filled_columns", ()) if c in used]
    if filled:
        close_only = ",".join(g for g in GROUPS if not GROUPS[g].needs_ohlcv)
        raise PipelineError(
            f"features.groups {','.join(needing)} need real {'/'.join(filled)} values, but "
            f"the candles' {'/'.join(filled)} were filled in (a close-only source); use "
            f"close-only groups: --groups {close_only}"
        )
    missing = [c for c in OHLCV if c not in candles.columns]
    if missing:
        raise PipelineError(
            f"features.groups {','.join(needing)} need OHLCV candles; the candles have no "
            f"{'/'.join(missing)} column"
        )
    rows = candles[list(OHLCV)].to_numpy(dtype=np.float64)
    from data_fetcher.validate import MAX_PRICE

    prices, volume = rows[:, :3], rows[:, 4]
    bad = ~(np.isfinite(prices) & (prices > 0) & (prices <= MAX_PRICE)).all(axis=1)
    bad |= ~(np.isfinite(volume) & (volume >= 0))
    if bad.any():
        first = int(np.argmax(bad))
        raise PipelineError(
            f"the candles have {int(bad.sum())} rows with a missing, non-positive or absurd "
            f"Open/High/Low or a missing or negative Volume (first at {candles.index[first]})"
        )
    return np.ascontiguousarray(rows)


def covariates_of(candles: Any, features: Any) -> np.ndarray | None:
    """Return the covariate columns of the candles as float64 ``(T, k)`` (``None``: none).

    The values are taken as they are, on the candles' own rows (aligned by timestamp):
    nothing is filled in. A cell that is not a number reads as NaN; whoever uses a row
    checks it (:func:`check_covariates`).

    Args:
        candles: A candles DataFrame.
        features: A ``FeatureConfig`` (or anything with ``covariates``).

    Raises:
        PipelineError: A covariate is not a column of the candles (one line naming it and
            the columns there are).
    """
    names = tuple(getattr(features, "covariates", ()))
    if not names:
        return None
    columns = [str(c) for c in getattr(candles, "columns", ())]
    for name in names:
        if name not in columns:
            shown = ", ".join(columns[:12]) + (
                f" and {len(columns) - 12} more" if len(columns) > 12 else ""
            )
            raise PipelineError(
                f"covariate {name!r} is not a column of the candles (columns: {shown}); "
                "features.covariates needs a csv:PATH or replay:PATH source, or a DataFrame, "
                "with that column"
            )
    import pandas as pd

    out = np.empty((len(candles), len(names)))
    for k, name in enumerate(names):
        out[:, k] = pd.to_numeric(candles[name], errors="coerce").to_numpy(dtype=np.float64)
    return out


def check_covariates(values: np.ndarray, ticks: np.ndarray, index: Any, names: Any) -> None:
    """Refuse a NaN, inf or non-number covariate at one of ``ticks`` (one line, first stamp).

    Args:
        values: ``(T, k)`` covariates (:func:`covariates_of`).
        ticks: The rows the features read (the last candle of each window).
        index: The candles' stamps, for the message.
        names: The covariates' names.

    Raises:
        PipelineError: Naming the column and the first bad stamp.
    """
    at = values[ticks]
    bad = ~np.isfinite(at)
    if bad.any():
        row, k = np.argwhere(bad)[0]
        tick = int(ticks[row])
        raise PipelineError(
            f"covariate {names[int(k)]!r} is missing or not a finite number at {index[tick]} "
            f"({int(bad[:, k].sum())} such rows where a window ends); covariates are not "
            "filled in: fill or drop those rows"
        )


def build_dataset(candles: Any, config: PipelineSpec, features: Any = None) -> Dataset:
    """Build every input sequence of a history in bulk, with its targets.

    Args:
        candles: Candles (``Close`` column; ``Open, High, Low, Volume`` too when a feature
            group needs them; the ``features.covariates`` columns), ``DatetimeIndex``,
            oldest first.
        config: Window sizes, feature groups and horizons.
        features: A ``FeatureExtraction`` to reuse; it is used only when its ``config`` is
            ``config.features`` (otherwise the spec's own is built: the rows always follow
            the spec, whose ``n_features`` is the network's ``input_dim``).

    Returns:
        One sample per tick ``t = buffer_size - 1 + (j + seq_len - 1) * step_size``.

    Raises:
        InsufficientDataError: Fewer candles than one sequence needs.
        PipelineError: Bad closes, or candles that the feature groups cannot read (see
            :func:`feature_inputs`); a covariate that is not a column, or that is missing
            or not a finite number where a window ends.
    """
    if getattr(features, "config", None) != config.features:
        from feature_extraction import FeatureExtraction

        features = FeatureExtraction.from_config(config.features)
    inputs = feature_inputs(candles, config.features)
    closes = np.ascontiguousarray(inputs[:, 3]) if inputs.ndim == 2 else inputs
    n = len(closes)
    if n < config.span:
        raise InsufficientDataError(
            f"{n} candles are too few: one input sequence needs {config.span} "
            f"(buffer_size {config.buffer_size} + (seq_len {config.seq_len} - 1) x "
            f"step_size {config.step_size})"
        )
    b, s, seq_len = config.buffer_size, config.step_size, config.seq_len
    covariates = covariates_of(candles, config.features)
    if covariates is not None:  # each window's last candle: a row the features read
        ends = b - 1 + np.arange((n - b) // s + 1) * s
        check_covariates(covariates, ends, candles.index, config.features.covariates)
    feats = np.asarray(
        features.transform(inputs, b, stride=s, covariates=covariates), dtype=np.float64
    )
    # (W - L + 1, F, L) view → (N, L, F), one copy.
    X = np.ascontiguousarray(sliding_window_view(feats, seq_len, axis=0).transpose(0, 2, 1))
    ticks = b - 1 + (np.arange(len(X)) + seq_len - 1) * s
    y = np.full((len(X), len(config.horizons)), np.nan)
    log_close = np.log(closes)
    for k, h in enumerate(config.horizons):
        ok = ticks + h < n
        y[ok, k] = log_close[ticks[ok] + h] - log_close[ticks[ok]]
    return Dataset(
        X=X,
        y=y,
        ticks=ticks,
        times=candles.index[ticks],
        closes=closes[ticks],
        horizons=tuple(config.horizons),
    )


def split_dataset(
    data: Dataset, val_fraction: float, test_fraction: float, step_size: int = 1
) -> tuple[Dataset, Dataset, Dataset]:
    """Split the labeled samples in time order into train, validation and test parts.

    The last ``ceil(max(horizons) / step_size)`` samples before each boundary are
    dropped (purged): their targets would use prices of the next part.

    Args:
        data: A dataset (only its labeled samples are used).
        val_fraction: Share of the validation part.
        test_fraction: Share of the test part (0 = no test part).
        step_size: Ticks between two samples.

    Returns:
        ``(train, val, test)``; ``test`` is empty when ``test_fraction`` is 0.

    Raises:
        InsufficientDataError: A part would have too few samples.
    """
    data = data.labeled()
    n = len(data)
    gap = math.ceil(max(data.horizons) / step_size)
    n_test = round(n * test_fraction)
    n_val = max(1, round(n * val_fraction))
    n_train = n - n_test - n_val - gap * (2 if n_test else 1)
    if n_train < 8 or (test_fraction > 0 and n_test < 1):
        raise InsufficientDataError(
            f"{n} labeled sequences are too few to split into train/validation/test "
            f"(fractions {val_fraction}/{test_fraction}); use a longer period or smaller "
            "window sizes"
        )
    train = data.subset(slice(0, n_train))
    val_start = n_train + gap
    val = data.subset(slice(val_start, val_start + n_val))
    test_start = val_start + n_val + gap
    test = data.subset(slice(test_start, test_start + n_test))
    return train, val, test
