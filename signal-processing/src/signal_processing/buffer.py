"""A sliding-window ring buffer: one tick in per call, a window out every ``step_size``.

The storage is one preallocated array of twice the window length. Every sample is written
at ``head`` and at ``head + buffer_size``, so the newest ``buffer_size`` samples are always
the contiguous slice ``data[head : head + buffer_size]``, oldest first: a push is two
row writes (O(1), no allocation) and reading a window is a single contiguous copy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from signal_processing.config import BufferConfig

__all__ = ["Buffer", "BufferConfig", "BufferNotFullError", "BufferStack"]

_SCALAR_TYPES = (float, int, np.floating, np.integer)
_FAST_TYPES = (float, np.float64)  # checked by exact type on every push


class BufferNotFullError(RuntimeError):
    """``get_window`` was called before the buffer held ``buffer_size`` samples."""


class Buffer:
    """Ring buffer holding the last ``buffer_size`` samples; emits every ``step_size`` pushes.

    ``push`` returns ``True`` when a window is due: first on the push that fills the buffer,
    then every ``step_size`` pushes after it. A window ending at tick ``t`` holds the
    samples ``t - B + 1 .. t``, oldest first. NaN samples are stored as they are.

    Args:
        buffer_size: Samples per window (``B >= 1``).
        step_size: Pushes between two windows once full (``S >= 1``).
        channel_shape: Shape of one sample; a scalar is accepted when it has one element.

    Raises:
        ValueError: A size that is not a positive integer, naming the argument.

    Examples:
        >>> buf = Buffer(buffer_size=3, step_size=2)
        >>> [buf.push(x) for x in [1.0, 2.0, 3.0, 4.0, 5.0]]
        [False, False, True, False, True]
        >>> buf.get_window().ravel().tolist()
        [3.0, 4.0, 5.0]
        >>> buf.extend([6.0, 7.0, 8.0]), len(buf)
        (1, 3)
    """

    def __init__(
        self, buffer_size: int, step_size: int = 1, channel_shape: tuple[int, ...] = (1,)
    ) -> None:
        self.config = BufferConfig(buffer_size, step_size, channel_shape)
        self._size = self.config.buffer_size
        self._step = self.config.step_size
        self._shape = self.config.channel_shape
        self._scalar_ok = math.prod(self._shape) == 1
        self._data = np.zeros((2 * self._size, *self._shape), dtype=np.float64)
        # one-element samples are written through a flat view: a scalar store into a 1-D
        # array is several times cheaper than a broadcast row store into a 2-D one
        self._flat = self._data.reshape(-1) if self._scalar_ok else self._data
        self._head = 0
        self._ticks = 0

    @classmethod
    def from_config(cls, config: BufferConfig) -> Buffer:
        """Build a buffer from a :class:`BufferConfig`.

        Args:
            config: The sizes.

        Returns:
            An empty buffer.
        """
        return cls(config.buffer_size, config.step_size, config.channel_shape)

    @property
    def buffer_size(self) -> int:
        """Samples per window."""
        return self._size

    @property
    def step_size(self) -> int:
        """Pushes between two windows once full."""
        return self._step

    @property
    def channel_shape(self) -> tuple[int, ...]:
        """Shape of one sample."""
        return self._shape

    @property
    def ticks(self) -> int:
        """Samples pushed since creation or the last ``reset``."""
        return self._ticks

    @property
    def full(self) -> bool:
        """Whether the buffer holds ``buffer_size`` samples."""
        return self._ticks >= self._size

    def __len__(self) -> int:
        return min(self._ticks, self._size)

    def __repr__(self) -> str:
        return (
            f"Buffer(buffer_size={self._size}, step_size={self._step}, "
            f"channel_shape={self._shape}, len={len(self)})"
        )

    def _bad_sample(self, name: str, shape: tuple[int, ...], expected: str) -> ValueError:
        return ValueError(f"{name} has shape {shape}, expected {expected}")

    def push(self, sample: Any) -> bool:
        """Append one sample.

        Args:
            sample: An array of shape ``channel_shape`` (or a number when that shape has
                one element).

        Returns:
            Whether a window is due after this push.

        Raises:
            ValueError: ``sample`` has the wrong shape or is not numeric.
        """
        head = self._head
        if self._scalar_ok and type(sample) in _FAST_TYPES:  # the hot path: one close price
            flat = self._flat
            flat[head] = sample
            flat[head + self._size] = sample
        else:
            self._write(sample, head)
        head += 1
        self._head = 0 if head == self._size else head
        ticks = self._ticks + 1
        self._ticks = ticks
        return ticks >= self._size and (ticks - self._size) % self._step == 0

    def _write(self, sample: Any, head: int) -> None:
        """Validate any other sample and write it at ``head`` and ``head + buffer_size``."""
        if isinstance(sample, _SCALAR_TYPES) and not isinstance(sample, bool):
            if not self._scalar_ok:
                raise self._bad_sample("sample", (), str(self._shape))
            self._flat[head] = sample
            self._flat[head + self._size] = sample
            return
        try:
            arr = np.asarray(sample, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"sample must be numeric, got {type(sample).__name__}") from None
        if arr.shape != self._shape and not (self._scalar_ok and arr.size == 1):
            raise self._bad_sample("sample", arr.shape, str(self._shape))
        arr = arr.reshape(self._shape)
        self._data[head] = arr
        self._data[head + self._size] = arr

    def extend(self, samples: Any) -> int:
        """Append many samples at once; same final state as pushing them one by one.

        Only the last ``buffer_size`` samples are written, in at most two slice copies.

        Args:
            samples: Array of shape ``(n, *channel_shape)``; ``(n,)`` is accepted when a
                sample has one element.

        Returns:
            How many windows became due during these ``n`` pushes (what repeated ``push``
            calls would have returned ``True`` for).

        Raises:
            ValueError: ``samples`` has the wrong shape or is not numeric.
        """
        try:
            arr = np.asarray(samples, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"samples must be numeric, got {type(samples).__name__}") from None
        shape = self._shape
        if arr.ndim >= 1 and arr.shape[1:] == shape:
            pass
        elif self._scalar_ok and arr.ndim == 1:
            arr = arr.reshape((arr.shape[0], *shape))
        else:
            raise self._bad_sample("samples", arr.shape, f"(n, *{shape})")
        n = arr.shape[0]
        if n == 0:
            return 0
        size = self._size
        before = self.config.windows_after(self._ticks)
        if n >= size:
            tail = arr[n - size :]
            self._data[:size] = tail
            self._data[size:] = tail
            self._head = 0
        else:
            head = self._head
            first = min(n, size - head)
            self._data[head : head + first] = arr[:first]
            self._data[head + size : head + size + first] = arr[:first]
            rest = n - first
            if rest:
                self._data[:rest] = arr[first:]
                self._data[size : size + rest] = arr[first:]
            self._head = (head + n) % size
        self._ticks += n
        return self.config.windows_after(self._ticks) - before

    def get_window(self, copy: bool = True) -> np.ndarray:
        """Return the last ``buffer_size`` samples, oldest first.

        Args:
            copy: ``True`` (default) returns a fresh array the buffer never touches again;
                ``False`` returns a read-only view that is valid only until the next push.

        Returns:
            Array of shape ``(buffer_size, *channel_shape)``, float64.

        Raises:
            BufferNotFullError: Fewer than ``buffer_size`` samples have been pushed.
        """
        if self._ticks < self._size:
            raise BufferNotFullError(
                f"buffer holds {self._ticks} of {self._size} samples; no window yet"
            )
        window = self._data[self._head : self._head + self._size]
        if copy:
            return window.copy()
        window = window.view()
        window.flags.writeable = False
        return window

    def reset(self) -> None:
        """Forget every sample; the next window is due after ``buffer_size`` pushes."""
        self._head = 0
        self._ticks = 0
        self._data.fill(0.0)


class _StackedBuffer(Buffer):
    """A :class:`Buffer` whose storage and state are one row of a :class:`BufferStack`.

    It behaves as the buffer it was (``push``, ``extend``, ``get_window``, ``reset``);
    its head and tick count live in the stack's arrays, so the stack can push into many
    buffers at once and each buffer still sees its own state.
    """

    _stack: BufferStack
    _row: int

    @property  # type: ignore[override]
    def _head(self) -> int:
        return int(self._stack.heads[self._row])

    @_head.setter
    def _head(self, value: int) -> None:
        self._stack.heads[self._row] = value

    @property  # type: ignore[override]
    def _ticks(self) -> int:
        return int(self._stack.ticks[self._row])

    @_ticks.setter
    def _ticks(self, value: int) -> None:
        self._stack.ticks[self._row] = value


class BufferStack:
    """Buffers of one size and sample shape sharing one storage: one push for many.

    The storage of buffer ``i`` becomes row ``i`` of one ``(n, 2 * buffer_size,
    *channel_shape)`` array and its head and tick count entries of two arrays; each
    buffer keeps working on its own (same state, same results), and :meth:`push` writes
    one sample into each of many buffers with two fancy-indexed stores instead of a
    Python call per buffer. The step sizes may differ.

    Args:
        buffers: The buffers (their current contents and state are kept); from then on
            they belong to this stack.

    Raises:
        ValueError: No buffers, different sizes or sample shapes, or a buffer that
            already belongs to a stack.
    """

    def __init__(self, buffers: Sequence[Buffer]) -> None:
        buffers = list(buffers)
        if not buffers:
            raise ValueError("a BufferStack needs at least one buffer")
        first = buffers[0]
        size, shape = first.buffer_size, first.channel_shape
        for b in buffers:
            if type(b) is not Buffer:
                raise ValueError("a BufferStack takes plain Buffers (not already stacked)")
            if b.buffer_size != size or b.channel_shape != shape:
                raise ValueError("the buffers of a BufferStack need one size and sample shape")
        self.buffer_size = size
        self.channel_shape = shape
        self.data = np.stack([b._data for b in buffers])
        self.heads = np.array([b._head for b in buffers], dtype=np.intp)
        self.ticks = np.array([b._ticks for b in buffers], dtype=np.int64)
        self.steps = np.array([b.step_size for b in buffers], dtype=np.int64)
        self._offsets = np.arange(size, dtype=np.intp)
        for i, b in enumerate(buffers):
            del b.__dict__["_head"], b.__dict__["_ticks"]
            b.__class__ = _StackedBuffer
            b._stack, b._row = self, i
            b._data = self.data[i]
            b._flat = b._data.reshape(-1) if b._scalar_ok else b._data
        self.buffers = buffers

    def __len__(self) -> int:
        return len(self.buffers)

    def push(self, rows: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """Push ``samples[k]`` into buffer ``rows[k]``; the same as one ``push`` each.

        Args:
            rows: ``(k,)`` distinct buffer indices.
            samples: ``(k, *channel_shape)`` float64 samples.

        Returns:
            ``(k,)`` bools: whether a window is due in each of those buffers.
        """
        size = self.buffer_size
        head = self.heads[rows]
        data = self.data
        data[rows, head] = samples
        data[rows, head + size] = samples
        head += 1
        head[head == size] = 0
        self.heads[rows] = head
        ticks = self.ticks[rows] + 1
        self.ticks[rows] = ticks
        return (ticks >= size) & ((ticks - size) % self.steps[rows] == 0)

    def windows(self, rows: np.ndarray) -> np.ndarray:
        """The windows of these (full) buffers, ``(k, buffer_size, *channel_shape)``, fresh.

        Each row equals that buffer's ``get_window()``; the caller checks fullness
        (``ticks[rows] >= buffer_size``).
        """
        return self.data[rows[:, None], self.heads[rows][:, None] + self._offsets]
