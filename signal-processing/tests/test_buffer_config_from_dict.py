"""Strict ``BufferConfig.from_dict``: a mapping of known field names only, one short line."""

import pytest
from signal_processing import BufferConfig


@pytest.mark.parametrize("data", [[1, 2], [("buffer_size", 3)], "buffer_size", 3, None], ids=str)
def test_only_a_mapping(data):
    with pytest.raises(ValueError, match=r"^BufferConfig needs a mapping of field names, got "):
        BufferConfig.from_dict(data)


@pytest.mark.parametrize(
    "data",
    [{1: 2, "b": 3}, {"x" * 100_000: 1}, {f"k{i}": i for i in range(100_000)}, {("k",) * 9999: 1}],
    ids=["mixed", "long", "many", "tuple"],
)
def test_unknown_keys_are_one_short_line(data):
    with pytest.raises(ValueError) as info:
        BufferConfig.from_dict(data)
    message = str(info.value)
    assert message.startswith("unknown BufferConfig field(s): ")
    assert "\n" not in message and len(message) < 400


def test_round_trip():
    c = BufferConfig(buffer_size=9, step_size=2, channel_shape=(2, 3))
    assert BufferConfig.from_dict(c.to_dict()) == c
