"""Expanding-window walk-forward backtest of the LSTM against honest baselines.

For each fold the candles are cut at the tick of the fold's first test sample: the model
is trained by :func:`finance_demo.train_model` on the candles up to that tick only (so
every training target is known at the cut; its scalers and interval calibration come from
that part, split in time order into fitting and validation rows), then predicts the fold's
block of samples out of sample. The cut moves forward by one block and the model is
trained again from scratch, with the same seed.

The baselines see exactly the same training rows and are scored on exactly the same
targets: persistence (zero return), drift (mean training return), always-up (direction),
ridge on the same flattened sequences, a constant-width interval from training
quantiles, and an EWMA-volatility (RiskMetrics) interval calibrated conformally on the
model's own validation rows.

The fold machinery is shared with :func:`finance_demo.compare_models`: :func:`make_plan`
builds the samples and bounds once, :func:`run_folds` runs the folds on an engine and
trains one or several model kinds per fold (``backtest`` trains ``lstm``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from finance_demo.backtest_report import BacktestReport, score
from finance_demo.config import Settings, many_runs
from finance_demo.dataset import build_dataset, split_dataset
from finance_demo.errors import InsufficientDataError, SettingsError
from finance_demo.stats import (
    conformal_quantile,
    ewma_sigma,
    garch_available,
    garch_sigma,
    ridge_fit_predict,
)
from finance_demo.training import torch_threads, train_model

__all__ = ["backtest", "backtest_many", "fold_bounds", "make_plan", "outcome_lag", "run_folds"]

#: Decay of the EWMA-volatility baseline (RiskMetrics daily value).
EWMA_LAMBDA = 0.94


def fold_bounds(
    n: int, *, folds: int | None = None, retrain_every: int | None = None, start: float = 0.5
) -> list[tuple[int, int]]:
    """Split labeled samples ``[first, n)`` into consecutive out-of-sample blocks.

    Args:
        n: Labeled samples of the history.
        folds: Number of equal blocks (default 5 when ``retrain_every`` is not given).
        retrain_every: Samples per block instead (the last block may be shorter).
        start: Share of the samples before the first block (the first training part).

    Returns:
        ``[(a, b), ...]`` sample ranges, first one starting at ``round(n * start)``.

    Raises:
        SettingsError: Both or bad ``folds`` / ``retrain_every``, or a bad ``start``.
        InsufficientDataError: Fewer out-of-sample samples than folds.

    Examples:
        >>> fold_bounds(100, folds=2)
        [(50, 75), (75, 100)]
        >>> fold_bounds(100, retrain_every=20, start=0.5)
        [(50, 70), (70, 90), (90, 100)]
    """
    if folds is not None and retrain_every is not None:
        raise SettingsError("folds and retrain_every are mutually exclusive; give one")
    for name, value in (("folds", folds), ("retrain_every", retrain_every)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise SettingsError(f"{name} must be an integer, got {value!r}")
        if value is not None and value < 1:
            raise SettingsError(f"{name} must be >= 1, got {value}")
    if isinstance(start, bool) or not isinstance(start, (int, float)) or not 0 < start < 1:
        raise SettingsError(f"start must be in (0, 1), got {start!r}")
    first = round(n * start)
    n_out = n - first
    if retrain_every is not None:
        edges = [*range(first, n, retrain_every), n]
    else:
        folds = 5 if folds is None else folds
        if n_out < folds:
            raise InsufficientDataError(
                f"{n} labeled sequences leave {max(n_out, 0)} out-of-sample samples, "
                f"too few for {folds} folds; use fewer folds or a longer history"
            )
        edges = [first + round(i * n_out / folds) for i in range(folds + 1)]
    if n_out < 1:
        raise InsufficientDataError(f"{n} labeled sequences leave no out-of-sample samples")
    return list(itertools.pairwise(edges))


def _versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in (
        "finance-demo",
        "model",
        "feature-extraction",
        "data-fetcher",
        "numpy",
        "scipy",
        "torch",
        "lightgbm",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - always installed together
            out[name] = "unknown"
    return out


def backtest(
    candles: Any,
    settings: Settings | None = None,
    *,
    folds: int | None = None,
    retrain_every: int | None = None,
    symbol: str | None = None,
    interval: str | None = None,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    level: float | None = None,
    start: float = 0.5,
    engine: Any = None,
) -> BacktestReport:
    """Run an expanding-window walk-forward backtest.

    Args:
        candles: Candles DataFrame, oldest first.
        settings: Pipeline, network and training settings (defaults when ``None``);
            ``evaluation.test_fraction`` is ignored (the folds are the test).
        folds: Number of out-of-sample blocks (default 5).
        retrain_every: Samples per block instead of ``folds``.
        symbol: Ticker recorded in the report.
        interval: Candle interval recorded in the report.
        progress: Called as each fold finishes with ``(finished, folds, info)``; the
            fold's number is ``info["fold"]`` (folds finish out of order on a pool).
        level: Interval level (default ``settings.evaluation.level``).
        start: Share of the labeled samples before the first fold.
        engine: Where the folds run: an engine of :func:`~finance_demo.make_engine` (or
            any ``concurrent.futures.Executor``); ``None`` runs them one after the other
            here. The report is the same, bit for bit, on every engine.

    Returns:
        The :class:`BacktestReport`. A ``KeyboardInterrupt`` (Ctrl-C) after at least one
        finished fold ends the run early: the report covers the finished folds and has
        ``interrupted=True`` (before the first fold finishes, the interrupt propagates);
        on a pool, the folds still running are cancelled or their results dropped.

    Raises:
        InsufficientDataError: Too few candles for the window sizes and the folds.
        SettingsError: Bad ``folds`` / ``retrain_every`` / ``start`` / ``level``.
        PipelineError: Bad closes.
    """
    plan = make_plan(candles, settings or Settings(), folds, retrain_every, level, start)
    t0 = time.perf_counter()
    cols, fold_info, interrupted = run_folds(
        plan, candles, ("lstm",), symbol, interval, progress, engine, flat=True
    )
    return _report(plan, candles, cols, fold_info, symbol, interval, t0, interrupted)


def run_folds(
    plan: _Plan,
    candles: Any,
    kinds: tuple[str, ...],
    symbol: str | None,
    interval: str | None,
    progress: Callable[[int, int, dict[str, Any]], None] | None,
    engine: Any,
    *,
    flat: bool = False,
) -> tuple[dict[str, list[np.ndarray]], list[dict[str, Any]], bool]:
    """Run every fold of a plan on an engine: each kind trained, the baselines beside.

    Shared by :func:`backtest` (kind ``lstm``, ``flat``: the model's numbers at the top
    of each fold's info) and :func:`finance_demo.compare_models` (under ``models``).

    Returns:
        The out-of-sample columns per fold (fold order), the folds' info, and whether a
        Ctrl-C stopped the run after at least one finished fold.
    """
    import contextlib

    from finance_demo.engine import SerialEngine, call_with_threads, completed, current_threads

    interrupted = False
    finished: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    with torch_threads(plan.settings.training.num_threads):
        # every fold runs with the caller's thread count wherever it runs: the same bits
        threads = current_threads()
        order = list(range(len(plan.bounds)))
        if engine is not None and not isinstance(engine, SerialEngine):
            order.reverse()  # on a pool the longest trainings first: no lone fold at the end
        jobs = (
            (
                call_with_threads,
                (
                    threads,
                    _run_fold,
                    plan,
                    candles,
                    k,
                    *plan.bounds[k],
                    symbol,
                    interval,
                    kinds,
                    flat,
                ),
            )
            for k in order
        )
        try:
            runs = completed(SerialEngine() if engine is None else engine, jobs)
            with contextlib.closing(runs):  # on an error or Ctrl-C: cancel the running folds
                for i, future in runs:
                    k = order[i]
                    finished[k] = future.result()
                    if progress is not None:
                        progress(len(finished), len(plan.bounds), finished[k][1])
        except KeyboardInterrupt:
            if not finished:
                raise
            interrupted = True  # report the folds already finished
    return (*_in_fold_order(finished), interrupted)


def _in_fold_order(
    finished: dict[int, tuple[dict[str, Any], dict[str, Any]]],
) -> tuple[dict[str, list[np.ndarray]], list[dict[str, Any]]]:
    """The finished folds' columns (per name, in fold order) and their info records."""
    cols: dict[str, list[np.ndarray]] = {}
    fold_info: list[dict[str, Any]] = []
    for k in sorted(finished):
        block, info = finished[k]
        for name, value in block.items():
            cols.setdefault(name, []).append(np.asarray(value))
        fold_info.append(info)
    return cols, fold_info


def _fold_job(
    threads: int | None,
    plan: _Plan,
    candles: Any,
    k: int,
    symbol: str,
    interval: str | None,
) -> tuple[bool, Any]:
    """One fold of one symbol where the engine runs it.

    Returns ``(True, (block, info))`` or ``(False, one line)``: the error is turned into
    its line in the worker, so that an exception that does not pickle never travels back.
    """
    from finance_demo.engine import call_with_threads
    from finance_demo.multi import _one_line

    try:
        a, b = plan.bounds[k]
        return True, call_with_threads(threads, _run_fold, plan, candles, k, a, b, symbol, interval)
    except Exception as exc:
        return False, f"fold {k + 1}: {_one_line(exc)}"


def backtest_many(
    candles_by_symbol: Mapping[str, Any],
    settings: Settings | None = None,
    *,
    folds: int | None = None,
    retrain_every: int | None = None,
    intervals: Mapping[str, str | None] | None = None,
    progress: Callable[[int, int, str, dict[str, Any]], None] | None = None,
    level: float | None = None,
    start: float = 0.5,
    engine: Any = None,
) -> Any:
    """Walk-forward backtests of several symbols, all their folds in one queue.

    Each symbol gets exactly the report :func:`backtest` gives for it (bit for bit, on
    every engine; only ``seconds`` differs: here the sum of its folds' times). The folds
    of all symbols go to the engine as one queue, the longest trainings first, so that a
    pool stays busy to the end instead of waiting on one symbol's last folds.

    Args:
        candles_by_symbol: ``symbol -> candles`` (oldest first), in report order.
        settings: As for :func:`backtest`, for all symbols.
        folds: As for :func:`backtest`.
        retrain_every: As for :func:`backtest`.
        intervals: ``symbol -> interval`` recorded in each report (default none).
        progress: Called as each fold finishes with ``(finished, total, symbol, info)``
            (``info`` as :func:`backtest`'s; finished and total count all symbols' folds).
        level: As for :func:`backtest`.
        start: As for :func:`backtest`.
        engine: An engine of :func:`~finance_demo.make_engine` (``None``: here).

    Returns:
        A :class:`~finance_demo.multi.MultiResult`: ``results`` maps each symbol whose
        folds all ran to its :class:`BacktestReport`; a symbol whose plan or a fold failed
        is in ``errors`` with one line, and the others still ran. A Ctrl-C after at least
        one symbol finished keeps the finished ones and lists the others as interrupted
        (``interrupted`` then is in each such error line); before, it propagates.

    Raises:
        SettingsError: Bad ``folds`` / ``retrain_every`` / ``start`` / ``level``, or no
            symbols.
    """
    import contextlib

    from finance_demo.engine import SerialEngine, completed, current_threads
    from finance_demo.multi import MultiResult, _one_line

    symbols = tuple(candles_by_symbol)
    if not symbols:
        raise SettingsError("no symbols to backtest")
    settings = settings or Settings()
    intervals = dict(intervals or {})
    t0 = time.perf_counter()
    errors: dict[str, str] = {}
    plans: dict[str, _Plan] = {}
    for symbol in symbols:
        try:
            plans[symbol] = make_plan(
                candles_by_symbol[symbol], settings, folds, retrain_every, level, start
            )
        except SettingsError:
            raise  # the same for every symbol: one usage error, not N
        except Exception as exc:
            errors[symbol] = _one_line(exc)
    # the longest trainings first (the cut's sample index), then symbol and fold order
    jobs = sorted(
        ((s, k) for s in plans for k in range(len(plans[s].bounds))),
        key=lambda job: (-plans[job[0]].bounds[job[1]][0], symbols.index(job[0]), job[1]),
    )
    done: dict[str, dict[int, tuple[dict[str, Any], dict[str, Any]]]] = {s: {} for s in plans}
    interrupted = False
    with torch_threads(settings.training.num_threads):
        threads = current_threads()
        calls = (
            (
                _fold_job,
                (threads, plans[s], candles_by_symbol[s], k, s, intervals.get(s)),
            )
            for s, k in jobs
        )
        finished = 0
        try:
            pool = SerialEngine() if engine is None else engine
            runs = completed(pool, calls, ahead=getattr(pool, "workers", 1))
            with contextlib.closing(runs):
                for i, future in runs:
                    s, k = jobs[i]
                    try:
                        ok, value = future.result()
                    except Exception as exc:  # the worker died or the result did not pickle
                        ok, value = False, f"fold {k + 1}: {_one_line(exc)}"
                    finished += 1
                    if not ok:
                        errors.setdefault(s, value)
                        continue
                    done[s][k] = value
                    if progress is not None:
                        progress(finished, len(jobs), s, value[1])
        except KeyboardInterrupt:
            if not any(len(done[s]) == len(plans[s].bounds) for s in plans):
                raise
            interrupted = True
    results: dict[str, Any] = {}
    for s in symbols:
        if s in errors or s not in plans:
            continue
        plan = plans[s]
        if len(done[s]) < len(plan.bounds):
            errors[s] = f"interrupted after {len(done[s])} of {len(plan.bounds)} folds"
            continue
        cols, fold_info = _in_fold_order(done[s])
        report = _report(
            plan, candles_by_symbol[s], cols, fold_info, s, intervals.get(s), 0.0, False
        )
        seconds = round(sum(float(info["seconds"]) for info in fold_info), 3)
        results[s] = dataclasses.replace(report, seconds=seconds)
    return MultiResult(
        symbols=symbols,
        results=results,
        errors=[{"symbol": s, "error": errors[s]} for s in symbols if s in errors],
        seconds=round(time.perf_counter() - t0, 3),
        interrupted=interrupted,
    )


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What every fold shares: the samples, the fold bounds and the baselines' inputs."""

    settings: Settings
    fold_settings: Settings
    level: float
    features: Any
    data: Any
    bounds: list[tuple[int, int]]
    gap: int
    sigma1: np.ndarray
    log_close: np.ndarray
    garch: bool


def make_plan(
    candles: Any,
    settings: Settings,
    folds: int | None,
    retrain_every: int | None,
    level: float | None,
    start: float,
) -> _Plan:
    """Step 1: build the samples once, cut them into folds, check the first fold's size."""
    from feature_extraction import FeatureExtraction

    p, t = settings.pipeline, settings.training
    level = settings.evaluation.level if level is None else level
    try:
        evaluation = dataclasses.replace(settings.evaluation, test_fraction=0.0, level=level)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    features = FeatureExtraction(window_size=p.window_size, normalize=p.normalize)
    data = build_dataset(candles, p, features).labeled()
    bounds = fold_bounds(len(data), folds=folds, retrain_every=retrain_every, start=start)
    gap = math.ceil(max(p.horizons) / p.step_size)
    n_first = len(build_dataset(candles.iloc[: data.ticks[bounds[0][0]] + 1], p).labeled())
    n_val = max(1, round(n_first * t.val_fraction))
    if n_first - n_val - gap < 8:
        raise InsufficientDataError(
            f"the first fold would train on {n_first} sequences, too few; use a longer "
            "history, a larger start share or smaller window sizes"
        )
    log_close = np.log(candles["Close"].to_numpy(dtype=np.float64))
    return _Plan(
        settings=settings,
        fold_settings=many_runs(dataclasses.replace(settings, evaluation=evaluation)),
        level=float(level),
        features=features,
        data=data,
        bounds=bounds,
        gap=gap,
        sigma1=ewma_sigma(np.diff(log_close, prepend=np.nan), EWMA_LAMBDA),
        log_close=log_close,
        garch=garch_available(),
    )


def _scaled_band(
    sigma: np.ndarray, root_h: np.ndarray, val: Any, test: Any, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """A ``±q·sigma·sqrt(h)`` band, ``q`` calibrated conformally on the validation rows."""
    s_val = sigma[val.ticks][:, None] * root_h
    q = np.array(
        [conformal_quantile(np.abs(val.y[:, j]) / s_val[:, j], level) for j in range(len(root_h))]
    )
    return q * (sigma[test.ticks][:, None] * root_h), q


def _baselines(
    plan: _Plan, seen: Any, val: Any, test: Any, cut: int
) -> tuple[dict[str, Any], Any, Any]:
    """Step 2b: the baselines' forecasts of one fold, from the same training rows."""
    p, t, level = plan.settings.pipeline, plan.settings.training, plan.level
    ridge, alpha = ridge_fit_predict(
        seen.X, seen.y, test.X, val_fraction=t.val_fraction, gap=plan.gap
    )
    root_h = np.sqrt(np.asarray(p.horizons, dtype=np.float64))
    ewma, q = _scaled_band(plan.sigma1, root_h, val, test, level)
    q_lo, q_hi = (1 - level) / 2, (1 + level) / 2
    block = {
        "ridge": ridge,
        "drift": np.broadcast_to(seen.y.mean(axis=0), test.y.shape),
        "constant_lower": np.broadcast_to(np.quantile(seen.y, q_lo, axis=0), test.y.shape),
        "constant_upper": np.broadcast_to(np.quantile(seen.y, q_hi, axis=0), test.y.shape),
        "ewma_lower": -ewma,
        "ewma_upper": ewma,
    }
    if plan.garch:  # fitted on this fold's training returns only
        garch, _ = _scaled_band(garch_sigma(plan.log_close, cut), root_h, val, test, level)
        block.update(garch_lower=-garch, garch_upper=garch)
    return block, alpha, q


def outcome_lag(p: Any) -> int:
    """Samples between a forecast and the first later forecast that knows its outcome.

    The live loop forecasts at a tick before it records the outcomes realized at that
    tick, so sample ``i``'s outcome (``max(horizons)`` ticks on) is known from sample
    ``i + max(horizons) // step_size + 1`` on.
    """
    return max(p.horizons) // p.step_size + 1


def _forecast(model: Any, test: Any, level: float, lag: int) -> Any:
    """The fold's forecasts; an adaptive ensemble learns each outcome as the live loop."""
    if getattr(model, "kind", None) == "ensemble":
        return model.forecast_online(test.X, test.y, lag=lag, level=level)
    return model.forecast(test.X, level=level)


def _run_fold(
    plan: _Plan,
    candles: Any,
    k: int,
    a: int,
    b: int,
    symbol: str | None,
    interval: str | None,
    kinds: tuple[str, ...] = ("lstm",),
    flat: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Step 2: train each kind on the candles up to the fold's cut, forecast, baselines."""
    p, t = plan.settings.pipeline, plan.settings.training
    tf = time.perf_counter()
    cut = int(plan.data.ticks[a])
    past = candles.iloc[: cut + 1]
    seen = build_dataset(past, p, plan.features).labeled()
    fit, val, _ = split_dataset(seen, t.val_fraction, 0.0, p.step_size)
    test = plan.data.subset(slice(a, b))
    block: dict[str, Any] = {
        "fold": np.full(len(test), k),
        "tick": test.ticks,
        "close": test.closes,
        "y": test.y,
    }
    per_kind: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        tk = time.perf_counter()
        model = train_model(past, plan.fold_settings, symbol, interval, kind=kind)
        fc = _forecast(model, test, plan.level, outcome_lag(p))
        block[kind] = np.asarray(fc.mean, np.float64)
        block[f"{kind}_lower"] = np.asarray(fc.lower, np.float64)
        block[f"{kind}_upper"] = np.asarray(fc.upper, np.float64)
        for head in ("p_up", "trend"):  # the direction and trend heads (model.heads)
            if getattr(fc, head, None) is not None:
                block[f"{kind}_{head}"] = np.asarray(getattr(fc, head), np.float64)
        summary = model.training_summary
        per_kind[kind] = {
            "epochs_run": summary.get("epochs_run"),
            "best_epoch": summary.get("best_epoch"),
            "mae": float(np.mean(np.abs(test.y - block[kind]))),
            "seconds": round(time.perf_counter() - tk, 3),
        }
        if kind == "ensemble":
            per_kind[kind]["weights"] = model.weights.tolist()
        scaler = getattr(model, "x_scaler", None)
        if flat and scaler is not None:
            per_kind[kind].update(x_mean=scaler.mean.tolist(), x_std=scaler.std.tolist())
    baselines, alpha, q = _baselines(plan, seen, val, test, cut)
    block.update(baselines)
    info: dict[str, Any] = {
        "fold": k + 1,
        "cut_time": str(candles.index[cut]),
        "test_start": str(test.times[0]),
        "test_end": str(test.times[-1]),
        "train_samples": len(fit),
        "val_samples": len(val),
        "test_samples": len(test),
        "ridge_alpha": alpha,
        "ewma_q": q.tolist(),
        "mae_persistence": float(np.mean(np.abs(test.y))),
    }
    if flat:  # the backtest's fold record: the model's numbers at the top
        info.update({key: v for key, v in per_kind[kinds[0]].items() if key != "seconds"})
    else:
        info["models"] = per_kind
    info["seconds"] = round(time.perf_counter() - tf, 3)
    return block, info


def _report(
    plan: _Plan,
    candles: Any,
    cols: dict[str, list[np.ndarray]],
    fold_info: list[dict[str, Any]],
    symbol: str | None,
    interval: str | None,
    t0: float,
    interrupted: bool,
) -> BacktestReport:
    """Step 3: pool the finished folds' out-of-sample columns and score them."""
    p = plan.settings.pipeline
    arrays = {name: np.concatenate(parts) for name, parts in cols.items()}
    arrays["time"] = candles.index[arrays["tick"]]
    return BacktestReport(
        symbol=symbol,
        interval=interval,
        level=plan.level,
        horizons=tuple(p.horizons),
        step_size=p.step_size,
        settings=plan.settings.to_dict(),
        folds=fold_info,
        predictions=arrays,
        metrics=score(arrays, p.horizons, plan.level, plan.gap),
        versions=_versions(),
        seconds=round(time.perf_counter() - t0, 3),
        folds_planned=len(plan.bounds),
        interrupted=interrupted,
    )
