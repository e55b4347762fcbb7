"""The Forecaster protocol, the kind in the model file header and load_forecaster."""

import json

import numpy as np
import pytest

from model import FORECASTERS, Forecaster, Model, ModelFileError, load_forecaster, read_header


def _parts(path):
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _write(path, header, data):
    h = json.dumps(header).encode()
    path.write_bytes(len(h).to_bytes(8, "little") + h + data)
    return path


def test_model_is_the_lstm_forecaster(trained):
    assert isinstance(trained, Forecaster)
    assert trained.kind == "lstm" and FORECASTERS["lstm"] is Model
    assert Model.train is Model.fit  # the historical name stays
    assert not isinstance(object(), Forecaster)


def test_kind_is_recorded_and_load_forecaster_dispatches(trained, data, tmp_path):
    X, _ = data
    path = trained.save(tmp_path / "m.pt")
    header, _ = _parts(path)
    assert header["__metadata__"]["kind"] == "lstm"
    assert read_header(path).kind == "lstm"
    loaded = load_forecaster(path)
    assert type(loaded) is Model
    np.testing.assert_array_equal(loaded.forecast(X).upper, trained.forecast(X).upper)


def test_a_file_without_kind_reads_as_lstm(trained, data, tmp_path):
    X, _ = data
    path = trained.save(tmp_path / "m.pt")
    header, body = _parts(path)
    del header["__metadata__"]["kind"]
    _write(path, header, body)
    assert read_header(path).kind == "lstm"
    np.testing.assert_array_equal(load_forecaster(path).predict(X), trained.predict(X))
    np.testing.assert_array_equal(Model.load(path).predict(X), trained.predict(X))


@pytest.mark.parametrize("kind", ["xgboost", "LSTM", "", "x" * 10_000])
def test_unknown_kind_is_one_line(trained, tmp_path, kind):
    path = trained.save(tmp_path / "m.pt")
    header, body = _parts(path)
    header["__metadata__"]["kind"] = kind
    _write(path, header, body)
    for load in (load_forecaster, Model.load, read_header):
        with pytest.raises(ModelFileError, match="unknown forecaster kind") as e:
            load(path)
        assert "\n" not in str(e.value) and len(str(e.value)) < 300


def test_kind_must_be_a_string_and_kind_config_a_mapping(trained, tmp_path):
    path = trained.save(tmp_path / "m.pt")
    header, body = _parts(path)
    header["__metadata__"]["kind"] = 3
    _write(path, header, body)
    with pytest.raises(ModelFileError, match="kind is not a string"):
        load_forecaster(path)
    header["__metadata__"]["kind"] = "lstm"
    header["__metadata__"]["kind_config"] = "[1]"
    _write(path, header, body)
    with pytest.raises(ModelFileError, match="kind_config must be a mapping"):
        load_forecaster(path)


def test_model_load_refuses_another_kind(trained, tmp_path):
    path = trained.save(tmp_path / "m.pt")
    header, body = _parts(path)
    header["__metadata__"]["kind"] = "ensemble"
    _write(path, header, body)
    with pytest.raises(ModelFileError, match="not an LSTM"):
        Model.load(path)
