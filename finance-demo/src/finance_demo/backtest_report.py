"""The walk-forward backtest's report: scores, significance tests, table, JSON and plot."""

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
from finance_demo.text import grid, num, pct

__all__ = ["INTERVAL_MODELS", "POINT_MODELS", "BacktestReport", "score"]

#: Point forecasts compared (``persistence`` predicts a zero return).
POINT_MODELS = ("lstm", "ridge", "drift", "persistence")
#: Interval forecasts compared.
INTERVAL_MODELS = ("lstm", "constant", "ewma")


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
    hits = int(np.sum(np.sign(pred) == np.sign(y)))
    low, high = wilson_interval(hits, n)
    out.update(
        direction_accuracy=hits / n,
        direction_ci95=[low, high],
        binomial_vs_always_up=binomial_test(hits, n, float(np.mean(y > 0))).to_dict(),
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
            "intervals": {
                name: _interval_scores(
                    y, arrays[f"{name}_lower"][:, j], arrays[f"{name}_upper"][:, j], level
                )
                for name in INTERVAL_MODELS
            },
        }
    return out


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
        }
        if predictions and self.predictions:
            cols = {k: v for k, v in self.predictions.items() if k != "time"}
            out["predictions"] = {
                "time": [str(t) for t in self.predictions["time"]],
                **{k: np.asarray(v).tolist() for k, v in cols.items()},
            }
        return _clean(out)

    def format_table(self) -> str:
        """Format the scores as fixed-width text tables (one block per horizon).

        Returns:
            Point forecasts (MAE, RMSE, skill vs persistence, direction accuracy with its
            95% Wilson interval, p-values of the binomial test against always-up and of
            Pesaran–Timmermann, Diebold–Mariano vs persistence), then intervals (coverage,
            Winkler score, mean width).
        """
        blocks = []
        first = self.folds[0]["test_start"][:10] if self.folds else "?"
        last = self.folds[-1]["test_end"][:10] if self.folds else "?"
        for name, m in self.metrics.items():
            head = (
                f"{self.symbol or ''} {self.interval or ''} [{name}] {m['samples']} out-of-sample "
                f"samples in {len(self.folds)} folds, {first} .. {last}"
            ).strip()
            rows = [
                ("model", "MAE", "RMSE", "skill", "dir.acc", "95% CI", "p>up", "PT p", "DM", "DM p")
            ]
            for model, s in m["points"].items():
                ci = s.get("direction_ci95")
                dm = s.get("diebold_mariano") or {}
                rows.append(
                    (
                        model,
                        num(s["mae"], ".6f"),
                        num(s["rmse"], ".6f"),
                        pct(s["skill"]),
                        pct(s.get("direction_accuracy")) if ci else "-",
                        f"{pct(ci[0])}-{pct(ci[1])}" if ci else "-",
                        num((s.get("binomial_vs_always_up") or {}).get("pvalue"), ".3f")
                        if ci
                        else "-",
                        num((s.get("pesaran_timmermann") or {}).get("pvalue"), ".3f")
                        if ci
                        else "-",
                        num(dm.get("statistic"), "+.2f") if ci else "-",
                        num(dm.get("pvalue"), ".3f") if ci else "-",
                    )
                )
            au = m["always_up"]
            ci = au["direction_ci95"]
            rows.append(
                (
                    "always-up",
                    "-",
                    "-",
                    "-",
                    pct(au["direction_accuracy"]),
                    f"{pct(ci[0])}-{pct(ci[1])}",
                    "-",
                    "-",
                    "-",
                    "-",
                )
            )
            irows = [(f"interval ({self.level:.0%})", "coverage", "Winkler", "mean width")]
            for model, s in m["intervals"].items():
                irows.append(
                    (
                        model,
                        pct(s["coverage"]),
                        num(s["winkler"], ".5f"),
                        num(s["mean_width"], ".5f"),
                    )
                )
            blocks.append("\n".join([head, *grid(rows), "", *grid(irows)]))
        return "\n\n".join(blocks)

    def plot(self, path: Any, last: int = 250) -> None:
        """Draw the report into a PNG (matplotlib, imported here, Agg backend).

        Left: the last ``last`` out-of-sample predicted prices of the first horizon with
        the LSTM's interval, against the realized prices. Right: cumulative absolute
        error (log return) of the LSTM and the point baselines minus that of persistence,
        over all folds (dotted lines: fold starts).

        Args:
            path: Output PNG file.
            last: Samples drawn in the left panel.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        p = self.predictions
        h = self.horizons[0]
        y = p["y"][:, 0]
        times = np.asarray(p["time"])
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 4.8))
        sl = slice(max(0, len(y) - last), len(y))
        close = p["close"][sl]
        ax1.fill_between(
            times[sl],
            close * np.exp(p["lstm_lower"][sl, 0]),
            close * np.exp(p["lstm_upper"][sl, 0]),
            alpha=0.25,
            label=f"LSTM {self.level:.0%} interval",
        )
        ax1.plot(times[sl], close * np.exp(y[sl]), color="black", lw=1.0, label=f"realized (t+{h})")
        ax1.plot(times[sl], close * np.exp(p["lstm"][sl, 0]), lw=1.0, label="LSTM predicted")
        ax1.set(title=f"last {len(close)} out-of-sample predictions", ylabel="price")
        ax1.legend(loc="best", fontsize=8)
        base = np.cumsum(np.abs(y))
        for name in POINT_MODELS:
            pred = np.zeros_like(y) if name == "persistence" else p[name][:, 0]
            ax2.plot(times, np.cumsum(np.abs(y - pred)) - base, lw=1.0, label=name)
        for f in self.folds[1:]:
            ax2.axvline(np.datetime64(f["test_start"][:19]), color="grey", lw=0.5, ls=":")
        ax2.set(
            title="cumulative |error| minus persistence's (below 0 = better)",
            ylabel="log-return units",
        )
        ax2.legend(loc="best", fontsize=8)
        fig.suptitle(f"walk-forward backtest {self.symbol or ''} {self.interval or ''} h{h}")
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
