"""The configuration of the feature extractor: a frozen, validated dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["FEATURE_NAMES", "NORMALIZE_CHOICES", "FeatureConfig"]

#: The six features of one channel, in output order.
FEATURE_NAMES: tuple[str, ...] = ("ma", "slope", "slope_std", "freq_idx", "freq_mag", "mean_mag")

#: Accepted values of ``normalize``: divide by the window's last value, or raw prices.
NORMALIZE_CHOICES: tuple[str | None, ...] = ("last", None)


@dataclass(frozen=True)
class FeatureConfig:
    """Settings of :class:`~feature_extraction.FeatureExtraction`.

    Args:
        window_size: Length of the moving average (``>= 1``).
        normalize: ``"last"`` divides each window by its last value before the features
            are taken (they then do not depend on the price level); ``None`` keeps raw
            prices (the seed's definition).

    Raises:
        ValueError: A field has a bad value; the message names the field.

    Examples:
        >>> FeatureConfig(window_size=3).min_window
        4
        >>> FeatureConfig(normalize=None).to_dict()
        {'window_size': 5, 'normalize': None}
    """

    window_size: int = 5
    normalize: str | None = "last"

    def __post_init__(self) -> None:
        size = self.window_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"window_size must be an integer >= 1, got {size!r}")
        if self.normalize not in NORMALIZE_CHOICES:
            raise ValueError(f"normalize must be 'last' or None, got {self.normalize!r}")

    @property
    def min_window(self) -> int:
        """Fewest points a window needs: ``max(3, window_size + 1)``.

        The moving average of a window of ``B`` points has ``B - window_size + 1``
        values, and its gradient needs at least two of them.
        """
        return max(3, self.window_size + 1)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-able dict (``FeatureConfig(**d)`` rebuilds it)."""
        return asdict(self)
