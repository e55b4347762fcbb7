"""Train a model on a candle history and evaluate it on the held-out test part."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from finance_demo.config import Settings, price_decimals
from finance_demo.dataset import Dataset, build_dataset, closes_of, split_dataset

__all__ = [
    "KINDS",
    "MIN_TEST_SAMPLES",
    "MIN_TRAIN_SAMPLES",
    "build_forecaster",
    "evaluate",
    "few_samples",
    "torch_threads",
    "train_model",
]

#: Below this many training samples, a trained model is unlikely to mean anything.
MIN_TRAIN_SAMPLES = 500
#: Below this many test samples, the scores' error bars are too wide to read (the 95 %
#: interval of a direction accuracy near 50 % is about +-10 points at 100 samples).
MIN_TEST_SAMPLES = 100


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch threads, then restore the caller's count.

    Args:
        n: Threads for the block (``None``: leave the setting alone, import nothing).
    """
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _iso(stamp: Any) -> str:
    return stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp)


def evaluate(model: Any, data: Dataset, level: float = 0.9) -> dict[str, dict[str, float]]:
    """Score a model on labeled samples, against the naive references, per horizon.

    Args:
        model: A trained ``model.Model``.
        data: Labeled samples (e.g. the test part of :func:`split_dataset`).
        level: Interval level.

    Returns:
        ``{"h<H>": {...}}`` with ``samples``, ``mae`` and ``mae_persistence`` (log
        returns), ``price_mae`` and ``price_mae_persistence``, ``direction_accuracy`` and
        ``always_up`` (the share of up moves), ``coverage`` and ``level``.
    """
    from model import metrics

    if len(data) == 0:
        return {}
    fc = model.forecast(data.X, level=level)
    mean, lower, upper = (np.asarray(a, dtype=np.float64) for a in (fc.mean, fc.lower, fc.upper))
    out: dict[str, dict[str, float]] = {}
    for k, h in enumerate(data.horizons):
        y = data.y[:, k]
        c = data.closes
        out[f"h{h}"] = {
            "samples": len(y),
            "mae": metrics.mae(y, mean[:, k]),
            "mae_persistence": metrics.mae(y, np.zeros_like(y)),
            "price_mae": float(np.mean(np.abs(c * np.exp(mean[:, k]) - c * np.exp(y)))),
            "price_mae_persistence": float(np.mean(np.abs(c - c * np.exp(y)))),
            "direction_accuracy": metrics.direction_accuracy(y, mean[:, k]),
            "always_up": metrics.always_up_accuracy(y),
            "coverage": metrics.coverage(y, lower[:, k], upper[:, k]),
            "level": level,
        }
    return out


#: The model families :func:`train_model` builds (``model.FORECASTERS`` kinds).
KINDS = ("lstm", "seq2seq", "gbdt", "rf", "ensemble")


