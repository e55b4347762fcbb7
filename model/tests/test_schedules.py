"""Learning-rate schedules and early stopping's min_delta (TrainConfig)."""

import math

import numpy as np
import pytest

from model import Model, ModelConfig, TrainConfig


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5, 6))
    y = 0.1 * X[:, -1, :1] + 0.05 * rng.normal(size=(300, 1))
    return X, y


def lrs(data, **train):
    m = Model(ModelConfig(input_dim=6, seq_len=5, hidden_dim=4, num_layers=1))
    m.train(*data, TrainConfig(batch_size=64, seed=0, **train))
    return [r["lr"] for r in m.history], m


def test_cosine_goes_from_lr_to_near_zero(data):
    got, _ = lrs(data, epochs=6, patience=6, lr=0.01, lr_schedule="cosine")
    want = [0.01 * (1 + math.cos(math.pi * e / 6)) / 2 for e in range(6)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_warmup_cosine_ramps_then_decays(data):
    got, _ = lrs(data, epochs=6, patience=6, lr=0.01, lr_schedule="warmup_cosine", warmup_epochs=2)
    want = [0.01 / 3, 0.02 / 3] + [0.01 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[2] == max(got)


def test_plateau_is_the_default_and_unchanged(data):
    default, m1 = lrs(data, epochs=4, patience=4)
    plateau, m2 = lrs(data, epochs=4, patience=4, lr_schedule="plateau")
    assert default == plateau and default[0] == TrainConfig().lr
    assert [r["val_loss"] for r in m1.history] == [r["val_loss"] for r in m2.history]


def test_min_delta_stops_when_gains_are_too_small(data):
    _, free = lrs(data, epochs=30, patience=2)
    _, strict = lrs(data, epochs=30, patience=2, min_delta=1.0)  # nothing beats 1.0 of NLL
    assert len(strict.history) == 3  # the first epoch is the best; two more without gain
    assert len(free.history) > len(strict.history)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("lr_schedule", "linear", "lr_schedule must be one of plateau, cosine, warmup_cosine"),
        ("lr_schedule", 3, "lr_schedule must be one of"),
        ("warmup_epochs", -1, "warmup_epochs must be an integer in [0, 1000000]"),
        ("warmup_epochs", 1.5, "warmup_epochs must be an integer"),
        ("min_delta", -0.1, "min_delta must be a non-negative number"),
        ("min_delta", float("nan"), "min_delta must be a non-negative number"),
    ],
)
def test_bad_schedule_settings(field, value, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TrainConfig(**{field: value})
