"""Strict ``FeatureConfig.from_dict``: a mapping of known field names only, one short line."""

import pytest
from feature_extraction import FeatureConfig


@pytest.mark.parametrize("data", [[1, 2], [("window_size", 3)], "window_size", 3, None], ids=str)
def test_only_a_mapping(data):
    with pytest.raises(ValueError, match=r"^FeatureConfig needs a mapping of field names, got "):
        FeatureConfig.from_dict(data)


@pytest.mark.parametrize(
    "data",
    [{1: 2, "b": 3}, {"x" * 100_000: 1}, {f"k{i}": i for i in range(100_000)}, {("k",) * 9999: 1}],
    ids=["mixed", "long", "many", "tuple"],
)
def test_unknown_keys_are_one_short_line(data):
    with pytest.raises(ValueError) as info:
        FeatureConfig.from_dict(data)
    message = str(info.value)
    assert message.startswith("unknown FeatureConfig field(s): ")
    assert "\n" not in message and len(message) < 400


def test_round_trip():
    c = FeatureConfig(window_size=7, normalize="none")
    assert FeatureConfig.from_dict(c.to_dict()) == c
