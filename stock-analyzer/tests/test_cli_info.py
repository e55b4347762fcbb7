"""``stock-analyzer info`` reads only the model file's JSON header: no torch, quick."""

import json
import subprocess
import sys
import time

from click.testing import CliRunner
from stock_analyzer.cli import cli

INFO = (
    "import sys\n"
    "from stock_analyzer.cli import main\n"
    "sys.argv = ['stock-analyzer', 'info', sys.argv[1], *sys.argv[2:]]\n"
    "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
    "heavy = [m for m in ('torch', 'safetensors.torch', 'pandas', 'numpy') if m in sys.modules]\n"
    "print('HEAVY', heavy, code)\n"
)


def test_info_imports_no_torch(trained):
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", INFO, str(trained)], capture_output=True, text=True, timeout=60
    )
    elapsed = time.perf_counter() - start
    assert "HEAVY [] 0" in out.stdout, out.stdout + out.stderr
    assert "symbol: ^GSPC" in out.stdout and "created: " in out.stdout
    assert "versions: model " in out.stdout and "hidden_dim=8" in out.stdout
    print(f"info subprocess: {elapsed:.3f} s")  # target < 0.5 s; not asserted on a shared box


def test_info_json_shows_created_versions_and_history(trained):
    result = CliRunner().invoke(cli, ["info", str(trained), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["created"].endswith("+00:00")
    assert {"model", "torch", "numpy", "python"} <= set(body["versions"])
    assert body["network"]["hidden_dim"] == 8
    assert body["metadata"]["pipeline"]["interval"] == "1d"
    assert len(body["history"]) == 2


def test_info_on_a_format1_file_is_one_line(workdir):
    path = workdir / "old.pt"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    result = CliRunner().invoke(cli, ["info", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "format-1 model file" in lines[0], result.stderr
