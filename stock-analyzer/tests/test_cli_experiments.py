"""Experiments you can compare: metrics files, prediction exports, MLflow tracking."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from finance_demo import prediction_metrics
from stock_analyzer.cli import cli

TINY = [
    "--source", "sample", "--symbol", "^GSPC", "--buffer-size", "20", "--window-size", "4",
    "--groups", "trend_fft",
    "--seq-len", "5", "--hidden-dim", "4", "--num-layers", "1", "--epochs", "2",
    "--horizons", "1,3", "-q",
]  # fmt: skip


def run(args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("exp")
    out, csv = d / "m.safetensors", d / "p.csv"
    result = run(["train", *TINY, "-o", out, "--predictions", csv])
    assert result.exit_code == 0, result.output
    return out, csv


def test_the_export_has_every_sample_with_its_split(exported):
    out, csv = exported
    rows = pd.read_csv(csv)
    from model import read_header

    ds = read_header(out).metadata["dataset"]
    per_split = rows[rows["horizon"] == 1]["split"].value_counts().to_dict()
    assert per_split["train"] == ds["train"] and per_split["validation"] == ds["val"]
    assert per_split["test"] == ds["test"]
    assert set(per_split) <= {"train", "validation", "test", "purged", "unlabeled"}
    assert len(rows) == 2 * ds["samples"]  # every sample, both horizons
    assert (
        pd.to_datetime(rows["target_time"].dropna(), utc=True)
        > pd.to_datetime(rows.loc[rows["target_time"].notna(), "time"], utc=True)
    ).all()
    h3 = rows[(rows["horizon"] == 3) & rows["realized_return"].notna()]
    realized = h3["close"] * np.exp(h3["realized_return"])
    np.testing.assert_allclose(realized, h3["realized_price"], rtol=1e-12)


def test_the_test_rows_reproduce_the_metrics_file_exactly(exported):
    out, csv = exported
    rows = pd.read_csv(csv)
    metrics = json.loads(out.with_name("m.metrics.json").read_text())
    assert prediction_metrics(rows[rows["split"] == "test"], 0.9) == metrics["test"]
    h1 = metrics["test"]["h1"]
    assert {"mae", "rmse", "r2", "price_mape", "price_r2", "up_f1", "coverage", "winkler"} <= set(
        h1["model"]
    )
    assert h1["persistence"]["up_recall"] == 0.0  # persistence never calls "up"
    from model import read_header

    assert h1["model"]["mae"] == pytest.approx(read_header(out).metadata["evaluation"]["h1"]["mae"])


def test_backtest_exports_each_fold(tmp_path):
    csv = tmp_path / "bt.csv"
    base = ["backtest", *TINY, "--period", "5y", "--folds", "2", "--predictions", csv]
    result = run(base)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(csv)
    assert set(rows["split"]) == {"fold1", "fold2"}
    assert {"ridge", "drift", "ewma_lower", "predicted_price"} <= set(rows.columns)
    bad = run([*base[:-1], tmp_path / "bt.xlsx"])
    assert bad.exit_code == 1 and ".parquet" in bad.stderr


def test_tracking_off_imports_no_mlflow(tmp_path):
    code = (
        "import sys\nfrom stock_analyzer.cli import main\n"
        f"sys.argv = ['stock-analyzer', 'train', *{[str(a) for a in TINY]!r}, '-o', "
        f"{str(tmp_path / 'm.safetensors')!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    print('EXIT', e.code)\n"
        "print('MLFLOW', 'mlflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "EXIT 0" in out.stdout and "MLFLOW False" in out.stdout, out.stderr


def test_a_tracked_run_reads_back_with_mlflows_client(tmp_path, monkeypatch):
    import mlflow  # the [track] extra is part of [test]: installed wherever the tests run

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "m.safetensors"
    result = run(["train", *TINY, "-o", out, "--track", uri])
    assert result.exit_code == 0, result.output
    run_id = result.stderr.split("tracked as MLflow run ")[1].split()[0]
    mlflow.set_tracking_uri(uri)
    got = mlflow.get_run(run_id)
    assert got.data.params["model.hidden_dim"] == "4" and got.data.params["data.symbol"] == "^GSPC"
    assert "test.h1.mae" in got.data.metrics and "val_loss" in got.data.metrics
    history = mlflow.tracking.MlflowClient().get_metric_history(run_id, "train_loss")
    assert [m.step for m in history] == [1, 2]
    names = {a.path for a in mlflow.tracking.MlflowClient().list_artifacts(run_id)}
    assert {"m.safetensors", "m.history.json", "m.metrics.json"} <= names
