"""Running metrics of the live loop, updated one realized outcome at a time."""

from __future__ import annotations

import math

from model.metrics import direction_hit

__all__ = ["LiveMetrics"]


class LiveMetrics:
    """Accumulate MAE, direction accuracy and interval coverage in O(1) memory.

    Direction accuracy and always-up are ``model.metrics``' one definition (up / not up).

    Every update is one realized prediction: the predicted log return, the realized one
    and the interval bounds (log returns too). Persistence (predicting no change) is
    tracked beside it, so the MAE has a reference.

    Examples:
        >>> m = LiveMetrics()
        >>> m.update(0.01, 0.02, -0.01, 0.03)
        >>> m.update(0.01, -0.01, 0.0, 0.02)
        >>> m.count, m.mae, m.direction_accuracy, m.coverage
        (2, 0.015, 0.5, 0.5)
    """

    def __init__(self) -> None:
        self.count = 0
        self._abs_err = 0.0
        self._abs_persist = 0.0
        self._hits = 0
        self._up = 0
        self._covered = 0

    def update(self, predicted: float, realized: float, lower: float, upper: float) -> None:
        """Add one realized outcome.

        Args:
            predicted: Predicted log return.
            realized: Realized log return.
            lower: Lower interval bound (log return).
            upper: Upper interval bound (log return).
        """
        self.count += 1
        self._abs_err += abs(predicted - realized)
        self._abs_persist += abs(realized)
        self._hits += direction_hit(realized, predicted)
        self._up += direction_hit(realized, 1.0)  # the always-up forecast
        self._covered += lower <= realized <= upper

    def _ratio(self, total: float) -> float:
        return total / self.count if self.count else math.nan

    @property
    def mae(self) -> float:
        """Mean absolute error of the predicted log returns (NaN before any outcome)."""
        return self._ratio(self._abs_err)

    @property
    def mae_persistence(self) -> float:
        """MAE of predicting no change (the persistence reference)."""
        return self._ratio(self._abs_persist)

    @property
    def direction_accuracy(self) -> float:
        """Share of outcomes whose direction (up / not up) was predicted right."""
        return self._ratio(self._hits)

    @property
    def always_up(self) -> float:
        """Share of outcomes that went up (the hit rate of always predicting up)."""
        return self._ratio(self._up)

    @property
    def coverage(self) -> float:
        """Share of realized returns inside their prediction interval."""
        return self._ratio(self._covered)

    def to_dict(self) -> dict[str, float | int]:
        """Return the metrics as a JSON-able dict."""
        return {
            "outcomes": self.count,
            "mae": self.mae,
            "mae_persistence": self.mae_persistence,
            "direction_accuracy": self.direction_accuracy,
            "always_up": self.always_up,
            "coverage": self.coverage,
        }
