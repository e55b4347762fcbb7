"""The installed ``stock-analyzer`` executable, as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

EXE = Path(sys.executable).with_name("stock-analyzer")


@pytest.mark.slow
def test_train_then_replay_matches_batch_prediction(tmp_path, tiny_config):
    assert EXE.exists(), f"{EXE} is not installed (run scripts/setup.sh)"
    model = tmp_path / "out" / "model.pt"
    log = tmp_path / "out" / "predictions.jsonl"
    train = subprocess.run(
        [EXE, "train", "--config", tiny_config, "--epochs", "2", "--output", model],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert train.returncode == 0, train.stderr
    assert "interval coverage" in train.stdout
    assert model.exists() and model.with_name("model.history.json").exists()

    predict = subprocess.run(
        [
            EXE,
            "predict",
            "--model",
            model,
            "--source",
            "replay",
            "--max-ticks",
            "120",
            "--log",
            log,
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert predict.returncode == 0, predict.stderr
    assert "ticks 120, predictions 120, outcomes 119" in predict.stdout

    records = [json.loads(line) for line in log.read_text().splitlines()]
    preds = [r for r in records if r["type"] == "prediction"]
    outcomes = [r for r in records if r["type"] == "outcome"]
    assert (len(preds), len(outcomes)) == (120, 119)
    for r in preds:
        assert r["symbol"] == "^GSPC" and r["interval"] == "1d" and r["horizon"] == 1
        assert r["lower_price"] <= r["predicted_price"] <= r["upper_price"]

    # parity: the batch path over the same history predicts the same at the same ticks
    from data_fetcher import Fetcher
    from finance_demo import batch_predict

    from model import Model

    candles = Fetcher("^GSPC", period="max", interval="1d", source="sample").fetch_historical()
    batch = batch_predict(Model.load(model), candles)
    batch.index = batch["time"].map(pd.Timestamp.isoformat)
    ref = batch.loc[[r["time"] for r in preds]]
    np.testing.assert_allclose(
        [r["predicted_return"] for r in preds], ref["predicted_return"], rtol=0, atol=1e-6
    )
    np.testing.assert_allclose([r["upper_price"] for r in preds], ref["upper_price"], rtol=1e-6)
    # the replay starts where the held-out last 15 % starts: the first replayed candle
    n = len(candles)
    assert preds[0]["time"] == candles.index[n - int(np.ceil(0.15 * n))].isoformat()


@pytest.mark.slow
def test_ctrl_c_stops_after_the_current_tick(tmp_path, trained):
    """SIGINT during a long replay: summary printed, every logged line complete, exit 0."""
    import signal
    import time

    log = tmp_path / "p.jsonl"
    proc = subprocess.Popen(
        [
            EXE,
            "predict",
            "--model",
            trained,
            "--source",
            "replay",
            "--replay-start",
            "200",
            "--log",
            log,
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while (not log.exists() or log.stat().st_size == 0) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "(stopped: signal)" in out and "received SIGINT" in err
    assert "Traceback" not in err
    lines = log.read_text().splitlines()
    assert all(json.loads(line)["type"] in ("prediction", "outcome") for line in lines)
    ticks = int(out.split("ticks ")[1].split(",")[0])
    assert 0 < ticks < 4800  # stopped long before the end of the replay
