"""``stock-analyzer forecast``: offline on sample/replay, --auto-train, --max-age, errors."""

import json
import sqlite3

import pytest
from click.testing import CliRunner
from finance_demo import Registry
from stock_analyzer.cli import cli

TWO_HORIZONS = """\
buffer: {buffer_size: 20, step_size: 1}
features: {window_size: 4, normalize: last, groups: [trend_fft]}
model: {seq_len: 6, horizons: [1, 5], hidden_dim: 8, num_layers: 1}
training: {epochs: 1, batch_size: 256, seed: 0}
"""


def run(args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("fc")
    config = root / "tiny.yaml"
    config.write_text(TWO_HORIZONS)
    reg = root / "reg"
    base = ["forecast", "--symbol", "IBM", "--source", "sample", "--registry", reg]
    result = run([*base, "--auto-train", "--config", config, "--json"])
    assert result.exit_code == 0, result.output
    return reg, config, base, json.loads(result.stdout)


def test_auto_train_registers_then_forecasts(setup):
    reg, _, _, body = setup
    (entry,) = Registry(reg).list()
    assert body["trained"] is True and body["model"] == entry.id
    assert body["symbol"] == "IBM" and body["interval"] == "1d"
    assert body["regime"] in ("trending up", "trending down", "ranging", "volatile")
    assert [h["horizon"] for h in body["horizons"]] == [1, 5]
    for h in body["horizons"]:
        assert h["lower_price"] <= h["predicted_price"] <= h["upper_price"]
        assert h["direction"] == ("up" if h["predicted_return"] > 0 else "down")
        assert len(str(h["predicted_price"]).split(".")[1]) <= body["price_decimals"] == 3
    assert body["time"].startswith("2013-03-01")  # the last candle of the IBM sample


def test_the_latest_model_is_reused_and_the_text_names_everything(setup):
    reg, _, base, first = setup
    result = run(base)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("IBM 1d  based on the candle of 2013-03-01")
    assert f"(model {first['model']})" in lines[0]
    assert lines[1].startswith("regime: " + first["regime"])
    assert lines[2].split() == ["horizon", "direction", "return", "price", "90%", "interval"]
    assert lines[4].split()[:2] == ["h1", first["horizons"][0]["direction"]]
    assert len(Registry(reg).list()) == 1 and "trained" not in result.stderr


def test_level_replay_and_model_by_file(setup):
    reg, _, base, first = setup
    narrow = json.loads(run([*base, "--level", "0.5", "--json"]).stdout)
    assert narrow["level"] == 0.5
    for n, w in zip(narrow["horizons"], first["horizons"], strict=True):
        assert n["upper_return"] - n["lower_return"] < w["upper_return"] - w["lower_return"]
    path = Registry(reg).list()[0].path
    replay = run(["forecast", "--model", path, "--source", "replay", "--json"])
    assert replay.exit_code == 0, replay.output
    body = json.loads(replay.stdout)
    assert body["symbol"] == "IBM" and body["time"] < first["time"]  # the replay point
    assert body["model"] == str(path) and body["trained"] is False


def test_max_age_retrains_or_refuses(setup, tmp_path):
    reg, config, base, _ = setup
    conn = sqlite3.connect(reg / "index.sqlite")
    conn.execute("UPDATE models SET created = '2000-01-01T00:00:00+00:00'")
    conn.commit()
    conn.close()
    refused = run([*base, "--max-age", "24h"])
    assert refused.exit_code == 1 and "over the maximum age of 24.0 h" in refused.stderr
    retrained = run([*base, "--max-age", "24h", "--auto-train", "--config", config, "--json"])
    assert retrained.exit_code == 0, retrained.output
    assert json.loads(retrained.stdout)["trained"] is True and len(Registry(reg).list()) == 2
    assert "trained and registered IBM-1d-" in retrained.stderr


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["forecast", "--source", "sample"], 2, "Missing option '--symbol'"),
        (["forecast", "--symbol", "MSFT", "--source", "sample"], 1, "no model for MSFT 1d"),
        (["forecast", "--symbol", "IBM", "--level", "1.5"], 2, "--level"),
        (["forecast", "--symbol", "IBM", "--max-age", "soon"], 2, "is not a duration"),
        (["forecast", "--model", "nope/m.safetensors"], 2, "does not exist"),
        (["forecast", "--symbol", "IBM", "--source", "ftp"], 2, "'ftp' is not a source"),
    ],
)
def test_errors_are_one_line(setup, argv, code, message):
    reg = setup[0]
    result = run([*argv, "--registry", reg])
    assert result.exit_code == code, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_interval_mismatch_is_refused(setup):
    reg = setup[0]
    model_id = Registry(reg).list()[0].id
    result = run(["forecast", "--model", model_id, "--interval", "1h", "--registry", reg])
    assert result.exit_code == 2 and "use --interval 1d" in result.stderr


def test_the_heads_outputs_are_in_the_json_and_the_table(tmp_path):
    config = tmp_path / "heads.yaml"
    config.write_text(
        TWO_HORIZONS.replace("num_layers: 1}", "num_layers: 1, heads: [return, direction, trend]}")
    )
    model = tmp_path / "m.pt"
    trained = run(["train", "--symbol", "IBM", "--source", "sample", "--config", config,
                   "-q", "-o", model])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    base = ["forecast", "--model", model, "--source", "sample", "--symbol", "IBM"]
    body = json.loads(run([*base, "--json"]).stdout)
    for h in body["horizons"]:
        assert 0 < h["p_up"] < 1 and -1 < h["trend"] < 1
    table = run(base).stdout.splitlines()
    h1 = body["horizons"][0]
    assert f"(P(up) {h1['p_up']:.2f}, trend {h1['trend']:+.2f})" in table[4]
