"""``EvaluationConfig.from_dict``: strict (a mapping of known field names), round trip."""

import pytest
from finance_demo import EvaluationConfig


def test_round_trip():
    c = EvaluationConfig(test_fraction=0.2, level=0.8)
    assert EvaluationConfig.from_dict(c.to_dict()) == c
    assert EvaluationConfig.from_dict({}) == EvaluationConfig()


@pytest.mark.parametrize("data", [[0.2, 0.8], "level", 0.9, None], ids=str)
def test_only_a_mapping(data):
    with pytest.raises(ValueError, match=r"^EvaluationConfig needs a mapping of field names"):
        EvaluationConfig.from_dict(data)


@pytest.mark.parametrize(
    "data",
    [{"levle": 0.9}, {1: 2, "b": 3}, {"x" * 100_000: 1}, {f"k{i}": i for i in range(10_000)}],
    ids=["typo", "mixed", "long", "many"],
)
def test_unknown_keys_are_one_short_line(data):
    with pytest.raises(ValueError) as info:
        EvaluationConfig.from_dict(data)
    message = str(info.value)
    assert message.startswith("unknown EvaluationConfig field(s): ")
    assert "\n" not in message and len(message) < 400
