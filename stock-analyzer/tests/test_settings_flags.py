"""Settings flags derived from the configs, the shipped example file, the README table."""

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from finance_demo import Settings, schema_markdown, settings_schema
from stock_analyzer.cli import cli

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "settings.yaml"
#: Sizes that keep a training run well under a second.
TINY_FLAGS = [
    "--period", "2y", "--buffer-size", "20", "--window-size", "4", "--groups", "trend_fft",
    "--seq-len", "5",
    "--hidden-dim", "4", "--num-layers", "1", "--epochs", "1", "--batch-size", "256",
]  # fmt: skip


def test_schema_covers_every_field_once_with_unique_flags():
    fields = settings_schema()
    keys = {(f.section, f.name) for f in fields}
    layout = Settings().to_dict()
    assert keys == {(s, k) for s, body in layout.items() for k in body}
    assert len({f.flag for f in fields}) == len(fields)
    assert ("model", "input_dim") not in keys and ("buffer", "channel_shape") not in keys
    by_key = {(f.section, f.name): f for f in fields}
    assert by_key["features", "normalize"].choices == ("last", "none")
    assert by_key["model", "horizons"].multiple and by_key["model", "horizons"].flag == "--horizons"
    assert by_key["buffer", "buffer_size"].flag == "--buffer-size"
    assert all(f.help and not f.help.startswith(" ") for f in fields)


def test_example_file_has_every_key_with_its_default():
    raw = yaml.safe_load(EXAMPLE.read_text())
    fields = settings_schema()
    assert {(s, k) for s, body in raw.items() for k in body} == {
        (f.section, f.name) for f in fields
    }
    for f in fields:
        if f.section == "data":
            continue  # an offline example, not the defaults
        value = raw[f.section][f.name]
        expected = list(f.default) if f.multiple else f.default
        assert value == expected and type(value) is type(expected), (f.section, f.name)
    assert (raw["data"]["symbol"], raw["data"]["source"]) == ("^GSPC", "sample")


def test_readme_holds_the_generated_table():
    text = (ROOT / "README.md").read_text()
    got = re.search(r"<!-- settings-table:begin -->\n(.*?)<!-- settings-table:end -->", text, re.S)
    assert got is not None and got.group(1) == schema_markdown()


@pytest.fixture
def captured(monkeypatch):
    """Stop ``train`` at ``train_model`` and keep the settings it was given."""
    import finance_demo

    seen = {}

    def fake(candles, settings, *args, **kwargs):
        seen["settings"] = settings
        raise KeyboardInterrupt

    monkeypatch.setattr(finance_demo, "train_model", fake)
    return seen


def test_precedence_flag_over_file_over_default(tmp_path, captured):
    path = tmp_path / "s.yaml"
    path.write_text(
        "data: {symbol: ^GSPC, source: sample}\n"
        "buffer: {buffer_size: 40}\n"
        "model: {hidden_dim: 16, horizons: [1, 2]}\n"
        "training: {num_threads: 2}\n"
    )
    argv = ["train", "--config", path, "--hidden-dim", "8", "--horizons", "1,5,20"]
    argv += ["--attention", "--normalize", "none", "--num-threads", "none", "-q"]
    CliRunner().invoke(cli, [str(a) for a in argv])
    s = captured["settings"]
    assert s.buffer.buffer_size == 40  # file
    assert s.model.hidden_dim == 8 and s.model.horizons == (1, 5, 20)  # flags
    assert s.model.attention is True and s.features.normalize == "none"
    assert s.training.num_threads is None  # --num-threads none
    assert s.model.num_layers == Settings().model.num_layers  # default
    assert s.training.epochs == Settings().training.epochs


def test_a_bad_flag_value_names_the_flag(tmp_path):
    result = CliRunner().invoke(cli, ["train", "--symbol", "X", "--dropout", "nan"])
    assert result.exit_code == 2
    assert "'--dropout'" in result.stderr and "model.dropout must be" in result.stderr
    result = CliRunner().invoke(cli, ["train", "--symbol", "X", "--horizons", "1,x"])
    assert result.exit_code == 2 and "comma-separated list" in result.stderr


def _enumerated():
    for f in settings_schema():
        if f.section == "data":
            continue  # not recorded in the model; --adjust-splits: test_cli_conventions.py
        values = f.choices or ((False, True) if f.type is bool and not f.multiple else ())
        for value in values:
            yield pytest.param(f, value, id=f"{f.section}.{f.name}={value}")


@pytest.mark.parametrize(("field", "value"), list(_enumerated()))
def test_every_allowed_value_trains_from_the_example_file(field, value, tmp_path):
    if field.type is bool:
        flag = field.flag if value else f"--no-{field.flag[2:]}"
        extra = [flag] + (["--num-heads", "2"] if field.name == "attention" else [])
    else:
        extra = [field.flag, str(value)]
    out = tmp_path / "m.pt"
    if field.name == "resume":  # resuming needs the checkpoint of a first run
        extra += ["--checkpoint-dir", tmp_path / "ckpt"]
        if value:
            argv = ["train", "--config", EXAMPLE, *TINY_FLAGS, *extra[1:], "-q", "-o", out]
            first = CliRunner().invoke(cli, [str(a) for a in argv])
            assert first.exit_code == 0, first.output
    argv = ["train", "--config", EXAMPLE, *TINY_FLAGS, *extra, "-q", "-o", out]
    result = CliRunner().invoke(cli, [str(a) for a in argv])
    assert result.exit_code == 0, result.output
    from finance_demo import spec_of

    from model import Model

    model = Model.load(out)
    spec = spec_of(model)
    recorded = {**spec.buffer.to_dict(), **spec.features.to_dict(), **model.config.to_dict()}
    recorded.update(model.metadata["training"])
    assert recorded[field.name] == value


def test_a_close_only_csv_with_the_default_groups_says_which_to_use(tmp_path):
    import numpy as np
    import pandas as pd

    days = pd.bdate_range("2020-01-01", periods=300)
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 300)))
    path = tmp_path / "close_only.csv"
    pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Close": close}).to_csv(path, index=False)
    base = ["train", "--source", f"csv:{path}", "--symbol", "X", "--epochs", "1", "-q"]
    base += ["-o", str(tmp_path / "m.pt")]
    result = CliRunner().invoke(cli, base)
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error:")]
    hint = "--groups trend_fft,returns,realized_vol,technical,ewma_vol"
    assert "filled in (a close-only source)" in line and line.endswith(hint)
    again = CliRunner().invoke(cli, [*base, *hint.split()])
    assert again.exit_code == 0, again.output
