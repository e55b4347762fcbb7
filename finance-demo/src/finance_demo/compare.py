"""Several model kinds compared side by side on the same walk-forward folds.

:func:`compare_models` plans the folds once (:func:`finance_demo.backtest.make_plan`) and
runs them on an engine (:func:`finance_demo.backtest.run_folds`): in each fold every kind
is trained from scratch on the same candles up to the cut and forecasts the same block
of targets, beside the same baselines as :func:`finance_demo.backtest`. An adaptive
ensemble learns each outcome of the block as the live loop would
(``EnsembleForecaster.forecast_online``). The report scores every kind on the pooled
out-of-sample samples and tests it with Diebold–Mariano: against persistence on
absolute errors, against the EWMA and GARCH intervals on Winkler losses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from finance_demo.backtest_report import _clean, _interval_scores, _point_scores
from finance_demo.config import Settings
from finance_demo.errors import SettingsError
from finance_demo.stats import diebold_mariano
from finance_demo.training import KINDS

__all__ = ["ComparisonReport", "check_kinds", "compare_models", "score_kinds"]

#: Kinds that need the LightGBM extra (``model[trees]``).
TREE_KINDS = ("gbdt", "rf", "ensemble")
#: The point baselines beside the kinds (``persistence`` predicts a zero return).
POINT_BASELINES = ("ridge", "drift", "persistence")
#: The interval baselines beside the kinds.
INTERVAL_BASELINES = ("constant", "ewma", "garch")
#: Significance level of :meth:`ComparisonReport.winners`.
ALPHA = 0.05


def check_kinds(kinds: str | Iterable[str]) -> tuple[str, ...]:
    """Validate a list of model kinds before any work starts.

    Args:
        kinds: Kinds of :data:`finance_demo.training.KINDS`, as a sequence or one
            comma-separated string (``"lstm,gbdt"``).

    Returns:
        The kinds, in the order given.

    Raises:
        SettingsError: No kind, an unknown kind or a kind given twice (one line).
        MissingExtraError: A tree kind (``gbdt``, ``rf``, ``ensemble``) without LightGBM;
            the line names the extra to install.

    Examples:
        >>> check_kinds("lstm,seq2seq")
        ('lstm', 'seq2seq')
        >>> check_kinds(["lstm", "lstm"])
        Traceback (most recent call last):
        ...
        finance_demo.errors.SettingsError: model kind 'lstm' is given twice
    """
    if isinstance(kinds, str):
        kinds = kinds.split(",")
    out = tuple(str(k).strip() for k in kinds)
    if not out or any(not k for k in out):
        raise SettingsError(f"give one or more model kinds of {', '.join(KINDS)}")
    unknown = [k for k in out if k not in KINDS]
    if unknown:
        raise SettingsError(f"unknown model kind {unknown[0]!r}; the kinds are {', '.join(KINDS)}")
    for i, k in enumerate(out):
        if k in out[:i]:
            raise SettingsError(f"model kind {k!r} is given twice")
    trees = [k for k in out if k in TREE_KINDS]
    if trees:
        from model.errors import MissingExtraError

        try:
            import lightgbm  # noqa: F401
        except ImportError:
            raise MissingExtraError(
                f"model kind{'s' if len(trees) > 1 else ''} {', '.join(trees)} need "
                "LightGBM, which is not installed: pip install 'model[trees]'"
            ) from None
    return out


def _winkler_tests(
    arrays: dict[str, Any], kinds: tuple[str, ...], j: int, level: float, dm_lag: int
) -> dict[str, dict[str, Any]]:
    """Interval scores of the kinds and baselines, with each kind's Winkler DM tests."""
    from model import metrics

    y = arrays["y"][:, j]
    names = [n for n in (*kinds, *INTERVAL_BASELINES) if f"{n}_lower" in arrays]
    bands = {n: (arrays[f"{n}_lower"][:, j], arrays[f"{n}_upper"][:, j]) for n in names}
    losses = {n: metrics.winkler_losses(y, lo, hi, level) for n, (lo, hi) in bands.items()}
    out = {n: _interval_scores(y, lo, hi, level) for n, (lo, hi) in bands.items()}
    for kind in kinds:
        for ref in ("ewma", "garch"):
            if ref in losses:
                out[kind][f"dm_{ref}_winkler"] = diebold_mariano(
                    losses[kind], losses[ref], dm_lag
                ).to_dict()
    return out


