"""Kernels of the feature groups other than ``trend_fft``: one window, or a whole series.

Every group is computed in three stages, and the two paths share two of them:

1. **per-candle terms** (log returns, ``log(H/L)``...): element-wise numpy operations on
   contiguous arrays: on the window's candles (live) or once on the whole series (batch).
   An element-wise operation gives the same bits for a value wherever it sits in the array.
2. **window sums**, strictly left to right: ``np.add.accumulate`` on the window (live);
   one vector addition per window position across a chunk of windows (batch), with
   no copy of the overlapping windows. Two-pass standard deviations run the same way,
   and so do MACD and its signal line: their EMAs, started at the window's first close,
   are fixed weighted sums of the window's closes (weights computed once per ``B``).
3. **the finish** (``sqrt``, ratios, guards): one shared function on arrays, called on
   one-element arrays (live) or on a chunk (batch).

So ``transform`` equals ``execute`` bit for bit, which the tests check with
``np.array_equal``. Every group is scale-free: made of log returns, ratios of prices, or a
z-score of log volume, it does not depend on the price level (``normalize`` is not used).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["series_groups", "window_groups"]

_LN2x4 = 4.0 * math.log(2.0)
_GK = 2.0 * math.log(2.0) - 1.0
_LAGS = (1, 2, 5, 10)
_LAG_AT = np.array([-1 - lag for lag in _LAGS])
_RV = (5, 10, 20)
#: RiskMetrics' decay of the EWMA variance (daily data, J.P. Morgan 1996).
_EWMA_LAMBDA = 0.94
_RSI = 14
_BB = 20
_A = {n: 2.0 / (n + 1.0) for n in (12, 26, 9)}
_B = {n: 1.0 - a for n, a in _A.items()}
#: A log-volume standard deviation at or below this counts as zero (z-score 0).
_FLAT_VOLUME = 1e-10
#: A Bollinger standard deviation at or below this fraction of the mean counts as zero.
_FLAT_PRICE = 1e-12

# --- stage 3: the finish, shared ------------------------------------------------------


def _finish_range(s_hl2: np.ndarray, s_gk: np.ndarray, s_rs: np.ndarray, n: int) -> list:
    park = s_hl2 / n
    park /= _LN2x4
    gk = s_gk / n
    rs = s_rs / n
    return [np.sqrt(park), np.sqrt(np.maximum(gk, 0.0)), np.sqrt(np.maximum(rs, 0.0))]


def _finish_std(var: np.ndarray, n: int) -> np.ndarray:
    var = var / n
    return np.sqrt(var)


def _finish_z(last: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    dev = last - mean
    return np.divide(dev, std, out=np.zeros_like(dev), where=std > _FLAT_VOLUME)


def _finish_rsi(gain: np.ndarray, loss: np.ndarray) -> np.ndarray:
    some = loss > 0.0
    rs = np.divide(gain, loss, out=np.zeros_like(gain), where=some)
    rs += 1.0
    rsi = np.divide(100.0, rs)
    np.subtract(100.0, rsi, out=rsi)
    none = ~some
    if none.any():
        rsi[none] = np.where(gain[none] > 0.0, 100.0, 50.0)
    return rsi


def _finish_bb(last: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    lower = mean - 2.0 * std
    width = 4.0 * std
    return np.divide(
        last - lower, width, out=np.full_like(width, 0.5), where=std > _FLAT_PRICE * np.abs(mean)
    )


# --- stage 1: per-candle terms (the same functions on a window or a series) ------------


def _log_returns(x: np.ndarray) -> np.ndarray:
    """``log(x[p] / x[p-1])`` for ``p >= 1`` (length ``len(x) - 1``)."""
    return np.log(x[1:] / x[:-1])


def _range_terms(
    o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, out: np.ndarray | None = None
) -> tuple:
    """Per-candle terms of Parkinson, Garman-Klass, Rogers-Satchell (4 logs per candle).

    ``out``: a ``(3, n)`` array (rows contiguous) to write the three terms into.
    """
    lo_, lh, ll, lc = np.log(o), np.log(h), np.log(lo), np.log(c)
    if out is None:
        out = np.empty((3, o.shape[0]))
    hl = lh - ll
    hl2 = np.multiply(hl, hl, out=out[0])
    co = lc - lo_
    co *= co
    co *= _GK
    gk = np.multiply(0.5, hl2, out=out[1])
    gk -= co
    hc = np.subtract(lh, lc, out=out[2])
    hc *= lh - lo_
    lcl = ll - lc
    lcl *= ll - lo_
    hc += lcl
    return hl2, gk, hc


def _log_volume(v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.log1p(v, out=out)


def _gains_losses(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = x[1:] - x[:-1]
    return np.maximum(d, 0.0), np.maximum(-d, 0.0)


# --- the live path: one window ---------------------------------------------------------


def _lsum(a: np.ndarray) -> np.ndarray:
    """Left-to-right sum of a 1-D array, as a one-element array."""
    return np.add.accumulate(a)[-1:]


def _lstd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-pass population (mean, std) of a 1-D array, as one-element arrays."""
    n = a.shape[0]
    mean = _lsum(a) / n
    d = a - mean
    d *= d
    return mean, _finish_std(_lsum(d), n)


