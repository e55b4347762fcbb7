"""What every forecaster kind shares and needs no torch: ``Forecast`` and the input checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model.calibration import ConformalCalibration
from model.config import ModelConfig

__all__ = ["Forecast", "ForecastChecks"]

#: Floor of an anchor volatility (a flat window's 0 would make the blended sigma 0).
_TINY_SIGMA = 1e-12


@dataclass(frozen=True)
class Forecast:
    """Predictive distribution summary, in log-return units.

    Attributes:
        mean: Predicted mean log return, ``(N, H)`` (or ``(H,)`` from ``forecast_one``).
        sigma: Predicted standard deviation, same shape.
        lower: Lower interval bound, same shape.
        upper: Upper interval bound, same shape.
        p_up: Probability that the return is above 0, same shape, from the direction
            head (``ModelConfig.heads``); ``None`` for a model without it.
        trend: The trend head's score in [-1, 1] per horizon (> 0: up; near 1: a move
            large against the horizon's usual size), same shape; ``None`` without it.
    """

    mean: np.ndarray
    sigma: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    p_up: np.ndarray | None = None
    trend: np.ndarray | None = None


class ForecastChecks:
    """Input checks and the calibrated interval shared by every forecaster kind.

    The class using it has ``config`` (a ``ModelConfig``) and ``calibration`` (a
    ``ConformalCalibration``).
    """

    config: ModelConfig
    calibration: Any

    def _mean_sigma(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    @property
    def horizons(self) -> tuple[int, ...]:
        """The forecast horizons (ticks), one output column each."""
        return self.config.horizons

    def _check_X(self, X: Any, name: str = "X") -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[2] != self.config.input_dim or X.shape[1] == 0:
            raise ValueError(
                f"{name} must have shape (N, seq_len, {self.config.input_dim}), got {X.shape}"
            )
        if not np.issubdtype(X.dtype, np.number) or not np.isfinite(X).all():
            raise ValueError(f"{name} must contain finite numbers only")
        return X

    def _check_y(self, y: Any, n: int, name: str = "y") -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        h = self.config.n_outputs
        if y.ndim == 1 and h == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape != (n, h):
            raise ValueError(f"{name} must have shape ({n},) or ({n}, {h}), got {y.shape}")
        if not np.isfinite(y).all():
            raise ValueError(f"{name} must contain finite numbers only")
        return y

    def _anchor(self, sigma: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``sigma`` blended with the anchor feature (``ModelConfig.sigma_anchor``).

        ``sqrt(sigma * v * sqrt(h))`` per horizon ``h``, ``v`` the anchor feature at the
        last timestep of each sequence (``X`` is ``(N, seq_len, input_dim)`` or one
        ``(seq_len, input_dim)`` sequence); ``sigma`` unchanged without an anchor.
        """
        index = getattr(self.config, "sigma_anchor_index", None)
        if index is None:
            return sigma
        v = np.asarray(X[..., -1, index], dtype=np.float64)
        root_h = np.sqrt(np.asarray(self.config.horizons, dtype=np.float64))
        anchor = np.maximum(v[..., None] * root_h, _TINY_SIGMA)
        return np.sqrt(sigma * anchor.reshape(np.shape(sigma)))

    def _mean_anchored(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``_mean_sigma`` of a checked batch, its sigma blended with the anchor."""
        mean, sigma = self._mean_sigma(X)
        return mean, self._anchor(sigma, X)

    def _with_interval(self, mu: np.ndarray, sigma: np.ndarray, level: float) -> Forecast:
        """The calibrated interval ``mu ± q·sigma`` around a forecast."""
        q = self.calibration.quantile(level, self.config.n_outputs)
        return Forecast(mu, sigma, mu - q * sigma, mu + q * sigma)

    def calibrate(self, X: Any, y: Any) -> None:
        """(Re)calibrate the intervals on held-out data: conformal scores ``|y-mu|/sigma``.

        Args:
            X: ``(n, seq_len, input_dim)`` features not used for fitting the weights.
            y: ``(n,)`` or ``(n, H)`` outcomes.

        Raises:
            ValueError: Bad shapes or values.
        """
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        mean, sigma = self._mean_anchored(X)
        self.calibration = ConformalCalibration.from_residuals(y, mean, sigma)

    def update_calibration(self, X: Any, y: Any, window: int | None = 250) -> None:
        """Add newly observed outcomes to the calibration, keeping the latest ``window``.

        Call it as outcomes arrive (e.g. once a month in a walk-forward run): intervals then
        track the recent ratio of errors to predicted sigma (rolling split conformal).

        Args:
            X: ``(m, seq_len, input_dim)`` features of the new outcomes.
            y: ``(m,)`` or ``(m, H)`` the outcomes.
            window: How many of the most recent scores to keep (``None``: all).

        Raises:
            ValueError: Bad shapes, values or window.
        """
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        mean, sigma = self._mean_anchored(X)
        self.calibration = self.calibration.update(np.abs(y - mean) / sigma, window)

    # -- inference ----------------------------------------------------------------------
