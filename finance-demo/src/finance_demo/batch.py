"""Batch prediction over a whole history: the reference the live path must match."""

from __future__ import annotations

from typing import Any

import numpy as np

from finance_demo.dataset import build_dataset
from finance_demo.system import level_of, pipeline_of

__all__ = ["batch_predict"]


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
    import pandas as pd
    from feature_extraction import FeatureExtraction

    pipeline = pipeline_of(model)
    if level is None:
        level = level_of(model)
    features = FeatureExtraction(window_size=pipeline.window_size, normalize=pipeline.normalize)
    data = build_dataset(candles, pipeline, features)
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
