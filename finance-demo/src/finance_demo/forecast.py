"""A one-shot forecast: what the model says now, from the latest completed candles.

:func:`forecast` runs the model over only the last few hundred candles (the recent
predictions the regime needs plus one input sequence: O(window), whatever the history's
length) and returns a :class:`Forecast` for every horizon: the predicted log return and
price, the interval at a level, the direction, and the candle it is based on.

The market regime (:func:`market_regime`) comes from the model's own outputs over its
last :data:`REGIME_WINDOW` predictions, in this order:

1. **volatile** when the predicted sigma of the first horizon now is above
   ``1.5 x`` its median over those recent predictions;
2. else **trending up** when the longest horizon's predicted mean is above
   ``+0.25`` of its predicted sigma, **trending down** when below ``-0.25`` sigma;
3. else **ranging**.

:func:`ensure_model` finds the model to use in a registry (the latest for a symbol and
interval), and trains and registers one when there is none, or when the latest is older
than a maximum age, if asked to.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from finance_demo.errors import PipelineError

__all__ = [
    "REGIMES",
    "REGIME_WINDOW",
    "Forecast",
    "HorizonForecast",
    "completed_candles",
    "ensure_model",
    "forecast",
    "market_regime",
]

#: The regimes :func:`market_regime` names.
REGIMES = ("trending up", "trending down", "ranging", "volatile")
#: How many recent predictions the regime compares the current sigma with.
REGIME_WINDOW = 100
#: The first horizon's sigma above this multiple of its recent median is "volatile".
VOLATILE_RATIO = 1.5
#: The longest horizon's mean beyond this many of its sigmas is a trend.
TREND_SIGMAS = 0.25


def market_regime(
    first_sigmas: Sequence[float] | np.ndarray,
    last_mean: float,
    last_sigma: float,
    volatile_ratio: float = VOLATILE_RATIO,
    trend_sigmas: float = TREND_SIGMAS,
) -> str:
    """Name the market regime from the model's outputs (see the module docstring).

    Args:
        first_sigmas: The first horizon's predicted sigma over the recent predictions,
            oldest first; the last one is now's.
        last_mean: The longest horizon's predicted mean log return now.
        last_sigma: The longest horizon's predicted sigma now.
        volatile_ratio: "volatile" above this multiple of the recent median sigma.
        trend_sigmas: A trend beyond this many sigmas of predicted mean.

    Returns:
        One of :data:`REGIMES`.

    Examples:
        >>> market_regime([0.01, 0.01, 0.02], 0.0, 0.01)
        'volatile'
        >>> market_regime([0.01, 0.01, 0.01], 0.004, 0.01)
        'trending up'
        >>> market_regime([0.01, 0.01, 0.01], -0.001, 0.01)
        'ranging'
    """
    sigmas = np.asarray(first_sigmas, dtype=np.float64).reshape(-1)
    sigmas = sigmas[np.isfinite(sigmas)]
    if sigmas.size == 0:
        raise ValueError("market_regime needs at least one finite sigma")
    median = float(np.median(sigmas))
    if median > 0 and sigmas[-1] > volatile_ratio * median:
        return "volatile"
    if last_sigma > 0 and math.isfinite(last_mean):
        z = last_mean / last_sigma
        if z > trend_sigmas:
            return "trending up"
        if z < -trend_sigmas:
            return "trending down"
    return "ranging"


@dataclass(frozen=True)
class HorizonForecast:
    """The forecast for one horizon (log returns; prices at the model's precision).

    Attributes:
        horizon: Ticks ahead.
        predicted_return: Predicted mean log return over the horizon.
        sigma: Predicted standard deviation of that log return.
        lower_return: Lower bound of the interval.
        upper_return: Upper bound of the interval.
        predicted_price: ``close * exp(predicted_return)``, rounded.
        lower_price: The interval's lower price, rounded.
        upper_price: The interval's upper price, rounded.
        direction: ``"up"`` when the predicted return is positive, else ``"down"``.
        p_up: The direction head's probability that the return is positive (``None``,
            and absent from :meth:`to_dict`, for a model without the head).
        trend: The trend head's score in [-1, 1] (``None``, and absent from
            :meth:`to_dict`, for a model without the head).
    """

    horizon: int
    predicted_return: float
    sigma: float
    lower_return: float
    upper_return: float
    predicted_price: float
    lower_price: float
    upper_price: float
    direction: str
    p_up: float | None = None
    trend: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (``p_up``, ``trend`` only when the model has the head)."""
        out = dict(self.__dict__)
        for name in ("p_up", "trend"):
            if out[name] is None:
                del out[name]
        return out


