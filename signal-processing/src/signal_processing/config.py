"""``BufferConfig``: the buffer's sizes, validated once (numpy-free, cheap to import)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["MAX_BUFFER_VALUES", "BufferConfig"]

#: Most values a buffer may hold: ``buffer_size * channels`` (the ring keeps twice as
#: many float64, 16 MB at the cap).
MAX_BUFFER_VALUES = 1_000_000


def _shown(value: Any) -> str:
    """Show ``value`` in a one-line error message, bounded.

    Scalars by a short ``repr``, huge integers by their size, containers by type and
    length: never the ``repr`` of a whole structure.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if int(value).bit_length() > 64:
            return f"an integer of {int(int(value).bit_length() * 0.30103) + 1} digits"
        return repr(int(value))
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    size = f" of {len(value)}" if isinstance(value, (list, tuple, dict, set, frozenset)) else ""
    return f"a {type(value).__name__}{size}"


def _check_count(name: str, value: Any, cap: int = MAX_BUFFER_VALUES) -> int:
    """The integer rule: an integer (not bool, not a float such as ``3.0``) in [1, cap]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {_shown(value)}")
    if value > cap:
        raise ValueError(f"{name} must be at most {cap}, got {_shown(value)}")
    return int(value)


def _check_shape(value: Any) -> tuple[int, ...]:
    words = "channel_shape must be a tuple of positive integers"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{words}, got {_shown(value)}")
    if len(value) > 8:
        raise ValueError(f"channel_shape must have at most 8 dimensions, got {len(value)}")
    for d in value:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
            raise ValueError(f"{words}, got {_shown(d)} in it")
        if d > MAX_BUFFER_VALUES:
            raise ValueError(
                f"channel_shape sizes must be at most {MAX_BUFFER_VALUES}, got {_shown(d)}"
            )
    return tuple(int(d) for d in value)


@dataclass(frozen=True)
class BufferConfig:
    """Sizes of a :class:`Buffer`.

    Sizes are integers (never a bool or a float such as ``3.0``), capped so that a
    config cannot ask for gigabytes: ``buffer_size * channels <= 1000000``.

    Args:
        buffer_size: Samples (closes) per window, 1 to 1000000.
        step_size: Pushes between two windows once the buffer is full (1 = a window
            every tick), 1 to 1000000.
        channel_shape: Shape of one sample, (1,) for a single price series; at most 8
            dimensions, buffer_size times their product at most 1000000.

    Raises:
        ValueError: A field has a bad value; the message starts with the field's name.

    Examples:
        >>> BufferConfig(buffer_size=4, step_size=2).channel_shape
        (1,)
        >>> BufferConfig().to_dict()
        {'buffer_size': 50, 'step_size': 1, 'channel_shape': [1]}
    """

    buffer_size: int = 50
    step_size: int = 1
    channel_shape: tuple[int, ...] = (1,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "buffer_size", _check_count("buffer_size", self.buffer_size))
        object.__setattr__(self, "step_size", _check_count("step_size", self.step_size))
        object.__setattr__(self, "channel_shape", _check_shape(self.channel_shape))
        if self.buffer_size * self.channels > MAX_BUFFER_VALUES:
            raise ValueError(
                f"buffer_size * channels must be at most {MAX_BUFFER_VALUES}, got "
                f"{self.buffer_size} * {self.channels}"
            )

    @property
    def channels(self) -> int:
        """Values per sample: the product of ``channel_shape``."""
        return math.prod(self.channel_shape)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-able dict (``BufferConfig.from_dict`` rebuilds it)."""
        return {
            "buffer_size": self.buffer_size,
            "step_size": self.step_size,
            "channel_shape": list(self.channel_shape),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BufferConfig:
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
                f"BufferConfig needs a mapping of field names, got {type(data).__name__}"
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
                f"unknown BufferConfig field(s): {', '.join(shown[:5])}{more} "
                f"(known: {', '.join(names)})"
            )
        return cls(**data)

    def windows_after(self, ticks: int) -> int:
        """Number of windows emitted after ``ticks`` pushes from empty.

        Args:
            ticks: Samples pushed since the buffer was created or reset.

        Returns:
            ``0`` before the buffer is full, then ``(ticks - B) // S + 1``.
        """
        if ticks < self.buffer_size:
            return 0
        return (ticks - self.buffer_size) // self.step_size + 1
