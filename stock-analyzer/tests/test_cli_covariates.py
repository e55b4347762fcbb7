"""Covariates through the installed ``stock-analyzer`` executable, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

EXE = Path(sys.executable).with_name("stock-analyzer")
TINY = [
    "--interval",
    "1d",
    "--buffer-size",
    "20",
    "--window-size",
    "4",
    "--groups",
    "trend_fft",
    "--seq-len",
    "5",
    "--hidden-dim",
    "8",
    "--num-layers",
    "1",
    "--epochs",
    "2",
]


def cli(*argv, home):
    env = {**os.environ, "STOCK_ANALYZER_HOME": str(home)}
    return subprocess.run(
        [str(EXE), *map(str, argv)], capture_output=True, text=True, timeout=300, env=env
    )


def one_error_line(result, message):
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: ") and message in lines[-1], result.stderr
    assert [line for line in lines if line.startswith("Error: ")] == lines[-1:]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The shipped sample's last 600 candles as CSV files, with and without covariates."""
    from data_fetcher import load_sample, write_candles_csv

    tmp = tmp_path_factory.mktemp("cov")
    plain = tmp / "plain.csv"
    write_candles_csv(load_sample("^GSPC").iloc[-600:], plain, symbol="X")
    frame = pd.read_csv(plain)
    rng = np.random.default_rng(0)
    frame["vix"] = 15 + np.cumsum(rng.normal(0, 0.5, len(frame)))
    frame["rate"] = np.linspace(1.0, 2.5, len(frame))
    cov = tmp / "cov.csv"
    frame.to_csv(cov, index=False)
    gap = tmp / "gap.csv"
    frame.loc[300, "vix"] = np.nan  # a blank cell in a user's file
    frame.to_csv(gap, index=False)
    return {"dir": tmp, "plain": plain, "cov": cov, "gap": gap, "date": frame.iloc[300, 0]}


@pytest.fixture(scope="module")
def trained(files):
    assert EXE.exists(), f"{EXE} is not installed (run scripts/setup.sh)"
    out = files["dir"] / "model.safetensors"
    result = cli(
        "train", "--source", f"csv:{files['cov']}", "--covariates", "vix,rate", *TINY,
        "--symbol", "X", "--output", out, "--quiet", home=files["dir"] / "home",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_the_model_file_records_the_covariates(trained, files):
    from finance_demo import spec_of

    from model import Model

    spec = spec_of(Model.load(trained))
    assert spec.features.covariates == ("vix", "rate") and spec.model.input_dim == 8
    info = cli("info", trained, home=files["dir"] / "home")
    assert info.returncode == 0 and "covariates: vix, rate" in info.stdout


def test_predict_and_forecast_on_data_with_the_columns(trained, files):
    home = files["dir"] / "home"
    replay = cli(
        "predict", "--model", trained, "--source", f"replay:{files['cov']}", "--max-ticks", "5",
        "-q", home=home,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    assert "ticks 5, predictions 5, outcomes 4" in replay.stdout
    now = cli("forecast", "--model", trained, "--source", f"csv:{files['cov']}", home=home)
    assert now.returncode == 0, now.stderr
    assert "h1" in now.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ("predict", "--source", "replay:{plain}", "--max-ticks", "5", "-q"),
        ("forecast", "--source", "csv:{plain}"),
        ("forecast", "--source", "sample", "--symbol", "^GSPC"),
    ],
    ids=["predict-replay-csv", "forecast-csv", "forecast-sample"],
)
def test_data_without_the_columns_is_one_line(trained, files, argv):
    argv = [a.format(**files) for a in argv]
    result = cli(argv[0], "--model", trained, *argv[1:], home=files["dir"] / "home")
    one_error_line(result, "covariate 'vix' is not a column of the candles (columns: Open, High")
    assert "features.covariates needs a csv:PATH or replay:PATH source" in result.stderr


def test_training_errors_are_one_line(files):
    home = files["dir"] / "home"
    gap = cli(
        "train",
        "--source",
        f"csv:{files['gap']}",
        "--covariates",
        "vix",
        *TINY,
        "--symbol",
        "X",
        "-q",
        home=home,
    )
    one_error_line(gap, "covariate 'vix' is missing or not a finite number at ")
    assert files["date"][:10] in gap.stderr  # the stamp of the blank cell
    sample = cli(
        "train",
        "--source",
        "sample",
        "--covariates",
        "vix",
        *TINY,
        "--symbol",
        "^GSPC",
        "-q",
        home=home,
    )
    one_error_line(sample, "covariate 'vix' is not a column of the candles")
    bad = cli("train", "--source", "sample", "--covariates", "Close", *TINY, "-q", home=home)
    one_error_line(bad, "'Close' is the candle column Close")
