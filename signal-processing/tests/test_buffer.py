import doctest
import tracemalloc

import numpy as np
import pytest
import signal_processing
from signal_processing import Buffer, BufferConfig, BufferNotFullError
from signal_processing import buffer as buffer_module


def naive_windows(series, buffer_size, step_size):
    """Reference: (tick, window) for every due tick, straight from the contract."""
    out = []
    for t in range(len(series)):
        if t + 1 >= buffer_size and (t + 1 - buffer_size) % step_size == 0:
            out.append((t, series[t - buffer_size + 1 : t + 1]))
    return out


def make_series(ticks, channel_shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(ticks, *channel_shape)).cumsum(axis=0)


def test_window_count(args, expected):
    buf = Buffer(args["buffer_size"], args["step_size"])
    dues = [buf.push(float(x)) for x in range(args["ticks"])]
    assert sum(dues) == expected
    assert buf.config.windows_after(args["ticks"]) == expected
    other = Buffer(args["buffer_size"], args["step_size"])
    assert other.extend(np.arange(args["ticks"], dtype=float)) == expected


def test_windows_match_naive(args):
    shape = tuple(args.get("channel_shape", [1]))
    series = make_series(args["ticks"], shape, seed=args["buffer_size"])
    buf = Buffer(args["buffer_size"], args["step_size"], shape)
    got = []
    for t, sample in enumerate(series):
        if buf.push(sample):
            got.append((t, buf.get_window()))
    want = naive_windows(series, args["buffer_size"], args["step_size"])
    assert [t for t, _ in got] == [t for t, _ in want]
    for (_, g), (_, w) in zip(got, want, strict=True):
        assert g.shape == (args["buffer_size"], *shape)
        np.testing.assert_array_equal(g, w)


def test_extend_matches_push(args):
    size, step = args["buffer_size"], args["step_size"]
    chunks = args["chunks"]
    series = make_series(sum(chunks) + 2 * size, (1,), seed=sum(chunks))
    pushed, extended = Buffer(size, step), Buffer(size, step)
    start = 0
    for n in chunks:
        part = series[start : start + n]
        start += n
        want = sum(pushed.push(x) for x in part)
        assert extended.extend(part[:, 0]) == want  # (n,) form for one channel
        assert len(extended) == len(pushed) and extended.ticks == pushed.ticks
        assert extended.full == pushed.full
        if pushed.full:
            np.testing.assert_array_equal(extended.get_window(), pushed.get_window())
    # the emission phase continues identically after the bulk part
    for x in series[start:]:
        assert extended.push(x) == pushed.push(x)
        np.testing.assert_array_equal(extended.get_window(), pushed.get_window())


def test_bad_config(args, expected):
    with pytest.raises(ValueError, match=expected):
        Buffer(**args)
    with pytest.raises(ValueError, match=expected):
        BufferConfig(**args)


def test_bad_sample(args, expected):
    buf = Buffer(3, channel_shape=tuple(args["channel_shape"]))
    with pytest.raises(ValueError, match=expected):
        buf.push(args["sample"])
    assert buf.ticks == 0  # a rejected sample leaves no trace


def test_bad_extend(args, expected):
    buf = Buffer(3, channel_shape=tuple(args["channel_shape"]))
    with pytest.raises(ValueError, match=expected):
        buf.extend(args["samples"])
    assert buf.ticks == 0


def test_get_window_before_full_raises():
    buf = Buffer(3)
    buf.push(1.0)
    with pytest.raises(BufferNotFullError, match="holds 1 of 3"):
        buf.get_window()


def test_window_is_fresh_copy_never_stale():
    buf = Buffer(3)
    buf.extend([1.0, 2.0, 3.0])
    first = buf.get_window()
    first[:] = -1.0  # mutating the copy does not touch the buffer
    buf.push(4.0)
    np.testing.assert_array_equal(first.ravel(), [-1.0, -1.0, -1.0])
    np.testing.assert_array_equal(buf.get_window().ravel(), [2.0, 3.0, 4.0])
    assert not np.shares_memory(buf.get_window(), buf.get_window())


def test_view_is_read_only_and_current():
    buf = Buffer(2)
    buf.extend([1.0, 2.0])
    view = buf.get_window(copy=False)
    with pytest.raises(ValueError):
        view[0] = 5.0
    np.testing.assert_array_equal(view.ravel(), [1.0, 2.0])


def test_len_full_and_reset():
    buf = Buffer(4, 2)
    assert len(buf) == 0 and not buf.full
    buf.extend(np.arange(6.0))
    assert len(buf) == 4 and buf.full and buf.ticks == 6
    buf.reset()
    assert len(buf) == 0 and not buf.full and buf.ticks == 0
    with pytest.raises(BufferNotFullError):
        buf.get_window()
    # after reset the schedule starts over and no old sample leaks into the window
    assert [buf.push(x) for x in [10.0, 11.0, 12.0, 13.0]] == [False, False, False, True]
    np.testing.assert_array_equal(buf.get_window().ravel(), [10.0, 11.0, 12.0, 13.0])


def test_nan_passes_through():
    buf = Buffer(3)
    buf.extend([1.0, np.nan, 3.0])
    window = buf.get_window().ravel()
    assert np.isnan(window[1]) and window[0] == 1.0 and window[2] == 3.0


def test_multichannel_sample_keeps_layout():
    buf = Buffer(2, channel_shape=(2, 3))
    a, b = np.arange(6.0).reshape(2, 3), np.arange(6.0, 12.0).reshape(2, 3)
    buf.push(a)
    assert buf.push(b.tolist())
    np.testing.assert_array_equal(buf.get_window(), np.stack([a, b]))


def test_numpy_scalars_and_ints_accepted():
    buf = Buffer(3)
    buf.push(np.float32(1.5))
    buf.push(2)
    buf.push(np.array([3.0]))
    np.testing.assert_array_equal(buf.get_window().ravel(), [1.5, 2.0, 3.0])


def test_push_does_not_grow_memory():
    buf = Buffer(64, 4)
    series = make_series(20_000, (1,))[:, 0].tolist()
    for x in series[:1000]:  # warm up caches
        buf.push(x)
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    for x in series:
        buf.push(x)
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert after - before < 2048  # flat: 20k pushes of 8 bytes would be 160 kB


def test_doctests():
    for module in (buffer_module, signal_processing.system):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0
