"""``Model``: the LSTM's whole lifecycle — train, predict with intervals, save, load."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.calibration import ConformalCalibration
from model.common import Forecast, ForecastChecks
from model.config import ModelConfig, TrainConfig
from model.errors import ModelFileError
from model.fileformat import ModelHeader, read_header, write_file
from model.network import LSTMNetwork
from model.persistence import NET_PREFIX, decode, encode_file, header_fields, net_tensors
from model.scaling import Standardizer
from model.training import ProgressCallback, fit

__all__ = ["Forecast", "Model"]

_CHUNK = 8192  # rows per forward pass on the batch path (bounds memory)


@contextlib.contextmanager
def _training_context(seed: int, num_threads: int | None) -> Iterator[None]:
    """Seed torch and set threads; restore the caller's RNG and thread count afterwards.

    ``torch.use_deterministic_algorithms`` is not forced: the CPU kernels used here
    (LSTM, linear, Adam) already give the same bits run to run at a given thread count
    (a test checks it), and the flag cost 13-20 % of training throughput on 2 cores.
    """
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def _sigmoid(logit: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-logit))`` in float64, without overflow warnings."""
    z = logit.astype(np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


class Model(ForecastChecks):
    """An LSTM that forecasts the mean and the scale of future log returns.

    The ``"lstm"`` implementation of the ``Forecaster`` protocol (``model.forecaster``).

    ``Model()`` builds the default network untrained (identity scaling, Gaussian
    intervals); ``train`` fits it, ``execute``/``forecast_one`` serve one sequence (live
    path), ``predict``/``forecast`` a batch, ``save``/``Model.load`` persist it.

    Args:
        config: The architecture (default ``ModelConfig()``).
        **overrides: Fields replaced in ``config``, e.g. ``hidden_dim=16``.

    Raises:
        ValueError: An unknown field or a bad value.

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 10, 6)).astype("float32")
        >>> y = 0.01 * X[:, -1, 0] + 0.001 * rng.normal(size=200)
        >>> from model import TrainConfig
        >>> m = Model(hidden_dim=8, num_layers=1)
        >>> history = m.train(X, y, TrainConfig(epochs=3, seed=0))
        >>> len(history), m.execute(X[0]).shape
        (3, (1,))
        >>> lower, upper = m.predict_interval(X[:5], level=0.9)
        >>> bool(np.all(lower < upper))
        True
    """

    #: The forecaster kind recorded in the model file.
    kind = "lstm"

    def __init__(self, config: ModelConfig | None = None, **overrides: Any) -> None:
        config = ModelConfig() if config is None else config
        if not isinstance(config, ModelConfig):
            raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}")
        if overrides:
            unknown = sorted(set(overrides) - set(ModelConfig.__dataclass_fields__))
            if unknown:
                raise ValueError(f"unknown ModelConfig field(s): {', '.join(unknown)}")
            config = dataclasses.replace(config, **overrides)
        self.config = config
        with torch.random.fork_rng(devices=[]):  # deterministic, global RNG untouched
            torch.manual_seed(0)
            self.network = LSTMNetwork(config).eval()
        self.metadata: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.training_summary: dict[str, Any] = {}
        self.calibration = ConformalCalibration(None)
        self.versions: dict[str, str] = {}
        self.created: str | None = None
        self._set_scalers(
            Standardizer.identity(config.input_dim), Standardizer.identity(config.n_outputs)
        )

    # -- scaling and input checks ---------------------------------------------------

    def _set_scalers(self, x_scaler: Standardizer, y_scaler: Standardizer) -> None:
        self.x_scaler, self.y_scaler = x_scaler, y_scaler
        self._one_buf: np.ndarray | None = None  # live-path input buffer, reused per call
        self._one_tensor: torch.Tensor | None = None

    @property
    def is_trained(self) -> bool:
        """Whether ``train`` ran (or a trained model was loaded)."""
        return bool(self.history)

    def _scaled_tensor(self, X: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.x_scaler.transform(X).astype(np.float32))

    # -- training ---------------------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any,
        config: TrainConfig | None = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        progress: ProgressCallback | None = None,
    ) -> list[dict[str, Any]]:
        """Train from scratch (seeded), keep the best epoch, calibrate on validation.

        ``train`` is the same method (its historical name); ``fit`` is the ``Forecaster``
        protocol's.

        Without ``X_val``, the last ``config.val_fraction`` of ``X`` (time order, not
        shuffled) is the validation part. Feature and target scalers are fitted on the
        training part only. The loss is the Gaussian NLL (beta-NLL, ``config.beta``) of the
        scaled targets; Adam with ``weight_decay``, gradient clipping at ``grad_clip``, the
        learning rate halves on a validation plateau, and training stops after
        ``patience`` epochs without improvement, restoring the best weights. The same
        seed, data and thread count give bit-identical weights on CPU.

        Args:
            X: ``(N, seq_len, input_dim)`` features, oldest first.
            y: ``(N,)`` or ``(N, H)`` log returns, one column per horizon.
            config: The run's settings (``TrainConfig()`` when ``None``).
            X_val: Optional explicit validation features.
            y_val: Targets of ``X_val``.
            progress: ``progress(epoch, epochs, record)`` after each epoch.

        Returns:
            One record per epoch: ``epoch``, ``train_loss`` (the optimized, beta-weighted
            loss), ``val_loss`` (plain NLL), ``lr``, ``seconds``. With the direction head
            (``ModelConfig.heads``) the loss adds ``direction_weight * BCE`` (the
            target: the unscaled return above 0), with the trend head ``trend_weight *
            MSE`` (the target: ``tanh(y / s)``); ``train_loss``/``val_loss`` are those
            totals and the record also has ``train_loss_return``, ``val_loss_return``
            and ``train_loss_<head>``, ``val_loss_<head>`` for each extra head.

        Raises:
            ValueError: Bad shapes, non-finite values, too few samples or a bad setting.
        """
        if config is None:
            config = TrainConfig()
        elif not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        settings = config
        val_fraction = config.val_fraction
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val must be given together")
        if X_val is None:
            n_val = round(X.shape[0] * val_fraction)
            n_train = X.shape[0] - n_val
            if n_val < 1 or n_train < 2:
                raise ValueError(
                    f"too few samples ({X.shape[0]}) for a validation part of {val_fraction}"
                )
            X, X_val, y, y_val = X[:n_train], X[n_train:], y[:n_train], y[n_train:]
        else:
            X_val = self._check_X(X_val, "X_val")
            y_val = self._check_y(y_val, X_val.shape[0], "y_val")
            if X_val.shape[1] != X.shape[1]:
                raise ValueError("X_val must have the same seq_len as X")
            if X.shape[0] < 2 or X_val.shape[0] < 1:
                raise ValueError("need at least 2 training and 1 validation sample")
        self._set_scalers(Standardizer.fit(X), Standardizer.fit(y))
        tensors = (
            self._scaled_tensor(X),
            torch.from_numpy(self.y_scaler.transform(y).astype(np.float32)),
            self._scaled_tensor(X_val),
            torch.from_numpy(self.y_scaler.transform(y_val).astype(np.float32)),
        )
        heads = self._head_targets(y, y_val)
        with _training_context(settings.seed, settings.num_threads):
            self.network = LSTMNetwork(self.config)
            history, best_epoch = fit(self.network, *tensors, settings, progress, heads=heads)
        self.network.eval()
        self.history = history
        self.training_summary = {
            "n_train": int(X.shape[0]),
            "n_val": int(X_val.shape[0]),
            "seq_len": int(X.shape[1]),
            "epochs_run": len(history),
            "best_epoch": best_epoch,
            "best_val_loss": history[best_epoch - 1]["val_loss"] if best_epoch else None,
            "seconds": sum(r["seconds"] for r in history),
            "settings": dataclasses.asdict(settings),
            "n_calibration": int(X_val.shape[0]),
        }
        self.calibrate(X_val, y_val)
        return history

    train = fit

    def _head_targets(
        self, y: np.ndarray, y_val: np.ndarray
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The extra heads' training and validation targets, from the unscaled returns.

        ``direction``: 1.0 where the return is above 0 (the target scaler's shift would
        move the sign). ``trend``: ``tanh(y / s)``, ``s`` the training rows' standard
        deviation per horizon (the target scaler's), so the sign is the return's and 1
        means a move well beyond the horizon's usual size.
        """
        out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for head in self.config.extra_heads:
            pair = []
            for part in (y, y_val):
                if head == "direction":
                    target = part > 0
                else:
                    target = np.tanh(part / self.y_scaler.std)
                pair.append(torch.from_numpy(np.asarray(target, dtype=np.float32)))
            out[head] = (pair[0], pair[1])
        return out

    def _with_heads(self, f: Forecast, extra: dict[str, np.ndarray]) -> Forecast:
        """``f`` with the extra heads' outputs: ``p_up`` (direction), ``trend``."""
        fields: dict[str, np.ndarray] = {}
        if "direction" in extra:
            fields["p_up"] = _sigmoid(extra["direction"])
        if "trend" in extra:
            fields["trend"] = extra["trend"].astype(np.float64)
        return dataclasses.replace(f, **fields)

    def _forecast_batch(self, X: np.ndarray, level: float) -> Forecast:
        """``forecast`` of checked inputs, with each extra head's output (``p_up``, ``trend``)."""
        if not self.config.extra_heads:
            return self._with_interval(*self._mean_anchored(X), level)
        means, logvars = [], []
        extras: dict[str, list[np.ndarray]] = {h: [] for h in self.config.extra_heads}
        with torch.inference_mode():
            for i in range(0, X.shape[0], _CHUNK):
                mean, logvar, extra = self.network.forward_heads(
                    self._scaled_tensor(X[i : i + _CHUNK])
                )
                means.append(mean.numpy())
                logvars.append(logvar.numpy())
                for head, parts in extras.items():
                    parts.append(extra[head].numpy())
        mu, sigma = self._unscale(np.concatenate(means), np.concatenate(logvars))
        f = self._with_interval(mu, self._anchor(sigma, X), level)
        return self._with_heads(f, {h: np.concatenate(v) for h, v in extras.items()})

    def _mean_sigma(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        means, logvars = [], []
        with torch.inference_mode():
            for i in range(0, X.shape[0], _CHUNK):
                mean, logvar = self.network(self._scaled_tensor(X[i : i + _CHUNK]))
                means.append(mean.numpy())
                logvars.append(logvar.numpy())
        return self._unscale(np.concatenate(means), np.concatenate(logvars))

    def _unscale(self, mean: np.ndarray, logvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Network outputs (scaled units) → mean log return and sigma, float64."""
        mu = self.y_scaler.inverse(mean.astype(np.float64))
        sigma = np.exp(0.5 * logvar.astype(np.float64)) * self.y_scaler.std
        return mu, sigma

    def _forward_one(self, seq: Any, heads: bool = False) -> tuple[torch.Tensor, ...]:
        seq = np.asarray(seq)
        if seq.ndim != 2 or seq.shape[1] != self.config.input_dim or seq.shape[0] == 0:
            raise ValueError(
                f"seq must have shape (seq_len, {self.config.input_dim}), got {seq.shape}"
            )
        buf = self._one_buf
        if buf is None or buf.shape[1] != seq.shape[0]:
            buf = self._one_buf = np.empty((1, *seq.shape), dtype=np.float32)
            self._one_tensor = torch.from_numpy(buf)  # shares memory with buf
        # scaled in float64 and rounded once, exactly like the batch path: a near-constant
        # feature (tiny std) would amplify a float32 rounding of its mean
        np.divide(seq - self.x_scaler.mean, self.x_scaler.std, out=buf[0], casting="unsafe")
        if not np.isfinite(buf).all():
            raise ValueError("seq must contain finite numbers only")
        with torch.inference_mode():
            if heads:
                return self.network.forward_heads(self._one_tensor)
            return self.network(self._one_tensor)

    def execute(self, seq: Any) -> np.ndarray:
        """Predict the mean log return of one sequence (the live path).

        Args:
            seq: ``(seq_len, input_dim)`` features, oldest first.

        Returns:
            ``(H,)`` float64 mean log returns, one per horizon.

        Raises:
            ValueError: Bad shape or non-finite values.
        """
        mean, _ = self._forward_one(seq)
        return self.y_scaler.inverse(mean.numpy()[0].astype(np.float64))

    def forecast_one(self, seq: Any, level: float = 0.9) -> Forecast:
        """Mean, sigma and interval of one sequence in one forward pass (the live path).

        Args:
            seq: ``(seq_len, input_dim)`` features.
            level: Interval coverage in ``(0, 1)``.

        Returns:
            A ``Forecast`` of ``(H,)`` arrays (``p_up`` with the direction head, ``trend``
            with the trend head).
        """
        if not self.config.extra_heads:
            mean, logvar = self._forward_one(seq)
            mu, sigma = self._unscale(mean.numpy()[0], logvar.numpy()[0])
            return self._with_interval(mu, self._anchor(sigma, np.asarray(seq)), level)
        mean, logvar, extra = self._forward_one(seq, heads=True)
        mu, sigma = self._unscale(mean.numpy()[0], logvar.numpy()[0])
        f = self._with_interval(mu, self._anchor(sigma, np.asarray(seq)), level)
        return self._with_heads(f, {h: v.numpy()[0] for h, v in extra.items()})

    def predict(self, X: Any) -> np.ndarray:
        """Predict the mean log returns of a batch.

        Args:
            X: ``(N, seq_len, input_dim)`` features.

        Returns:
            ``(N, H)`` float64.
        """
        return self._mean_sigma(self._check_X(X))[0]

    def forecast(self, X: Any, level: float = 0.9) -> Forecast:
        """Mean, sigma and calibrated interval of a batch in one forward pass.

        Args:
            X: ``(N, seq_len, input_dim)`` features.
            level: Interval coverage in ``(0, 1)``.

        Returns:
            A ``Forecast`` of ``(N, H)`` arrays; the interval is ``mean ± q·sigma``;
            ``p_up`` (the direction head's ``P(return > 0)``) and ``trend`` (the trend
            head's score in [-1, 1]) when the model has those heads.
        """
        return self._forecast_batch(self._check_X(X), level)

    def predict_up(self, X: Any) -> np.ndarray:
        """The direction head's probability that each horizon's return is above 0.

        Args:
            X: ``(N, seq_len, input_dim)`` features.

        Returns:
            ``(N, H)`` float64 probabilities.

        Raises:
            ValueError: The model has no direction head, or bad input.
        """
        if self.network.direction is None:
            raise ValueError("this model has no direction head (ModelConfig.heads)")
        return self.forecast(X).p_up

    def predict_trend(self, X: Any) -> np.ndarray:
        """The trend head's score in [-1, 1] of each horizon's move.

        Args:
            X: ``(N, seq_len, input_dim)`` features.

        Returns:
            ``(N, H)`` float64 scores: ``tanh`` of the predicted return over the
            horizon's training standard deviation (see ``ModelConfig.heads``).

        Raises:
            ValueError: The model has no trend head, or bad input.
        """
        if self.network.trend is None:
            raise ValueError("this model has no trend head (ModelConfig.heads)")
        return self.forecast(X).trend

    def predict_interval(self, X: Any, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated interval bounds of a batch.

        Args:
            X: ``(N, seq_len, input_dim)`` features.
            level: Interval coverage in ``(0, 1)``.

        Returns:
            ``(lower, upper)``, each ``(N, H)``.
        """
        f = self.forecast(X, level)
        return f.lower, f.upper

    def attention_weights(self, X: Any) -> np.ndarray:
        """Attention weights over the timesteps (networks with ``attention=True``).

        Args:
            X: ``(N, seq_len, input_dim)`` features.

        Returns:
            ``(N, seq_len)`` weights (averaged over heads); each row sums to 1.

        Raises:
            ValueError: The network has no attention, or bad input.
        """
        X = self._check_X(X)
        if not self.config.attention:
            raise ValueError("this model has no attention (ModelConfig.attention=False)")
        with torch.inference_mode():
            _, _, weights = self.network(self._scaled_tensor(X), return_attention=True)
        return weights.numpy().astype(np.float64)

    # -- persistence --------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model to one format-2 file, atomically (see ``model.fileformat``).

        Args:
            path: Destination (conventionally ``*.pt``; the content is safetensors).

        Returns:
            The path written.

        Raises:
            ModelFileError: Cannot write there.
            ValueError: ``metadata`` is not JSON-able.
        """
        tensors, _ = self._parts()
        fields = header_fields(self.metadata, self.training_summary, self.history)
        data = encode_file(self.config, tensors, fields)
        return write_file(path, data)

    def _parts(self) -> tuple[dict[str, np.ndarray], None]:
        """The file's tensors (an LSTM has no ``kind_config``)."""
        scores = self.calibration.scores
        tensors = net_tensors(self.network.state_dict())
        scalers = {
            "x_mean": self.x_scaler.mean,
            "x_std": self.x_scaler.std,
            "y_mean": self.y_scaler.mean,
            "y_std": self.y_scaler.std,
        }
        tensors.update({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in scalers.items()})
        calibration = np.zeros((0, self.config.n_outputs)) if scores is None else scores
        tensors["calibration"] = np.ascontiguousarray(calibration, dtype=np.float64)
        return tensors, None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Model:
        """Load a format-2 model file, checking everything before building from it.

        Order: header (``read_header``), tensor shapes against the config (meta device,
        nothing allocated), values (finite, stds > 0, calibration >= 0), then a probe
        forward pass whose output must be finite. No pickle, no ``torch.load``.

        Args:
            path: The model file.

        Returns:
            The model, ready to predict.

        Raises:
            ModelFileError: Missing, truncated, corrupt, unsafe, format-1 or incompatible
                file (one line).
        """
        header = read_header(path)
        if header.kind != cls.kind:
            raise ModelFileError(
                f"{header.path} holds a {header.kind!r} forecaster, not an LSTM: load it "
                "with model.load_forecaster"
            )
        return cls._from_header(header)

    @classmethod
    def _from_header(cls, header: ModelHeader) -> Model:
        """Build the model from a checked header (see ``load``)."""
        arrays = decode(header)
        model = cls(header.config)
        state = {
            k[len(NET_PREFIX) :]: torch.from_numpy(v)
            for k, v in arrays.items()
            if k.startswith(NET_PREFIX)
        }
        model.network.load_state_dict(state, strict=True)
        model.network.eval()
        model._set_scalers(
            Standardizer(arrays["x_mean"], arrays["x_std"]),
            Standardizer(arrays["y_mean"], arrays["y_std"]),
        )
        scores = arrays["calibration"]
        model.calibration = ConformalCalibration(scores if scores.shape[0] else None)
        model.metadata = header.metadata
        model.training_summary = header.training.get("summary", {})
        model.history = header.training.get("history", [])
        model.versions = header.versions
        model.created = header.created
        probe = np.zeros((2, getattr(header.config, "seq_len", 20), header.config.input_dim))
        probe[1] = 1.0
        with np.errstate(all="ignore"):
            result = model.forecast(probe, 0.9)
        values = np.stack([result.mean, result.lower, result.upper])
        if not np.isfinite(values).all() or (result.lower > result.upper).any():
            raise ModelFileError(
                f"corrupt model file {header.path}: the network gives non-finite or "
                "inverted forecasts on a probe input"
            )
        return model

    def __repr__(self) -> str:
        state = "trained" if self.is_trained else "untrained"
        return f"Model({self.config}, {state})"
