"""Hidden layers before the heads (head_hidden) and layer norm (layer_norm)."""

import numpy as np
import pytest
import torch

from model import Model, ModelConfig, TrainConfig, load_forecaster


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5, 6))
    y = 0.1 * X[:, -1, :1] + 0.05 * rng.normal(size=(300, 1))
    return X, y


@pytest.mark.parametrize(
    "extra",
    [{"head_hidden": (16, 8)}, {"layer_norm": True}, {"head_hidden": (4,), "layer_norm": True}],
)
def test_trains_saves_and_loads_identically(data, tmp_path, extra):
    config = ModelConfig(input_dim=6, seq_len=5, hidden_dim=8, num_layers=1, **extra)
    m = Model(config)
    m.train(*data, TrainConfig(epochs=2, batch_size=64, seed=0))
    names = set(m.network.state_dict())
    assert ("hidden.0.weight" in names) == bool(config.head_hidden)
    assert ("norm.weight" in names) == config.layer_norm
    if config.head_hidden:
        assert m.network.head.in_features == config.head_hidden[-1]
        assert isinstance(m.network.hidden[1], torch.nn.ReLU)
    path = tmp_path / "m.safetensors"
    m.save(path)
    back = load_forecaster(path)
    assert back.config == config
    np.testing.assert_array_equal(back.predict(data[0][:50]), m.predict(data[0][:50]))


def test_defaults_keep_the_plain_network():
    from model.network import LSTMNetwork

    keys = set(LSTMNetwork(ModelConfig()).state_dict())
    assert not any(k.startswith(("hidden.", "norm.")) for k in keys)
    assert {"head.weight", "head.bias"} <= keys


@pytest.mark.parametrize(
    "value, message",
    [
        ([0], "head_hidden must be a list of layer widths"),
        ([8, 9000], "at position 1"),
        (list(range(1, 10)), "at most 8 layers"),
        ("64,32", "head_hidden must be a list"),
        ([True], "at position 0"),
    ],
)
def test_bad_head_hidden(value, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(head_hidden=value)
    with pytest.raises(ValueError, match="layer_norm must be true or false"):
        ModelConfig(layer_norm="yes")
