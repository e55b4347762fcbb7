import json

from click.testing import CliRunner
from stock_analyzer.cli import cli


def run(argv):
    return CliRunner().invoke(cli, [str(a) for a in argv])


def test_backtest_errors(args, expected, files, tiny_config):
    names = {**files, "tiny": tiny_config}
    result = run([a.format(**names) for a in args["argv"]])
    assert result.exit_code == expected["code"], result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert errors == lines[-1:], result.stderr
    assert expected["message"] in errors[0]


def test_backtest_writes_report_and_plot(tiny_config, workdir):
    report = workdir / "bt" / "report.json"
    plot = workdir / "bt" / "report.png"
    argv = ["backtest", "--config", tiny_config, "--period", "2y", "--folds", "2"]
    result = run([*argv, "--epochs", "1", "--report", report, "--plot", plot])
    assert result.exit_code == 0, result.output
    assert "fold 1/2: test" in result.stderr and "fold 2/2: test" in result.stderr
    for word in ("lstm", "ridge", "drift", "persistence", "always-up", "ewma", "Winkler"):
        assert word in result.stdout
    data = json.loads(report.read_text())
    assert data["symbol"] == "^GSPC" and data["seed"] == 0 and len(data["folds"]) == 2
    assert data["settings"]["training"]["epochs"] == 1  # the flag overrides the file
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # same seed, same numbers
    again = run([*argv, "--epochs", "1", "--quiet"])
    assert again.exit_code == 0 and again.stderr.count("fold ") == 0
    table = lambda out: out.split(" folds in ")[0]  # noqa: E731
    assert table(again.stdout) == table(result.stdout)


def test_retrain_every_and_since(tiny_config):
    argv = ["backtest", "--config", tiny_config, "--since", "2017-01-01", "--retrain-every"]
    result = run([*argv, "100", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "backtest on 502 1d candles of ^GSPC (2017-01-03 .. 2018-12-31)" in result.stderr
    assert "in 3 folds" in result.stdout


def test_the_process_engine_gives_the_same_report(tiny_config, tmp_path):
    import json

    from click.testing import CliRunner
    from stock_analyzer.cli import cli

    reports = []
    for engine in ("serial", "process"):
        path = tmp_path / f"{engine}.json"
        argv = ["backtest", "--config", str(tiny_config), "--period", "2y", "--folds", "2"]
        argv += ["-q", "--engine", engine, "--report", str(path)]
        argv += ["--workers", "2"] if engine == "process" else []
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code == 0, result.output
        body = json.loads(path.read_text())
        reports.append((body["metrics"], body["predictions"]))
    assert reports[0] == reports[1]


def test_several_symbols_one_failing(tiny_config, tmp_path):
    import json

    from click.testing import CliRunner
    from stock_analyzer.cli import cli

    watch = tmp_path / "watch.txt"
    watch.write_text("# two samples and a symbol with no sample data\nIBM\n^GSPC\nNOPE\n")
    report = tmp_path / "many.json"
    argv = ["backtest", "--config", str(tiny_config), "--period", "2y", "--folds", "2", "-q"]
    result = CliRunner().invoke(cli, [*argv, "--watchlist", str(watch), "--report", str(report)])
    assert result.exit_code == 1, result.output  # one symbol failed: reported, not fatal
    lines = result.stdout.splitlines()
    assert any(x.startswith("IBM [h1]") for x in lines) and any(
        x.startswith("^GSPC [h1]") for x in lines
    )
    assert any(x.startswith("NOPE: ") for x in lines)
    body = json.loads(report.read_text())
    assert set(body["reports"]) == {"IBM", "^GSPC"} and body["errors"][0]["symbol"] == "NOPE"
    both = CliRunner().invoke(cli, [*argv, "--symbols", "IBM", "--watchlist", str(watch)])
    assert both.exit_code == 2 and "mutually exclusive" in both.stderr


def test_several_symbols_on_a_pool_one_fold_queue(tiny_config, tmp_path):
    import json

    from click.testing import CliRunner
    from stock_analyzer.cli import cli

    bodies = []
    for engine in ("serial", "process"):
        report = tmp_path / f"{engine}.json"
        argv = ["backtest", "--config", str(tiny_config), "--period", "2y", "--folds", "2"]
        argv += ["--symbols", "IBM,^GSPC", "--engine", engine, "--report", str(report)]
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code == 0, result.output
        progress = [x for x in result.stderr.splitlines() if x.startswith("fold ")]
        assert len(progress) == 4 and progress[-1].startswith("fold 4/4: ")
        body = json.loads(report.read_text())
        bodies.append({s: r["metrics"] for s, r in body["reports"].items()})
    assert list(bodies[0]) == ["IBM", "^GSPC"] and bodies[0] == bodies[1]
