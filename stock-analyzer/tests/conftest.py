import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from stock_analyzer.cli import cli

torch.set_num_threads(1)

TINY_YAML = """\
data: {symbol: ^GSPC, period: max, interval: 1d, source: sample}
buffer: {buffer_size: 20, step_size: 1}
features: {window_size: 4, normalize: last, groups: [trend_fft]}
model: {seq_len: 6, horizons: [1], hidden_dim: 8, num_layers: 1}
training: {epochs: 2, batch_size: 256, seed: 0}
"""


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="session")
def tiny_config(workdir):
    path = workdir / "tiny.yaml"
    path.write_text(TINY_YAML)
    return path


@pytest.fixture(scope="session")
def trained(workdir, tiny_config):
    """A small model trained through the CLI on the shipped S&P 500 sample."""
    out = workdir / "model.pt"
    result = CliRunner().invoke(
        cli, ["train", "--config", str(tiny_config), "--output", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def files(workdir, trained):
    """Inputs of the error table, by placeholder name."""
    bad_csv = workdir / "bad.csv"
    bad_csv.write_text("this,is\nnot,candles\n")
    idx = pd.date_range("2024-01-01", periods=30, freq="B", tz="UTC")
    close = 100 + np.arange(30.0)
    short = pd.DataFrame(
        {"Open": close, "High": close, "Low": close, "Close": close, "Volume": 1.0}, index=idx
    )
    short_csv = workdir / "short.csv"
    short.to_csv(short_csv, index_label="Date")
    not_model = workdir / "not_a_model.pt"
    not_model.write_bytes(b"\x00\x01 definitely not a model")
    typo = workdir / "typo.yaml"
    typo.write_text("model:\n  hiden_dim: 8\n")
    bad_value = workdir / "bad_value.yaml"
    bad_value.write_text("buffer:\n  buffer_size: fifty\n")
    bad_yaml = workdir / "bad_yaml.yaml"
    bad_yaml.write_text("training: {epochs: 3\n")
    from model import Model, TrainConfig

    foreign = workdir / "foreign.pt"
    m = Model(input_dim=6, hidden_dim=4, num_layers=1)
    m.train(
        np.random.default_rng(0).normal(size=(64, 5, 6)),
        np.zeros((64, 1)) + 1e-3,
        TrainConfig(epochs=1),
    )
    m.save(foreign)
    return {
        "model": trained,
        "bad_csv": bad_csv,
        "short_csv": short_csv,
        "not_model": not_model,
        "typo": typo,
        "bad_value": bad_value,
        "bad_yaml": bad_yaml,
        "foreign": foreign,
        "tmp": workdir,
    }
