"""Numeric kernels shared by the live path (one window) and the batch path (a history).

Both paths run the same element-wise operations in the same order on the same numbers,
so ``transform`` reproduces ``execute`` bit for bit (not merely within a tolerance):

* the moving average is ``(x[j] + x[j+1] + ... + x[j+w-1]) / w``, summed left to right;
  the batch path forms it once for the whole series (every window shares it) instead
  of once per window — no cumulative sum, so no precision is lost on long series;
* the slope is ``np.gradient`` of that average: central differences ``(f[j+1] -
  f[j-1]) / 2`` inside, one-sided differences at both edges; the batch path takes the
  central differences once for the whole series and patches the two edges per window;
* ``slope_std`` is a two-pass population standard deviation whose sums run strictly
  left to right over the window (``np.add.accumulate`` on one window; on a batch, one
  vector operation per window position across all windows at once, which needs no
  copy of the overlapping slope rows and no broadcasting);
* the spectrum is ``np.fft.rfft`` (pocketfft gives the same bits for a row alone or in
  a batch of rows); ``mean_mag`` sums the magnitudes with ``np.einsum`` (the same loop
  for one row or a batch);
* ``normalize="last"``: every feature except the frequency index is homogeneous of
  degree one in the window, so the raw features are divided by the last price at the
  end (five divisions per window instead of ``B``). This equals dividing first up to
  rounding (~1e-16 relative).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["FLAT_SPECTRUM_RTOL", "series_features", "window_features"]

#: A non-DC magnitude at or below this fraction of the DC magnitude counts as zero.
FLAT_SPECTRUM_RTOL = 1e-12

# Columns of the raw 6-vector that scale with the price level (all but freq_idx).
_SCALED = (0, 1, 2, 4, 5)


def _moving_average(x: np.ndarray, w: int) -> np.ndarray:
    """Return the ``w``-point moving average along the last axis (``mode="valid"``)."""
    n = x.shape[-1] - w + 1
    total = x[..., 0:n] + x[..., 1 : n + 1] if w > 1 else x[..., 0:n].copy()
    for j in range(2, w):
        total += x[..., j : j + n]
    total /= w
    return total


def window_features(x: np.ndarray, w: int, normalize: bool) -> np.ndarray:
    """Return the 6 features of one validated raw window ``x`` of shape ``(B,)``.

    The live path: scalar arithmetic where it saves numpy calls, the same operations
    in the same order as :func:`series_features`.

    Args:
        x: The window, oldest first.
        w: Moving-average length.
        normalize: Divide by the last value.

    Returns:
        A ``(6,)`` float64 array.
    """
    ma = _moving_average(x, w)
    m = ma.shape[0]
    slope = np.empty(m)
    inner = slope[1 : m - 1]
    np.subtract(ma[2:], ma[: m - 2], out=inner)
    inner /= 2.0
    slope[0] = ma[1] - ma[0]
    slope[m - 1] = last_slope = ma[m - 1] - ma[m - 2]
    mean = np.add.accumulate(slope)[m - 1] / m  # sequential sum, as in series_features
    d = slope - mean
    d *= d
    std = np.sqrt(np.add.accumulate(d)[m - 1] / m)
    mags = np.abs(np.fft.rfft(x))
    mean_mag = np.einsum("i->", mags) / mags.shape[0]
    idx = int(mags[1:].argmax()) + 1
    dom = mags[idx]
    if dom <= FLAT_SPECTRUM_RTOL * mags[0]:
        idx, dom = 1, 0.0
    if normalize:
        p = x[-1]
        return np.array([ma[m - 1] / p, last_slope / p, std / p, idx, dom / p, mean_mag / p])
    return np.array([ma[m - 1], last_slope, std, idx, dom, mean_mag])


def series_features(
    series: np.ndarray,
    buffer_size: int,
    stride: int,
    w: int,
    normalize: bool,
    chunk: int,
    threads: int = 1,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Return the features of every window of one validated raw series ``(T,)``.

    Window ``i`` is ``series[i*stride : i*stride + buffer_size]``; its row equals
    :func:`window_features` of that window bit for bit.

    Args:
        series: The prices, oldest first.
        buffer_size: Window length ``B``.
        stride: Ticks between window starts.
        w: Moving-average length.
        normalize: Divide by each window's last value.
        chunk: Windows per batch (bounds the temporary memory, keeps it in cache).
        threads: Chunks computed at once on that many threads.
        out: A ``(n_windows, 6)`` float64 array (or view) to write into.

    Returns:
        A ``(n_windows, 6)`` float64 array (``out`` when given).
    """
    n = (series.shape[0] - buffer_size) // stride + 1
    m = buffer_size - w + 1
    ma = _moving_average(series, w)  # shared by all windows
    central = np.zeros_like(ma)  # central[j] = (ma[j+1] - ma[j-1]) / 2
    np.subtract(ma[2:], ma[:-2], out=central[1:-1])
    central[1:-1] /= 2.0
    step = np.subtract(ma[1:], ma[:-1])  # step[j] = ma[j+1] - ma[j]: the one-sided edges
    windows = sliding_window_view(series, buffer_size)[::stride]
    if out is None:
        out = np.empty((n, 6))

    wide = out.strides[0] != out.shape[1] * out.itemsize

    def fill(a: int) -> None:
        """Compute the rows of the chunk of windows starting at window ``a``."""
        b = min(a + chunk, n)
        nc = b - a
        s0 = a * stride
        span = (nc - 1) * stride + 1

        def at(arr: np.ndarray, j: int) -> np.ndarray:
            """``arr[start + j]`` for the start of each window of the chunk."""
            return arr[s0 + j : s0 + j + span : stride]

        # slope of the windows at position j: step (j = 0), central (0 < j < m-1), step
        slopes = [at(step, 0)] + [at(central, j) for j in range(1, m - 1)] + [at(step, m - 2)]
        mean, dev, var = np.empty(nc), np.empty(nc), np.empty(nc)
        np.add(slopes[0], slopes[1], out=mean)
        for col in slopes[2:]:
            mean += col
        mean /= m
        np.subtract(slopes[0], mean, out=var)
        var *= var
        for col in slopes[1:]:
            np.subtract(col, mean, out=dev)
            dev *= dev
            var += dev
        var /= m
        # when ``out`` is a few columns of a wider array: the chunk's rows in a compact
        # buffer, copied into ``out`` in one pass at the end (its rows touched once)
        part = np.empty((nc, 6)) if wide else out[a:b]
        part[:, 0] = at(ma, m - 1)
        part[:, 1] = slopes[-1]
        np.sqrt(var, out=part[:, 2])
        mags = np.abs(np.fft.rfft(windows[a:b], axis=-1))
        total = np.einsum("ij->i", mags)
        total /= mags.shape[1]
        part[:, 5] = total
        idx = mags[:, 1:].argmax(axis=-1)
        idx += 1
        dom = mags[np.arange(nc), idx]
        flat = dom <= FLAT_SPECTRUM_RTOL * mags[:, 0]
        if flat.any():
            idx[flat] = 1
            dom[flat] = 0.0
        part[:, 3] = idx
        part[:, 4] = dom
        if normalize:
            p = at(series, buffer_size - 1)
            for j in _SCALED:
                part[:, j] /= p
        if wide:
            out[a:b] = part

    starts = range(0, n, chunk)
    workers = min(threads, len(starts))
    if workers <= 1:
        for a in starts:
            fill(a)
    else:
        # The chunks are independent and numpy releases the GIL inside these kernels,
        # so threads use every core; each chunk's numbers do not depend on the split.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(fill, starts))
    return out
