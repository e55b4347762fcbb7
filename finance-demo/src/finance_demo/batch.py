"""Batch prediction over a whole history: the reference the live path must match."""

from __future__ import annotations

from typing import Any

import numpy as np

from finance_demo.dataset import build_dataset
from finance_demo.system import spec_of

__all__ = ["batch_predict", "holdout_predictions", "predict_dataset"]


def batch_predict(model: Any, candles: Any, level: float | None = None) -> Any:
    """Predict at every emitting tick of a history in one vectorized pass.

    Args:
        model: A model trained by :func:`finance_demo.train_model`.
        candles: Candles DataFrame, oldest first.
        level: Interval level (default: the model's evaluation level).

    Returns:
        A DataFrame with one row per (tick, horizon): ``time``, ``tick``, ``horizon``,
        ``close``, ``predicted_return``, ``lower_return``, ``upper_return``,
        ``predicted_price``, ``lower_price``, ``upper_price`` and, where the future is in
        the history, ``realized_return``.

    Raises:
        InsufficientDataError: Fewer candles than one input sequence needs.
    """
    from feature_extraction import FeatureExtraction

    pipeline = spec_of(model)
    features = FeatureExtraction.from_config(pipeline.features)
    data = build_dataset(candles, pipeline, features)
    return predict_dataset(model, data, pipeline.level if level is None else level)


def predict_dataset(model: Any, data: Any, level: float) -> Any:
    """:func:`batch_predict` on an already built :class:`~finance_demo.Dataset`.

    Args:
        model: A trained forecaster.
        data: ``build_dataset`` output for this model's spec.
        level: Interval level.

    Returns:
        The same frame as :func:`batch_predict`.
    """
    import pandas as pd

    fc = model.forecast(data.X, level=level)
    n, h = data.y.shape
    mean, lower, upper = (
        np.asarray(a, dtype=np.float64).reshape(n, h) for a in (fc.mean, fc.lower, fc.upper)
    )
    closes = np.repeat(data.closes, h)
    frame = pd.DataFrame(
        {
            "time": data.times.repeat(h),
            "tick": np.repeat(data.ticks, h),
            "horizon": np.tile(np.asarray(data.horizons), n),
            "close": closes,
            "predicted_return": mean.ravel(),
            "lower_return": lower.ravel(),
            "upper_return": upper.ravel(),
            "realized_return": data.y.ravel(),
        }
    )
    for name in ("predicted", "lower", "upper"):
        frame[f"{name}_price"] = closes * np.exp(frame[f"{name}_return"].to_numpy())
    return frame


def holdout_predictions(model: Any, candles: Any, last: int | None = 250) -> Any:
    """The held-out test part's first-horizon predictions with known outcomes (for a plot).

    Args:
        model: A model trained by :func:`finance_demo.train_model` on ``candles``.
        candles: The candles it was trained on.
        last: Keep only the last rows (``None``: all of them).

    Returns:
        The rows of :func:`batch_predict` at the first horizon, from the recorded
        ``dataset.test_start`` on (every row when no test part was held out), whose
        outcome is in the history.
    """
    preds = batch_predict(model, candles)
    h0 = spec_of(model).horizons[0]
    rows = preds[(preds["horizon"] == h0) & preds["realized_return"].notna()]
    start = (model.metadata.get("dataset") or {}).get("test_start")
    if start is not None:
        rows = rows[rows["time"] >= start]
    return rows if last is None else rows.iloc[-last:]
