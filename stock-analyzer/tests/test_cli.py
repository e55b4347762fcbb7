import json
import subprocess
import sys

import pandas as pd
from click.testing import CliRunner
from stock_analyzer.cli import cli


def run(argv):
    return CliRunner().invoke(cli, [str(a) for a in argv])


def test_user_errors(args, expected, files):
    argv = [a.format(**files) for a in args["argv"]]
    result = run(argv)
    assert result.exit_code == expected["code"], result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert errors == lines[-1:], result.stderr  # one error line, the last one
    assert expected["message"] in errors[0]


def test_help_is_light(args, expected):
    code = (
        "import sys\n"
        "from stock_analyzer.cli import main\n"
        f"sys.argv = ['stock-analyzer', *{args['argv']!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = [m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy, code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert expected in out.stdout
    assert "HEAVY [] 0" in out.stdout, out.stdout + out.stderr
    # click's markup must not leak into what the user reads
    assert "\\b" not in out.stdout and "\b" not in out.stdout


def test_train_prints_table_and_writes_files(trained):
    history = json.loads(trained.with_name("model.history.json").read_text())
    assert len(history["history"]) == 2
    assert {"mae", "mae_persistence", "direction_accuracy", "always_up", "coverage"} <= set(
        history["evaluation"]["h1"]
    )


def test_flags_override_the_config(tiny_config, workdir):
    out = workdir / "override.pt"
    plot = workdir / "plots" / "train.png"
    result = run(
        [
            "train",
            "--config",
            tiny_config,
            "--epochs",
            "1",
            "--seed",
            "3",
            "--output",
            out,
            "--plot",
            plot,
        ]
    )
    assert result.exit_code == 0, result.output
    assert "direction accuracy" in result.stdout and "always-up" in result.stdout
    assert "epoch 1/1  train_loss" in result.stderr
    from model import Model

    meta = Model.load(out).metadata
    assert meta["training"]["epochs"] == 1 and meta["training"]["seed"] == 3
    assert meta["pipeline"]["symbol"] == "^GSPC"  # from the file
    assert meta["pipeline"]["buffer"]["buffer_size"] == 20
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_info(trained):
    result = run(["info", trained])
    assert result.exit_code == 0, result.output
    assert "symbol: ^GSPC" in result.stdout and "interval: 1d" in result.stdout
    assert "interval coverage" in result.stdout
    as_json = json.loads(run(["info", trained, "--json"]).stdout)
    assert as_json["network"]["seq_len"] == 6 and as_json["pipeline_problem"] is None
    assert as_json["network"]["hidden_dim"] == 8


def test_fetch_to_csv(workdir):
    out = workdir / "ibm.csv"
    result = run(
        ["fetch", "--source", "sample", "--symbol", "IBM", "--period", "1y", "--output", out]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, index_col=0)
    assert list(frame.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert f"{len(frame)} 1d candles of IBM" in result.stderr
    stdout = run(["fetch", "--source", "sample", "--symbol", "IBM", "--period", "1mo"]).stdout
    assert stdout.startswith("Date,Open") or stdout.splitlines()[0].endswith("Volume")


def test_predict_replay_prints_predictions_and_summary(trained, workdir):
    log = workdir / "cli.jsonl"
    result = run(
        ["predict", "--model", trained, "--source", "replay", "--max-ticks", "30", "--log", log]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count(" h1 -> ") == 30
    assert "ticks 30, predictions 30, outcomes 29" in result.stdout
    assert "h1: MAE" in result.stdout
    assert len(log.read_text().splitlines()) == 30 + 29
    quiet = run(["predict", "--model", trained, "--source", "replay", "--max-ticks", "5", "-q"])
    assert " h1 -> " not in quiet.stdout and "ticks 5" in quiet.stdout
    assert "recalibrated" not in quiet.stdout
    args = ["--source", "replay", "--max-ticks", "12", "-q", "--recalibrate", "50"]
    rolled = run(["predict", "--model", trained, *args])
    assert rolled.exit_code == 0, rolled.output
    assert "interval recalibrated on 11 realized outcomes" in rolled.stdout


def test_shipped_example_config_is_the_defaults():
    from pathlib import Path

    from finance_demo import Settings, load_settings_file

    path = Path(__file__).parents[1] / "examples" / "settings.yaml"
    settings = load_settings_file(path)
    assert (settings.buffer, settings.features) == (Settings().buffer, Settings().features)
    assert settings.model == Settings().model
    assert settings.training == Settings().training
    assert (settings.data.symbol, settings.data.source) == ("^GSPC", "sample")


def test_fetch_from_yahoo_shows_its_cache(tmp_path):
    # prime the cache through yfinance's own parsing (offline session), then the CLI's
    # fetch is a cache hit: no request, and the line on stderr names the cache folder
    from data_fetcher import Fetcher
    from data_fetcher.testing import YahooChartSession, isolated_yfinance

    cache = tmp_path / "cache"
    with isolated_yfinance(tmp_path / "yf"):
        primed = Fetcher(
            "MSFT", "1mo", "1d", source="yahoo", cache_dir=cache, session=YahooChartSession()
        ).fetch_historical()
    result = CliRunner().invoke(
        cli,
        ["fetch", "--source", "yahoo", "--symbol", "MSFT", "--period", "1mo"],
        env={"STOCK_ANALYZER_CACHE_DIR": str(cache)},
    )
    assert result.exit_code == 0, result.output
    assert f"{len(primed)} 1d candles of MSFT" in result.stderr
    assert f"cache {cache}" in result.stderr
    no_cache = CliRunner().invoke(cli, ["fetch", "--source", "sample", "--symbol", "MSFT"])
    assert "cache" not in no_cache.stderr


def test_fetch_errors_name_the_offline_source():
    import click
    import pytest
    from data_fetcher import DataError, FetchError
    from stock_analyzer.options import user_errors

    with pytest.raises(click.ClickException, match=r"unreachable \(offline\? --source sample"):
        with user_errors("offline? --source sample uses the shipped candles"):
            raise FetchError("Yahoo unreachable")
    with pytest.raises(click.ClickException) as info:
        with user_errors():
            raise FetchError("no sample data for symbol 'X'")
    assert info.value.message == "no sample data for symbol 'X'"
    with pytest.raises(click.ClickException, match=r"^bad rows$"):
        with user_errors():
            raise DataError("bad rows")
