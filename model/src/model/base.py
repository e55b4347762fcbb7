"""What the forecaster kinds share: input checks, the validation split, intervals, files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from model.calibration import ConformalCalibration
from model.common import Forecast, ForecastChecks
from model.config import ModelConfig, TrainConfig
from model.errors import ModelFileError
from model.fileformat import ModelHeader, excerpt, read_header, read_tensors, write_file
from model.persistence import check_tensors, encode_file, header_fields

__all__ = ["ForecasterBase"]


class ForecasterBase(ForecastChecks):
    """Shared plumbing of the non-LSTM forecasters (the LSTM, ``Model``, has its own).

    A subclass sets ``kind``, ``config`` (a ``ModelConfig``: ``input_dim``, ``seq_len``,
    ``horizons``), implements ``_mean_sigma(X)`` (float64 ``(N, H)`` mean and sigma of a
    checked batch), ``_parts()`` (tensors and kind config for the file) and
    ``_from_header(header)``.
    """

    kind = ""
    config: ModelConfig

    def _init_state(self, config: ModelConfig) -> None:
        if config.extra_heads:
            head = config.extra_heads[0]
            raise ValueError(
                f"the {head} head (heads: [return, {head}]) is built by the lstm "
                f"kind only, not by {type(self).__name__}"
            )
        self.config = config
        self.metadata: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.training_summary: dict[str, Any] = {}
        self.calibration = ConformalCalibration(None)
        self.versions: dict[str, str] = {}
        self.created: str | None = None

    @property
    def is_trained(self) -> bool:
        """Whether ``fit`` ran (or a trained forecaster was loaded)."""
        return bool(self.training_summary)

    # -- checks ---------------------------------------------------------------------------

    def _split(
        self, X: Any, y: Any, config: TrainConfig, X_val: Any, y_val: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Checked training and validation parts (the last ``val_fraction`` by default)."""
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val must be given together")
        if X_val is None:
            n_val = round(X.shape[0] * config.val_fraction)
            n_train = X.shape[0] - n_val
            if n_val < 1 or n_train < 2:
                raise ValueError(
                    f"too few samples ({X.shape[0]}) for a validation part of {config.val_fraction}"
                )
            return X[:n_train], y[:n_train], X[n_train:], y[n_train:]
        X_val = self._check_X(X_val, "X_val")
        y_val = self._check_y(y_val, X_val.shape[0], "y_val")
        if X_val.shape[1] != X.shape[1]:
            raise ValueError("X_val must have the same seq_len as X")
        if X.shape[0] < 2 or X_val.shape[0] < 1:
            raise ValueError("need at least 2 training and 1 validation sample")
        return X, y, X_val, y_val

    def _check_seq(self, seq: Any) -> np.ndarray:
        seq = np.asarray(seq)
        if seq.ndim != 2 or seq.shape[1] != self.config.input_dim or seq.shape[0] == 0:
            raise ValueError(
                f"seq must have shape (seq_len, {self.config.input_dim}), got {seq.shape}"
            )
        return self._check_X(seq[None], "seq")

    # -- inference ------------------------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        """Mean log returns of a batch, ``(N, H)``.

        Args:
            X: ``(N, seq_len, input_dim)`` features.

        Returns:
            ``(N, H)`` float64.
        """
        return self._mean_sigma(self._check_X(X))[0]

    def forecast(self, X: Any, level: float = 0.9) -> Forecast:
        """Mean, sigma and calibrated interval ``mean ± q·sigma`` of a batch.

        Args:
            X: ``(N, seq_len, input_dim)`` features.
            level: Interval coverage in ``(0, 1)``.

        Returns:
            A ``Forecast`` of ``(N, H)`` arrays.
        """
        return self._with_interval(*self._mean_anchored(self._check_X(X)), level)

    def forecast_one(self, seq: Any, level: float = 0.9) -> Forecast:
        """The same for one sequence (the live path).

        Args:
            seq: ``(seq_len, input_dim)`` features.
            level: Interval coverage in ``(0, 1)``.

        Returns:
            A ``Forecast`` of ``(H,)`` arrays.
        """
        mean, sigma = self._mean_anchored(self._check_seq(seq))
        f = self._with_interval(mean, sigma, level)
        return Forecast(f.mean[0], f.sigma[0], f.lower[0], f.upper[0])

    def execute(self, seq: Any) -> np.ndarray:
        """Mean log returns of one sequence, ``(H,)``.

        Args:
            seq: ``(seq_len, input_dim)`` features.

        Returns:
            ``(H,)`` float64.
        """
        return self._mean_sigma(self._check_seq(seq))[0][0]

    # -- persistence ----------------------------------------------------------------------

    def _parts(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        raise NotImplementedError

    def _calibration_tensor(self) -> np.ndarray:
        scores = self.calibration.scores
        return np.zeros((0, self.config.n_outputs)) if scores is None else scores

    def to_bytes(self) -> bytes:
        """The model file's bytes (``save`` writes them atomically).

        Returns:
            A format-2 file.
        """
        tensors, kind_config = self._parts()
        fields = header_fields(self.metadata, self.training_summary, self.history)
        return encode_file(self.config, tensors, fields, self.kind, kind_config)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the forecaster to one format-2 file, atomically.

        Args:
            path: Destination.

        Returns:
            The path written.

        Raises:
            ModelFileError: Cannot write there.
            ValueError: ``metadata`` is not JSON-able or the header is over 1 MiB.
        """
        return write_file(path, self.to_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike) -> ForecasterBase:
        """Load a model file of this class's kind (``model.load_forecaster``: any kind).

        Args:
            path: The model file.

        Returns:
            The forecaster.

        Raises:
            ModelFileError: Missing, corrupt, unsafe, another kind or incompatible.
        """
        header = read_header(path)
        if header.kind not in cls._kinds():
            raise ModelFileError(
                f"{header.path} holds a {header.kind!r} forecaster, not a {cls.__name__}: "
                "load it with model.load_forecaster"
            )
        return cls._from_header(header)

    @classmethod
    def _kinds(cls) -> tuple[str, ...]:
        return (cls.kind,)

    @classmethod
    def _from_header(cls, header: ModelHeader) -> ForecasterBase:
        raise NotImplementedError

    def _restore_common(self, header: ModelHeader, arrays: dict[str, np.ndarray]) -> None:
        """Calibration, metadata, training records and versions from a checked file."""
        scores = arrays["calibration"]
        if (scores < 0).any():
            raise ModelFileError(
                f"corrupt model file {header.path}: calibration scores must be >= 0"
            )
        self.calibration = ConformalCalibration(scores if scores.shape[0] else None)
        self.metadata = header.metadata
        self.training_summary = header.training.get("summary", {})
        self.history = header.training.get("history", [])
        self.versions = header.versions
        self.created = header.created


