import numpy as np
import pytest


def make_data(n=300, seq_len=8, input_dim=6, horizons=1, seed=0):
    """Synthetic heteroscedastic data: the mean and the noise scale depend on the inputs."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, seq_len, input_dim)).astype(np.float32)
    scale = 0.005 * (1.0 + np.abs(X[:, -1, 1]))
    base = 0.01 * X[:, -1, 0] + scale * rng.normal(size=n)
    y = np.column_stack([base * (h + 1) for h in range(horizons)])
    return X, (y[:, 0] if horizons == 1 else y)


@pytest.fixture(scope="session")
def data():
    return make_data()


@pytest.fixture(scope="session")
def trained(data):
    from model import Model, TrainConfig

    X, y = data
    m = Model(hidden_dim=8, num_layers=1)
    m.train(X, y, TrainConfig(epochs=4, batch_size=64, seed=1))
    return m
