import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
from model.persistence import FORMAT_VERSION

from model import Model, ModelFileError

MARKER_NAME = "pwned.marker"


class _Exploit:
    """Unpickling this object would create a marker file (arbitrary code execution)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _one_line(excinfo):
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


def test_save_load_round_trip_gives_identical_predictions(trained, data, tmp_path):
    X, _ = data
    trained.metadata = {"symbol": "^GSPC", "interval": "1d", "pipeline": {"seq_len": 8}}
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


def test_untrained_model_round_trip(tmp_path, data):
    X, _ = data
    m = Model(hidden_dim=4, horizons=(1, 2))
    loaded = Model.load(m.save(tmp_path / "u.pt"))
    assert not loaded.calibration.calibrated
    np.testing.assert_array_equal(loaded.forecast(X[:3]).upper, m.forecast(X[:3]).upper)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="model file not found") as e:
        Model.load(tmp_path / "nope.pt")
    _one_line(e)


def test_directory_is_not_a_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="not a regular file"):
        Model.load(tmp_path)


@pytest.mark.parametrize("keep", [0, 10, 0.5])
def test_truncated_file(trained, tmp_path, keep):
    path = trained.save(tmp_path / "m.pt")
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:n])
    with pytest.raises(ModelFileError, match="truncated or corrupt") as e:
        Model.load(path)
    _one_line(e)


def test_corrupt_bytes(trained, tmp_path):
    path = trained.save(tmp_path / "m.pt")
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as e:
        Model.load(path)
    _one_line(e)


def test_random_text_is_not_a_model_file(tmp_path):
    path = tmp_path / "m.pt"
    path.write_text("hello, I am a CSV\n1,2,3\n")
    with pytest.raises(ModelFileError) as e:
        Model.load(path)
    _one_line(e)


def test_other_torch_file_is_not_a_model_file(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(ModelFileError, match="not a model file"):
        Model.load(path)


def _rewrite(trained, tmp_path, **changes):
    path = trained.save(tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)
    return path


def test_other_format_version(trained, tmp_path):
    path = _rewrite(trained, tmp_path, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ModelFileError, match=r"format version 2; this library reads version 1"):
        Model.load(path)


def test_weight_shape_mismatch(trained, tmp_path):
    payload_path = trained.save(tmp_path / "m.pt")
    payload = torch.load(payload_path, weights_only=True)
    payload["state_dict"]["head.weight"] = torch.zeros(2, 3)
    torch.save(payload, payload_path)
    with pytest.raises(ModelFileError, match="shape mismatch") as e:
        Model.load(payload_path)
    _one_line(e)


def test_config_and_weights_disagree(trained, tmp_path):
    path = _rewrite(trained, tmp_path, config='{"hidden_dim": 16, "num_layers": 1}')
    with pytest.raises(ModelFileError, match="shape mismatch"):
        Model.load(path)


def test_scaler_shape_mismatch(trained, tmp_path):
    path = _rewrite(trained, tmp_path, x_mean=torch.zeros(5, dtype=torch.float64))
    with pytest.raises(ModelFileError, match=r"shape mismatch .*x_mean"):
        Model.load(path)


def test_bad_config_in_file(trained, tmp_path):
    path = _rewrite(trained, tmp_path, config='{"hidden_dim": -1}')
    with pytest.raises(ModelFileError, match="bad config"):
        Model.load(path)


def test_plain_pickle_exploit_is_refused(tmp_path):
    marker = tmp_path / MARKER_NAME
    path = tmp_path / "evil.pt"
    path.write_bytes(
        pickle.dumps({"format": "stock-analyzer-model", "x": _Exploit(marker)}, protocol=2)
    )
    # sanity: unpickling it the unsafe way really would create the marker
    pickle.loads(path.read_bytes())
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ModelFileError, match="refusing to load") as e:
        Model.load(path)
    _one_line(e)
    assert not marker.exists()


def test_torch_zip_exploit_is_refused(tmp_path):
    marker = tmp_path / MARKER_NAME
    path = tmp_path / "evil.pt"
    torch.save({"format": "stock-analyzer-model", "x": _Exploit(marker)}, path)
    assert zipfile.is_zipfile(path) and not marker.exists()
    with pytest.raises(ModelFileError, match="refusing to load"):
        Model.load(path)
    assert not marker.exists()


def test_save_is_atomic_when_writing_fails(trained, tmp_path, monkeypatch):
    path = trained.save(tmp_path / "m.pt")
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # a crash in the middle of writing

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        trained.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.pt"]  # no temporary file left behind


def test_save_errors(trained, tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        trained.save(tmp_path / "no" / "m.pt")
    m = Model(hidden_dim=4)
    m.metadata = {"when": object()}
    with pytest.raises(ValueError, match="metadata must be JSON-serializable"):
        m.save(tmp_path / "m.pt")
