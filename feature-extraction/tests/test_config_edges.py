"""FeatureConfig at the edges: window_size is an int (never bool or 3.0) in [1, 1000000];
normalize is one of the choices; every message is one short line."""

import pytest
from feature_extraction import FeatureConfig


def refused(**kwargs) -> str:
    with pytest.raises(ValueError) as info:
        FeatureConfig(**kwargs)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200, message[:300]
    return message


@pytest.mark.parametrize(
    "value",
    [True, 3.0, 0, -1, 1_000_001, 10**400, "3", [3], float("nan"), float("inf")],
    ids=str,
)
def test_window_size_edges(value):
    assert refused(window_size=value).startswith("window_size must be ")


def test_window_size_cap_is_accepted():
    assert FeatureConfig(window_size=1_000_000).window_size == 1_000_000


@pytest.mark.parametrize(
    "value",
    ["x" * 1_000_000, ["last"], {"last": 1}, 1, True],
    ids=["long", "list", "dict", "1", "t"],
)
def test_normalize_edges(value):
    assert refused(normalize=value).startswith("normalize must be one of last, none, got ")