@functools.cache
def _ewma_weights(b: int) -> np.ndarray:
    """Weights of the ``b - 1`` squared log returns of a window, newest largest, sum 1.

    ``w[k] ~ lambda ** (b - 2 - k)``: the EWMA variance of the window's returns (started
    inside the window, so both paths see exactly the window), normalized by its total
    weight. Both paths take the same weighted sum left to right.
    """
    w = _EWMA_LAMBDA ** np.arange(b - 2, -1, -1, dtype=np.float64)
    w /= w.sum()
    w.flags.writeable = False
    return w


@functools.cache
def _macd_weights(b: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(wm, ws)`` with ``MACD = sum(wm * x)`` and ``signal = sum(ws * x)``.

    The EMAs start at the window's first close (``e[0] = x[0]``, ``e[j] = a x[j] + (1 - a)
    e[j-1]``), so every EMA of the window, and the signal EMA(9) of MACD = EMA12 - EMA26
    (itself started at ``MACD[0] = 0``), is a fixed linear combination of the ``B``
    closes: the recursion run once on coefficient vectors. Both paths take these same
    weighted sums left to right.
    """
    e12, e26, sig = np.zeros(b), np.zeros(b), np.zeros(b)
    e12[0] = e26[0] = 1.0
    for j in range(1, b):
        e12 *= _B[12]
        e12[j] += _A[12]
        e26 *= _B[26]
        e26[j] += _A[26]
        sig *= _B[9]
        sig += _A[9] * (e12 - e26)
    wm = e12 - e26
    for w in (wm, sig):
        w.flags.writeable = False
    return wm, sig


def window_groups(
    groups: Sequence[str], x: np.ndarray, ohlcv: np.ndarray | None = None
) -> list[np.ndarray]:
    """Return the features of one validated window, one array per group.

    Args:
        groups: Group names (``trend_fft`` excluded).
        x: The window's closes ``(B,)``, oldest first.
        ohlcv: The window's candles ``(B, 5)`` (needed by ``range_vol`` and ``volume``).

    Returns:
        One float64 array per group, in order.
    """
    out = []
    b = x.shape[0]
    lr: np.ndarray | None = None
    # the candle columns as contiguous rows, as the batch path reads them (so that
    # numpy's element-wise functions take the same contiguous code path on both)
    cols = np.ascontiguousarray(ohlcv.T) if ohlcv is not None else None
    for g in groups:
        if g == "returns":
            out.append(np.log(x[-1] / x[_LAG_AT]))
        elif g == "realized_vol":
            if lr is None:
                lr = _log_returns(x)
            out.append(np.concatenate([_lstd(lr[-n:])[1] for n in _RV]))
        elif g == "ewma_vol":
            if lr is None:
                lr = _log_returns(x)
            sq = lr * lr
            sq *= _ewma_weights(b)
            out.append(np.sqrt(_lsum(sq)))
        elif g == "range_vol":
            assert cols is not None
            hl2, gk, rs = _range_terms(cols[0], cols[1], cols[2], cols[3])
            out.append(np.concatenate(_finish_range(_lsum(hl2), _lsum(gk), _lsum(rs), b)))
        elif g == "volume":
            assert cols is not None
            lv = _log_volume(cols[4])
            mean, std = _lstd(lv)
            out.append(_finish_z(lv[-1:], mean, std))
        elif g == "technical":
            gain, loss = _gains_losses(x[-_RSI - 1 :])
            rsi = _finish_rsi(_lsum(gain), _lsum(loss))
            wm, ws = _macd_weights(b)
            p = x[-1:]
            macd = _lsum(x * wm) / p
            signal = _lsum(x * ws) / p
            mean, std = _lstd(x[-_BB:])
            out.append(np.concatenate([rsi, macd, signal, _finish_bb(p, mean, std)]))
        else:  # pragma: no cover - the config refuses unknown names
            raise ValueError(f"unknown feature group {g!r}")
    return out


# --- the batch path: every window of a series -------------------------------------------


def series_groups(
    groups: Sequence[str],
    series: np.ndarray,
    ohlcv: np.ndarray | None,
    buffer_size: int,
    stride: int,
    chunk: int,
    run: Callable[[Callable[[int], None], range], None],
    outs: Sequence[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Return the features of every window of one validated series, one array per group.

    Window ``i`` is ``series[i*stride : i*stride + buffer_size]``; its rows equal
    :func:`window_groups` of that window bit for bit.

    Args:
        groups: Group names (``trend_fft`` excluded).
        series: The closes ``(T,)``, contiguous.
        ohlcv: The candles ``(T, 5)`` (for ``range_vol`` and ``volume``).
        buffer_size: Window length ``B``.
        stride: Ticks between window starts.
        chunk: Windows per batch.
        run: ``run(fill, starts)`` calls ``fill(a)`` for every chunk start (serially or on
            threads).
        outs: One ``(n_windows, size)`` array (or view) per group to write into.

    Returns:
        One ``(n_windows, size)`` array per group, in order (``outs`` when given).
    """
    B = buffer_size
    T = series.shape[0]
    n = (T - B) // stride + 1
    # stage 1, once for the series, in pieces on the threads of ``run`` (element-wise, so
    # a value's bits do not depend on the piece it falls in); index p of a term array is
    # candle p (a term of two candles, like a log return, sits at the later one:
    # lr[p] = log(x[p] / x[p-1]), and lr[0] = NaN is never read). The three range_vol
    # terms, summed over the same positions, share one (3, T) array: one vector operation
    # per window position adds all three.
    need_lr = "realized_vol" in groups or "ewma_vol" in groups
    need_range = "range_vol" in groups
    need_lv = "volume" in groups
    need_gl = "technical" in groups
    if (need_range or need_lv) and ohlcv is None:  # pragma: no cover - checked upstream
        raise ValueError("range_vol and volume need OHLCV candles")
    lr = np.empty(T) if need_lr else None
    rng3 = np.empty((3, T)) if need_range else None
    lv = np.empty(T) if need_lv else None
    gain = np.empty(T) if need_gl else None
    loss = np.empty(T) if need_gl else None
    for arr in (lr, gain, loss):
        if arr is not None:
            arr[0] = np.nan
    piece = 1 << 16

    def terms(a: int) -> None:
        b = min(a + piece, T)
        lo = max(a, 1)
        if lr is not None and b > lo:
            np.log(series[lo:b] / series[lo - 1 : b - 1], out=lr[lo:b])
        if gain is not None and loss is not None and b > lo:
            d = series[lo:b] - series[lo - 1 : b - 1]
            np.maximum(d, 0.0, out=gain[lo:b])
            np.negative(d, out=d)
            np.maximum(d, 0.0, out=loss[lo:b])
        if rng3 is not None:
            assert ohlcv is not None
            cols = [np.ascontiguousarray(ohlcv[a:b, k]) for k in range(4)]
            _range_terms(*cols, out=rng3[:, a:b])
        if lv is not None:
            assert ohlcv is not None
            _log_volume(np.ascontiguousarray(ohlcv[a:b, 4]), out=lv[a:b])

    if need_lr or need_range or need_lv or need_gl:
        run(terms, range(0, T, piece))
    sizes = {
        "returns": 4, "realized_vol": 3, "range_vol": 3, "volume": 1, "technical": 4,
        "ewma_vol": 1,
    }  # fmt: skip
    sq = None
    if "ewma_vol" in groups:  # the squared log returns, element-wise like lr itself
        assert lr is not None
        sq = lr * lr
    if outs is None:
        outs = [np.empty((n, sizes[g])) for g in groups]

    def fill(a: int) -> None:
        b = min(a + chunk, n)
        nc = b - a
        s0 = a * stride
        span = (nc - 1) * stride + 1

        def at(arr: np.ndarray, j: int) -> np.ndarray:
            """``arr[..., start + j]`` for the start of each window of the chunk."""
            return arr[..., s0 + j : s0 + j + span : stride]

        def ssum(arr: np.ndarray, j0: int) -> np.ndarray:
            """Left-to-right sums of ``arr`` (rows) over window positions ``j0 .. B-1``."""
            if j0 == B - 1:
                return at(arr, j0).copy()
            acc = at(arr, j0) + at(arr, j0 + 1)
            for j in range(j0 + 2, B):
                acc += at(arr, j)
            return acc

        def sstd(arr: np.ndarray, j0: int) -> tuple[np.ndarray, np.ndarray]:
            """Two-pass population (mean, std) over window positions ``j0 .. B-1``."""
            m = B - j0
            mean = ssum(arr, j0)
            mean /= m
            var = at(arr, j0) - mean
            var *= var
            dev = np.empty(nc)
            for j in range(j0 + 1, B):
                np.subtract(at(arr, j), mean, out=dev)
                dev *= dev
                var += dev
            return mean, _finish_std(var, m)

        def wsum(arr: np.ndarray, w: np.ndarray, j0: int = 0) -> np.ndarray:
            """Left-to-right sums of ``w[j - j0] * arr`` over window positions ``j0 .. B-1``."""
            acc = at(arr, j0) * w[0]
            tmp = np.empty(nc)
            for j in range(j0 + 1, B):
                np.multiply(at(arr, j), w[j - j0], out=tmp)
                acc += tmp
            return acc

        for g, out in zip(groups, outs, strict=True):
            # when ``out`` is a few columns of a wider output: the group's rows in a compact
            # buffer, copied into ``out`` in one pass
            wide = out.strides[0] != out.shape[1] * out.itemsize
            part = np.empty((nc, out.shape[1])) if wide else out[a:b]
            if g == "returns":
                last = at(series, B - 1)
                for k, lag in enumerate(_LAGS):
                    part[:, k] = np.log(last / at(series, B - 1 - lag))
            elif g == "realized_vol":
                assert lr is not None
                for k, m in enumerate(_RV):
                    part[:, k] = sstd(lr, B - m)[1]
            elif g == "ewma_vol":
                assert sq is not None  # the B - 1 returns sit at positions 1 .. B-1
                part[:, 0] = np.sqrt(wsum(sq, _ewma_weights(B), 1))
            elif g == "range_vol":
                assert rng3 is not None
                s_hl2, s_gk, s_rs = ssum(rng3, 0)
                for k, col in enumerate(_finish_range(s_hl2, s_gk, s_rs, B)):
                    part[:, k] = col
            elif g == "volume":
                assert lv is not None
                mean, std = sstd(lv, 0)
                part[:, 0] = _finish_z(at(lv, B - 1), mean, std)
            elif g == "technical":
                assert gain is not None and loss is not None
                j0 = B - _RSI
                part[:, 0] = _finish_rsi(ssum(gain, j0), ssum(loss, j0))
                wm, ws = _macd_weights(B)
                p = at(series, B - 1)
                part[:, 1] = wsum(series, wm) / p
                part[:, 2] = wsum(series, ws) / p
                mean, std = sstd(series, B - _BB)
                part[:, 3] = _finish_bb(p, mean, std)
            if wide:
                out[a:b] = part

    run(fill, range(0, n, chunk))
    return list(outs)
