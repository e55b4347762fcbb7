"""The CLI follows its ecosystem's conventions: -v logging, STOCK_ANALYZER_* variables,
``-`` for stdout, ``--json`` summaries, one-line errors, source-fitting defaults."""

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from data_fetcher import load_sample, read_candles_csv
from stock_analyzer.cli import cli

EXE = Path(sys.executable).parent / "stock-analyzer"
TINY = [
    "--buffer-size", "20", "--window-size", "4", "--groups", "trend_fft", "--seq-len", "5",
    "--hidden-dim", "4",
    "--num-layers", "1", "--epochs", "1", "--batch-size", "256", "-q",
]  # fmt: skip


def run(args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


def test_sample_source_trains_on_the_whole_series_by_default(tmp_path):
    out = tmp_path / "m.safetensors"
    result = run(["train", "--source", "sample", "--symbol", "^GSPC", *TINY, "-o", out])
    assert result.exit_code == 0, result.output
    assert f"training on {len(load_sample('^GSPC'))} 1d candles" in result.stderr
    assert "warning:" not in result.stderr  # thousands of samples: nothing to warn about


def test_too_few_samples_say_so_in_one_line(tmp_path):
    out = tmp_path / "m.safetensors"
    result = run(
        ["train", "--source", "sample", "--symbol", "IBM", "--period", "1y", *TINY, "-o", out]
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "training and" in warnings[0] and "test samples" in warnings[0]


def test_train_json_summary(tmp_path):
    out = tmp_path / "m.safetensors"
    result = run(["train", "--source", "sample", "--symbol", "IBM", *TINY, "-o", out, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["files"][0] == str(out) and body["pipeline"]["symbol"] == "IBM"
    assert body["dataset"]["test"] > 100 and "h1" in body["evaluation"]
    assert body["warning"] is None
    assert json.loads(out.with_name("m.history.json").read_text())["history"]


def test_train_refuses_stdout_for_the_model(tmp_path):
    result = run(["train", "--source", "sample", "--symbol", "IBM", *TINY, "-o", "-"])
    assert result.exit_code == 2 and "needs a path" in result.stderr


def test_environment_variables_set_options(tmp_path):
    out = tmp_path / "m.safetensors"
    env = {"STOCK_ANALYZER_TRAIN_EPOCHS": "2", "STOCK_ANALYZER_TRAIN_SEED": "7"}
    i = TINY.index("--epochs")
    flags = TINY[:i] + TINY[i + 2 :]
    result = run(
        ["train", "--source", "sample", "--symbol", "IBM", *flags, "-o", out],
        env=env,
        auto_envvar_prefix="STOCK_ANALYZER",
    )
    assert result.exit_code == 0, result.output
    from model import read_header

    training = read_header(out).metadata["training"]
    assert (training["epochs"], training["seed"]) == (2, 7)
    flag_wins = run(
        ["train", "--source", "sample", "--symbol", "IBM", *TINY, "--seed", "1", "-o", out],
        env=env,
        auto_envvar_prefix="STOCK_ANALYZER",
    )
    assert flag_wins.exit_code == 0 and read_header(out).metadata["training"]["seed"] == 1


def test_verbose_turns_on_the_libraries_logging(tmp_path):
    path = tmp_path / "dup.csv"
    ibm = load_sample("IBM").iloc[:60]
    frame = pd.concat([ibm, ibm.iloc[[10]]])  # a duplicated stamp: repaired with a warning
    frame.to_csv(path)
    quiet = run(["fetch", "--source", f"csv:{path}", "--symbol", "IBM"])
    loud = run(["-v", "fetch", "--source", f"csv:{path}", "--symbol", "IBM"])
    assert quiet.exit_code == loud.exit_code == 0, loud.output
    assert "INFO data_fetcher" not in quiet.stderr
    assert "data_fetcher:" in loud.stderr


def test_fetch_output_reads_back_with_its_stamps_and_zone(tmp_path):
    for name in ("ibm.csv", "ibm.csv.gz"):
        out = tmp_path / name
        result = run(["fetch", "--source", "sample", "--symbol", "IBM", "-o", out])
        assert result.exit_code == 0, result.output
        back = read_candles_csv(out)
        sample = load_sample("IBM")
        assert back.index.equals(sample.index) and str(back.index.tz) == str(sample.index.tz)
        assert (back.to_numpy() == sample.to_numpy()).all()
    assert gzip.decompress((tmp_path / "ibm.csv.gz").read_bytes()).startswith(b"Date[")
    bad = run(["fetch", "--source", "sample", "--symbol", "IBM", "-o", tmp_path / "x.parquet"])
    assert bad.exit_code == 2 and ".csv.gz" in bad.stderr


def test_predict_log_to_stdout_and_json(trained):
    result = run(
        ["predict", "--model", trained, "--source", "replay", "--max-ticks", "8", "--log", "-"]
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum(r["type"] == "prediction" for r in records) == 8
    assert "ticks 8" in result.stderr  # the summary moves to stderr
    as_json = run(
        ["predict", "--model", trained, "--source", "replay", "--max-ticks", "5", "--json"]
    )
    body = json.loads(as_json.stdout)
    assert body["ticks"] == 5 and body["metrics"]["h1"]["outcomes"] == 4


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_poll_interval_must_be_finite(trained, value):
    result = run(["predict", "--model", trained, "--source", "replay", "--poll-interval", value])
    assert result.exit_code == 2 and "--poll-interval" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_backtest_report_to_stdout_and_json(tiny_config):
    base = ["backtest", "--config", tiny_config, "--period", "5y", "--folds", "2", "-q"]
    report = run([*base, "--report", "-"])
    assert report.exit_code == 0, report.output
    body = json.loads(report.stdout)
    assert len(body["folds"]) == 2 and body["interrupted"] is False
    assert "lstm" in report.stderr  # the table moves to stderr
    summary = json.loads(run([*base, "--json"]).stdout)
    assert "predictions" not in summary and summary["metrics"]["h1"]["samples"] > 0


def test_an_unexpected_error_is_one_line(monkeypatch):
    import finance_demo

    def broken(*args, **kwargs):
        raise ValueError("something deep\nwith a second line")

    monkeypatch.setattr(finance_demo, "train_model", broken)
    result = run(["train", "--source", "sample", "--symbol", "IBM", *TINY])
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: unexpected ValueError: something deep (this is a bug")
    )
    assert "Traceback" not in result.stderr


def test_ctrl_c_in_backtest_writes_the_finished_folds(tiny_config, tmp_path):
    """A real SIGINT to a real process once the first fold is reported."""
    report = tmp_path / "r.json"
    argv = [EXE, "backtest", "--config", tiny_config, "--period", "max", "--folds", "6"]
    argv += ["--epochs", "3", "--report", report]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("fold 1/6"):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted: writing the report of the" in err and "Traceback" not in err
    body = json.loads(report.read_text())
    assert body["interrupted"] is True and body["folds_planned"] == 6
    assert 1 <= len(body["folds"]) < 6
    assert "interrupted:" in out and "folds finished" in out


def test_prices_print_at_the_instruments_precision(tmp_path):
    out = tmp_path / "eur.safetensors"
    argv = ["train", "--source", "sample", "--symbol", "EURUSD=X", "--interval", "1h"]
    result = run([*argv, *TINY, "-o", out])
    assert result.exit_code == 0, result.output
    info = run(["info", out])
    assert "price_decimals=5" in info.stdout
    live = run(["predict", "--model", out, "--source", "replay", "--max-ticks", "3"])
    assert live.exit_code == 0, live.output
    line = next(x for x in live.stdout.splitlines() if " h1 -> " in x)
    # e.g. "... close 1.16201  h1 -> 1.16234 [1.16102, 1.16371]  (+0.029%)"
    prices = line.split("close ")[1].split("  (")[0].replace("h1 -> ", "").replace(",", "")
    for price in prices.replace("[", "").replace("]", "").split():
        assert len(price.split(".")[1]) == 5, line


def test_an_unadjusted_split_is_warned_about_and_can_be_adjusted(tmp_path):
    ibm = load_sample("IBM")
    raw = ibm.copy()
    cut = raw.index[len(raw) // 2]
    for col in ("Open", "High", "Low", "Close"):
        raw.loc[raw.index < cut, col] *= 2.0  # prices before a 2-for-1 split, not adjusted
    path = tmp_path / "raw.csv"
    raw.to_csv(path)
    base = ["fetch", "--source", f"csv:{path}", "--symbol", "IBM", "-o", tmp_path / "o.csv"]
    warned = run(base)
    assert warned.exit_code == 0, warned.output
    lines = [x for x in warned.stderr.splitlines() if "looks like an unadjusted" in x]
    assert len(lines) == 1 and str(cut.date()) in lines[0] and "1:2" in lines[0]
    adjusted = run([*base, "--adjust-splits"])
    assert adjusted.exit_code == 0, adjusted.output
    assert not [x for x in adjusted.stderr.splitlines() if "looks like an unadjusted" in x]
    back = read_candles_csv(tmp_path / "o.csv")
    assert abs(back["Close"].to_numpy() / ibm["Close"].to_numpy() - 1).max() < 1e-9
    refused = run(["fetch", "--source", "sample", "--symbol", "IBM", "--adjust-splits"])
    assert refused.exit_code == 2 and "adjust_splits applies to files" in refused.stderr


@pytest.mark.parametrize("kind", ["seq2seq", "gbdt", "rf", "ensemble"])
def test_every_model_family_trains_predicts_and_shows(kind, tmp_path):
    out = tmp_path / f"{kind}.safetensors"
    result = run(
        ["train", "--source", "sample", "--symbol", "IBM", "--model", kind, *TINY, "-o", out]
    )
    assert result.exit_code == 0, result.output
    from model import read_header

    assert read_header(out).kind == kind
    live = run(["predict", "--model", out, "--source", "replay", "--max-ticks", "4", "-q"])
    assert live.exit_code == 0 and "ticks 4, predictions 4" in live.stdout, live.output
    info = run(["info", out])
    assert info.exit_code == 0 and "symbol: IBM" in info.stdout


def test_a_repeated_symbol_is_an_error_not_a_silent_overwrite():
    result = run(["fetch", "--source", "sample", "--symbol", "IBM", "--symbol", "MSFT"])
    assert result.exit_code == 2
    assert "--symbol was given 2 times (IBM, MSFT); give it once" in result.stderr
