"""stock-analyzer tune: a real search on the shipped sample, its file, its errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from finance_demo import load_settings_file
from finance_demo.tuning import DEFAULT_SPACE
from stock_analyzer.cli import cli

pytest.importorskip("optuna")

SPACE = """\
model.hidden_dim: {int: [4, 12]}
training.lr: {float: [1.0e-3, 1.0e-2], log: true}
features.window_size: {int: [2, 30]}
"""


def run(argv):
    return CliRunner().invoke(cli, [str(a) for a in argv])


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    path = tmp_path_factory.mktemp("tune") / "space.yaml"
    path.write_text(SPACE)
    return path


def test_tune_runs_resumes_and_its_file_trains(tiny_config, space, tmp_path):
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    best = tmp_path / "best.yaml"
    argv = ["tune", "--config", tiny_config, "--space", space, "--folds", "2"]
    argv += ["--storage", storage, "--study", "t", "--output", best]
    first = run([*argv, "--trials", "2"])
    assert first.exit_code == 0, first.output
    assert "trial 1/2: MAE " in first.stderr and "trial 2/2: " in first.stderr
    assert "hidden_dim=8" in first.stderr  # trial 0 is the config's settings
    out = first.stdout
    assert "best of 2 trials" in out and "saved " in out
    header = next(line for line in out.splitlines() if line.startswith("metric"))
    assert header.split() == ["metric", "best", "default", "persistence"]
    assert "MAE (log return)" in out and "skill vs persistence" in out
    # Resumed to 3 in all: one more trial runs; the JSON names every trial.
    second = run([*argv, "--trials", "3", "--json"])
    assert second.exit_code == 0, second.output
    body = json.loads(second.stdout)
    assert body["trials_run"] == 1 and len(body["trials"]) == 3
    assert body["trials"][0]["params"]["model.hidden_dim"] == 8
    assert set(body["tail"]) == {"best", "default", "persistence"}
    assert body["tail"]["persistence"]["h1"]["mae"] > 0
    # The file is a --config file of the best settings; train reads it.
    settings = load_settings_file(best)
    params = body["best_params"]
    assert settings.model.hidden_dim == params["model.hidden_dim"]
    assert settings.training.lr == pytest.approx(params["training.lr"])
    assert settings.data.symbol == "^GSPC" and settings.data.source == "sample"
    model = tmp_path / "m.safetensors"
    trained = run(["train", "--config", best, "--output", model, "--quiet", "--json"])
    assert trained.exit_code == 0, trained.output
    assert (
        json.loads(trained.stdout)["pipeline"]["features"]["window_size"]
        == (params["features.window_size"])
    )
    assert model.is_file()


@pytest.mark.parametrize(
    ("extra", "space_text", "words"),
    [
        ([], "model.hiden_dim: {int: [8, 64]}\n", "unknown setting (known in model:"),
        ([], "modle.hidden_dim: {int: [8, 64]}\n", "unknown section 'modle'"),
        ([], "data.symbol: {choice: [A, B]}\n", "not tunable"),
        ([], "model.hidden_dim: {int: [8, 64]\n", "space.yaml:2:1"),
        (["--trials", "0"], None, "0 is not in the range 1<=x<=10000"),
        (["--holdout", "0.9"], None, "--holdout"),
        (["--folds", "0"], None, "--folds"),
        (["--hidden-dim", "0"], None, "hidden_dim must be a positive integer"),
    ],
)
def test_usage_errors_are_one_line_exit_2(extra, space_text, words, tiny_config, tmp_path):
    argv = ["tune", "--config", tiny_config, "--output", tmp_path / "b.yaml"]
    if space_text is not None:
        path = tmp_path / "space.yaml"
        path.write_text(space_text)
        argv += ["--space", path]
    if "--trials" not in extra:
        argv += ["--trials", "2"]
    result = run(argv + extra)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert words in lines[0]
    assert not (tmp_path / "b.yaml").exists()


def test_no_valid_combination_is_one_line(tiny_config, tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("features.window_size: {int: [25, 30]}\n")
    result = run(
        ["tune", "--config", tiny_config, "--space", path, "--trials", "2", "-o", tmp_path / "b.y"]
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines()[-1].startswith("Error: all 2 trials were pruned")


def test_without_optuna_one_line_names_the_extra(monkeypatch, tiny_config, tmp_path):
    monkeypatch.setitem(sys.modules, "optuna", None)
    result = run(["tune", "--config", tiny_config, "--trials", "2", "-o", tmp_path / "b.yaml"])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == "Error: tune needs Optuna: pip install 'finance-demo[tune]'"


def test_tune_help_imports_neither_optuna_nor_torch():
    code = (
        "import sys\n"
        "from stock_analyzer.cli import main\n"
        "sys.argv = ['stock-analyzer', 'tune', '--help']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = [m for m in ('optuna', 'torch', 'pandas', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy, code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "--trials" in out.stdout and "--storage" in out.stdout
    assert "HEAVY [] 0" in out.stdout, out.stdout + out.stderr


def test_the_example_space_is_the_default_and_valid():
    path = Path(__file__).parents[1] / "examples" / "search.yaml"
    assert yaml.safe_load(path.read_text()) == DEFAULT_SPACE
