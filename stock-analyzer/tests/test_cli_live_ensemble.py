import json

from click.testing import CliRunner
from stock_analyzer.cli import cli

TINY = [
    "--buffer-size", "20", "--window-size", "4", "--groups", "trend_fft", "--seq-len", "5",
    "--hidden-dim", "4",
    "--num-layers", "1", "--epochs", "1", "--batch-size", "256", "-q",
]  # fmt: skip


def run(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_predict_shows_the_ensembles_live_weights(tmp_path):
    out = tmp_path / "ens.safetensors"
    argv = ["train", "--source", "sample", "--symbol", "IBM", "--model", "ensemble", *TINY]
    assert run([*argv, "-o", out]).exit_code == 0
    live = ["predict", "--model", out, "--source", "replay", "--max-ticks", "30", "-q"]
    text = run(live)
    assert text.exit_code == 0, text.output
    assert "ensemble weights " in text.stdout and "after 29 realized outcomes" in text.stdout
    body = json.loads(run([*live, "--json"]).stdout)
    assert body["observed"] == 29 and len(body["weights"]) == 2
    assert abs(sum(body["weights"]) - 1) < 1e-9
    shown = next(line for line in text.stdout.splitlines() if "ensemble weights" in line)
    assert shown.split()[2] == f"{body['weights'][0]:.3f}"  # the same run, the same numbers
