"""Per-feature standardization fitted on the training part only."""

from __future__ import annotations

import numpy as np

__all__ = ["STD_FLOOR", "Standardizer"]

#: Smallest standard deviation used for scaling: a constant column maps to zero, not inf.
STD_FLOOR = 1e-8


class Standardizer:
    """``(x - mean) / std`` per last-axis column, with ``std`` floored at ``STD_FLOOR``.

    Args:
        mean: Per-column means.
        std: Per-column standard deviations (already floored).

    Examples:
        >>> s = Standardizer.fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
        >>> s.transform(np.array([[3.0, 5.0]])).tolist()
        [[1.0, 0.0]]
        >>> s.inverse(np.array([[1.0, 0.0]])).tolist()
        [[3.0, 5.0]]
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)

    @classmethod
    def fit(cls, data: np.ndarray) -> Standardizer:
        """Fit on ``data``: statistics over every axis but the last.

        Args:
            data: ``(..., k)`` array of finite values.

        Returns:
            The fitted standardizer.
        """
        flat = np.asarray(data, dtype=np.float64).reshape(-1, np.shape(data)[-1])
        return cls(flat.mean(axis=0), np.maximum(flat.std(axis=0), STD_FLOOR))

    @classmethod
    def identity(cls, k: int) -> Standardizer:
        """Return the standardizer that changes nothing (an untrained model uses it).

        Args:
            k: Number of columns.

        Returns:
            A standardizer with mean 0 and std 1.
        """
        return cls(np.zeros(k), np.ones(k))

    def transform(self, data: np.ndarray) -> np.ndarray:
        """Scale ``data``.

        Args:
            data: ``(..., k)`` values.

        Returns:
            ``(data - mean) / std``.
        """
        return (data - self.mean) / self.std

    def inverse(self, data: np.ndarray) -> np.ndarray:
        """Undo ``transform``.

        Args:
            data: ``(..., k)`` scaled values.

        Returns:
            ``data * std + mean``.
        """
        return data * self.std + self.mean
