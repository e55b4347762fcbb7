import pytest
from signal_processing import BufferConfig


def test_defaults_and_round_trip():
    c = BufferConfig()
    assert (c.buffer_size, c.step_size, c.channel_shape, c.channels) == (50, 1, (1,), 1)
    assert BufferConfig.from_dict(c.to_dict()) == c
    assert BufferConfig.from_dict({"channel_shape": [2, 3]}).channels == 6


def test_messages_name_the_field():
    with pytest.raises(ValueError, match=r"^unknown BufferConfig field\(s\): size "):
        BufferConfig.from_dict({"size": 3})
    with pytest.raises(ValueError, match=r"^step_size must be a positive integer"):
        BufferConfig(step_size=0)
