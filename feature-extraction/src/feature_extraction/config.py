"""The configuration of the feature extractor: a frozen, validated dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

__all__ = ["FEATURE_NAMES", "NORMALIZE_CHOICES", "FeatureConfig", "Normalize"]

#: The six features of one channel, in output order.
FEATURE_NAMES: tuple[str, ...] = ("ma", "slope", "slope_std", "freq_idx", "freq_mag", "mean_mag")

#: Values of ``normalize``: divide by the window's last value, or keep raw prices.
Normalize = Literal["last", "none"]

#: Accepted values of ``normalize`` (``None`` is also accepted and stored as ``"none"``).
NORMALIZE_CHOICES: tuple[str, ...] = get_args(Normalize)


#: Longest moving average (the buffer's own cap on a window).
MAX_WINDOW_SIZE = 1_000_000


def _shown(value: Any) -> str:
    """Show ``value`` in a one-line error message, bounded.

    Scalars by a short ``repr``, huge integers by their size, containers by type and
    length: never the ``repr`` of a whole structure.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {int(value.bit_length() * 0.30103) + 1} digits"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    size = f" of {len(value)}" if isinstance(value, (list, tuple, dict, set, frozenset)) else ""
    return f"a {type(value).__name__}{size}"


@dataclass(frozen=True)
class FeatureConfig:
    """Settings of :class:`~feature_extraction.FeatureExtraction`.

    ``window_size`` is an ``int`` (never a bool or a float such as ``3.0``).

    Args:
        window_size: Length of the moving average, 1 to 1000000.
        normalize: "last" divides each window by its last value before the features are
            taken (they then do not depend on the price level); "none" keeps raw prices
            (the seed's definition; None is accepted and stored as "none").

    Raises:
        ValueError: A field has a bad value; the message starts with the field's name.

    Examples:
        >>> FeatureConfig(window_size=3).min_window
        4
        >>> FeatureConfig(normalize=None).to_dict()
        {'window_size': 5, 'normalize': 'none'}
    """

    window_size: int = 5
    normalize: Normalize = "last"

    def __post_init__(self) -> None:
        size = self.window_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"window_size must be an integer >= 1, got {_shown(size)}")
        if size > MAX_WINDOW_SIZE:
            raise ValueError(f"window_size must be at most {MAX_WINDOW_SIZE}, got {_shown(size)}")
        if self.normalize is None:
            object.__setattr__(self, "normalize", "none")
        if not isinstance(self.normalize, str) or self.normalize not in NORMALIZE_CHOICES:
            raise ValueError(
                f"normalize must be one of {', '.join(NORMALIZE_CHOICES)}, "
                f"got {_shown(self.normalize)}"
            )

    @property
    def min_window(self) -> int:
        """Fewest points a window needs: ``max(3, window_size + 1)``.

        The moving average of a window of ``B`` points has ``B - window_size + 1``
        values, and its gradient needs at least two of them.
        """
        return max(3, self.window_size + 1)

    def n_features(self, channels: int = 1) -> int:
        """Features of a window with ``channels`` channels: ``6 * channels``."""
        return len(FEATURE_NAMES) * channels

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-able dict (``FeatureConfig.from_dict`` rebuilds it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Build a config from a mapping of field names (strict: no other container or key).

        Args:
            data: Field names to values (missing ones keep their defaults).

        Returns:
            The validated config.

        Raises:
            ValueError: An unknown key or a bad value.
        """
        if not isinstance(data, dict):
            raise ValueError(
                f"FeatureConfig needs a mapping of field names, got {type(data).__name__}"
            )
        names = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            shown = sorted(
                k if isinstance(k, str) and k.isprintable() and len(k) <= 40 else _shown(k)
                for k in unknown[:1000]
            )
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise ValueError(
                f"unknown FeatureConfig field(s): {', '.join(shown[:5])}{more} "
                f"(known: {', '.join(names)})"
            )
        return cls(**data)
