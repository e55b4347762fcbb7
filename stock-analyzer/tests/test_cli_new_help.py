"""The registry, forecast and serve commands answer --help without torch or pandas."""

import subprocess
import sys

import pytest

CASES = [
    (["models", "--help"], "cleanup"),
    (["models", "list", "--help"], "--registry"),
    (["models", "show", "--help"], "--json"),
    (["models", "delete", "--help"], "ID"),
    (["models", "cleanup", "--help"], "--keep-latest"),
    (["forecast", "--help"], "--auto-train"),
    (["serve", "--help"], "--token-file"),
    (["train", "--help"], "--no-register"),
    (["predict", "--help"], "--registry"),
]


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_help_is_light(argv, expected):
    code = (
        "import sys\n"
        "from stock_analyzer.cli import main\n"
        f"sys.argv = ['stock-analyzer', *{argv!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = [m for m in ('torch', 'pandas', 'matplotlib', 'fastapi') if m in sys.modules]\n"
        "print('HEAVY', heavy, code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert expected in out.stdout
    assert "HEAVY [] 0" in out.stdout, out.stdout + out.stderr
