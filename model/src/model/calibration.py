"""Split-conformal calibration of intervals normalized by the predicted sigma."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from model.config import check_level

__all__ = ["ConformalCalibration", "check_level"]


class ConformalCalibration:
    """Normalized scores ``|y - mu| / sigma`` of held-out outcomes, one column per horizon.

    Scores are kept in time order (``scores``) so that ``update`` can append new outcomes
    and keep only the most recent ``window`` (rolling recalibration when the market's
    regime drifts away from the calibration period); ``sorted_scores`` serves quantiles.

    The interval at ``level`` is ``mu ± q * sigma`` with ``q`` the
    ``ceil((n + 1) * level)``-th smallest score (the finite-sample correction of split
    conformal prediction). That guarantees coverage ``>= level`` when calibration and test
    points are exchangeable; if ``(n + 1) * level > n`` the calibration set is too small
    for that level and ``q`` is infinite. Without scores (an uncalibrated model), ``q`` is
    the Gaussian quantile ``z_{(1+level)/2}`` of the variance head.

    Args:
        scores: ``(n, H)`` normalized scores, oldest first, or ``None``.

    Examples:
        >>> cal = ConformalCalibration(np.arange(1.0, 10.0).reshape(9, 1))
        >>> cal.quantile(0.8).tolist()   # ceil(10 * 0.8) = 8th smallest
        [8.0]
        >>> cal.quantile(0.95).tolist()  # ceil(10 * 0.95) = 10 > 9 scores
        [inf]
    """

    def __init__(self, scores: np.ndarray | None = None) -> None:
        self.scores: np.ndarray | None = None
        self.sorted_scores: np.ndarray | None = None
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float64)
            if scores.ndim != 2 or scores.shape[0] == 0:
                raise ValueError(f"scores must be a non-empty (n, H) array, got {scores.shape}")
            if np.isnan(scores).any() or (scores < 0).any():
                raise ValueError("scores must be non-negative numbers")
            self.scores = scores
            self.sorted_scores = np.sort(scores, axis=0)

    def update(self, scores: np.ndarray, window: int | None = None) -> ConformalCalibration:
        """Return a calibration with ``scores`` appended, keeping the last ``window``.

        Args:
            scores: ``(m, H)`` new normalized scores, oldest first.
            window: Keep only the most recent ``window`` scores (``None``: keep all).

        Returns:
            The new calibration (this one is not modified).

        Raises:
            ValueError: ``window`` is not a positive integer, or bad scores.
        """
        if window is not None and (
            isinstance(window, bool) or not isinstance(window, int) or window < 1
        ):
            raise ValueError(f"window must be a positive integer, got {window!r}")
        scores = np.asarray(scores, dtype=np.float64)
        if self.scores is not None:
            scores = np.concatenate([self.scores, scores])
        if window is not None:
            scores = scores[-window:]
        return ConformalCalibration(scores)

    @classmethod
    def from_residuals(
        cls, y: np.ndarray, mean: np.ndarray, sigma: np.ndarray
    ) -> ConformalCalibration:
        """Compute the normalized scores of held-out predictions.

        Args:
            y: ``(n, H)`` outcomes.
            mean: ``(n, H)`` predicted means.
            sigma: ``(n, H)`` predicted standard deviations (positive).

        Returns:
            The calibration.
        """
        return cls(np.abs(y - mean) / sigma)

    @property
    def calibrated(self) -> bool:
        """Whether conformal scores are stored."""
        return self.scores is not None

    @property
    def size(self) -> int:
        """Number of calibration points (0 when uncalibrated)."""
        return 0 if self.scores is None else self.scores.shape[0]

    def quantile(self, level: float, n_outputs: int = 1) -> np.ndarray:
        """Return the sigma multiplier ``q`` per horizon for ``level``.

        Args:
            level: Nominal coverage in ``(0, 1)``.
            n_outputs: Horizons, used only when uncalibrated.

        Returns:
            ``(H,)`` multipliers (``inf`` where the calibration set is too small).
        """
        level = check_level(level)
        if self.scores is None:
            return np.full(n_outputs, NormalDist().inv_cdf((1 + level) / 2))
        n = self.sorted_scores.shape[0]
        k = math.ceil((n + 1) * level - 1e-9)
        if k > n:
            return np.full(self.sorted_scores.shape[1], np.inf)
        return self.sorted_scores[k - 1].copy()
