"""``train --symbols [--global]``, ``backtest --symbols --global`` and a global model in use."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from stock_analyzer.cli import cli

TINY = ["--source", "sample", "--epochs", "1", "--hidden-dim", "8", "--num-layers", "1"]
TINY += ["--seq-len", "6", "--buffer-size", "20", "--window-size", "4", "--groups", "trend_fft"]


def run(argv):
    return CliRunner().invoke(cli, [str(a) for a in argv])


@pytest.fixture(scope="module")
def trained_global(tmp_path_factory):
    registry = tmp_path_factory.mktemp("global-registry")
    out = registry.parent / "global.safetensors"
    argv = ["train", *TINY, "--symbols", "^GSPC,IBM,NOPE", "--global", "--registry", registry]
    result = run([*argv, "-o", out, "-q"])
    return registry, out, result


def test_train_global_one_file_a_failing_symbol_reported(trained_global):
    registry, out, result = trained_global
    assert result.exit_code == 1, result.output  # NOPE failed, the others trained
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["symbol", "test", "samples", "MAE"]
    assert lines[2].startswith("^GSPC [h1]") and lines[3].startswith("IBM [h1]")
    assert lines[4].startswith("NOPE: no sample data for symbol 'NOPE'")
    model_id = lines[2].split()[-1]
    assert model_id.startswith("global-1d-") and lines[3].split()[-1] == model_id
    assert out.is_file() and (registry / f"{model_id}.safetensors").is_file()
    info = run(["info", out])
    assert info.exit_code == 0, info.output
    assert "global model of 2 symbols: ^GSPC, IBM (symbol embedding on" in info.stdout
    assert "test evaluation per symbol:" in info.stdout


def test_a_global_model_forecasts_and_predicts_the_symbol_asked(trained_global):
    out = trained_global[1]
    fc = run(["forecast", "--model", out, "--symbol", "IBM", "--source", "sample", "--json"])
    assert fc.exit_code == 0, fc.output
    body = json.loads(fc.stdout)
    assert body["symbol"] == "IBM" and body["time"].startswith("2013-03-01")
    argv = ["predict", "--model", out, "--symbol", "^GSPC", "--source", "replay"]
    live = run([*argv, "--max-ticks", "20", "--json"])
    assert live.exit_code == 0, live.output
    summary = json.loads(live.stdout.strip().splitlines()[-1])
    assert summary["predictions"] == 20


@pytest.mark.parametrize(
    "argv, message",
    [
        (["forecast", "--source", "sample"], "a global model of 2 symbols (^GSPC, IBM): say which"),
        (["forecast", "--source", "sample", "--symbol", "MSFT"], "does not know 'MSFT'"),
        (["predict", "--source", "replay"], "a global model of 2 symbols (^GSPC, IBM)"),
    ],
)
def test_a_global_model_without_a_known_symbol_is_one_line(trained_global, argv, message):
    _, out, _ = trained_global
    result = run([*argv, "--model", out])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == [result.stderr.strip().splitlines()[-1]]
    assert result.stderr.startswith("Error: ") and message in result.stderr


def test_train_symbols_one_model_each(tmp_path):
    argv = ["train", *TINY, "--symbols", "^GSPC,IBM", "--registry", tmp_path, "--json"]
    result = run(argv)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body["model_ids"]) == {"^GSPC", "IBM"} and body["errors"] == []
    assert body["model_ids"]["IBM"].startswith("IBM-1d-")
    listed = run(["models", "list", "--registry", tmp_path])
    assert listed.stdout.count("-1d-") == 2


def test_backtest_global_table_and_report(tmp_path):
    report = tmp_path / "global.json"
    argv = ["backtest", *TINY, "--symbols", "^GSPC,IBM", "--global", "--folds", "2"]
    result = run([*argv, "--period", "max", "--report", report, "-q"])
    assert result.exit_code == 0, result.output
    assert "MAE global" in result.stdout and "global vs per-symbol at 5%" in result.stdout
    data = json.loads(report.read_text())
    assert [r["symbol"] for r in data["rows"]] == ["^GSPC", "IBM"] and data["folds"] == 2
    assert data["errors"] == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--global", "--symbol", "^GSPC"], "--global needs several symbols"),
        (["backtest", "--global", "--symbol", "^GSPC"], "--global needs several symbols"),
        (["train", "--symbols", "^GSPC,IBM", "-o", "x.safetensors"], "--output names one model"),
        (["train", "--symbols", "^GSPC,IBM", "--no-register"], "need the registry"),
        (["train", "--symbols", "^GSPC,^gspc", "--global"], "listed twice"),
        (["train", "--symbols", "^GSPC,IBM", "--plot", "x.png"], "--plot works with one"),
        (["backtest", "--symbols", "^GSPC,IBM", "--global", "--retrain-every", "50"],
         "--retrain-every is per symbol"),
        (["train", "--symbols", "NOPE,NADA", "--global"], "no symbol could be fetched"),
    ],
)  # fmt: skip
def test_multi_symbol_usage_errors(argv, message, tmp_path):
    registry = ["--registry", tmp_path] if argv[0] == "train" else []
    result = run([*argv, "--source", "sample", *registry])
    assert result.exit_code in (1, 2) and "Traceback" not in result.output
    assert message in result.stderr, result.stderr


def test_predict_symbols_one_loop_over_a_global_model(trained_global, tmp_path):
    """A real subprocess: the installed command, the replay of two shipped samples."""
    import subprocess
    import sys

    _, out, _ = trained_global
    log = tmp_path / "many.jsonl"
    argv = ["predict", "--model", str(out), "--symbols", "^GSPC,IBM", "--source", "replay"]
    exe = Path(sys.executable).with_name("stock-analyzer")  # the installed entry point
    proc = subprocess.run(
        [exe, *argv, "--max-ticks", "15", "--log", str(log)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "2 symbols, polls 15 (one batched request each)" in proc.stdout
    records = [json.loads(line) for line in log.read_text().splitlines()]
    for symbol in ("^GSPC", "IBM"):
        mine = [r for r in records if r["symbol"] == symbol and r["type"] == "prediction"]
        assert len(mine) == 15
    result = run([*argv, "--max-ticks", "3", "--json"])
    body = json.loads(result.stdout)
    assert body["predictions"] == 6 and set(body["symbols"]) == {"^GSPC", "IBM"}


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--symbol", "^GSPC"], "--symbol and --symbols/--watchlist are mutually exclusive"),
        (["--model", None], "does not know 'MSFT'"),
        ([], "no registered model for IBM, MSFT: 'stock-analyzer train --symbols IBM,MSFT'"),
    ],
)
def test_predict_symbols_errors(trained_global, tmp_path, extra, message):
    _, out, _ = trained_global
    extra = [str(out) if e is None else e for e in extra]
    argv = ["predict", "--symbols", "IBM,MSFT", "--source", "replay", "--registry", tmp_path]
    result = run([*argv, *extra, "--max-ticks", "2"])
    assert result.exit_code in (1, 2) and "Traceback" not in result.output
    assert message in result.stderr, result.stderr


def test_forecast_symbols_one_row_each_a_failing_one_reported(trained_global):
    _, out, _ = trained_global
    argv = ["forecast", "--model", out, "--symbols", "^GSPC,MSFT,IBM", "--source", "sample"]
    result = run(argv)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[2].startswith("^GSPC ") and lines[3].startswith("IBM ")
    assert lines[4].startswith("MSFT: the global model does not know 'MSFT'")
    body = json.loads(run([*argv, "--json"]).stdout)
    assert [f["symbol"] for f in body["forecasts"]] == ["^GSPC", "IBM"]
    assert [e["symbol"] for e in body["errors"]] == ["MSFT"]
    single = json.loads(run(["forecast", "--model", out, "--symbol", "IBM", "--source",
                             "sample", "--json"]).stdout)  # fmt: skip
    assert body["forecasts"][1]["horizons"] == single["horizons"]
    both = run([*argv, "--symbol", "IBM"])
    assert both.exit_code == 2 and "mutually exclusive" in both.stderr


def test_train_interrupted_then_resumed_equals_one_run(tmp_path):
    """Ctrl-C (SIGINT) in a real training process; --resume finishes it bit for bit."""
    import signal
    import subprocess
    import sys
    import time

    exe = Path(sys.executable).with_name("stock-analyzer")
    base = [exe, "train", *TINY, "--symbol", "^GSPC", "--epochs", "40", "--patience", "40"]
    base += ["--no-register", "-q", "--json"]
    ckpt = tmp_path / "ckpt"
    proc = subprocess.Popen(
        [*base, "--checkpoint-dir", ckpt, "-o", tmp_path / "a.safetensors"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (ckpt / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted: the last finished epoch is in" in err and "Traceback" not in err
    resumed = subprocess.run(
        [*base, "--checkpoint-dir", ckpt, "--resume", "-o", tmp_path / "a.safetensors"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    whole = subprocess.run(
        [*base, "-o", tmp_path / "b.safetensors"], capture_output=True, text=True, timeout=300
    )
    assert whole.returncode == 0, whole.stderr
    a, b = json.loads(resumed.stdout), json.loads(whole.stdout)
    assert a["evaluation"] == b["evaluation"]
    from model import load_forecaster

    ha = load_forecaster(tmp_path / "a.safetensors").history
    hb = load_forecaster(tmp_path / "b.safetensors").history
    strip = lambda h: [(r["epoch"], r["train_loss"], r["val_loss"]) for r in h]  # noqa: E731
    assert strip(ha) == strip(hb) and len(ha) == 40