def read_checked(
    header: ModelHeader, expected: dict[str, tuple[str, tuple[int, ...]]], what: str
) -> dict[str, np.ndarray]:
    """Check the stored tensors against ``expected``, then read them (all finite).

    Args:
        header: From ``read_header`` (or narrowed to one forecaster).
        expected: Name -> ``(dtype, shape)`` (``-1``: any length).
        what: What the expectation comes from, for messages.

    Returns:
        Name -> array.
    """
    check_tensors(header, expected, what)
    return read_tensors(header)


def kind_config_field(header: ModelHeader, key: str, cls: Any) -> Any:
    """Build ``cls`` from ``header.kind_config[key]``, one ``ModelFileError`` line if bad.

    Args:
        header: The checked header.
        key: The entry of ``kind_config``.
        cls: A config class with a strict ``from_dict``.

    Returns:
        The config.
    """
    if key not in header.kind_config:
        raise ModelFileError(f"corrupt model file {header.path}: kind_config lacks {key!r}")
    try:
        return cls.from_dict(header.kind_config[key])
    except (TypeError, ValueError) as e:
        text = " ".join(str(e).split())[:160]
        raise ModelFileError(f"incompatible model file {header.path}: bad {key} ({text})") from None


def unexpected_keys(header: ModelHeader, known: set[str]) -> None:
    """Refuse ``kind_config`` keys outside ``known`` (one line).

    Args:
        header: The checked header.
        known: The keys this kind writes.
    """
    extra = sorted(set(header.kind_config) - known)
    if extra:
        raise ModelFileError(
            f"corrupt model file {header.path}: kind_config has unknown key(s) {excerpt(extra)}"
        )
