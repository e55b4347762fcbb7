"""The walk-forward backtest's report: scores, significance tests, JSON and a frame.

Rendering (the text table, the plot) lives in ``stock_analyzer.render``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from finance_demo.stats import (
    binomial_test,
    diebold_mariano,
    pesaran_timmermann,
    wilson_interval,
)

__all__ = ["INTERVAL_MODELS", "POINT_MODELS", "BacktestReport", "score"]

#: Point forecasts compared (``persistence`` predicts a zero return).
POINT_MODELS = ("lstm", "ridge", "drift", "persistence")
#: Interval forecasts compared.
INTERVAL_MODELS = ("lstm", "constant", "ewma", "garch")


def _clean(x: Any) -> Any:
    """Make numbers JSON-able: numpy scalars to Python, ``nan``/``inf`` to ``None``."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _point_scores(y: np.ndarray, pred: np.ndarray, dm_lag: int) -> dict[str, Any]:
    from model import metrics

    err = y - pred
    out: dict[str, Any] = {
        "mae": metrics.mae(y, pred),
        "rmse": metrics.rmse(y, pred),
        "skill": metrics.skill(y, pred),
    }
    if np.all(pred == 0):  # persistence: no direction call, the DM reference itself
        return out
    n = y.size
    hits = int(np.sum(metrics.direction_hits(y, pred)))
    low, high = wilson_interval(hits, n)
    out.update(
        direction_accuracy=hits / n,
        direction_ci95=[low, high],
        binomial_vs_always_up=binomial_test(hits, n, metrics.always_up_accuracy(y)).to_dict(),
        pesaran_timmermann=pesaran_timmermann(y, pred).to_dict(),
        diebold_mariano=diebold_mariano(err, y, dm_lag).to_dict(),
    )
    return out


def _interval_scores(y: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float):
    from model import metrics

    return {
        "coverage": metrics.coverage(y, lower, upper),
        "winkler": metrics.winkler_score(y, lower, upper, level),
        "mean_width": float(np.mean(upper - lower)),
    }


def _intervals(
    arrays: dict[str, Any], j: int, y: np.ndarray, level: float, dm_lag: int
) -> dict[str, dict[str, Any]]:
    """Interval scores per model present, with a Winkler-loss DM test per baseline.

    Each baseline gets ``dm_lstm_winkler``: the Diebold–Mariano test of the LSTM's
    per-sample Winkler losses against its own (a negative statistic: the LSTM's are lower).
    """
    from model import metrics

    names = [n for n in INTERVAL_MODELS if f"{n}_lower" in arrays]
    bands = {n: (arrays[f"{n}_lower"][:, j], arrays[f"{n}_upper"][:, j]) for n in names}
    losses = {n: metrics.winkler_losses(y, lo, hi, level) for n, (lo, hi) in bands.items()}
    out = {n: _interval_scores(y, lo, hi, level) for n, (lo, hi) in bands.items()}
    for name in names[1:]:
        out[name]["dm_lstm_winkler"] = diebold_mariano(
            losses["lstm"], losses[name], dm_lag
        ).to_dict()
    return out


