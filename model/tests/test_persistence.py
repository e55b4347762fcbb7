import json
import os
import pickle
import resource
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import safetensors.numpy
import torch
from model.fileformat import FORMAT_VERSION, MAX_HEADER_BYTES

from model import Model, ModelFileError, read_header

MARKER_NAME = "pwned.marker"


class _Exploit:
    """Unpickling this object would create a marker file (arbitrary code execution)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _one_line(excinfo):
    message = str(excinfo.value)
    assert "\n" not in message and message and len(message) < 400
    return message


def _parts(path):
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _write(path, header, data):
    h = json.dumps(header).encode()
    path.write_bytes(len(h).to_bytes(8, "little") + h + data)
    return path


def _with_meta(trained, tmp_path, **changes):
    """A valid file whose header metadata fields are replaced (values: JSON-able)."""
    path = trained.save(tmp_path / "m.pt")
    header, data = _parts(path)
    for key, value in changes.items():
        header["__metadata__"][key] = value if isinstance(value, str) else json.dumps(value)
    return _write(path, header, data)


def _with_tensors(trained, tmp_path, **changes):
    """A valid file whose tensors are replaced (None removes one)."""
    path = trained.save(tmp_path / "m.pt")
    header, _ = _parts(path)
    arrays = safetensors.numpy.load(path.read_bytes())
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    path.write_bytes(safetensors.numpy.save(arrays, metadata=header["__metadata__"]))
    return path


def _refused(path, match):
    with pytest.raises(ModelFileError, match=match) as e:
        Model.load(path)
    return _one_line(e)


def test_save_load_round_trip_gives_identical_predictions(trained, data, tmp_path):
    X, _ = data
    trained.metadata = {"pipeline": {"symbol": "X", "nested": [1, {"a": [None, 2.5, "é"]}]}}
    path = trained.save(tmp_path / "m.pt")
    loaded = Model.load(path)
    assert loaded.config == trained.config
    np.testing.assert_array_equal(loaded.predict(X), trained.predict(X))
    a, b = loaded.forecast(X, 0.9), trained.forecast(X, 0.9)
    np.testing.assert_array_equal(a.lower, b.lower)
    np.testing.assert_array_equal(a.upper, b.upper)
    np.testing.assert_array_equal(loaded.execute(X[0]), trained.execute(X[0]))
    assert loaded.metadata == trained.metadata
    assert loaded.history == trained.history
    assert loaded.training_summary == trained.training_summary
    assert set(loaded.versions) == {"model", "torch", "numpy", "python"}
    assert loaded.created.endswith("+00:00")


def test_uncalibrated_round_trip(data, tmp_path):
    X, _ = data
    m = Model(hidden_dim=4)
    loaded = Model.load(m.save(tmp_path / "u.pt"))
    assert not loaded.calibration.calibrated
    np.testing.assert_array_equal(loaded.forecast(X[:3]).upper, m.forecast(X[:3]).upper)


def test_file_is_safetensors_with_a_plain_json_header_and_no_pickle(trained, tmp_path):
    path = trained.save(tmp_path / "m.pt")
    header, _ = _parts(path)  # plain json
    meta = header["__metadata__"]
    assert meta["format"] == "stock-analyzer-model" and meta["format_version"] == FORMAT_VERSION
    assert json.loads(meta["config"]) == trained.config.to_dict()
    with safetensors.safe_open(str(path), framework="numpy") as f:  # the package reads it
        assert "x_std" in f.keys() and f.metadata()["format_version"] == "2"
    raw = path.read_bytes()
    assert not raw.startswith(b"PK") and b"\x80\x02" not in raw[:16]
    h = read_header(path)
    assert h.config == trained.config and h.tensors["x_std"] == ("F64", (6,))


def test_read_header_and_import_model_need_no_torch(trained, tmp_path):
    path = trained.save(tmp_path / "m.pt")
    code = (
        "import sys, model\n"
        f"h = model.read_header({str(path)!r})\n"
        "assert h.config.hidden_dim == 8, h\n"
        "from model import metrics, ModelConfig, ModelFileError\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_file_follows_the_umask(trained, tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        path = trained.save(tmp_path / "m.pt")
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == mode


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        Model.load(tmp_path / "nope.pt")
    with pytest.raises(ModelFileError, match="not a regular file"):
        Model.load(tmp_path)


def test_format_1_file_gives_the_re_create_line(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"format": "stock-analyzer-model", "format_version": 1}, path)
    message = _refused(path, "format-1 model file")
    assert message == (
        f"{path} is a format-1 model file (written by stock-analyzer 1.0); format 2 is read "
        "since 1.1: re-create it with `stock-analyzer train`"
    )


def test_pickle_and_torch_zip_exploits_never_run(tmp_path):
    marker = tmp_path / MARKER_NAME
    plain, zipped = tmp_path / "evil.pkl", tmp_path / "evil.pt"
    plain.write_bytes(pickle.dumps({"x": _Exploit(marker)}, protocol=2))
    torch.save({"format": "stock-analyzer-model", "x": _Exploit(marker)}, zipped)
    _refused(plain, "not a model file")
    _refused(zipped, "format-1")
    assert not marker.exists()


@pytest.mark.parametrize("cut", [0, 5, 8, 100, -1000, -1])
def test_truncated_files(trained, tmp_path, cut):
    path = trained.save(tmp_path / "m.pt")
    raw = path.read_bytes()
    path.write_bytes(raw[:cut])
    _refused(path, "too short|truncated")


def test_padded_file(trained, tmp_path):
    path = trained.save(tmp_path / "m.pt")
    path.write_bytes(path.read_bytes() + b"\0" * 8)
    _refused(path, "padded")


def test_header_size_cap(tmp_path):
    path = tmp_path / "big.pt"
    path.write_bytes((MAX_HEADER_BYTES + 1).to_bytes(8, "little") + b"{}")
    _refused(path, "header")
    path.write_bytes((2**63).to_bytes(8, "little"))
    _refused(path, "header")


def test_metadata_over_the_cap_is_refused_when_saving(tmp_path):
    m = Model(hidden_dim=4)
    m.metadata = {"blob": "x" * MAX_HEADER_BYTES}
    with pytest.raises(ValueError, match="over the"):
        m.save(tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


def test_huge_claimed_config_is_refused_without_allocating(trained, tmp_path):
    config = dict(trained.config.to_dict(), hidden_dim=2_000)  # within the config's caps
    path = _with_meta(trained, tmp_path, config=config)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, the peak so far
    tracemalloc.start()
    try:
        message = _refused(path, "shape mismatch")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    # bounds: 20 MiB of Python objects, 100 MiB of peak RSS growth (the network: 160 GB)
    assert "8000" in message and peak < 20 * 2**20 and rss_growth < 100 * 1024
    # the header also claims matching tensor shapes, but the file lacks their bytes
    header, data = _parts(path)
    header["net.head.weight"] = {"dtype": "F32", "shape": [2, 2_000], "data_offsets": [0, 16000]}
    _write(path, header, data)
    _refused(path, "corrupt|truncated")


def test_config_and_weights_disagree(trained, tmp_path):
    path = _with_meta(trained, tmp_path, config={"hidden_dim": 16, "num_layers": 1})
    _refused(path, "shape mismatch")


def test_horizons_that_do_not_match_the_outputs(trained, tmp_path):
    config = dict(trained.config.to_dict(), horizons=[1, 5])
    message = _refused(_with_meta(trained, tmp_path, config=config), "shape mismatch")
    assert "head" in message or "y_mean" in message


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"config": {"hidden_dim": -1}}, "bad config.*hidden_dim"),
        ({"config": {"hidden_dim": 8, "colour": "red"}}, "bad config.*colour"),
        ({"config": [1, 2]}, "config must be a mapping"),
        ({"metadata": [1, 2]}, "metadata must be a mapping"),
        ({"training": ["x"]}, "training must be a mapping"),
        ({"versions": {"torch": 2}}, "versions"),
        ({"metadata": "{not json"}, "metadata is not JSON"),
        ({"metadata": '{"a": NaN}'}, "metadata is not JSON"),
        ({"format_version": "3"}, "format version '3'"),
        ({"format": "other"}, "not a model file"),
        ({"extra_key": "1"}, "unknown key"),
    ],
)
def test_bad_header_fields(trained, tmp_path, changes, match):
    _refused(_with_meta(trained, tmp_path, **changes), match)


def test_bad_value_excerpt_is_bounded(trained, tmp_path):
    message = _refused(_with_meta(trained, tmp_path, metadata=["x" * 100_000]), "mapping")
    assert len(message) < 300


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("x_std", np.zeros(6), "x_std must be > 0"),
        ("y_std", -np.ones(1), "y_std must be > 0"),
        ("calibration", -np.ones((4, 1)), "calibration scores must be >= 0"),
        ("calibration", np.full((4, 1), np.nan), "NaN or inf"),
        ("x_mean", np.array([np.inf, 0, 0, 0, 0, 0]), "NaN or inf"),
        ("net.head.weight", np.full((2, 8), np.nan, np.float32), "NaN or inf"),
        ("net.head.weight", np.zeros((2, 8), np.float16), "dtype 'F16'"),
        ("net.head.weight", np.zeros((2, 8), np.int64), "dtype 'I64'"),
        ("net.head.weight", np.zeros((3, 8), np.float32), "shape mismatch"),
        ("calibration", np.zeros((4, 2)), "calibration is"),
        ("x_mean", np.zeros(5), r"shape mismatch .*x_mean"),
        ("net.head.bias", None, "missing"),
        ("net.extra", np.zeros(2, np.float32), "unexpected"),
    ],
)
def test_bad_tensors(trained, tmp_path, key, value, match):
    _refused(_with_tensors(trained, tmp_path, **{key: value}), match)


def test_weights_that_give_non_finite_forecasts_are_refused(trained, tmp_path):
    bias = np.full(2, 3e38, np.float32)
    path = _with_tensors(trained, tmp_path, **{"net.head.bias": bias, "y_std": np.array([1e300])})
    _refused(path, "non-finite")


def test_bad_tensor_entries(trained, tmp_path):
    path = trained.save(tmp_path / "m.pt")
    header, data = _parts(path)
    for entry, match in [
        ([1], "entry"),
        ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}, "shape"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}, "do not fit"),
        ({"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}, "do not fit"),
    ]:
        _write(path, dict(header, **{"x_mean": entry}), data)
        _refused(path, match)


def test_save_is_atomic_when_writing_fails(trained, tmp_path, monkeypatch):
    path = trained.save(tmp_path / "m.pt")
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # a crash in the middle of writing

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        trained.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.pt"]  # no temporary file left behind


def test_save_errors(trained, tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        trained.save(tmp_path / "no" / "m.pt")
    m = Model(hidden_dim=4)
    m.metadata = {"when": object()}
    with pytest.raises(ValueError, match="metadata must be JSON-serializable"):
        m.save(tmp_path / "m.pt")


def test_a_file_claiming_head_layers_it_lacks_is_refused(trained, tmp_path):
    for claim in ({"head_hidden": [8]}, {"layer_norm": True}):
        config = dict(trained.config.to_dict(), **claim)
        message = _refused(_with_meta(trained, tmp_path, config=config), "missing|mismatch")
        assert "hidden" in message or "norm" in message or "head" in message
