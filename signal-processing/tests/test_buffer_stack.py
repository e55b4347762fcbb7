"""``BufferStack``: many buffers in one storage, one push for many, each still its own."""

import numpy as np
import pytest
from signal_processing import Buffer
from signal_processing.buffer import BufferStack


@pytest.mark.parametrize("shape", [(1,), (3,)])
def test_stacked_pushes_equal_one_push_per_buffer(shape):
    rng = np.random.default_rng(0)
    steps = [1, 2, 3, 1, 5]
    stacked = [Buffer(4, step_size=s, channel_shape=shape) for s in steps]
    plain = [Buffer(4, step_size=s, channel_shape=shape) for s in steps]
    for b, p in zip(stacked[:2], plain[:2], strict=True):  # some state before stacking
        data = rng.normal(size=(3, *shape))
        b.extend(data)
        p.extend(data)
    stack = BufferStack(stacked)
    assert len(stack) == 5 and stack.buffers == stacked
    for t in range(60):
        rows = np.flatnonzero(rng.random(5) < 0.7)  # the others skip this tick
        samples = rng.normal(size=(len(rows), *shape))
        due = stack.push(rows, samples)
        assert due.tolist() == [plain[i].push(samples[k]) for k, i in enumerate(rows)]
        if t % 11 == 5:  # one buffer on its own: a push, an extend, a reset
            one = rng.normal(size=shape)
            assert stacked[3].push(one) == plain[3].push(one)
            many = rng.normal(size=(t % 6 + 1, *shape))
            assert stacked[1].extend(many) == plain[1].extend(many)
        if t == 30:
            stacked[4].reset()
            plain[4].reset()
        full = np.array([i for i in range(5) if plain[i].full], dtype=np.intp)
        windows = stack.windows(full)
        for k, i in enumerate(full):
            np.testing.assert_array_equal(windows[k], plain[i].get_window())
            np.testing.assert_array_equal(stacked[i].get_window(copy=False), windows[k])
        for b, p in zip(stacked, plain, strict=True):
            assert (b.ticks, len(b), b.full) == (p.ticks, len(p), p.full)
    windows[...] = 0.0  # fresh: the buffers do not see it
    assert all(not np.all(b._data == 0) for b in stacked if b.full)


def test_bad_stacks_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        BufferStack([])
    with pytest.raises(ValueError, match="one size"):
        BufferStack([Buffer(4), Buffer(5)])
    bufs = [Buffer(4), Buffer(4)]
    BufferStack(bufs)
    with pytest.raises(ValueError, match="not already stacked"):
        BufferStack(bufs)
