import pytest

from model import ModelConfig


def test_invalid_config(args, expected):
    with pytest.raises(ValueError, match=expected):
        ModelConfig(**args)


def test_valid_config(args, expected):
    config = ModelConfig(**args)
    assert config.n_outputs == expected["n_outputs"]
    assert config.feature_dim == expected["feature_dim"]
    assert config.horizons == tuple(expected["horizons"])


def test_dict_round_trip():
    config = ModelConfig(hidden_dim=8, horizons=(1, 5), attention=True, num_heads=2)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_from_dict_names_unknown_keys():
    with pytest.raises(ValueError, match="unknown ModelConfig field\\(s\\): colour"):
        ModelConfig.from_dict({"colour": 1})


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        ModelConfig().hidden_dim = 3
