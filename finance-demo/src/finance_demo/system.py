"""The live ``System``: buffer window → features → last ``seq_len`` vectors → predictor.

Per emitting tick it computes the features of the ONE new window and writes them into a
``signal_processing.Buffer`` of feature vectors; the model input is a zero-copy view of
that buffer's window. A tick that emits no window only pushes the close (or, when a
feature group reads OHLCV candles, the row ``Open, High, Low, Close, Volume``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from signal_processing import Buffer
from signal_processing import System as BaseSystem

from finance_demo.config import PipelineSpec
from finance_demo.errors import ForeignModelError, PipelineError, SettingsError

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
            package), the spec is broken (one line naming the field), or the model is a
            global one (:func:`~finance_demo.train_global`) not yet bound to a symbol.
    """
    meta = getattr(model, "metadata", None) or {}
    raw = meta.get("pipeline") if isinstance(meta, dict) else None
    if raw is None:
        raise ForeignModelError(
            "the model was not written by 'stock-analyzer train' (no pipeline spec)"
        )
    if isinstance(meta, dict) and isinstance(meta.get("global"), dict):
        symbols = meta["global"].get("symbols") or []
        raise ForeignModelError(
            f"a global model of {len(symbols)} symbols: bind it to one first "
            "(finance_demo.bind_symbol; on the command line, --symbol)"
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
        seq: The model input the prediction was made from, ``(seq_len, n_features)``
            (a copy: the live loop hands it back to ``model.observe`` with the outcome).
        p_up: The direction head's probability of an up move per horizon (``None`` for a
            model without the head).
        trend: The trend head's score in [-1, 1] per horizon (``None`` without it).
    """

    tick: int
    time: Any
    close: float
    horizons: tuple[int, ...]
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    sigma: np.ndarray | None = None
    seq: np.ndarray | None = None
    p_up: np.ndarray | None = None
    trend: np.ndarray | None = None


class System(BaseSystem):
    """Buffer → ``features`` → ring of the last ``seq_len`` vectors → ``predictor``.

    Args:
        model: A model trained by :func:`finance_demo.train_model` (its metadata holds
            the :class:`~finance_demo.PipelineSpec`, read with :func:`spec_of`).
        level: Interval level (default: the spec's, the level the model was evaluated at).

    A model whose feature groups read OHLCV candles (``range_vol``, ``volume``) has a
    buffer of 5 channels: feed it whole rows with :meth:`process_row`;
    :meth:`process_candle` (one close) is for the close-only models. A model with
    ``features.covariates`` also takes whole rows, each carrying the covariates' values
    (a mapping or ``pandas.Series`` with those keys, or 5 + k numbers).

    Examples:
        >>> system = System(model)  # doctest: +SKIP
        >>> system.warm_up(history_closes)  # doctest: +SKIP
        >>> system.process_candle(stamp, 101.3)  # doctest: +SKIP
        Prediction(tick=..., mean=array([0.0004]), ...)
        >>> system.process_row(stamp, (100.2, 101.9, 99.8, 101.3, 3.1e6))  # doctest: +SKIP
    """

    def __init__(self, model: Any, level: float | None = None) -> None:
        from feature_extraction import FeatureExtraction

        self.model = model
        self.pipeline = p = spec_of(model)
        self.interval: str | None = p.interval
        self.symbol: str | None = p.symbol
        if level is None:
            level = p.level
        features = FeatureExtraction.from_config(p.features)
        #: Whether the buffer holds OHLCV rows (a feature group reads them).
        self.needs_ohlcv: bool = features.needs_ohlcv
        #: The covariate columns every row carries (``features.covariates``).
        self.covariates: tuple[str, ...] = p.features.covariates
        #: Whether the model takes whole rows (OHLCV groups or covariates), not closes.
        self.needs_rows: bool = self.needs_ohlcv or bool(self.covariates)
        self._row_covariates: np.ndarray | None = None  # the last row's, with its stamp
        self._row_time: Any = None
        super().__init__(
            Buffer(p.buffer_size, step_size=p.step_size, channel_shape=p.buffer.channel_shape),
            {"features": features, "predictor": Predictor(model, level)},
        )
        self.level = level
        # the last seq_len feature vectors: a Buffer of vectors, read as a zero-copy view
        self.ring = Buffer(p.seq_len, channel_shape=(features.n_features,))
        self.tick = -1  # position of the last processed close

    def connect(self, name: str) -> dict[str, Any]:
        """Route the window to ``features`` and the ring's sequence to ``predictor``."""
        if name == "features":
            if self.covariates:
                return {"data": self.inputs["window"], "covariates": self._due_covariates()}
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

        Raises:
            PipelineError: The model's feature groups read OHLCV candles, or it has
                covariates (use :meth:`process_row`).
        """
        if self.needs_rows:
            raise self._needs_rows("process_candle")
        self.tick += 1
        forecast = self.process_frame(close)
        if forecast is None:
            return None
        return self._prediction(time, close, forecast)

    def process_row(self, time: Any, row: Any) -> Prediction | None:
        """Push one whole candle; return the prediction when a window is due.

        Args:
            time: The candle's stamp (kept in the record).
            row: ``(Open, High, Low, Close, Volume)`` (a sequence or array of 5 numbers,
                or a mapping/``pandas.Series`` with those keys). A close-only model
                pushes only its Close. With covariates, the row also carries their
                values: the mapping's keys, or 5 + k numbers in the spec's order.

        Returns:
            A :class:`Prediction`, or ``None`` on a tick that emits nothing.

        Raises:
            ValueError: ``row`` is not 5 numbers (5 + k with covariates).
            PipelineError: A covariate key is missing from the row, or (on an emitting
                tick) its value is NaN, inf or not a number.
        """
        if self.covariates:
            values, self._row_covariates = _row_with_covariates(row, self.covariates)
            self._row_time = time
        else:
            values = _row_values(row)
        close = float(values[3])
        self.tick += 1
        forecast = self.process_frame(values if self.needs_ohlcv else close)
        if forecast is None:
            return None
        return self._prediction(time, close, forecast)

    def _prediction(self, time: Any, close: Any, forecast: Any) -> Prediction:
        return Prediction(
            tick=self.tick,
            time=time,
            close=float(close),
            horizons=self.pipeline.horizons,
            mean=forecast.mean,
            lower=forecast.lower,
            upper=forecast.upper,
            sigma=forecast.sigma,
            seq=self.ring.get_window(),  # O(seq_len) copy of the model input
            p_up=getattr(forecast, "p_up", None),
            trend=getattr(forecast, "trend", None),
        )

    def _due_covariates(self) -> np.ndarray:
        """The covariates of the row whose window is due, checked finite (one line)."""
        values = self._row_covariates
        if values is None:  # pragma: no cover - process_row always sets them
            raise self._needs_rows("this tick")
        if not np.isfinite(values).all():
            k = int(np.argmax(~np.isfinite(values)))
            raise PipelineError(
                f"covariate {self.covariates[k]!r} is missing or not a finite number at "
                f"{self._row_time} ({values[k]!r}); covariates are not filled in"
            )
        return values

    def _needs_rows(self, what: str) -> PipelineError:
        if self.covariates:
            names = ", ".join(self.covariates)
            return PipelineError(
                f"the model's features.covariates {','.join(self.covariates)} come with each "
                f"candle: {what} needs whole rows (process_row(time, row) with Open, High, "
                f"Low, Close, Volume, {names}; or warm_up with candles that have those columns)"
            )
        groups = ",".join(self.pipeline.features.groups)
        return PipelineError(
            f"the model's features.groups {groups} read OHLCV candles: {what} needs whole "
            "rows (process_row(time, (open, high, low, close, volume)), or warm_up with "
            "candles or (n, 5) rows)"
        )

    def warm_up(self, closes: Any) -> int:
        """Bring a fresh system to the state it would have after pushing ``closes``.

        Vectorized: the buffer gets only the last samples it needs (in the same emission
        phase), and the features of the last ``seq_len`` due windows are computed in one
        ``transform`` call.

        Args:
            closes: The history, oldest first: its closes ``(n,)``, its rows ``(n, 5)``
                (Open, High, Low, Close, Volume), or a candles DataFrame. An OHLCV model
                needs rows or candles.

        Returns:
            The number of feature vectors now in the ring (``seq_len`` when the next
            emitting tick will predict).

        Raises:
            RuntimeError: The system has already processed ticks.
            PipelineError: Closes only for an OHLCV model or a model with covariates
                (it needs candles with those columns), or candles it cannot read.
        """
        if self.tick >= 0:
            raise RuntimeError("warm_up needs a fresh System (call reset() first)")
        covariates = None
        if hasattr(closes, "columns"):  # a candles DataFrame
            from finance_demo.dataset import covariates_of, feature_inputs

            covariates = covariates_of(closes, self.pipeline.features)
            data = feature_inputs(closes, self.pipeline.features) if len(closes) else None
            if data is None:
                data = np.empty((0, *self.input_buffer.channel_shape))
        elif self.covariates:
            raise self._needs_rows("warm_up")
        else:
            data = np.asarray(closes, dtype=np.float64)
            if self.needs_ohlcv and (data.ndim != 2 or data.shape[1] != 5):
                raise self._needs_rows("warm_up")
            if not self.needs_ohlcv:
                data = data[:, 3] if data.ndim == 2 and data.shape[1] == 5 else data.reshape(-1)
        n = len(data)
        p = self.pipeline
        b, s, seq_len = p.buffer_size, p.step_size, p.seq_len
        rows = data.reshape(n, *self.input_buffer.channel_shape)
        self.tick = n - 1
        if n < b:
            self.input_buffer.extend(rows)
            return 0
        windows = (n - b) // s + 1
        keep = min(seq_len, windows)
        last_end = b - 1 + (windows - 1) * s  # tick of the last due window
        start = last_end - (keep - 1) * s - (b - 1)
        if covariates is not None:
            from finance_demo.dataset import check_covariates

            ends = start + b - 1 + np.arange(keep) * s
            check_covariates(covariates, ends, closes.index, self.covariates)
            covariates = covariates[start : last_end + 1]
        feats = self.modules["features"].transform(
            data[start : last_end + 1], b, stride=s, covariates=covariates
        )
        self.ring.extend(feats)
        # Push the tail that keeps the emission phase: drop a multiple of step_size.
        drop = ((n - b) // s) * s
        self.input_buffer.extend(rows[drop:])
        return len(self.ring)

    def reset(self) -> None:
        """Empty the buffer and the ring of feature vectors."""
        super().reset()
        self.ring.reset()
        self.tick = -1


_ROW_KEYS = ("Open", "High", "Low", "Close", "Volume")


def _row_values(row: Any) -> np.ndarray:
    """``(Open, High, Low, Close, Volume)`` of one candle as a float64 array of 5."""
    if hasattr(row, "keys"):
        try:
            row = [row[k] for k in _ROW_KEYS]
        except KeyError as exc:
            raise ValueError(f"a candle row needs {', '.join(_ROW_KEYS)}; no {exc}") from None
    try:
        values = np.asarray(row, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(
            f"a candle row must be 5 numbers (Open, High, Low, Close, Volume), got "
            f"{type(row).__name__}"
        ) from None
    if values.shape != (5,):
        raise ValueError(
            f"a candle row must be 5 numbers (Open, High, Low, Close, Volume), got {values.size}"
        )
    return values


def _row_with_covariates(row: Any, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(Open..Volume, covariates)`` of one row of a model with covariates."""
    if hasattr(row, "keys"):
        values = _row_values(row)
        missing = [k for k in names if k not in row.keys()]
        if missing:
            raise PipelineError(
                f"the model needs covariate {missing[0]!r} in each row (features.covariates "
                f"{','.join(names)}); the row has no such key"
            )
        cov = np.empty(len(names))
        for k, name in enumerate(names):
            try:
                cov[k] = float(row[name])
            except (TypeError, ValueError):
                cov[k] = np.nan  # not a number: refused where the features read it
        return values, cov
    want = len(_ROW_KEYS) + len(names)
    try:
        flat = np.asarray(row, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        flat = None
    if flat is None or flat.shape != (want,):
        raise ValueError(
            f"a candle row of this model must be {want} numbers (Open, High, Low, Close, "
            f"Volume, {', '.join(names)})"
        )
    return flat[: len(_ROW_KEYS)], flat[len(_ROW_KEYS) :]
