"""``FeatureExtraction``: six trend and spectrum features of a price window."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from feature_extraction._kernels import series_features, window_features
from feature_extraction.config import FEATURE_NAMES, FeatureConfig

__all__ = ["FeatureExtraction"]

# Windows per batch in ``transform``: small enough for the temporaries to stay in cache.
_CHUNK = 8192
#: Threads for ``transform`` on long series (numpy releases the GIL in its kernels).
_THREADS = max(1, min(4, os.cpu_count() or 1))


def _bad_position(block: np.ndarray) -> tuple[int, int]:
    """Return (row, channel) of the first non-finite value of a 2-D block."""
    row, channel = np.argwhere(~np.isfinite(block))[0]
    return int(row), int(channel)


class FeatureExtraction:
    """Six features of a price window, one window at a time or a whole history at once.

    For a window ``x`` of ``B`` prices (divided by its last price when
    ``normalize="last"``), with ``ma = np.convolve(x, np.ones(w) / w, "valid")``,
    ``slope = np.gradient(ma)`` and ``mags = np.abs(np.fft.rfft(x))``:

    ========== ==============================================================
    ma         ``ma[-1]``: the last moving-average value
    slope      ``slope[-1]``: one-sided difference ``ma[-1] - ma[-2]``
    slope_std  ``np.std(slope)`` (population, ``ddof=0``)
    freq_idx   ``argmax(mags[1:]) + 1``: the dominant frequency, searched above
               the DC term, given as an index into the full ``rfft`` bins
               (``1 .. B // 2``; cycles per window); ties go to the lowest index
    freq_mag   ``mags[freq_idx]``
    mean_mag   ``np.mean(mags)`` over all ``B // 2 + 1`` bins, DC included
    ========== ==============================================================

    A window whose non-DC spectrum is numerically flat (every non-DC magnitude at or
    below ``1e-12`` times the DC magnitude), e.g. a constant window, gets
    ``freq_idx = 1`` and ``freq_mag = 0``. A constant window ``c`` therefore gives
    ``[1, 0, 0, 1, 0, B / (B // 2 + 1)]`` with ``normalize="last"`` and
    ``[c, 0, 0, 1, 0, c * B / (B // 2 + 1)]`` without.

    Multi-channel windows ``(B, k)`` (a buffer with ``channel_shape=(k,)``) give ``6 * k``
    values, channel-major: the six features of channel 0, then those of channel 1, ...
    (see :meth:`channel_feature_names`).

    Args:
        window_size: Moving-average length (``>= 1``).
        normalize: ``"last"`` (default) or ``"none"`` (or ``None``) for raw prices.

    Examples:
        >>> import numpy as np
        >>> fx = FeatureExtraction(window_size=3)
        >>> fx.execute(np.full(8, 50.0)).tolist()
        [1.0, 0.0, 0.0, 1.0, 0.0, 1.6]
        >>> fx.transform(np.arange(1.0, 11.0), buffer_size=8, stride=2).shape
        (2, 6)
    """

    def __init__(self, window_size: int = 5, normalize: str | None = "last") -> None:
        self.config = FeatureConfig(window_size=window_size, normalize=normalize)

    @property
    def window_size(self) -> int:
        """Moving-average length."""
        return self.config.window_size

    @property
    def normalize(self) -> str:
        """``"last"`` or ``"none"``."""
        return self.config.normalize

    @property
    def feature_names(self) -> list[str]:
        """Names of the six features of one channel, in output order."""
        return list(FEATURE_NAMES)

    @property
    def n_features(self) -> int:
        """Features per channel (6)."""
        return len(FEATURE_NAMES)

    def channel_feature_names(self, channels: int) -> list[str]:
        """Return the ``6 * channels`` output names, e.g. ``ch1_slope``, channel-major.

        Args:
            channels: Number of channels ``k``.

        Returns:
            The names, in the order of ``execute``'s output.
        """
        if channels == 1:
            return self.feature_names
        return [f"ch{c}_{name}" for c in range(channels) for name in FEATURE_NAMES]

    def to_dict(self) -> dict[str, Any]:
        """Return the settings; ``FeatureExtraction(**d)`` rebuilds the extractor."""
        return self.config.to_dict()

    def __repr__(self) -> str:
        return f"FeatureExtraction(window_size={self.window_size}, normalize={self.normalize!r})"

    def _check_length(self, length: int, what: str) -> None:
        need = self.config.min_window
        if length < need:
            raise ValueError(
                f"{what} of {length} points is too short: window_size={self.window_size} "
                f"needs at least {need} points"
            )

    def execute(self, data: Any) -> np.ndarray:
        """Return the features of one window (the live path).

        Args:
            data: The window, oldest first: shape ``(B,)``, ``(B, 1)`` or ``(B, k)``.

        Returns:
            A float64 array of 6 values, or ``6 * k`` for ``k`` channels (channel-major).

        Raises:
            ValueError: The window has the wrong shape, is too short, holds NaN or inf, or
                (``normalize="last"``) its last price is zero or negative.
        """
        x = np.asarray(data, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]  # one channel (what a Buffer of closes gives): the 1-D path
        if x.ndim not in (1, 2):
            raise ValueError(f"a window must have shape (B,) or (B, k), got {x.shape}")
        self._check_length(x.shape[0], "window")
        if not np.isfinite(x).all():
            row, channel = _bad_position(x.reshape(len(x), -1))
            raise ValueError(f"window holds NaN or inf at position {row} (channel {channel})")
        normalize = self.config.normalize == "last"
        last = x[-1]
        if normalize and not (last > 0).all():
            raise ValueError(
                f"last price of the window is {float(np.min(last))!r}: normalize='last' "
                "needs a positive price"
            )
        w = self.config.window_size
        if x.ndim == 1:
            return window_features(x, w, normalize)
        return np.concatenate([window_features(col, w, normalize) for col in x.T])

    def transform(self, closes: Any, buffer_size: int, stride: int = 1) -> np.ndarray:
        """Return the features of every window of a history at once (the batch path).

        Window ``i`` ends at tick ``buffer_size - 1 + i * stride``; its row equals
        ``execute(closes[i * stride : i * stride + buffer_size])`` exactly.

        Args:
            closes: Prices, oldest first: shape ``(T,)`` or ``(T, k)``.
            buffer_size: Window length ``B``.
            stride: Ticks between consecutive windows (``>= 1``).

        Returns:
            A float64 array ``(n_windows, 6 * k)``, ``n_windows = (T - B) // stride + 1``.

        Raises:
            ValueError: Bad ``buffer_size``/``stride``, too few prices, NaN or inf inside a
                window, or (``normalize="last"``) a window ending on a price <= 0.
        """
        for name, value in (("buffer_size", buffer_size), ("stride", stride)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        buffer_size, stride = int(buffer_size), int(stride)
        c = np.asarray(closes, dtype=np.float64)
        if c.ndim not in (1, 2):
            raise ValueError(f"closes must have shape (T,) or (T, k), got {c.shape}")
        c2 = c.reshape(len(c), -1)
        self._check_length(buffer_size, "buffer_size window")
        if len(c) < buffer_size:
            raise ValueError(f"closes has {len(c)} prices, fewer than buffer_size={buffer_size}")
        n = (len(c) - buffer_size) // stride + 1
        covered = c2[: (n - 1) * stride + buffer_size]
        if not np.isfinite(covered).all():
            row, channel = _bad_position(covered)
            raise ValueError(f"closes holds NaN or inf at tick {row} (channel {channel})")
        normalize = self.config.normalize == "last"
        if normalize:
            ends = covered[buffer_size - 1 :: stride]
            if not (ends > 0).all():
                row, channel = np.argwhere(~(ends > 0))[0]
                tick = buffer_size - 1 + int(row) * stride
                raise ValueError(
                    f"window ending at tick {tick} (channel {int(channel)}) has last price "
                    f"{float(ends[row, channel])!r}: normalize='last' needs a positive price"
                )
        w = self.config.window_size
        parts = [
            series_features(
                np.ascontiguousarray(col), buffer_size, stride, w, normalize, _CHUNK, _THREADS
            )
            for col in covered.T
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
