"""A buffer of OHLCV rows (channel_shape (5,)): what the feature groups that read candles use."""

import numpy as np
import pytest
from signal_processing import Buffer, BufferConfig


def rows(n, start=0):
    t = np.arange(start, start + n, dtype=float)[:, None]
    return t + np.array([0.0, 0.5, -0.5, 0.25, 1000.0])  # O, H, L, C, V per tick


def test_rows_in_windows_out():
    buf = Buffer(4, step_size=2, channel_shape=(5,))
    due = [buf.push(r) for r in rows(8)]
    assert due == [False, False, False, True, False, True, False, True]
    window = buf.get_window()
    assert window.shape == (4, 5)
    np.testing.assert_array_equal(window, rows(4, start=4))


def test_extend_equals_pushes():
    a, b = Buffer(6, 3, (5,)), Buffer(6, 3, (5,))
    data = rows(17)
    pushed = sum(a.push(r) for r in data)
    assert b.extend(data[:5]) + b.extend(data[5:]) == pushed
    np.testing.assert_array_equal(a.get_window(), b.get_window())


def test_a_close_is_not_a_row():
    buf = Buffer(3, channel_shape=(5,))
    with pytest.raises(ValueError, match=r"sample has shape \(\), expected \(5,\)"):
        buf.push(101.0)
    with pytest.raises(ValueError, match=r"sample has shape \(4,\), expected \(5,\)"):
        buf.push([1.0, 2.0, 3.0, 4.0])


def test_ohlcv_cap():
    assert BufferConfig(200_000, channel_shape=(5,)).channels == 5
    with pytest.raises(ValueError, match=r"buffer_size \* channels must be at most 1000000"):
        BufferConfig(200_001, channel_shape=(5,))
