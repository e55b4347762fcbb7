"""Forecast metrics on log returns: point errors, direction, skill and interval scores.

All functions take array-likes of equal shape (any shape, flattened), average over every
element and return a Python float. Formulas (``y`` outcome, ``ŷ`` prediction, ``[l, u]``
interval, ``α = 1 - level``):

- ``mae = mean(|y - ŷ|)``
- ``rmse = sqrt(mean((y - ŷ)²))``
- ``direction_accuracy = mean((ŷ > 0) == (y > 0))``: a direction is "up" or "not up"
  (a zero return is not up), so that ``always_up_accuracy = mean(y > 0)`` is exactly the
  accuracy of always predicting up. The one definition of both: the training summary,
  the live loop's running metrics and the backtest all use these.
- ``skill = 1 - mae(y, ŷ) / mae(y, 0)``: against persistence, i.e. a zero predicted
  return (the price stays where it is); > 0 beats it; ``nan`` if every ``y`` is 0
- ``coverage = mean(l <= y <= u)``
- ``winkler_score = mean((u - l) + (2/α)(l - y)·[y < l] + (2/α)(y - u)·[y > u])``
  (lower is better; Winkler 1972, the interval score of Gneiting & Raftery 2007)
"""

from __future__ import annotations

import numpy as np

from model.calibration import check_level

__all__ = [
    "always_up_accuracy",
    "coverage",
    "direction_accuracy",
    "direction_hit",
    "direction_hits",
    "mae",
    "rmse",
    "skill",
    "winkler_losses",
    "winkler_score",
]


def _arrays(*arrays: object) -> list[np.ndarray]:
    out = [np.asarray(a, dtype=np.float64).ravel() for a in arrays]
    shapes = {np.shape(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"arrays must have the same shape, got {sorted(map(str, shapes))}")
    if out[0].size == 0:
        raise ValueError("arrays must not be empty")
    return out


def mae(y_true: object, y_pred: object) -> float:
    """Mean absolute error.

    Args:
        y_true: Outcomes.
        y_pred: Predictions, same shape.

    Returns:
        ``mean(|y_true - y_pred|)``.
    """
    y, p = _arrays(y_true, y_pred)
    return float(np.mean(np.abs(y - p)))


def rmse(y_true: object, y_pred: object) -> float:
    """Root mean squared error.

    Args:
        y_true: Outcomes.
        y_pred: Predictions, same shape.

    Returns:
        ``sqrt(mean((y_true - y_pred)**2))``.
    """
    y, p = _arrays(y_true, y_pred)
    return float(np.sqrt(np.mean((y - p) ** 2)))


def direction_hit(realized: float, predicted: float) -> bool:
    """One outcome: was its direction (up / not up) predicted right? ``(ŷ > 0) == (y > 0)``.

    Examples:
        >>> direction_hit(0.01, 0.002), direction_hit(0.0, -0.001), direction_hit(-0.01, 0.01)
        (True, True, False)
    """
    return bool((predicted > 0) == (realized > 0))


def direction_hits(y_true: object, y_pred: object) -> np.ndarray:
    """Element-wise :func:`direction_hit` of equal-shape arrays (flattened bools)."""
    y, p = _arrays(y_true, y_pred)
    return (p > 0) == (y > 0)


def direction_accuracy(y_true: object, y_pred: object) -> float:
    """Share of outcomes whose direction (up / not up) was predicted right.

    Args:
        y_true: Outcomes.
        y_pred: Predictions, same shape.

    Returns:
        ``mean((y_pred > 0) == (y_true > 0))``.

    Examples:
        >>> direction_accuracy([0.01, -0.02, 0.0, 0.03], [0.1, 0.1, -0.1, 0.2])
        0.75
    """
    return float(np.mean(direction_hits(y_true, y_pred)))


def always_up_accuracy(y_true: object) -> float:
    """Direction accuracy of always predicting up: the share of outcomes above zero.

    Examples:
        >>> always_up_accuracy([0.01, -0.02, 0.0, 0.03])
        0.5
    """
    (y,) = _arrays(y_true)
    return float(np.mean(y > 0))


def skill(y_true: object, y_pred: object) -> float:
    """Skill against persistence (a zero return): ``1 - MAE / MAE_zero_return``.

    Args:
        y_true: Outcomes (log returns).
        y_pred: Predictions, same shape.

    Returns:
        The skill score; ``nan`` when every outcome is zero.
    """
    y, p = _arrays(y_true, y_pred)
    reference = np.mean(np.abs(y))
    if reference == 0:
        return float("nan")
    return float(1.0 - np.mean(np.abs(y - p)) / reference)


def coverage(y_true: object, lower: object, upper: object) -> float:
    """Fraction of outcomes inside their closed interval.

    Args:
        y_true: Outcomes.
        lower: Lower bounds, same shape.
        upper: Upper bounds, same shape.

    Returns:
        ``mean(lower <= y_true <= upper)``.
    """
    y, lo, hi = _arrays(y_true, lower, upper)
    return float(np.mean((lo <= y) & (y <= hi)))


def winkler_losses(y_true: object, lower: object, upper: object, level: float) -> np.ndarray:
    """Per-sample Winkler scores (flattened); :func:`winkler_score` is their mean.

    Examples:
        >>> winkler_losses([0.0, 2.0], [-1.0, -1.0], [1.0, 1.0], 0.5).tolist()
        [2.0, 6.0]
    """
    alpha = 1.0 - check_level(level)
    y, lo, hi = _arrays(y_true, lower, upper)
    if np.any(lo > hi):
        raise ValueError("lower bounds must not exceed upper bounds")
    below = np.maximum(lo - y, 0.0)
    above = np.maximum(y - hi, 0.0)
    return (hi - lo) + (2.0 / alpha) * (below + above)


def winkler_score(y_true: object, lower: object, upper: object, level: float) -> float:
    """Mean Winkler (interval) score of central intervals at ``level``.

    Args:
        y_true: Outcomes.
        lower: Lower bounds, same shape.
        upper: Upper bounds, same shape.
        level: Nominal coverage of the intervals, in ``(0, 1)``.

    Returns:
        The mean score: the width plus ``2 / (1 - level)`` times any miss distance.

    Raises:
        ValueError: Bad level, shapes, or a lower bound above its upper bound.
    """
    return float(np.mean(winkler_losses(y_true, lower, upper, level)))
