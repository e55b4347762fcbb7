"""``backtest --models``: several kinds side by side, through the real executable."""

import json
import subprocess
import sys
from pathlib import Path

EXE = Path(sys.executable).parent / "stock-analyzer"
KINDS = "lstm,seq2seq,gbdt,rf,ensemble"
SMALL = ["--period", "2y", "--folds", "2", "--epochs", "1", "-q"]


def run(*argv):
    return subprocess.run([str(EXE), *map(str, argv)], capture_output=True, text=True, timeout=300)


def test_models_table_with_baselines_tests_and_verdict(tiny_config):
    out = run("backtest", "--config", tiny_config, *SMALL, "--models", KINDS)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stdout.splitlines()
    header = next(line for line in lines if line.startswith("model "))
    for column in ("MAE", "skill", "dir.acc", "coverage", "Winkler", "DM persist.", "DM EWMA"):
        assert column in header
    names = [line.split()[0] for line in lines if line.split()]
    for name in (*KINDS.split(","), "ridge", "drift", "persistence", "always-up"):
        assert name in names
    for band in ("constant band", "ewma band", "garch band"):
        assert any(line.startswith(band) for line in lines)
    verdict = [line for line in lines if "significantly at 5%" in line]
    assert len(verdict) == 1
    assert verdict[0].startswith("No kind beats") or "beat" in verdict[0]
    assert "comparing lstm, seq2seq, gbdt, rf, ensemble on" in out.stderr


def test_models_report_to_stdout_is_json(tiny_config):
    out = run("backtest", "--config", tiny_config, *SMALL, "--models", "gbdt,lstm", "--report", "-")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)  # nothing else on stdout: the table went to stderr
    assert body["kinds"] == ["gbdt", "lstm"] and body["symbol"] == "^GSPC"
    assert len(body["folds"]) == 2 and body["interrupted"] is False
    h1 = body["metrics"]["h1"]
    assert h1["samples"] == len(body["predictions"]["y"])
    for kind in ("gbdt", "lstm"):
        dm = h1["points"][kind]["diebold_mariano"]
        assert 0 <= dm["pvalue"] <= 1
        assert 0 <= h1["intervals"][kind]["dm_ewma_winkler"]["pvalue"] <= 1
        assert set(body["beats"][kind]) == {"persistence", "ewma", "garch"}
    assert "DM persist." in out.stderr and "significantly at 5%" in out.stderr


def test_bad_models_is_one_line_and_a_usage_exit():
    out = run("backtest", "--source", "sample", "--symbol", "IBM", "--models", "lstm,prophet")
    assert out.returncode == 2
    assert out.stdout == "" and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "unknown model kind 'prophet'" in lines[0]
