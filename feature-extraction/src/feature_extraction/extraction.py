"""``FeatureExtraction``: six trend and spectrum features of a price window."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from feature_extraction._groups import series_groups, window_groups
from feature_extraction._kernels import series_features, window_features
from feature_extraction.config import OHLCV, FeatureConfig

__all__ = ["FeatureExtraction"]

# Windows per batch in ``transform``: small enough for the temporaries to stay in cache.
_CHUNK = 8192
#: Windows per batch of the other groups (a few vectors of this length per group).
_GROUP_CHUNK = 16384
#: Threads for ``transform`` on long series (numpy releases the GIL in its kernels).
_THREADS = max(1, min(4, os.cpu_count() or 1))


def _run(fill: Any, starts: range) -> None:
    """Call ``fill(a)`` for every chunk start, on ``_THREADS`` threads when there are several.

    The chunks are independent and numpy releases the GIL inside its kernels; each chunk's
    numbers do not depend on the split.
    """
    workers = min(_THREADS, len(starts))
    if workers <= 1:
        for a in starts:
            fill(a)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(fill, starts))


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

    def __init__(
        self,
        window_size: int = 5,
        normalize: str | None = "last",
        groups: Any = ("trend_fft",),
        covariates: Any = (),
    ) -> None:
        self.config = cfg = FeatureConfig(
            window_size=window_size, normalize=normalize, groups=groups, covariates=covariates
        )
        # per-call constants of the live path
        self._ohlcv = cfg.needs_ohlcv
        self._others = [g for g in cfg.groups if g != "trend_fft"]
        self._trend = "trend_fft" in cfg.groups
        self._cov = bool(cfg.covariates)
        self._checks: dict[int, list[tuple[list[int], bool, str]]] = {}

    @classmethod
    def from_config(cls, config: FeatureConfig) -> FeatureExtraction:
        """Build the extractor of a :class:`~feature_extraction.FeatureConfig`.

        Args:
            config: The settings.

        Returns:
            An extractor whose ``config`` equals ``config``.
        """
        if not isinstance(config, FeatureConfig):
            raise TypeError(f"config must be a FeatureConfig, got {type(config).__name__}")
        return cls(**config.to_dict())

    @property
    def groups(self) -> tuple[str, ...]:
        """The selected feature groups, in output order."""
        return self.config.groups

    @property
    def needs_ohlcv(self) -> bool:
        """Whether the input is OHLCV candles ``(B, 5)`` rather than prices."""
        return self.config.needs_ohlcv

    @property
    def covariates(self) -> tuple[str, ...]:
        """The covariate columns, in output order (the last ``len(covariates)`` features)."""
        return self.config.covariates

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
        """Names of the features of one input (one channel, or one OHLCV series), in order."""
        return self.config.feature_names(len(OHLCV) if self.needs_ohlcv else 1)

    @property
    def n_features(self) -> int:
        """Features of one input: one channel, or one OHLCV series (6 by default)."""
        return len(self.feature_names)

    def channel_feature_names(self, channels: int) -> list[str]:
        """Return the output names for ``channels`` channels, e.g. ``ch1_slope``, channel-major.

        Args:
            channels: Number of channels ``k`` (5 for OHLCV groups).

        Returns:
            The names, in the order of ``execute``'s output.
        """
        return self.config.feature_names(channels)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings; ``FeatureExtraction(**d)`` rebuilds the extractor."""
        return self.config.to_dict()

    def __repr__(self) -> str:
        groups = "" if self.groups == ("trend_fft",) else f", groups={self.groups!r}"
        if self.covariates:
            groups += f", covariates={self.covariates!r}"
        return (
            f"FeatureExtraction(window_size={self.window_size}, normalize={self.normalize!r}"
            f"{groups})"
        )

    def _covariate_values(self, values: Any, n: int | None) -> np.ndarray | None:
        """The covariates as float64 ``(k,)`` (``n`` None) or ``(n, k)``, checked finite."""
        names = self.config.covariates
        if not names:
            if values is not None and np.size(values):
                raise ValueError("covariates given, but the config has no covariates")
            return None
        if values is None:
            raise ValueError(
                f"the config has covariates {', '.join(names)}: pass their values (covariates=...)"
            )
        try:
            v = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"covariates must be numbers ({', '.join(names)}), got {type(values).__name__}"
            ) from None
        shape = (len(names),) if n is None else (n, len(names))
        if n is not None and v.ndim == 1 and len(names) == 1:
            v = v.reshape(-1, 1)
        if v.shape != shape:
            raise ValueError(
                f"covariates must have shape {shape} ({', '.join(names)}), got {v.shape}"
            )
        return v

    def _check_covariates_finite(self, v: np.ndarray) -> None:
        """Refuse a NaN or inf covariate of one window (one line naming it)."""
        if not np.isfinite(v).all():
            k = int(np.argmax(~np.isfinite(v)))
            raise ValueError(f"covariate {self.config.covariates[k]!r} is {float(v[k])!r}")

    def _check_length(self, length: int, what: str) -> None:
        self.config.check_window(length, what)

    def _value_checks(self, channels: int) -> list[tuple[list[int], bool, str]]:
        """``(channels, strictly positive, why)`` of the values the groups cannot take."""
        cfg = self.config
        close_groups = [g for g in cfg.groups if g not in ("trend_fft", "range_vol", "volume")]
        checks: list[tuple[list[int], bool, str]] = []
        if cfg.needs_ohlcv:
            if "range_vol" in cfg.groups:
                checks.append(([0, 1, 2, 3], True, "range_vol needs positive Open/High/Low/Close"))
            if "volume" in cfg.groups:
                checks.append(([4], False, "volume needs a Volume >= 0"))
            if close_groups:
                checks.append(([3], True, f"{close_groups[0]} needs positive closes"))
        elif close_groups:
            checks.append((list(range(channels)), True, f"{close_groups[0]} needs positive prices"))
        return checks

    def _check_values(self, block: np.ndarray, where: str) -> None:
        """Refuse the prices the selected groups cannot take (one line naming the first).

        ``block`` is ``(n, k)``: the window's (or the covered history's) rows.
        """
        k = block.shape[1]
        checks = self._checks.get(k)
        if checks is None:
            checks = self._checks[k] = self._value_checks(k)
        for channels, strict, why in checks:
            lo, hi = channels[0], channels[-1] + 1  # contiguous channels: a view, no copy
            values = block[:, lo:hi]
            low = values.min()  # NaN and inf are refused before
            refused = low <= 0 if strict else low < 0
            if refused:
                bad = ~(values > 0) if strict else ~(values >= 0)
                row, k = np.argwhere(bad)[0]
                channel = channels[int(k)]
                raise ValueError(
                    f"{where} {int(row)} (channel {channel}) has "
                    f"{float(block[row, channel])!r}: group {why}"
                )

    def _ohlcv_shape(self, shape: tuple[int, ...], name: str) -> None:
        if len(shape) != 2 or shape[1] != len(OHLCV):
            needing = ", ".join(g.name for g in self.config.group_specs if g.needs_ohlcv)
            raise ValueError(
                f"groups {needing} need OHLCV candles: {name} must have shape (n, 5) "
                f"(Open, High, Low, Close, Volume), got {shape}"
            )

    def _window_channel(self, x: np.ndarray, ohlcv: np.ndarray | None) -> np.ndarray:
        """The features of one channel's window ``x`` (the closes when ``ohlcv``)."""
        cfg = self.config
        if not self._others:
            return window_features(x, cfg.window_size, cfg.normalize == "last")
        parts = dict(zip(self._others, window_groups(self._others, x, ohlcv), strict=True))
        if self._trend:
            parts["trend_fft"] = window_features(x, cfg.window_size, cfg.normalize == "last")
        if len(cfg.groups) == 1:
            return parts[cfg.groups[0]]
        return np.concatenate([parts[g] for g in cfg.groups])

    def execute(self, data: Any, covariates: Any = None) -> np.ndarray:
        """Return the features of one window (the live path).

        Args:
            data: The window, oldest first: shape ``(B,)``, ``(B, 1)`` or ``(B, k)``; with
                OHLCV groups ``(B, 5)`` candles (Open, High, Low, Close, Volume).
            covariates: With ``config.covariates``: their values at the window's last
                candle, ``len(covariates)`` finite numbers in the config's order (they
                are appended to the features as they are).

        Returns:
            A float64 array of ``n_features`` values (channel-major for ``k`` channels;
            the covariates last).

        Raises:
            ValueError: The window has the wrong shape, is too short, holds NaN or inf, or
                (``normalize="last"``) its last price is zero or negative, or a price that
                a selected group cannot take (a close <= 0 for the log-return groups);
                missing, misshapen, NaN or inf covariates.
        """
        if covariates is None and not self._cov:
            return self._execute(data)
        cov = self._covariate_values(covariates, None)
        out = self._execute(data)  # the groups' features
        if cov is None:
            return out
        self._check_covariates_finite(cov)
        return np.concatenate([out, cov])

    def _execute(self, data: Any) -> np.ndarray:
        """The groups' features of one window (:meth:`execute` without the covariates)."""
        x = np.asarray(data, dtype=np.float64)
        cfg = self.config
        ohlcv = self._ohlcv
        if ohlcv:
            self._ohlcv_shape(x.shape, "the window")
        elif x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]  # one channel (what a Buffer of closes gives): the 1-D path
        if x.ndim not in (1, 2):
            raise ValueError(f"a window must have shape (B,) or (B, k), got {x.shape}")
        self._check_length(x.shape[0], "window")
        if not np.isfinite(x).all():
            row, channel = _bad_position(x.reshape(len(x), -1))
            raise ValueError(f"window holds NaN or inf at position {row} (channel {channel})")
        normalize = self._trend and cfg.normalize == "last"
        last = x[-1, 3] if ohlcv else x[-1]
        if normalize and not (last > 0).all():
            raise ValueError(
                f"last price of the window is {float(np.min(last))!r}: normalize='last' "
                "needs a positive price"
            )
        if self._others:
            self._check_values(x.reshape(len(x), -1), "window position")
        if ohlcv:
            return self._window_channel(np.ascontiguousarray(x[:, 3]), x)
        if x.ndim == 1:
            return self._window_channel(x, None)
        return np.concatenate([self._window_channel(col, None) for col in x.T])

    def transform(
        self, closes: Any, buffer_size: int, stride: int = 1, covariates: Any = None
    ) -> np.ndarray:
        """Return the features of every window of a history at once (the batch path).

        Window ``i`` ends at tick ``e = buffer_size - 1 + i * stride``; its row equals
        ``execute(closes[i * stride : i * stride + buffer_size], covariates[e])`` exactly.

        Args:
            closes: Prices, oldest first: shape ``(T,)`` or ``(T, k)``; with OHLCV groups
                ``(T, 5)`` candles (Open, High, Low, Close, Volume).
            buffer_size: Window length ``B``.
            stride: Ticks between consecutive windows (``>= 1``).
            covariates: With ``config.covariates``: ``(T, len(covariates))`` values, one
                row per tick of ``closes``; only the rows where a window ends are read
                (they must be finite).

        Returns:
            A float64 array ``(n_windows, n_features)``, ``n_windows = (T - B) // stride + 1``.

        Raises:
            ValueError: Bad ``buffer_size``/``stride``, too few prices, NaN or inf inside a
                window, (``normalize="last"``) a window ending on a price <= 0, or a price
                that a selected group cannot take; missing, misshapen, NaN or inf
                covariates where a window ends.
        """
        if covariates is None and not self._cov:
            return self._transform(closes, buffer_size, stride)
        n_ticks = len(np.asarray(closes)) if np.ndim(closes) else 0
        cov = self._covariate_values(covariates, n_ticks)
        out = self._transform(closes, buffer_size, stride)
        if cov is None:
            return out
        ends = cov[int(buffer_size) - 1 :: int(stride)][: len(out)]
        if not np.isfinite(ends).all():
            row, k = np.argwhere(~np.isfinite(ends))[0]
            tick = int(buffer_size) - 1 + int(row) * int(stride)
            raise ValueError(
                f"covariate {self.config.covariates[int(k)]!r} is {float(ends[row, k])!r} at "
                f"tick {tick} (the end of a window)"
            )
        return np.concatenate([out, ends], axis=1)

    def _transform(self, closes: Any, buffer_size: int, stride: int) -> np.ndarray:
        """The groups' features of every window (:meth:`transform` without the covariates)."""
        for name, value in (("buffer_size", buffer_size), ("stride", stride)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        buffer_size, stride = int(buffer_size), int(stride)
        cfg = self.config
        c = np.asarray(closes, dtype=np.float64)
        if cfg.needs_ohlcv:
            self._ohlcv_shape(c.shape, "closes")
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
        normalize = cfg.normalize == "last"
        if normalize and "trend_fft" in cfg.groups:
            ends = covered[buffer_size - 1 :: stride]
            if cfg.needs_ohlcv:
                ends = ends[:, 3:4]
            if not (ends > 0).all():
                row, channel = np.argwhere(~(ends > 0))[0]
                tick = buffer_size - 1 + int(row) * stride
                channel = 3 if cfg.needs_ohlcv else int(channel)
                raise ValueError(
                    f"window ending at tick {tick} (channel {channel}) has last price "
                    f"{float(covered[tick, channel])!r}: normalize='last' needs a positive price"
                )
        if cfg.groups != ("trend_fft",):
            self._check_values(covered, "tick")
        if cfg.needs_ohlcv:
            return self._series_channel(
                np.ascontiguousarray(covered[:, 3]), covered, buffer_size, stride
            )
        parts = [
            self._series_channel(np.ascontiguousarray(col), None, buffer_size, stride)
            for col in covered.T
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def _series_channel(
        self, series: np.ndarray, ohlcv: np.ndarray | None, buffer_size: int, stride: int
    ) -> np.ndarray:
        """Every window's features of one channel (``series``: the closes when ``ohlcv``).

        Each group writes its columns of one preallocated output (no concatenation).
        """
        cfg = self.config
        n = (series.shape[0] - buffer_size) // stride + 1
        widths = [len(g.features) for g in cfg.group_specs]
        out = np.empty((n, sum(widths)))
        views, start = {}, 0
        for g, width in zip(cfg.groups, widths, strict=True):
            views[g] = out[:, start : start + width]
            start += width
        if "trend_fft" in cfg.groups:
            series_features(
                series,
                buffer_size,
                stride,
                cfg.window_size,
                cfg.normalize == "last",
                _CHUNK,
                _THREADS,
                out=views["trend_fft"],
            )
        others = [g for g in cfg.groups if g != "trend_fft"]
        if others:
            series_groups(
                others,
                series,
                ohlcv,
                buffer_size,
                stride,
                _GROUP_CHUNK,
                _run,
                outs=[views[g] for g in others],
            )
        return out
