"""Strict ``from_dict`` of ModelConfig and TrainConfig: a mapping of known field names only.

Wrong containers and unknown keys are one short line; ``to_dict`` round-trips.
"""

import pytest
from model.config import ModelConfig, TrainConfig

CLASSES = [ModelConfig, TrainConfig]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "data",
    [[1, 2], [("epochs", 3)], "epochs", 3, None, (("seq_len", 3),), {"a", "b"}],
    ids=["list", "pairs", "str", "int", "none", "tuple", "set"],
)
def test_only_a_mapping(cls, data):
    with pytest.raises(ValueError, match=f"^{cls.__name__} needs a mapping of field names, got "):
        cls.from_dict(data)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "data",
    [
        {1: 2, "b": 3},
        {("k",) * 10_000: 1},
        {"x" * 100_000: 1},
        {f"k{i}": i for i in range(100_000)},
        {None: 1, 2.5: 2},
        {"a\nb": 1},
    ],
    ids=["mixed", "big_tuple", "long", "many", "none_float", "newline"],
)
def test_unknown_keys_are_one_short_line(cls, data):
    with pytest.raises(ValueError) as info:
        cls.from_dict(data)
    message = str(info.value)
    assert message.startswith(f"unknown {cls.__name__} field(s): ")
    assert "\n" not in message and len(message) < 400, message[:500]


def test_round_trips():
    m = ModelConfig(seq_len=7, hidden_dim=8, num_layers=1, horizons=(1, 3), attention=True)
    assert ModelConfig.from_dict(m.to_dict()) == m
    t = TrainConfig(epochs=3, lr=0.01, seed=2**63 - 1, num_threads=None, beta=0.0)
    assert TrainConfig.from_dict(t.to_dict()) == t
    assert ModelConfig.from_dict({}) == ModelConfig()


def test_wrong_value_containers_are_refused_by_the_field_rule():
    with pytest.raises(ValueError, match=r"^horizons must be strictly increasing"):
        ModelConfig.from_dict({"horizons": {"1": 1}})
    with pytest.raises(ValueError, match=r"^epochs must be a positive integer, got a tuple of 1"):
        TrainConfig.from_dict({"epochs": [3]})