def score_kinds(
    arrays: dict[str, Any],
    kinds: tuple[str, ...],
    horizons: tuple[int, ...],
    level: float,
    dm_lag: int = 1,
) -> dict[str, dict[str, Any]]:
    """Score every kind and baseline on the pooled out-of-sample samples, per horizon.

    Args:
        arrays: Out-of-sample columns (``y``, one column per kind and point baseline,
            ``<name>_lower`` / ``<name>_upper`` per interval), ``(n, H)`` each.
        kinds: The kinds compared.
        horizons: The horizons of the columns.
        level: Interval level.
        dm_lag: Overlap of consecutive targets in samples (``ceil(h / step_size)``).

    Returns:
        ``{"h<H>": {"samples", "points": {name: {mae, skill, direction_accuracy,
        diebold_mariano (vs persistence, absolute errors), ...}}, "intervals": {name:
        {coverage, winkler, mean_width, dm_ewma_winkler, dm_garch_winkler (kinds)}},
        "always_up": {...}}}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for j, h in enumerate(horizons):
        y = arrays["y"][:, j]
        preds = {n: arrays[n][:, j] for n in (*kinds, *POINT_BASELINES) if n in arrays}
        preds["persistence"] = np.zeros_like(y)
        out[f"h{h}"] = {
            "samples": int(y.size),
            "points": {n: _point_scores(y, p, dm_lag) for n, p in preds.items()},
            "always_up": {"direction_accuracy": float(np.mean(y > 0))},
            "intervals": _winkler_tests(arrays, kinds, j, level, dm_lag),
        }
    return out


@dataclass
class ComparisonReport:
    """Every kind's walk-forward scores on the same folds, JSON-able with :meth:`to_dict`.

    Attributes:
        symbol: Ticker (or ``None``).
        interval: Candle interval (or ``None``).
        kinds: The kinds compared, in order.
        level: Interval level.
        horizons: Horizons of the targets.
        step_size: Ticks between samples.
        settings: ``Settings.to_dict()`` of the run.
        folds: One dict per fold: cut and test times, sample counts, the baselines'
            parameters and, under ``models``, each kind's epochs, MAE, seconds (and the
            ensemble's weights at the end of the block).
        predictions: Out-of-sample columns: ``time``, ``tick``, ``fold``, ``close``,
            ``y`` and every kind's and baseline's forecasts (``(n, H)`` arrays).
        metrics: See :func:`score_kinds`.
        versions: Python and package versions.
        seconds: Wall time of the run.
        folds_planned: Folds the run was planned with.
        interrupted: Stopped (Ctrl-C) before every fold finished; the scores cover the
            finished folds only.

    Examples:
        >>> rep = ComparisonReport(symbol="X", interval="1d", kinds=("lstm",), level=0.9,
        ...     horizons=(1,), step_size=1, settings={}, folds=[], predictions={},
        ...     metrics={}, versions={}, seconds=0.0)
        >>> rep.winners()
        []
    """

    symbol: str | None
    interval: str | None
    kinds: tuple[str, ...]
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

    def beats(self, kind: str, reference: str, alpha: float = ALPHA) -> bool:
        """Whether ``kind`` beats a reference significantly on every horizon.

        Args:
            kind: One of :attr:`kinds`.
            reference: ``persistence`` (lower MAE) or ``ewma`` / ``garch`` (lower Winkler).
            alpha: Two-sided significance level of the Diebold–Mariano test.

        Returns:
            True when every horizon's test has a negative statistic (the kind's losses
            are lower) and a p-value below ``alpha``.
        """
        if not self.metrics:
            return False
        for scores in self.metrics.values():
            if reference == "persistence":
                test = scores["points"][kind].get("diebold_mariano")
            else:
                test = scores["intervals"][kind].get(f"dm_{reference}_winkler")
            if not test or test.get("statistic") is None or test.get("pvalue") is None:
                return False
            stat, p = test["statistic"], test["pvalue"]
            if not (np.isfinite(stat) and np.isfinite(p) and stat < 0 and p < alpha):
                return False
        return True

    def winners(self, alpha: float = ALPHA) -> list[str]:
        """The kinds that beat persistence (MAE) and EWMA (Winkler) significantly."""
        return [
            k
            for k in self.kinds
            if self.beats(k, "persistence", alpha) and self.beats(k, "ewma", alpha)
        ]

    def to_dict(self, predictions: bool = True) -> dict[str, Any]:
        """Return the report as JSON-able data (``nan``/``inf`` become ``None``).

        Args:
            predictions: Include the out-of-sample predictions (column lists).

        Returns:
            ``symbol, interval, kinds, level, horizons, seed, settings, versions, folds,
            metrics, winners, seconds, folds_planned, interrupted`` and optionally
            ``predictions``.
        """
        out: dict[str, Any] = {
            "symbol": self.symbol,
            "interval": self.interval,
            "kinds": list(self.kinds),
            "level": self.level,
            "horizons": list(self.horizons),
            "seed": self.settings.get("training", {}).get("seed"),
            "settings": self.settings,
            "versions": self.versions,
            "folds": self.folds,
            "metrics": self.metrics,
            "beats": {
                k: {r: self.beats(k, r) for r in ("persistence", "ewma", "garch")}
                for k in self.kinds
            },
            "winners": self.winners(),
            "alpha": ALPHA,
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


def compare_models(
    candles: Any,
    settings: Settings | None = None,
    kinds: str | Iterable[str] = KINDS,
    *,
    folds: int | None = None,
    retrain_every: int | None = None,
    symbol: str | None = None,
    interval: str | None = None,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    level: float | None = None,
    start: float = 0.5,
    engine: Any = None,
) -> ComparisonReport:
    """Walk-forward backtest of several model kinds on the same folds and targets.

    Args:
        candles: Candles DataFrame, oldest first.
        settings: Pipeline, network and training settings (defaults when ``None``);
            every kind trains with the same ``training`` section and seed.
        kinds: The kinds to compare (see :func:`check_kinds`).
        folds: Number of out-of-sample blocks (default 5).
        retrain_every: Samples per block instead of ``folds``.
        symbol: Ticker recorded in the report.
        interval: Candle interval recorded in the report.
        progress: Called as each fold finishes with ``(finished, folds, info)``.
        level: Interval level (default ``settings.evaluation.level``).
        start: Share of the labeled samples before the first fold.
        engine: Where the folds run (see :func:`finance_demo.backtest`); the same report
            on every engine.

    Returns:
        The :class:`ComparisonReport`. A Ctrl-C after a finished fold returns the
        finished folds with ``interrupted=True`` (before it, the interrupt propagates).

    Raises:
        SettingsError: Bad kinds, folds, start or level.
        MissingExtraError: A tree kind without LightGBM.
        InsufficientDataError: Too few candles for the window sizes and the folds.
    """
    from finance_demo.backtest import _versions, make_plan, run_folds

    kinds = check_kinds(kinds)
    plan = make_plan(candles, settings or Settings(), folds, retrain_every, level, start)
    t0 = time.perf_counter()
    cols, fold_info, interrupted = run_folds(
        plan, candles, kinds, symbol, interval, progress, engine
    )
    p = plan.settings.pipeline
    arrays = {name: np.concatenate(parts) for name, parts in cols.items()}
    arrays["time"] = candles.index[arrays["tick"]]
    return ComparisonReport(
        symbol=symbol,
        interval=interval,
        kinds=kinds,
        level=plan.level,
        horizons=tuple(p.horizons),
        step_size=p.step_size,
        settings=plan.settings.to_dict(),
        folds=fold_info,
        predictions=arrays,
        metrics=score_kinds(arrays, kinds, tuple(p.horizons), plan.level, plan.gap),
        versions=_versions(),
        seconds=round(time.perf_counter() - t0, 3),
        folds_planned=len(plan.bounds),
        interrupted=interrupted,
    )
