"""Prediction exports and the metrics computed from them (one function for both).

:func:`prediction_rows` gives one row per prediction of a trained model over its history,
labelled with the part it belongs to (``train``, ``validation``, ``test``, ``purged``
between parts, ``unlabeled`` when the outcome is not in the history yet);
:func:`prediction_metrics` scores rows beside persistence (a zero return: the price stays
where it is). The metrics file of a ``train`` run is ``prediction_metrics`` of its export's
test rows, so re-reading the export reproduces it exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from finance_demo.batch import predict_dataset
from finance_demo.dataset import build_dataset, split_dataset
from finance_demo.errors import PipelineError
from finance_demo.system import spec_of

__all__ = [
    "EXPORT_COLUMNS",
    "RELIABILITY_LEVELS",
    "backtest_rows",
    "coverage_by_level",
    "prediction_metrics",
    "prediction_rows",
    "write_predictions",
]

#: Columns of an export, in order.
EXPORT_COLUMNS = (
    "time",
    "target_time",
    "split",
    "horizon",
    "close",
    "predicted_return",
    "lower_return",
    "upper_return",
    "predicted_price",
    "lower_price",
    "upper_price",
    "realized_return",
    "realized_price",
)


def _target_times(candles: Any, ticks: np.ndarray, horizons: np.ndarray) -> Any:
    import pandas as pd

    target = ticks + horizons
    inside = target < len(candles)
    out = pd.Series(pd.NaT, index=range(len(ticks)), dtype=f"datetime64[ns, {candles.index.tz}]")
    out[inside] = candles.index[target[inside]]
    return out.to_numpy()


def prediction_rows(model: Any, candles: Any) -> Any:
    """One row per prediction of ``model`` over ``candles``, with its split label.

    Args:
        model: A model trained by :func:`finance_demo.train_model` on ``candles`` (its
            metadata records the split fractions).
        candles: The candles it was trained on.

    Returns:
        A DataFrame with :data:`EXPORT_COLUMNS`: the forecast made at ``time`` (the
        candle's close is known) for the close at ``target_time``, ``horizon`` candles
        later; ``split`` is ``train``, ``validation``, ``test``, ``purged`` or
        ``unlabeled``.
    """
    return _labelled_rows(model, candles)[0]


def _labelled_rows(model: Any, candles: Any) -> tuple[Any, Any]:
    """:func:`prediction_rows` and the dataset it was built from (built once)."""
    spec = spec_of(model)
    meta = model.metadata or {}
    val_fraction = (meta.get("training") or {}).get("val_fraction")
    test_fraction = (meta.get("dataset") or {}).get("test_fraction")
    if val_fraction is None or test_fraction is None:
        raise PipelineError("the model file does not record its split (val/test fractions)")
    data = build_dataset(candles, spec)
    train, val, test = split_dataset(data, val_fraction, test_fraction, spec.step_size)
    rows = predict_dataset(model, data, spec.level)
    labels = np.full(len(data), "purged", dtype=object)
    position = {int(t): i for i, t in enumerate(data.ticks)}
    for name, part in (("train", train), ("validation", val), ("test", test)):
        for t in part.ticks:
            labels[position[int(t)]] = name
    labels[len(data.labeled()) :] = "unlabeled"
    ticks = rows["tick"].to_numpy()
    rows.insert(1, "target_time", _target_times(candles, ticks, rows["horizon"].to_numpy()))
    rows.insert(2, "split", labels[[position[int(t)] for t in ticks]])
    rows["realized_price"] = rows["close"].to_numpy() * np.exp(rows["realized_return"].to_numpy())
    return rows[list(EXPORT_COLUMNS)].reset_index(drop=True), data


def _r2(y: np.ndarray, pred: np.ndarray) -> float | None:
    total = float(np.sum((y - y.mean()) ** 2))
    return None if total == 0 else 1.0 - float(np.sum((y - pred) ** 2)) / total


def _up_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    """Precision, recall and F1 of predicting an up move (``> 0``)."""
    up, called = y > 0, pred > 0
    tp = int(np.sum(up & called))
    precision = tp / int(called.sum()) if called.any() else None
    recall = tp / int(up.sum()) if up.any() else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall > 0
        else None
    )
    return {"up_precision": precision, "up_recall": recall, "up_f1": f1}


def _point(y: np.ndarray, pred: np.ndarray, close: np.ndarray) -> dict[str, Any]:
    from model import metrics

    price, predicted_price = close * np.exp(y), close * np.exp(pred)
    out: dict[str, Any] = {
        "mae": metrics.mae(y, pred),
        "rmse": metrics.rmse(y, pred),
        "r2": _r2(y, pred),
        "price_mae": float(np.mean(np.abs(price - predicted_price))),
        "price_mape": float(np.mean(np.abs(price - predicted_price) / price)),
        "price_r2": _r2(price, predicted_price),
        "direction_accuracy": metrics.direction_accuracy(y, pred),
    }
    out.update(_up_scores(y, pred))
    return out


def prediction_metrics(rows: Any, level: float) -> dict[str, dict[str, Any]]:
    """Score prediction rows per horizon, beside persistence.

    Args:
        rows: Rows of :func:`prediction_rows` (or of an export read back) with a realized
            return; others are ignored.
        level: The interval level the rows were made at.

    Returns:
        ``{"h<H>": {"samples", "model": {...}, "persistence": {...}, "always_up"}}`` where
        each of ``model`` and ``persistence`` holds MAE, RMSE and R² of returns, MAE, MAPE
        and R² of prices, direction accuracy, precision/recall/F1 of up moves; ``model``
        adds the interval's ``coverage``, ``winkler`` and ``mean_width``. Persistence's
        direction call is "not up" (a zero return), so its recall of up moves is 0.
    """
    from model import metrics

    out: dict[str, dict[str, Any]] = {}
    known = rows[np.isfinite(rows["realized_return"].to_numpy(dtype=np.float64))]
    for h in sorted(set(known["horizon"])):
        part = known[known["horizon"] == h]
        y = part["realized_return"].to_numpy(dtype=np.float64)
        pred = part["predicted_return"].to_numpy(dtype=np.float64)
        lower = part["lower_return"].to_numpy(dtype=np.float64)
        upper = part["upper_return"].to_numpy(dtype=np.float64)
        close = part["close"].to_numpy(dtype=np.float64)
        model_scores = _point(y, pred, close)
        model_scores.update(
            coverage=metrics.coverage(y, lower, upper),
            winkler=metrics.winkler_score(y, lower, upper, level),
            mean_width=float(np.mean(upper - lower)),
        )
        out[f"h{int(h)}"] = {
            "samples": len(y),
            "model": model_scores,
            "persistence": _point(y, np.zeros_like(y), close),
            "always_up": metrics.always_up_accuracy(y),
            "level": level,
        }
    return _finite(out)


def _finite(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_predictions(rows: Any, path: str) -> None:
    """Write an export as CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``), atomically.

    CSV floats are written at full precision, so reading the file back gives the same
    numbers (and :func:`prediction_metrics` the same scores).

    Raises:
        PipelineError: Another suffix, or Parquet without ``pyarrow`` installed.
    """
    import io

    from finance_demo.files import atomic_write

    if path.endswith(".parquet"):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise PipelineError(
                "writing .parquet needs pyarrow (pip install pyarrow); or use .csv"
            ) from None
        buffer = io.BytesIO()
        rows.to_parquet(buffer, index=False)
        atomic_write(path, buffer.getvalue())
        return
    if not path.endswith((".csv", ".csv.gz")):
        raise PipelineError(f"{path}: write predictions to a .csv, .csv.gz or .parquet file")
    text = rows.to_csv(index=False, float_format="%.17g")
    if path.endswith(".gz"):
        import gzip

        atomic_write(path, gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        atomic_write(path, text)


def backtest_rows(report: Any, candles: Any) -> Any:
    """One row per out-of-sample prediction of a walk-forward backtest.

    Args:
        report: A :class:`~finance_demo.BacktestReport`.
        candles: The candles it ran on (for the target times).

    Returns:
        :data:`EXPORT_COLUMNS` for the LSTM (``split`` is ``fold1``, ``fold2``, ...), then
        one column per baseline forecast (``ridge``, ``drift``, ``constant_lower``, ...).
    """
    frame = report.to_frame()
    ticks = frame["tick"].to_numpy()
    close = frame["close"].to_numpy()
    out = frame[["time"]].copy()
    out["target_time"] = _target_times(candles, ticks, frame["horizon"].to_numpy())
    out["split"] = ["fold" + str(int(k)) for k in frame["fold"]]
    out["horizon"] = frame["horizon"]
    out["close"] = close
    for name, col in (("predicted", "lstm"), ("lower", "lstm_lower"), ("upper", "lstm_upper")):
        out[f"{name}_return"] = frame[col]
    for name in ("predicted", "lower", "upper"):
        out[f"{name}_price"] = close * np.exp(out[f"{name}_return"].to_numpy())
    out["realized_return"] = frame["realized_return"]
    out["realized_price"] = close * np.exp(frame["realized_return"].to_numpy())
    skip = {"time", "tick", "fold", "horizon", "close", "realized_return"}
    for col in frame.columns:
        if col not in skip and not col.startswith("lstm"):
            out[col] = frame[col]
    return out.reset_index(drop=True)


#: Nominal levels of the reliability diagram.
RELIABILITY_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def coverage_by_level(
    model: Any, candles: Any, split: str = "test", levels: tuple[float, ...] = RELIABILITY_LEVELS
) -> dict[str, list[tuple[float, float]]]:
    """Empirical coverage of the intervals at several nominal levels (reliability points).

    Measured on one split of the model's history.

    Args:
        model: A model trained by :func:`finance_demo.train_model` on ``candles``.
        candles: Its candles.
        split: Which rows (``test``, ``validation``, ``train``).
        levels: Nominal levels.

    Returns:
        ``{"h<H>": [(level, coverage), ...]}`` (empty when the split has no outcome).
    """
    base, data = _labelled_rows(model, candles)
    keep = ((base["split"] == split) & np.isfinite(base["realized_return"])).to_numpy()
    out: dict[str, list[tuple[float, float]]] = {}
    for level in levels:
        rows = predict_dataset(model, data, level)[keep]
        for h, part in rows.groupby("horizon"):
            y = part["realized_return"].to_numpy()
            inside = (part["lower_return"].to_numpy() <= y) & (y <= part["upper_return"].to_numpy())
            out.setdefault(f"h{int(h)}", []).append((level, float(np.mean(inside))))
    return out
