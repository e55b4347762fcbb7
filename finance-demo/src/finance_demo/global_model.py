"""One global model over many symbols: per-symbol scaling, an optional symbol embedding.

The peers (NeuralForecast, Darts) train one network on the windows of many series. Here
:func:`train_global` does the same with any forecaster kind:

- each symbol's input features are standardized with that symbol's own training-part
  mean and std, and its targets divided by that symbol's training-part std per horizon
  (so a quiet currency pair and a volatile stock weigh alike in the loss; a zero return
  stays zero, so persistence is still the model's "no change");
- with ``embedding=True`` a code of the symbol is appended to every timestep: the
  network's first layer multiplies it by a learned matrix, which is a symbol embedding
  (of the layer's width) learned with everything else. Up to :data:`CODE_DIM` symbols
  the code is one-hot; beyond, each symbol gets a fixed random Gaussian code of
  ``CODE_DIM`` numbers (distinct, nearly orthogonal), so the inputs do not grow with the
  number of symbols (one-hot codes of 500 symbols would make the training inputs of a
  few hundred candles each some 9 GB);
- the network calibrates its interval on the pooled validation parts (in scaled units).

The model is saved once (``model.save``); its ``metadata["global"]`` holds the symbols and
their scalers. :func:`bind_symbol` turns it into a one-symbol forecaster that every
consumer (``System``, ``batch_predict``, ``forecast``, the live loop) takes like any model.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from finance_demo.config import Settings, price_decimals
from finance_demo.dataset import build_dataset, closes_of, split_dataset
from finance_demo.errors import ForeignModelError, SettingsError

__all__ = ["GlobalComparison", "SymbolModel", "backtest_global", "bind_symbol", "train_global"]

#: Metadata key of a global model's symbols and scalers.
GLOBAL_KEY = "global"
#: Width of the symbol code: one-hot up to this many symbols, random codes beyond.
CODE_DIM = 16


def symbol_codes(n: int) -> np.ndarray:
    """The ``(n, min(n, CODE_DIM))`` codes of ``n`` symbols (one-hot, or seeded random)."""
    if n <= CODE_DIM:
        return np.eye(n)
    codes = np.random.default_rng(0).standard_normal((n, CODE_DIM))
    return codes / np.linalg.norm(codes, axis=1, keepdims=True)


def _std(a: np.ndarray, axis: int) -> np.ndarray:
    """Standard deviation with a floor: a constant column scales by 1, not by 0."""
    s = np.std(a, axis=axis)
    return np.where(np.isfinite(s) & (s > 1e-12), s, 1.0)


def _iso(stamp: Any) -> str:
    return stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp)


class SymbolModel:
    """A global model bound to one of its symbols: a forecaster of that symbol alone.

    It scales the symbol's features, appends its code, runs the global network and
    scales the forecast back to the symbol's log returns. Everything else (``save``,
    ``history``, ...) is the global model's.

    Args:
        model: A model written by :func:`train_global`.
        symbol: One of ``model.metadata["global"]["symbols"]``.

    Raises:
        ForeignModelError: Not a global model, or broken scalers.
        SettingsError: ``symbol`` is not one of the model's.
    """

    def __init__(self, model: Any, symbol: str) -> None:
        meta = model.metadata.get(GLOBAL_KEY)
        if not isinstance(meta, dict):
            raise ForeignModelError("not a global model (no 'global' metadata)")
        symbols = list(meta.get("symbols") or [])
        if symbol not in symbols:
            raise SettingsError(
                f"the global model does not know {symbol!r}; it was trained on {_listed(symbols)}"
            )
        i = symbols.index(symbol)
        try:
            self.x_mean = np.asarray(meta["x_mean"][i], dtype=np.float64)
            self.x_std = np.asarray(meta["x_std"][i], dtype=np.float64)
            self.y_scale = np.asarray(meta["y_scale"][i], dtype=np.float64)
            embedding = bool(meta["embedding"])
            decimals = meta["price_decimals"][i]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ForeignModelError(f"the global model's scalers are broken: {exc}") from None
        codes = symbol_codes(len(symbols)) if embedding else np.zeros((len(symbols), 0))
        n_in = model.config.input_dim - codes.shape[1]
        shapes_ok = self.x_mean.shape == self.x_std.shape == (n_in,)
        if not shapes_ok or self.y_scale.shape != (len(model.config.horizons),):
            raise ForeignModelError("the global model's scalers do not match its network")
        if not (np.isfinite(self.x_mean).all() and (self.x_std > 0).all()):
            raise ForeignModelError("the global model's scalers are not finite and positive")
        if not (np.isfinite(self.y_scale).all() and (self.y_scale > 0).all()):
            raise ForeignModelError("the global model's target scales are not positive")
        self.model = model
        self.symbol = symbol
        self.code = codes[i]
        self.config = dataclasses.replace(model.config, input_dim=n_in)
        self.metadata = copy.deepcopy({k: v for k, v in model.metadata.items() if k != GLOBAL_KEY})
        pipeline = dict(self.metadata.get("pipeline") or {})
        pipeline.update(symbol=symbol, price_decimals=decimals)
        self.metadata["pipeline"] = pipeline
        self.metadata["global_symbols"] = symbols
        evaluation = (self.metadata.get("evaluation") or {}).get(symbol)
        self.metadata["evaluation"] = evaluation or {}

    def __getattr__(self, name: str) -> Any:  # save, history, kind, ... of the global model
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    @property
    def calibration(self) -> Any:
        """The global network's interval calibration (scale-free: shared by its symbols)."""
        return self.model.calibration

    @calibration.setter
    def calibration(self, value: Any) -> None:  # the live loop's rolling recalibration
        self.model.calibration = value

    @property
    def horizons(self) -> tuple[int, ...]:
        """The forecast horizons."""
        return tuple(self.model.config.horizons)

    def inputs(self, X: Any) -> np.ndarray:
        """Scale ``(N, seq_len, F)`` (or one ``(seq_len, F)``) features, add the code."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim not in (2, 3) or X.shape[-1] != self.config.input_dim:
            raise ValueError(
                f"expected (..., {self.config.seq_len}, {self.config.input_dim}) features, "
                f"got shape {X.shape}"
            )
        scaled = (X - self.x_mean) / self.x_std
        if not len(self.code):
            return scaled
        code = np.broadcast_to(self.code, (*X.shape[:-1], len(self.code)))
        return np.concatenate([scaled, code], axis=-1)

    def _back(self, fc: Any) -> Any:
        s = self.y_scale
        return dataclasses.replace(
            fc, mean=fc.mean * s, sigma=fc.sigma * s, lower=fc.lower * s, upper=fc.upper * s
        )

    def forecast(self, X: Any, level: float = 0.9) -> Any:
        """The global model's forecast of this symbol's sequences, in its log returns."""
        return self._back(self.model.forecast(self.inputs(X), level=level))

    def forecast_one(self, seq: Any, level: float = 0.9) -> Any:
        """One sequence's forecast (the live path)."""
        return self._back(self.model.forecast_one(self.inputs(seq), level=level))

    def predict(self, X: Any) -> np.ndarray:
        """Mean log returns of a batch."""
        return np.asarray(self.forecast(X).mean)

    def execute(self, seq: Any) -> np.ndarray:
        """Mean log returns of one sequence."""
        return np.asarray(self.forecast_one(seq).mean)

    def predict_interval(self, X: Any, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated interval bounds of a batch."""
        fc = self.forecast(X, level)
        return fc.lower, fc.upper

    def __repr__(self) -> str:
        return f"SymbolModel({self.symbol!r} of {len(self.metadata['global_symbols'])} symbols)"


def _listed(symbols: list[str], limit: int = 10) -> str:
    more = f" and {len(symbols) - limit} more" if len(symbols) > limit else ""
    return ", ".join(symbols[:limit]) + more


def is_global(model: Any) -> bool:
    """Whether ``model`` was written by :func:`train_global`."""
    meta = getattr(model, "metadata", None)
    return isinstance(meta, dict) and GLOBAL_KEY in meta


def bind_symbol(model: Any, symbol: str | None) -> Any:
    """A forecaster of ``symbol``: the global model bound to it, or ``model`` itself.

    Args:
        model: A loaded model (per-symbol or global).
        symbol: The symbol to forecast (``None``: the model's own, for a per-symbol one).

    Returns:
        ``model`` unchanged when it is a per-symbol model; a :class:`SymbolModel` for a
        global one.

    Raises:
        SettingsError: A global model and no symbol, or one it was not trained on.
    """
    if not is_global(model):
        return model
    symbols = list(model.metadata[GLOBAL_KEY].get("symbols") or [])
    if symbol is None:
        raise SettingsError(
            f"a global model of {len(symbols)} symbols ({_listed(symbols)}): say which "
            "one with --symbol"
        )
    return SymbolModel(model, symbol)


def _check_candles(candles: Mapping[str, Any]) -> list[str]:
    if not isinstance(candles, Mapping) or not candles:
        raise SettingsError("a global model needs the candles of at least one symbol")
    symbols = list(candles)
    if len({s.upper() for s in symbols}) != len(symbols):
        raise SettingsError("a symbol is listed twice")
    return symbols


def _scalers(train: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    flat = train.X.reshape(-1, train.X.shape[-1])
    return flat.mean(axis=0), _std(flat, 0), _std(train.y, 0)


def _fit_global(
    parts: dict[str, tuple[Any, Any]],
    settings: Settings,
    kind: str,
    embedding: bool,
    progress: Callable[[int, int, dict[str, Any]], None] | None,
) -> tuple[Any, dict[str, Any]]:
    """Train one forecaster on every symbol's (train, val) parts; return it and the scalers."""
    from finance_demo.training import build_forecaster

    symbols = list(parts)
    scalers = {s: _scalers(parts[s][0]) for s in symbols}
    codes = symbol_codes(len(symbols)) if embedding else np.zeros((len(symbols), 0))
    n_in = settings.model.input_dim
    meta = {
        "symbols": symbols,
        "embedding": embedding,
        "code_dim": int(codes.shape[1]),
        "x_mean": [scalers[s][0].tolist() for s in symbols],
        "x_std": [scalers[s][1].tolist() for s in symbols],
        "y_scale": [scalers[s][2].tolist() for s in symbols],
    }

    def scaled(s: str, part: Any) -> tuple[np.ndarray, np.ndarray]:
        x_mean, x_std, y_scale = scalers[s]
        X = (part.X - x_mean) / x_std
        if embedding:
            code = np.broadcast_to(codes[symbols.index(s)], (*X.shape[:-1], codes.shape[1]))
            X = np.concatenate([X, code], axis=-1)
        return X, part.y / y_scale

    train = [scaled(s, parts[s][0]) for s in symbols]
    val = [scaled(s, parts[s][1]) for s in symbols]
    if settings.model.sigma_anchor not in ("auto", "none"):
        raise SettingsError(
            f"model.sigma_anchor {settings.model.sigma_anchor} does not work with one global "
            "model (its inputs are scaled per symbol); use auto or none"
        )
    try:  # no sigma blend: the shared network reads scaled inputs, not the volatility
        config = dataclasses.replace(
            settings.model, input_dim=n_in + codes.shape[1], sigma_anchor_index=None
        )
    except ValueError as exc:
        raise SettingsError(f"the global network: {exc}") from None
    model = build_forecaster(kind, config)
    model.fit(
        np.concatenate([x for x, _ in train]),
        np.concatenate([y for _, y in train]),
        settings.training,
        X_val=np.concatenate([x for x, _ in val]),
        y_val=np.concatenate([y for _, y in val]),
        progress=progress,
    )
    return model, meta


def train_global(
    candles: Mapping[str, Any],
    settings: Settings | None = None,
    *,
    interval: str | None = None,
    kind: str = "lstm",
    embedding: bool = True,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> Any:
    """Train one forecaster on the windows of every symbol (see the module's docstring).

    Each symbol's samples are split in time order like :func:`~finance_demo.train_model`
    (train / validation / test, purged); the network trains on every symbol's training
    part, stops early on the pooled validation parts and is scored per symbol on each
    symbol's test part.

    Args:
        candles: Symbol to its candles DataFrame (oldest first), at least one.
        settings: Pipeline, network and training settings (defaults when ``None``).
        interval: Candle interval recorded in the model file.
        kind: The model family (``lstm``, ``seq2seq``, ``gbdt``, ``rf``, ``ensemble``).
        embedding: Append each symbol's code to its inputs (see the module docstring).
        progress: Called after each epoch with ``(epoch, epochs, record)``.

    Returns:
        The trained model; ``metadata["global"]`` holds the symbols and their scalers,
        ``metadata["evaluation"]`` the test scores per symbol, ``metadata["dataset"]``
        the sample counts per symbol. Use :func:`bind_symbol` to forecast one symbol.

    Raises:
        SettingsError: No symbols or a repeated one.
        InsufficientDataError: A symbol's history is too short (the message names it).
    """
    from feature_extraction import FeatureExtraction

    from finance_demo.errors import InsufficientDataError
    from finance_demo.training import evaluate, torch_threads

    settings = settings or Settings()
    symbols = _check_candles(candles)
    p, t, e = settings.pipeline, settings.training, settings.evaluation
    features = FeatureExtraction.from_config(p.features)
    splits = {}
    for s in symbols:
        try:
            data = build_dataset(candles[s], p, features)
            splits[s] = split_dataset(data, t.val_fraction, e.test_fraction, p.step_size)
        except InsufficientDataError as exc:
            raise InsufficientDataError(f"{s}: {exc}") from None
    with torch_threads(t.num_threads):
        model, meta = _fit_global(
            {s: splits[s][:2] for s in symbols}, settings, kind, embedding, progress
        )
    meta["price_decimals"] = [price_decimals(closes_of(candles[s])) for s in symbols]
    spec = dataclasses.replace(p, symbol=None, interval=interval)
    model.metadata.update(pipeline=spec.to_dict(), training=t.to_dict())
    model.metadata[GLOBAL_KEY] = meta
    model.metadata["dataset"] = {
        s: {
            "candles": len(candles[s]),
            "first": _iso(candles[s].index[0]),
            "last": _iso(candles[s].index[-1]),
            "train": len(splits[s][0]),
            "val": len(splits[s][1]),
            "test": len(splits[s][2]),
            "test_fraction": e.test_fraction,
        }
        for s in symbols
    }
    model.metadata["evaluation"] = {
        s: evaluate(SymbolModel(model, s), splits[s][2], e.level) for s in symbols
    }
    return model


@dataclasses.dataclass(frozen=True)
class GlobalComparison:
    """The walk-forward comparison of one global model with per-symbol models.

    Attributes:
        symbols: The symbols, in input order.
        folds: Folds run.
        level: Interval level.
        horizons: Forecast horizons.
        rows: Per symbol: samples, MAE of persistence / per-symbol / global, interval
            coverage and Winkler score of both, and Diebold–Mariano tests (global vs
            per-symbol, on absolute errors and on Winkler losses; a negative statistic
            means the global model's losses are lower).
        errors: Symbols that could not run, with a one-line reason.
        seconds: Wall time.
    """

    symbols: tuple[str, ...]
    folds: int
    level: float
    horizons: tuple[int, ...]
    rows: list[dict[str, Any]]
    errors: list[dict[str, str]]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-able data (non-finite numbers as ``None``)."""
        from finance_demo.backtest_report import _clean

        return _clean(dataclasses.asdict(self))


def _time_folds(plans: dict[str, Any], n_folds: int) -> dict[str, list[tuple[int, int]]]:
    """Fold bounds of every symbol on one calendar.

    The first fold starts at the latest of the symbols' own first-fold stamps (so every
    symbol has at least its ``start`` share of history before it); from there the pooled
    sample stamps of all symbols are cut into ``n_folds`` blocks of equal count. Fold
    ``k`` of every symbol holds its samples stamped in ``[T_k, T_{k+1})``, so no model
    trains on any symbol's prices after the fold's first test stamp (a per-symbol cut
    would let one symbol's later prices into another symbol's test period).
    """
    first = max(plan.data.times[plan.bounds[0][0]] for plan in plans.values())
    pooled = np.sort(
        np.concatenate([plan.data.times[plan.data.times >= first].asi8 for plan in plans.values()]),
        kind="stable",
    )
    idx = [len(pooled) * k // n_folds for k in range(n_folds)]
    starts = sorted({int(pooled[i]) for i in idx})
    out = {}
    for s, plan in plans.items():
        times = plan.data.times.asi8
        cuts = [int(np.searchsorted(times, t)) for t in starts] + [len(plan.data)]
        out[s] = [(cuts[k], cuts[k + 1]) for k in range(len(starts))]
    return out


def _global_fold(
    plans: dict[str, Any],
    candles: Mapping[str, Any],
    k: int,
    bounds: dict[str, tuple[int, int]],
    embedding: bool,
) -> dict[str, dict[str, np.ndarray]]:
    """One fold: a per-symbol LSTM per symbol (``_run_fold``) and one global LSTM."""
    from finance_demo.backtest import _run_fold
    from finance_demo.errors import InsufficientDataError

    any_plan = next(iter(plans.values()))
    settings = any_plan.fold_settings
    p, t = settings.pipeline, settings.training
    out: dict[str, dict[str, np.ndarray]] = {}
    parts = {}
    for s, (a, b) in bounds.items():
        if b <= a:
            continue
        plan = plans[s]
        try:
            block, _ = _run_fold(plan, candles[s], k, a, b, s, None)
            cut = int(plan.data.ticks[a])
            seen = build_dataset(candles[s].iloc[: cut + 1], p, plan.features).labeled()
            train, val, _ = split_dataset(seen, t.val_fraction, 0.0, p.step_size)
        except InsufficientDataError as exc:
            raise InsufficientDataError(f"{s}, fold {k + 1}: {exc}") from None
        parts[s] = (train, val)
        out[s] = block
    model, meta = _fit_global(parts, settings, "lstm", embedding, None)
    model.metadata[GLOBAL_KEY] = {**meta, "price_decimals": [0] * len(parts)}
    for s in parts:
        a, b = bounds[s]
        fc = SymbolModel(model, s).forecast(plans[s].data.subset(slice(a, b)).X, plans[s].level)
        out[s].update(glob=fc.mean, glob_lower=fc.lower, glob_upper=fc.upper)
    return out


def _compare_rows(block: dict[str, np.ndarray], level: float, gap: int) -> dict[str, Any]:
    from finance_demo.stats import diebold_mariano
    from model import metrics

    y = block["y"]
    out: dict[str, Any] = {"samples": len(y)}
    losses = {}
    for name, key in (("per_symbol", "lstm"), ("global", "glob")):
        pred, lo, hi = block[key], block[f"{key}_lower"], block[f"{key}_upper"]
        wink = metrics.winkler_losses(y, lo, hi, level)
        losses[name] = (np.abs(y - pred), wink)
        out[name] = {
            "mae": metrics.mae(y, pred),
            "coverage": metrics.coverage(y, lo, hi),
            "winkler": float(np.mean(wink)),
        }
    out["persistence"] = {"mae": metrics.mae(y, np.zeros_like(y))}
    lag = max(1, gap)
    out["dm_mae"] = diebold_mariano(
        losses["global"][0].ravel(), losses["per_symbol"][0].ravel(), lag
    ).to_dict()
    out["dm_winkler"] = diebold_mariano(
        losses["global"][1].ravel(), losses["per_symbol"][1].ravel(), lag
    ).to_dict()
    return out


def backtest_global(
    candles: Mapping[str, Any],
    settings: Settings | None = None,
    *,
    folds: int | None = None,
    level: float | None = None,
    start: float = 0.5,
    embedding: bool = True,
    engine: Any = None,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> GlobalComparison:
    """Walk forward with one global LSTM per fold beside one LSTM per symbol per fold.

    The folds share one calendar (see :func:`_time_folds`): in fold ``k`` every model
    trains on the samples before the fold's start stamp and forecasts the fold. The
    per-symbol models are :func:`~finance_demo.backtest`'s; the scores are pooled over the
    folds per symbol.

    Args:
        candles: Symbol to candles, at least one.
        settings: Pipeline, network and training settings.
        folds: Out-of-sample blocks (default 5).
        level: Interval level (default ``settings.evaluation.level``).
        start: Share of the longest history's samples before the first fold.
        embedding: Give the global model each symbol's code.
        engine: Where the folds run (an engine of :func:`~finance_demo.make_engine`).
        progress: Called as each fold finishes with ``(finished, folds, {"fold": k})``.

    Returns:
        The :class:`GlobalComparison`.

    Raises:
        SettingsError: No symbols or a repeated one; bad folds / level / start.
        InsufficientDataError: A symbol is too short for the first fold (named).
    """
    import contextlib

    from finance_demo.backtest import make_plan
    from finance_demo.engine import SerialEngine, call_with_threads, completed, current_threads
    from finance_demo.errors import InsufficientDataError
    from finance_demo.training import torch_threads

    settings = settings or Settings()
    symbols = _check_candles(candles)
    t0 = time.perf_counter()
    plans = {}
    for s in symbols:
        try:
            plans[s] = make_plan(candles[s], settings, folds, None, level, start)
        except InsufficientDataError as exc:
            raise InsufficientDataError(f"{s}: {exc}") from None
    bounds = _time_folds(plans, len(next(iter(plans.values())).bounds))
    n_folds = len(next(iter(bounds.values())))
    pooled: dict[str, dict[str, list[np.ndarray]]] = {s: {} for s in symbols}
    done = 0
    with torch_threads(settings.training.num_threads):
        threads = current_threads()
        order = list(range(n_folds))
        if engine is not None and not isinstance(engine, SerialEngine):
            order.reverse()  # on a pool the longest trainings first
        jobs = (
            (
                call_with_threads,
                (
                    threads,
                    _global_fold,
                    plans,
                    candles,
                    k,
                    {s: bounds[s][k] for s in symbols},
                    embedding,
                ),
            )
            for k in order
        )
        runs = completed(SerialEngine() if engine is None else engine, jobs)
        with contextlib.closing(runs):
            for i, future in runs:
                k = order[i]
                for s, block in future.result().items():
                    for name, value in block.items():
                        pooled[s].setdefault(name, []).append(np.asarray(value))
                done += 1
                if progress is not None:
                    progress(done, n_folds, {"fold": k + 1})
    rows, errors = [], []
    level_used = next(iter(plans.values())).level
    for s in symbols:
        if not pooled[s]:
            errors.append({"symbol": s, "error": "no test samples in any fold"})
            continue
        order = np.argsort(np.concatenate(pooled[s]["tick"]), kind="stable")
        block = {name: np.concatenate(parts)[order] for name, parts in pooled[s].items()}
        rows.append({"symbol": s, **_compare_rows(block, level_used, plans[s].gap)})
    return GlobalComparison(
        symbols=tuple(symbols),
        folds=n_folds,
        level=level_used,
        horizons=tuple(settings.pipeline.horizons),
        rows=rows,
        errors=errors,
        seconds=round(time.perf_counter() - t0, 3),
    )