@dataclass(frozen=True)
class Forecast:
    """A one-shot forecast of every horizon from the latest candle (see :func:`forecast`).

    Attributes:
        symbol: The model's ticker (or the one given).
        interval: The model's candle interval.
        time: Stamp of the candle the forecast is based on (ISO 8601).
        close: Its close.
        level: Nominal coverage of the intervals.
        price_decimals: Decimals of the prices (the model's ``price_decimals``).
        regime: One of :data:`REGIMES` (see :func:`market_regime`).
        horizons: One :class:`HorizonForecast` per horizon.
        recent: How many recent predictions the regime looked at.
        sigma_ratio: The first horizon's sigma now over its recent median.
        trend_sigmas: The longest horizon's mean over its sigma, now.
        model: A label of the model (registry id or file), when the caller gives one.
    """

    symbol: str | None
    interval: str | None
    time: str
    close: float
    level: float
    price_decimals: int
    regime: str
    horizons: tuple[HorizonForecast, ...]
    recent: int
    sigma_ratio: float
    trend_sigmas: float
    model: str | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``horizons`` as a list of dicts; a non-finite number: None)."""
        body = {k: _finite(v) for k, v in self.__dict__.items() if k != "horizons"}
        body["horizons"] = [{k: _finite(v) for k, v in h.to_dict().items()} for h in self.horizons]
        return body


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def completed_candles(candles: Any, interval: str | None, now: Any = None) -> Any:
    """Drop the trailing candles that are still in progress (end after ``now``).

    A candle stamped ``t`` ends at ``t + interval`` (its nominal length).

    Args:
        candles: Candles, oldest first.
        interval: Their interval (``None``: nothing is dropped).
        now: The present (default: the clock), a tz-aware stamp.
    """
    import pandas as pd
    from data_fetcher.intervals import interval_timedelta

    if interval is None or len(candles) == 0:
        return candles
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    ends = candles.index + interval_timedelta(interval)
    # the index is increasing, so the completed candles are a prefix
    done = int(np.count_nonzero(np.asarray(ends <= now)))
    return candles if done == len(candles) else candles.iloc[:done]


def forecast(
    model: Any,
    candles: Any,
    level: float | None = None,
    *,
    horizons: Sequence[int] | None = None,
    symbol: str | None = None,
    label: str | None = None,
    window: int = REGIME_WINDOW,
) -> Forecast:
    """Forecast every horizon from the last candle of ``candles``.

    Only the last ``span + (window - 1) * step_size`` candles go through the features
    and the network (``window`` predictions: the newest for the forecast, all of them
    for the regime), so the work does not grow with the history.

    Args:
        model: A model trained by :func:`finance_demo.train_model`, or a global one of
            :func:`finance_demo.train_global` (``symbol`` says which of its symbols).
        candles: Completed candles of the model's interval, oldest first.
        level: Interval level (default: the model's).
        horizons: Only these of the model's horizons (default: all).
        symbol: The ticker to report (default: the model's).
        label: A name of the model for the report (a registry id, a file).
        window: Recent predictions the regime compares with (>= 1).

    Returns:
        The :class:`Forecast`.

    Raises:
        InsufficientDataError: Fewer candles than one input sequence needs.
        PipelineError: A horizon the model does not predict, or a bad level.
    """
    from feature_extraction import FeatureExtraction
    from model.calibration import check_level

    from finance_demo.dataset import build_dataset
    from finance_demo.global_model import bind_symbol
    from finance_demo.system import spec_of

    model = bind_symbol(model, symbol)
    spec = spec_of(model)
    level = spec.level if level is None else level
    try:
        check_level(level)
    except ValueError as exc:
        raise PipelineError(str(exc)) from None
    wanted = tuple(spec.horizons) if not horizons else tuple(int(h) for h in horizons)
    unknown = [h for h in wanted if h not in spec.horizons]
    if unknown:
        raise PipelineError(
            f"the model predicts horizons {', '.join(map(str, spec.horizons))}, not "
            f"{', '.join(map(str, unknown))}"
        )
    window = max(1, int(window))
    tail = candles.iloc[-(spec.span + (window - 1) * spec.step_size) :]
    features = FeatureExtraction(window_size=spec.window_size, normalize=spec.normalize)
    data = build_dataset(tail, spec, features)
    fc = model.forecast(data.X, level=level)
    n, h = len(data), len(spec.horizons)
    mean, sigma, lower, upper = (
        np.asarray(a, dtype=np.float64).reshape(n, h)
        for a in (fc.mean, fc.sigma, fc.lower, fc.upper)
    )
    p_up, trend = (getattr(fc, name, None) for name in ("p_up", "trend"))
    if p_up is not None:
        p_up = np.asarray(p_up, dtype=np.float64).reshape(n, h)
    if trend is not None:
        trend = np.asarray(trend, dtype=np.float64).reshape(n, h)
    close = float(data.closes[-1])
    d = spec.price_decimals
    rows = []
    for k, hz in enumerate(spec.horizons):
        if hz not in wanted:
            continue
        m, lo, hi = float(mean[-1, k]), float(lower[-1, k]), float(upper[-1, k])
        rows.append(
            HorizonForecast(
                horizon=int(hz),
                predicted_return=m,
                sigma=float(sigma[-1, k]),
                lower_return=lo,
                upper_return=hi,
                predicted_price=round(close * math.exp(m), d),
                lower_price=round(close * math.exp(lo), d),
                upper_price=round(close * math.exp(hi), d),
                direction="up" if m > 0 else "down",
                p_up=None if p_up is None else float(p_up[-1, k]),
                trend=None if trend is None else float(trend[-1, k]),
            )
        )
    median = float(np.median(sigma[:, 0]))
    last_mean, last_sigma = float(mean[-1, -1]), float(sigma[-1, -1])
    stamp = data.times[-1]
    return Forecast(
        symbol=symbol or spec.symbol,
        interval=spec.interval,
        time=stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp),
        close=round(close, d),
        level=float(level),
        price_decimals=d,
        regime=market_regime(sigma[:, 0], last_mean, last_sigma),
        horizons=tuple(rows),
        recent=n,
        sigma_ratio=float(sigma[-1, 0] / median) if median > 0 else float("nan"),
        trend_sigmas=last_mean / last_sigma if last_sigma > 0 else 0.0,
        model=label,
    )


def ensure_model(
    registry: Any,
    symbol: str,
    interval: str,
    candles: Callable[[], Any],
    *,
    settings: Any = None,
    auto_train: bool = False,
    max_age: timedelta | None = None,
    now: datetime | None = None,
) -> tuple[Any, bool]:
    """The latest registered model of a symbol and interval, trained when asked to.

    Args:
        registry: A :class:`~finance_demo.Registry`.
        symbol: Ticker.
        interval: Candle interval.
        candles: Returns the training candles (called only when a model is trained).
        settings: Training settings (default: the defaults); its ``data`` section is
            ignored (``symbol`` and ``interval`` are these).
        auto_train: Train and register a model when there is none (or it is too old).
        max_age: A model older than this counts as missing.
        now: The present (default: the clock).

    Returns:
        ``(entry, trained)``: the registry entry and whether it was trained just now.

    Raises:
        RegistryError: No model (or only a too-old one) and ``auto_train`` is off.
    """
    from finance_demo.config import Settings
    from finance_demo.registry import RegistryError
    from finance_demo.training import train_model

    latest = registry.latest(symbol, interval)
    now = now or datetime.now(timezone.utc)
    too_old = latest is not None and max_age is not None and now - latest.created_at > max_age
    if latest is not None and not too_old:
        return latest, False
    if not auto_train:
        if latest is None:
            raise RegistryError(
                f"no model for {symbol} {interval} in the registry {registry.root}; train one "
                f"with 'stock-analyzer train --symbol {symbol} --interval {interval}' (or "
                "use --auto-train)"
            )
        age = now - latest.created_at
        raise RegistryError(
            f"the latest model for {symbol} {interval} ({latest.id}) is "
            f"{_age_text(age)} old, over the maximum age of {_age_text(max_age)}; retrain "
            "it (or use --auto-train)"
        )
    model = train_model(candles(), settings or Settings(), symbol=symbol, interval=interval)
    return registry.add(model), True


def _age_text(age: timedelta | None) -> str:
    seconds = 0 if age is None else age.total_seconds()
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"


def load_label(path: Path, root: Path | None) -> str:
    """A short name of a model file: its registry id when it lives in ``root``."""
    path = Path(path)
    if root is not None and path.parent.resolve() == Path(root).resolve():
        return path.stem
    return str(path)
