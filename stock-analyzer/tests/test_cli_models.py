"""``train`` registers its model; ``models list/show/delete/cleanup``; ``predict --model ID``."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from finance_demo import Registry
from stock_analyzer.cli import cli

EXE = Path(sys.executable).parent / "stock-analyzer"
TINY = [
    "--buffer-size", "20", "--window-size", "4", "--groups", "trend_fft", "--seq-len", "5",
    "--hidden-dim", "4",
    "--num-layers", "1", "--epochs", "1", "--batch-size", "256", "-q",
]  # fmt: skip


def run(args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


def train(registry, symbol="IBM", *extra):
    argv = ["train", "--source", "sample", "--symbol", symbol, *TINY, "--registry", registry]
    result = run([*argv, *extra, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def reg_dir(tmp_path_factory):
    """A registry with two IBM models and one ^GSPC model, trained through the CLI."""
    root = tmp_path_factory.mktemp("registry")
    ids = [train(root, s)["model_id"] for s in ("IBM", "^GSPC", "IBM")]
    return root, ids


def test_the_tests_use_their_own_registry(isolated_registry_home):
    assert os.environ["STOCK_ANALYZER_HOME"] == str(isolated_registry_home)


def test_train_registers_and_prints_the_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--source", "sample", "--symbol", "IBM", *TINY, "--registry", tmp_path]
    result = run(argv)
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("registered IBM-1d-") and line.endswith(f" in {tmp_path}")
    model_id = line.split()[1]
    assert (tmp_path / f"{model_id}.safetensors").is_file()
    assert [e.id for e in Registry(tmp_path).list()] == [model_id]
    assert not (tmp_path / "model.safetensors").exists()  # no stray file in the working directory


def test_train_with_output_writes_it_and_registers_the_same_bytes(tmp_path):
    out = tmp_path / "m.safetensors"
    body = train(tmp_path / "reg", "IBM", "-o", out)
    entry = Registry(tmp_path / "reg").get(body["model_id"])
    assert body["files"][:2] == [str(out), str(tmp_path / "m.history.json")]
    assert body["files"][2] == str(tmp_path / "m.metrics.json")
    assert body["files"][3] == str(entry.path)
    assert entry.path.read_bytes() == out.read_bytes()


def test_no_register_writes_only_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--source", "sample", "--symbol", "IBM", *TINY, "--no-register"]
    result = run([*argv, "--registry", tmp_path / "reg"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model.safetensors").is_file() and "registered" not in result.stdout
    assert not (tmp_path / "reg").exists()


def test_the_registry_comes_from_the_environment(tmp_path):
    env = {"STOCK_ANALYZER_HOME": str(tmp_path)}
    argv = ["train", "--source", "sample", "--symbol", "IBM", *TINY, "--json"]
    body = json.loads(run(argv, env=env).stdout)
    listed = json.loads(run(["models", "list", "--json"], env=env).stdout)
    assert [e["id"] for e in listed] == [body["model_id"]]
    assert listed[0]["path"].startswith(str(tmp_path / "models"))


def test_models_list_text_json_and_filters(reg_dir):
    root, ids = reg_dir
    text = run(["models", "list", "--registry", root])
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "symbol", "interval"] and len(lines) == 2 + 3
    assert [line.split()[0] for line in lines[2:]] == ids[::-1]  # newest first
    listed = json.loads(run(["models", "list", "--registry", root, "--json"]).stdout)
    assert [e["id"] for e in listed] == ids[::-1]
    assert listed[0]["symbol"] == "IBM" and listed[0]["horizons"] == [1]
    assert "mae" in listed[0]["evaluation"]["h1"]
    ibm = json.loads(
        run(["models", "list", "--registry", root, "--symbol", "IBM", "--json"]).stdout
    )
    assert [e["id"] for e in ibm] == [ids[2], ids[0]]
    none = run(["models", "list", "--registry", root, "--interval", "1h"])
    assert none.exit_code == 0 and none.stdout == "" and "no models in" in none.stderr


def test_models_show(reg_dir):
    root, ids = reg_dir
    text = run(["models", "show", ids[1], "--registry", root])
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith(f"id: {ids[1]}") and "symbol: ^GSPC" in text.stdout
    assert "test evaluation:" in text.stdout
    body = json.loads(run(["models", "show", ids[1], "--registry", root, "--json"]).stdout)
    assert body["id"] == ids[1] and body["metadata"]["pipeline"]["symbol"] == "^GSPC"
    missing = run(["models", "show", "NOPE-1d", "--registry", root])
    assert missing.exit_code == 1
    assert missing.stderr.strip() == f"Error: no model 'NOPE-1d' in the registry {root}"


def test_models_delete(tmp_path):
    body = train(tmp_path)
    result = run(["models", "delete", body["model_id"], "--registry", tmp_path])
    assert result.exit_code == 0 and result.stdout.strip() == f"deleted {body['model_id']}"
    assert Registry(tmp_path).list() == []
    again = run(["models", "delete", body["model_id"], "--registry", tmp_path])
    assert again.exit_code == 1 and "no model" in again.stderr and "Traceback" not in again.output


def _age(root, model_id, created):
    conn = sqlite3.connect(Path(root) / "index.sqlite")
    conn.execute("UPDATE models SET created = ? WHERE id = ?", (created, model_id))
    conn.commit()
    conn.close()


def test_models_cleanup(tmp_path):
    ids = [train(tmp_path)["model_id"] for _ in range(3)]
    _age(tmp_path, ids[0], "2000-01-01T00:00:00+00:00")
    _age(tmp_path, ids[1], "2000-01-02T00:00:00+00:00")
    base = ["models", "cleanup", "--registry", tmp_path, "--older-than"]
    dry = run([*base, "30d", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert [line.split()[2] for line in dry.stdout.splitlines()] == [ids[1], ids[0]]
    assert "would delete 2 model(s); 3 left" in dry.stderr
    kept = run([*base, "30d", "--keep-latest", "2"])
    assert kept.exit_code == 0 and kept.stdout.split()[1] == ids[0]
    assert {e.id for e in Registry(tmp_path).list()} == set(ids[1:])
    bad = run([*base, "thirty days"])
    assert bad.exit_code == 2 and "is not a duration" in bad.stderr


def test_predict_by_id_by_symbol_and_the_errors(reg_dir, tmp_path):
    root, ids = reg_dir
    base = ["predict", "--source", "replay", "--max-ticks", "3", "--registry", root, "--json"]
    by_id = run([*base, "--model", ids[1]])
    assert by_id.exit_code == 0, by_id.output
    assert json.loads(by_id.stdout)["ticks"] == 3
    latest = run([*base, "--symbol", "IBM", "--log", tmp_path / "log.jsonl"])
    assert latest.exit_code == 0, latest.output
    first = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])
    assert first["symbol"] == "IBM"
    nothing = run(["predict", "--registry", root])
    assert nothing.exit_code == 2 and "Missing option '--model'" in nothing.stderr
    unknown = run(["predict", "--model", "IBM-1d-nope", "--registry", root])
    assert unknown.exit_code == 1 and "no model 'IBM-1d-nope'" in unknown.stderr
    no_symbol = run(["predict", "--symbol", "MSFT", "--registry", root])
    assert no_symbol.exit_code == 1 and "no model for MSFT" in no_symbol.stderr


def test_a_real_process_trains_registers_and_lists(tmp_path):
    env = {**os.environ, "STOCK_ANALYZER_HOME": str(tmp_path)}
    argv = [EXE, "train", "--source", "sample", "--symbol", "IBM", *TINY]
    trained = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, env=env, timeout=300
    )
    assert trained.returncode == 0, trained.stderr
    model_id = trained.stdout.strip().splitlines()[-1].split()[1]
    listed = subprocess.run(
        [str(EXE), "models", "list", "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert [e["id"] for e in json.loads(listed.stdout)] == [model_id]
    (tmp_path / "models" / "index.sqlite").write_bytes(b"corrupt" * 50)
    again = subprocess.run(
        [str(EXE), "models", "list"], capture_output=True, text=True, env=env, timeout=60
    )
    assert again.returncode == 0 and model_id in again.stdout, again.stderr
