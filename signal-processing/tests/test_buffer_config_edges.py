"""BufferConfig at the edges: integer sizes (never bool or 3.0) with memory caps.

``buffer_size`` and ``step_size`` are in [1, 1000000]; ``channel_shape`` has at most 8
dimensions; ``buffer_size * channels <= 1000000``. Every message is one short line.
"""

import numpy as np
import pytest
from signal_processing import Buffer, BufferConfig

HUGE = 10**400


def refused(**kwargs) -> str:
    with pytest.raises(ValueError) as info:
        BufferConfig(**kwargs)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200, message[:300]
    return message


@pytest.mark.parametrize("name", ["buffer_size", "step_size"])
@pytest.mark.parametrize(
    "value",
    [True, 3.0, 0, -1, 1_000_001, HUGE, -HUGE, "3", [3], None, float("nan"), float("inf")],
    ids=str,
)
def test_sizes_are_capped_integers(name, value):
    assert refused(**{name: value}).startswith(f"{name} must be ")


@pytest.mark.parametrize("name", ["buffer_size", "step_size"])
def test_sizes_at_the_cap_are_accepted(name):
    assert getattr(BufferConfig(**{name: 1_000_000}), name) == 1_000_000
    assert BufferConfig(**{name: np.int64(7)}).to_dict()[name] == 7


@pytest.mark.parametrize(
    ("shape", "fragment"),
    [
        ((1,) * 9, "at most 8 dimensions"),
        ((HUGE,), "at most 1000000, got an integer of 401 digits"),
        ((2, 3.0), "got 3.0 in it"),
        ((True,), "got True in it"),
        ("abc", "got 'abc'"),
        (list(range(1, 10**6)), "at most 8 dimensions"),
        ((1000, 1000), "buffer_size * channels must be at most 1000000"),
    ],
    ids=["9_dims", "huge", "float", "bool", "str", "million", "too_many_values"],
)
def test_channel_shape_edges(shape, fragment):
    assert fragment in refused(channel_shape=shape)


def test_total_values_cap():
    assert BufferConfig(buffer_size=1000, channel_shape=(10, 100)).channels == 1000
    assert "1001000" not in refused(buffer_size=1001, channel_shape=(1000,))
    with pytest.raises(ValueError, match="buffer_size \\* channels"):
        Buffer(2000, channel_shape=(1000,))


def test_bounded_message_for_a_huge_string():
    assert "..." in refused(buffer_size="x" * 1_000_000)
