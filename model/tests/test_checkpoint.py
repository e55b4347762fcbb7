"""A checkpoint after every epoch, and resume: bit for bit where an interrupted run stopped."""

import numpy as np
import pytest
import torch

from model import Model, ModelConfig, Seq2SeqForecaster, TrainConfig


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 5, 6))
    y = 0.1 * X[:, -1, :1] + 0.05 * rng.normal(size=(400, 1))
    return X, y


CONFIG = ModelConfig(input_dim=6, seq_len=5, hidden_dim=8, num_layers=2, dropout=0.2)
TRAIN = {"epochs": 6, "patience": 6, "batch_size": 64, "seed": 3, "lr_schedule": "cosine"}


def stop_after(k):
    def progress(epoch, epochs, record):
        if epoch == k:
            raise KeyboardInterrupt  # Ctrl-C right after epoch k's checkpoint

    return progress


def losses(model):
    return [(r["epoch"], r["train_loss"], r["val_loss"], r["lr"]) for r in model.history]


@pytest.mark.parametrize("make", [lambda: Model(CONFIG), lambda: Seq2SeqForecaster(CONFIG)])
def test_resume_continues_bit_for_bit(data, tmp_path, make):
    whole = make()
    whole.fit(*data, TrainConfig(**TRAIN))
    first = make()
    settings = TrainConfig(**TRAIN, checkpoint_dir=str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        first.fit(*data, settings, progress=stop_after(3))
    assert (tmp_path / "checkpoint.pt").is_file()
    assert not list(tmp_path.glob("*.tmp"))  # written whole, then renamed
    resumed = make()
    seen = []
    resumed.fit(
        *data,
        TrainConfig(**TRAIN, checkpoint_dir=str(tmp_path), resume=True),
        progress=lambda e, n, r: seen.append(e),
    )
    assert seen == [4, 5, 6]  # only the epochs that were left
    assert losses(resumed) == losses(whole)
    for a, b in zip(
        resumed.network.state_dict().values(), whole.network.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(resumed.predict(data[0][:40]), whole.predict(data[0][:40]))


def test_resume_refuses_another_run(data, tmp_path):
    short = {**TRAIN, "epochs": 2}
    Model(CONFIG).fit(*data, TrainConfig(**short, checkpoint_dir=str(tmp_path)))
    other = {**short, "lr": 0.01}
    with pytest.raises(ValueError, match="made with other data, settings or network"):
        Model(CONFIG).fit(*data, TrainConfig(**other, checkpoint_dir=str(tmp_path), resume=True))
    with pytest.raises(ValueError, match="made with other data"):
        X, y = data
        Model(CONFIG).fit(
            X[:-10],
            y[:-10],
            TrainConfig(**short, checkpoint_dir=str(tmp_path), resume=True),
        )


def test_resume_errors_are_one_line(data, tmp_path):
    with pytest.raises(ValueError, match="resume needs a checkpoint_dir"):
        TrainConfig(resume=True)
    with pytest.raises(ValueError, match="no checkpoint to resume from"):
        Model(CONFIG).fit(*data, TrainConfig(**TRAIN, checkpoint_dir=str(tmp_path), resume=True))
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00 not a checkpoint")
    with pytest.raises(ValueError, match="is unreadable"):
        Model(CONFIG).fit(*data, TrainConfig(**TRAIN, checkpoint_dir=str(tmp_path), resume=True))
    with pytest.raises(ValueError, match="checkpoint_dir must be a directory path"):
        TrainConfig(checkpoint_dir="  ")
