"""Writing and loading model files (format 2, see ``model.fileformat``), with torch.

``encode`` turns a model's parts into safetensors bytes; ``decode`` checks a file in this
order, so that nothing is allocated from an unchecked claim: the header (``read_header``:
caps, JSON, config, dtypes, offsets); the stored shapes against the shapes the config
implies (computed on ``torch.device("meta")``, which allocates nothing); then the values
(all finite, scaler stds > 0, calibration scores >= 0). ``Model.load`` adds a probe
forward pass whose output must be finite.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from safetensors.numpy import save as safetensors_save

from model.config import ModelConfig
from model.errors import ModelFileError
from model.fileformat import (
    FORMAT,
    FORMAT_VERSION,
    MAX_HEADER_BYTES,
    ModelHeader,
    excerpt,
    read_tensors,
)
from model.network import LSTMNetwork

__all__ = ["NET_PREFIX", "decode", "encode", "expected_shapes"]

NET_PREFIX = "net."


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The tensors (and their shapes) a model of ``config`` stores, ``calibration`` aside.

    The network is built on the meta device: no memory is allocated, whatever the config.

    Args:
        config: The architecture.

    Returns:
        Tensor name -> shape.
    """
    with torch.device("meta"):
        network = LSTMNetwork(config)
    shapes = {NET_PREFIX + k: tuple(v.shape) for k, v in network.state_dict().items()}
    h, d = config.n_outputs, config.input_dim
    shapes.update({"x_mean": (d,), "x_std": (d,), "y_mean": (h,), "y_std": (h,)})
    return shapes


def encode(
    config: ModelConfig,
    state_dict: dict[str, torch.Tensor],
    scalers: dict[str, np.ndarray],
    calibration: np.ndarray,
    fields: dict[str, Any],
) -> bytes:
    """The bytes of a format-2 file.

    Args:
        config: The architecture.
        state_dict: The network's tensors.
        scalers: ``x_mean``, ``x_std``, ``y_mean``, ``y_std`` arrays.
        calibration: ``(n, H)`` conformal scores.
        fields: ``metadata``, ``training``, ``versions`` (JSON-able) and ``created`` (str).

    Returns:
        The file's bytes.

    Raises:
        ValueError: A field is not JSON-able (or holds NaN/inf).
    """
    tensors = {
        NET_PREFIX + k: np.ascontiguousarray(v.detach().cpu().numpy(), dtype=np.float32)
        for k, v in state_dict.items()
    }
    tensors.update({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in scalers.items()})
    tensors["calibration"] = np.ascontiguousarray(calibration, dtype=np.float64)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "created": fields["created"]}
    meta["config"] = json.dumps(config.to_dict())
    for key in ("metadata", "training", "versions"):
        try:
            meta[key] = json.dumps(fields[key], allow_nan=False)
        except (TypeError, ValueError, RecursionError) as e:
            raise ValueError(f"{key} must be JSON-serializable: {e}") from None
    data = safetensors_save(tensors, metadata=meta)
    size = int.from_bytes(data[:8], "little")
    if size > MAX_HEADER_BYTES:
        raise ValueError(
            f"metadata and training history make a {size}-byte header, over the "
            f"{MAX_HEADER_BYTES}-byte limit a model file may have"
        )
    return data


def decode(header: ModelHeader) -> dict[str, np.ndarray]:
    """Check the stored tensors against the config, then read and check their values.

    Args:
        header: From ``read_header``.

    Returns:
        Name -> array for every stored tensor.

    Raises:
        ModelFileError: A missing, extra or misshapen tensor; a non-finite value; a scaler
            std <= 0; a negative calibration score.
    """
    path, config = header.path, header.config
    expected = expected_shapes(config)
    stored = header.tensors
    missing = sorted(set(expected) - set(stored) - {"calibration"})
    extra = sorted(set(stored) - set(expected) - {"calibration"})
    if "calibration" not in stored:
        missing.append("calibration")
    if missing or extra:
        what = f"missing {excerpt(missing)}" if missing else f"unexpected {excerpt(extra)}"
        raise ModelFileError(f"model file {path} does not match its config: tensors {what}")
    for name, shape in expected.items():
        if stored[name][1] != shape:
            raise ModelFileError(
                f"shape mismatch in {path}: {name} is {stored[name][1]}, the config "
                f"({excerpt(config.to_dict())}) needs {shape}"
            )
    h = config.n_outputs
    cal_shape = stored["calibration"][1]
    if len(cal_shape) != 2 or cal_shape[1] != h:
        raise ModelFileError(
            f"shape mismatch in {path}: calibration is {cal_shape}, needs (n, {h}) "
            f"for horizons {excerpt(list(config.horizons))}"
        )
    arrays = read_tensors(header)
    for key in ("x_std", "y_std"):
        if (arrays[key] <= 0).any():
            raise ModelFileError(
                f"corrupt model file {path}: {key} must be > 0, got {excerpt(arrays[key].tolist())}"
            )
    if (arrays["calibration"] < 0).any():
        low = float(arrays["calibration"].min())
        raise ModelFileError(
            f"corrupt model file {path}: calibration scores must be >= 0, got {low}"
        )
    return arrays