def score(
    arrays: dict[str, Any], horizons: tuple[int, ...], level: float, dm_lag: int = 1
) -> dict[str, dict[str, Any]]:
    """Score every model on the pooled out-of-sample samples, per horizon.

    Args:
        arrays: Out-of-sample columns (``y``, ``lstm``, ``ridge``, ``drift``,
            ``<model>_lower`` / ``<model>_upper`` for the interval models), ``(n, H)``.
        horizons: The horizons of the columns.
        level: Interval level.
        dm_lag: Overlap of consecutive targets in samples (``ceil(h / step_size)``).

    Returns:
        ``{"h<H>": {"samples", "up_share", "points": {model: {...}}, "always_up":
        {...}, "intervals": {model: {...}}}}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for j, h in enumerate(horizons):
        y = arrays["y"][:, j]
        preds = {name: arrays[name][:, j] for name in POINT_MODELS if name != "persistence"}
        preds["persistence"] = np.zeros_like(y)
        ups = int(np.sum(y > 0))
        low, high = wilson_interval(ups, y.size)
        out[f"h{h}"] = {
            "samples": int(y.size),
            "points": {name: _point_scores(y, p, dm_lag) for name, p in preds.items()},
            "always_up": {"direction_accuracy": ups / y.size, "direction_ci95": [low, high]},
            "intervals": _intervals(arrays, j, y, level, dm_lag),
        }
        if "lstm_p_up" in arrays:
            out[f"h{h}"]["direction_head"] = _direction_head(y, arrays["lstm_p_up"][:, j])
        if "lstm_trend" in arrays:
            out[f"h{h}"]["trend_head"] = _trend_head(y, arrays["lstm_trend"][:, j])
    return out


def _trend_head(y: np.ndarray, trend: np.ndarray) -> dict[str, Any]:
    """The trend head's scores: their sign as a direction call, their rank as a size.

    ``information_coefficient`` is the Spearman rank correlation of the score with the
    realized return (ties ranked in order), its ``ic_p`` the two-sided p-value of the
    normal approximation ``z = ic * sqrt(n - 1)`` (overlapping targets of a horizon
    above the step make it optimistic).
    """
    ic = _spearman(trend, y)
    z = ic * math.sqrt(max(y.size - 1, 0))
    return {
        **_sign_calls(y, trend),
        "information_coefficient": ic,
        "ic_p": math.erfc(abs(z) / math.sqrt(2.0)) if math.isfinite(z) else float("nan"),
        "mean_abs_score": float(np.mean(np.abs(trend))),
    }


def _sign_calls(y: np.ndarray, signed: np.ndarray) -> dict[str, Any]:
    """A head's up calls (``signed > 0``) scored like a direction: accuracy and its tests."""
    from model import metrics

    n = y.size
    hits = int(np.sum(metrics.direction_hits(y, signed)))
    low, high = wilson_interval(hits, n)
    return {
        "direction_accuracy": hits / n,
        "direction_ci95": [low, high],
        "binomial_vs_always_up": binomial_test(hits, n, metrics.always_up_accuracy(y)).to_dict(),
        "pesaran_timmermann": pesaran_timmermann(y, signed).to_dict(),
    }


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (``nan`` when either side is constant)."""
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    ra = np.argsort(np.argsort(a, kind="stable"), kind="stable").astype(np.float64)
    rb = np.argsort(np.argsort(b, kind="stable"), kind="stable").astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])


def _direction_head(y: np.ndarray, p_up: np.ndarray) -> dict[str, Any]:
    """The direction head's calls (up when ``p_up > 0.5``), scored like a direction.

    Also the Brier score of its probabilities and that of the base rate (the share of ups
    over these samples, which is the best constant probability in hindsight).
    """
    up = (y > 0).astype(np.float64)
    return {
        **_sign_calls(y, p_up - 0.5),  # > 0: the head says up
        "brier": float(np.mean((p_up - up) ** 2)),
        "brier_base_rate": float(np.mean((np.mean(up) - up) ** 2)),
    }


@dataclass
class BacktestReport:
    """Everything a walk-forward backtest measured, JSON-able with :meth:`to_dict`.

    Attributes:
        symbol: Ticker (or ``None``).
        interval: Candle interval (or ``None``).
        level: Interval level.
        horizons: Horizons of the targets.
        step_size: Ticks between samples.
        settings: ``Settings.to_dict()`` of the run (the seed is ``training.seed``).
        folds: One dict per fold: cut and test times, sample counts, epochs, ridge alpha,
            EWMA multiplier, the model's feature scaler (``x_mean``, ``x_std``), fold MAE
            of the LSTM and of persistence, seconds.
        predictions: Out-of-sample columns: ``time``, ``tick``, ``fold``, ``close``,
            ``y`` and each model's predictions / bounds (``(n, H)`` arrays).
        metrics: See :func:`score`.
        versions: Python and package versions.
        seconds: Wall time of the run.
        folds_planned: Folds the run was planned with (``len(folds)`` unless interrupted).
        interrupted: The run was stopped (Ctrl-C) before every fold finished; the scores
            cover the finished folds only.

    Examples:
        >>> rep = BacktestReport(symbol="X", interval="1d", level=0.9, horizons=(1,),
        ...     step_size=1, settings={}, folds=[], predictions={}, metrics={},
        ...     versions={}, seconds=0.0)
        >>> rep.to_dict(predictions=False)["symbol"]
        'X'
    """

    symbol: str | None
    interval: str | None
    level: float
    horizons: tuple[int, ...]
    step_size: int
    settings: dict[str, Any]
    folds: list[dict[str, Any]]
    predictions: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    versions: dict[str, str]
    seconds: float
    folds_planned: int | None = None
    interrupted: bool = False

    def to_frame(self) -> Any:
        """Return the out-of-sample predictions as a DataFrame (one row per sample and horizon).

        Returns:
            Columns ``time, tick, fold, horizon, close, realized_return`` and one column
            per model output (``lstm, lstm_lower, ..., ewma_upper``).
        """
        import pandas as pd

        p = self.predictions
        n, k = p["y"].shape
        frame = pd.DataFrame(
            {
                "time": np.repeat(np.asarray(p["time"]), k),
                "tick": np.repeat(p["tick"], k),
                "fold": np.repeat(p["fold"], k) + 1,
                "horizon": np.tile(np.asarray(self.horizons), n),
                "close": np.repeat(p["close"], k),
                "realized_return": p["y"].ravel(),
            }
        )
        for name, value in p.items():
            if name not in ("time", "tick", "fold", "close", "y"):
                frame[name] = np.asarray(value).ravel()
        return frame

    def to_dict(self, predictions: bool = True) -> dict[str, Any]:
        """Return the report as JSON-able data (``nan``/``inf`` become ``None``).

        Args:
            predictions: Include the out-of-sample predictions (column lists).

        Returns:
            ``symbol, interval, level, horizons, seed, settings, versions, folds,
            metrics, seconds`` and optionally ``predictions``.
        """
        out: dict[str, Any] = {
            "symbol": self.symbol,
            "interval": self.interval,
            "level": self.level,
            "horizons": list(self.horizons),
            "seed": self.settings.get("training", {}).get("seed"),
            "settings": self.settings,
            "versions": self.versions,
            "folds": self.folds,
            "metrics": self.metrics,
            "seconds": self.seconds,
            "folds_planned": self.folds_planned,
            "interrupted": self.interrupted,
        }
        if predictions and self.predictions:
            cols = {k: v for k, v in self.predictions.items() if k != "time"}
            out["predictions"] = {
                "time": [str(t) for t in self.predictions["time"]],
                **{k: np.asarray(v).tolist() for k, v in cols.items()},
            }
        return _clean(out)
