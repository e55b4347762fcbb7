"""Helpers of the forecaster tests: craft model files by editing header and tensors."""

import json

import numpy as np
import safetensors.numpy


def parts(path):
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def write_raw(path, header, data):
    h = json.dumps(header).encode()
    path.write_bytes(len(h).to_bytes(8, "little") + h + data)
    return path


def rewrite(path, meta=None, kind_config=None, tensors=None):
    """Rewrite a valid file: header metadata fields, kind_config edits, tensors (None: drop)."""
    header, _ = parts(path)
    metadata = header["__metadata__"]
    arrays = safetensors.numpy.load(path.read_bytes())
    for key, value in (meta or {}).items():
        metadata[key] = value if isinstance(value, str) else json.dumps(value)
    if kind_config is not None:
        kc = json.loads(metadata["kind_config"])
        kind_config(kc)
        metadata["kind_config"] = json.dumps(kc)
    for key, value in (tensors or {}).items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = np.ascontiguousarray(value)
    path.write_bytes(safetensors.numpy.save(arrays, metadata=metadata))
    return path


def assert_same_forecasts(a, b, X, level=0.9):
    fa, fb = a.forecast(X, level), b.forecast(X, level)
    for name in ("mean", "sigma", "lower", "upper"):
        np.testing.assert_array_equal(getattr(fa, name), getattr(fb, name))


def assert_live_parity(m, X, level=0.9):
    batch = m.forecast(X, level)
    for i in (0, len(X) // 2, len(X) - 1):
        one = m.forecast_one(X[i], level)
        for name in ("mean", "sigma", "lower", "upper"):
            np.testing.assert_allclose(
                getattr(one, name), getattr(batch, name)[i], rtol=0, atol=1e-6
            )
            assert getattr(one, name).shape == (len(m.horizons),)