def build_forecaster(kind: str, config: Any) -> Any:
    """An untrained forecaster of ``kind`` for the network config of the settings.

    ``gbdt``/``rf`` and ``seq2seq`` take their own settings' defaults (``model.TreeConfig``,
    ``model.Seq2SeqConfig``); ``ensemble`` blends an LSTM and a gbdt with adaptive weights
    from each member's inverse MAE over the last 250 realized outcomes.

    Raises:
        SettingsError: An unknown kind.
    """
    from finance_demo.errors import SettingsError

    if kind not in KINDS:
        raise SettingsError(f"model kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "lstm":
        from model import Model

        return Model(config)
    if kind == "seq2seq":
        from model.seq2seq import Seq2SeqForecaster

        return Seq2SeqForecaster(config)
    from model.trees import TreeForecaster

    if kind in ("gbdt", "rf"):
        return TreeForecaster(config, kind=kind)
    from model.config import EnsembleConfig
    from model.ensemble import EnsembleForecaster

    from model import Model

    members = [Model(config), TreeForecaster(config, kind="gbdt")]
    return EnsembleForecaster(members, EnsembleConfig(weighting="adaptive"))


def few_samples(train: int, test: int) -> str | None:
    """Say in one line when a run has too few samples for its scores to mean anything.

    Args:
        train: Training samples.
        test: Test samples (0: no test part, not counted).

    Returns:
        The warning (with the counts and the thresholds), or ``None``.

    Examples:
        >>> print(few_samples(126, 27))  # doctest: +NORMALIZE_WHITESPACE
        only 126 training and 27 test samples (fewer than 500 / 100): the scores mean
        little; use a longer period
        >>> few_samples(3472, 744) is None
        True
    """
    if train >= MIN_TRAIN_SAMPLES and (test == 0 or test >= MIN_TEST_SAMPLES):
        return None
    return (
        f"only {train} training and {test} test samples (fewer than {MIN_TRAIN_SAMPLES} / "
        f"{MIN_TEST_SAMPLES}): the scores mean little; use a longer period"
    )


def train_model(
    candles: Any,
    settings: Settings | None = None,
    symbol: str | None = None,
    interval: str | None = None,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    kind: str = "lstm",
) -> Any:
    """Train a forecaster on a candle history and record everything the live loop needs.

    The samples are split in time order (train / validation / test, purged at the
    boundaries); the model trains on the first part, stops early and calibrates its
    intervals on the second, and is scored on the third.

    Args:
        candles: Candles DataFrame, oldest first.
        settings: Pipeline, network and training settings (defaults when ``None``).
        symbol: Ticker recorded in the model file.
        interval: Candle interval recorded in the model file (the live loop refuses
            candles of another interval).
        progress: Called after each epoch with ``(epoch, epochs, record)``.
        kind: The model family (:data:`KINDS`): ``lstm`` (default), ``seq2seq``,
            ``gbdt``, ``rf`` or ``ensemble`` (an LSTM and a gbdt blended with adaptive
            inverse-error weights); see :func:`build_forecaster`.

    Returns:
        The trained ``model.Model``; ``model.metadata`` holds ``pipeline`` (the
        :class:`~finance_demo.PipelineSpec`, read back with :func:`~finance_demo.spec_of`),
        ``training`` (the TrainConfig), ``dataset`` (counts, dates, ``test_fraction``) and
        ``evaluation`` (see :func:`evaluate`); the per-epoch losses are ``model.history``.

    Raises:
        InsufficientDataError: Too few candles for the window sizes and the split.
        PipelineError: Bad closes.
    """
    settings = settings or Settings()
    with torch_threads(settings.training.num_threads):
        return _train(candles, settings, symbol, interval, progress, kind)


def _train(
    candles: Any,
    settings: Settings,
    symbol: str | None,
    interval: str | None,
    progress: Callable[[int, int, dict[str, Any]], None] | None,
    kind: str = "lstm",
) -> Any:
    """The body of :func:`train_model`, with torch's thread count already set."""
    from feature_extraction import FeatureExtraction

    p, t, e = settings.pipeline, settings.training, settings.evaluation
    features = FeatureExtraction.from_config(p.features)
    data = build_dataset(candles, p, features)
    train, val, test = split_dataset(data, t.val_fraction, e.test_fraction, p.step_size)
    model = build_forecaster(kind, settings.model)
    model.fit(train.X, train.y, t, X_val=val.X, y_val=val.y, progress=progress)
    spec = dataclasses.replace(
        p, symbol=symbol, interval=interval, price_decimals=price_decimals(closes_of(candles))
    )
    model.metadata.update(
        pipeline=spec.to_dict(),
        training=t.to_dict(),
        dataset={
            "candles": len(candles),
            "first": _iso(candles.index[0]),
            "last": _iso(candles.index[-1]),
            "samples": len(data),
            "train": len(train),
            "val": len(val),
            "test": len(test),
            "test_start": _iso(test.times[0]) if len(test) else None,
            "test_fraction": e.test_fraction,
        },
        evaluation=evaluate(model, test, e.level),
    )
    return model
