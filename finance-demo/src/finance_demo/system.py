"""The live ``System``: buffer window → features → last ``seq_len`` vectors → predictor.

Per emitting tick it computes the features of the ONE new window and writes them into a
``signal_processing.Buffer`` of feature vectors; the model input is a zero-copy view of
that buffer's window. A tick that emits no window only pushes the close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from signal_processing import Buffer
from signal_processing import System as BaseSystem

from finance_demo.config import PipelineSpec
from finance_demo.errors import ForeignModelError, SettingsError

__all__ = ["Prediction", "Predictor", "System", "spec_of"]


def spec_of(model: Any) -> PipelineSpec:
    """Return the :class:`~finance_demo.PipelineSpec` recorded in a trained model.

    Every field is validated through its config class, and against the network: its
    inputs must be the features' count (``seq_len`` and ``horizons`` are the network's).

    Args:
        model: A trained ``model.Model`` (or anything with ``metadata`` and ``config``)
            whose ``metadata["pipeline"]`` was written by :func:`finance_demo.train_model`.

    Returns:
        The spec: buffer, features and network configs, symbol, interval, level, price
        precision.

    Raises:
        ForeignModelError: The model has no pipeline spec (it was not trained by this
            package), or the spec is broken (one line naming the field).
    """
    meta = getattr(model, "metadata", None) or {}
    raw = meta.get("pipeline") if isinstance(meta, dict) else None
    if raw is None:
        raise ForeignModelError(
            "the model was not written by 'stock-analyzer train' (no pipeline spec)"
        )
    try:
        return PipelineSpec.from_dict(raw, model.config)
    except SettingsError as exc:
        raise ForeignModelError(f"the model file's pipeline spec is broken: {exc}") from None


class Predictor:
    """The ``predictor`` module: a trained model's one-sequence forecast with interval.

    Args:
        model: A trained ``model.Model``.
        level: Nominal coverage of the interval.
    """

    def __init__(self, model: Any, level: float = 0.9) -> None:
        self.model = model
        self.level = level

    def execute(self, seq: np.ndarray | None) -> Any:
        """Return ``model.forecast_one(seq, level)``, or ``None`` while ``seq`` is ``None``."""
        if seq is None:
            return None
        return self.model.forecast_one(seq, level=self.level)


@dataclass(frozen=True)
class Prediction:
    """One emitted prediction: the tick it was made at and one value per horizon.

    Attributes:
        tick: Position of the candle in the stream (warm-up candles included).
        time: Stamp of that candle.
        close: Its close.
        horizons: Ticks ahead of each prediction.
        mean: Predicted log return per horizon.
        lower: Lower interval bound (log return) per horizon.
        upper: Upper interval bound (log return) per horizon.
        sigma: The model's predicted scale per horizon (``None`` if not given).
    """

    tick: int
    time: Any
    close: float
    horizons: tuple[int, ...]
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    sigma: np.ndarray | None = None


class System(BaseSystem):
    """Buffer → ``features`` → ring of the last ``seq_len`` vectors → ``predictor``.

    Args:
        model: A model trained by :func:`finance_demo.train_model` (its metadata holds
            the :class:`~finance_demo.PipelineSpec`, read with :func:`spec_of`).
        level: Interval level (default: the spec's, the level the model was evaluated at).

    Examples:
        >>> system = System(model)  # doctest: +SKIP
        >>> system.warm_up(history_closes)  # doctest: +SKIP
        >>> system.process_candle(stamp, 101.3)  # doctest: +SKIP
        Prediction(tick=..., mean=array([0.0004]), ...)
    """

    def __init__(self, model: Any, level: float | None = None) -> None:
        from feature_extraction import FeatureExtraction

        self.model = model
        self.pipeline = p = spec_of(model)
        self.interval: str | None = p.interval
        self.symbol: str | None = p.symbol
        if level is None:
            level = p.level
        features = FeatureExtraction(window_size=p.window_size, normalize=p.normalize)
        super().__init__(
            Buffer(p.buffer_size, step_size=p.step_size),
            {"features": features, "predictor": Predictor(model, level)},
        )
        self.level = level
        # the last seq_len feature vectors: a Buffer of vectors, read as a zero-copy view
        self.ring = Buffer(p.seq_len, channel_shape=(features.n_features,))
        self.tick = -1  # position of the last processed close

    def connect(self, name: str) -> dict[str, Any]:
        """Route the window to ``features`` and the ring's sequence to ``predictor``."""
        if name == "features":
            return {"data": self.inputs["window"]}
        self.ring.push(self.outputs["features"])
        return {"seq": self.ring.get_window(copy=False) if self.ring.full else None}

    def process_candle(self, time: Any, close: float) -> Prediction | None:
        """Push one close; return the prediction when a window is due and the ring full.

        Args:
            time: The candle's stamp (kept in the record).
            close: Its close.

        Returns:
            A :class:`Prediction`, or ``None`` on a tick that emits nothing.
        """
        self.tick += 1
        forecast = self.process_frame(close)
        if forecast is None:
            return None
        return Prediction(
            tick=self.tick,
            time=time,
            close=float(close),
            horizons=self.pipeline.horizons,
            mean=forecast.mean,
            lower=forecast.lower,
            upper=forecast.upper,
            sigma=forecast.sigma,
        )

    def warm_up(self, closes: Any) -> int:
        """Bring a fresh system to the state it would have after pushing ``closes``.

        Vectorized: the buffer gets only the last closes it needs (in the same emission
        phase), and the features of the last ``seq_len`` due windows are computed in one
        ``transform`` call.

        Args:
            closes: The history's closes, oldest first.

        Returns:
            The number of feature vectors now in the ring (``seq_len`` when the next
            emitting tick will predict).

        Raises:
            RuntimeError: The system has already processed ticks.
        """
        if self.tick >= 0:
            raise RuntimeError("warm_up needs a fresh System (call reset() first)")
        closes = np.asarray(closes, dtype=np.float64).reshape(-1)
        n = len(closes)
        p = self.pipeline
        b, s, seq_len = p.buffer_size, p.step_size, p.seq_len
        self.tick = n - 1
        if n < b:
            self.input_buffer.extend(closes.reshape(-1, 1))
            return 0
        windows = (n - b) // s + 1
        keep = min(seq_len, windows)
        last_end = b - 1 + (windows - 1) * s  # tick of the last due window
        start = last_end - (keep - 1) * s - (b - 1)
        feats = self.modules["features"].transform(closes[start : last_end + 1], b, stride=s)
        self.ring.extend(feats)
        # Push the tail that keeps the emission phase: drop a multiple of step_size.
        drop = ((n - b) // s) * s
        self.input_buffer.extend(closes[drop:].reshape(-1, 1))
        return len(self.ring)

    def reset(self) -> None:
        """Empty the buffer and the ring of feature vectors."""
        super().reset()
        self.ring.reset()
        self.tick = -1
