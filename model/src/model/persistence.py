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
import platform
from datetime import datetime, timezone
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

__all__ = [
    "NET_PREFIX",
    "check_tensors",
    "decode",
    "encode",
    "encode_file",
    "expected_shapes",
    "header_fields",
]

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


def header_fields(
    metadata: dict[str, Any], summary: dict[str, Any], history: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ``metadata``, ``training``, ``versions`` and ``created`` fields of a new file.

    Args:
        metadata: The caller's JSON-able metadata.
        summary: The training summary.
        history: The per-epoch (or per-round) history.

    Returns:
        The fields ``encode_file`` takes.
    """
    from model import __version__

    return {
        "metadata": metadata,
        "training": {"summary": summary, "history": history},
        "versions": {
            "model": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def encode_file(
    config: ModelConfig,
    tensors: dict[str, np.ndarray],
    fields: dict[str, Any],
    kind: str = "lstm",
    kind_config: dict[str, Any] | None = None,
) -> bytes:
    """The bytes of a format-2 file holding a forecaster of any kind.

    Args:
        config: The input/output shape (and, for an LSTM, the architecture).
        tensors: Name -> contiguous float32, float64 or uint8 array.
        fields: ``metadata``, ``training``, ``versions`` (JSON-able) and ``created`` (str).
        kind: The forecaster kind.
        kind_config: The kind's own header mapping (JSON-able).

    Returns:
        The file's bytes.

    Raises:
        ValueError: A field is not JSON-able (or holds NaN/inf), or the header is over
            ``MAX_HEADER_BYTES``.
    """
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "created": fields["created"]}
    meta["config"] = json.dumps(config.to_dict())
    meta["kind"] = kind
    for key in ("metadata", "training", "versions"):
        try:
            meta[key] = json.dumps(fields[key], allow_nan=False)
        except (TypeError, ValueError, RecursionError) as e:
            raise ValueError(f"{key} must be JSON-serializable: {e}") from None
    if kind_config is not None:
        try:
            meta["kind_config"] = json.dumps(kind_config, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as e:
            raise ValueError(f"kind_config must be JSON-serializable: {e}") from None
    data = safetensors_save(tensors, metadata=meta)
    size = int.from_bytes(data[:8], "little")
    if size > MAX_HEADER_BYTES:
        raise ValueError(
            f"metadata and training history make a {size}-byte header, over the "
            f"{MAX_HEADER_BYTES}-byte limit a model file may have"
        )
    return data


def net_tensors(state_dict: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """A network's state dict as ``net.<name>`` float32 arrays.

    Args:
        state_dict: The network's tensors.

    Returns:
        Name -> array.
    """
    return {
        NET_PREFIX + k: np.ascontiguousarray(v.detach().cpu().numpy(), dtype=np.float32)
        for k, v in state_dict.items()
    }


def encode(
    config: ModelConfig,
    state_dict: dict[str, torch.Tensor],
    scalers: dict[str, np.ndarray],
    calibration: np.ndarray,
    fields: dict[str, Any],
) -> bytes:
    """The bytes of a format-2 LSTM file.

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
    tensors = net_tensors(state_dict)
    tensors.update({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in scalers.items()})
    tensors["calibration"] = np.ascontiguousarray(calibration, dtype=np.float64)
    return encode_file(config, tensors, fields)


def check_tensors(
    header: ModelHeader,
    expected: dict[str, tuple[str, tuple[int, ...]]],
    what: str = "its config",
) -> None:
    """Check that the stored tensors are exactly ``expected`` (names, dtypes, shapes).

    Args:
        header: From ``read_header`` (or narrowed to one forecaster's tensors).
        expected: Name -> ``(dtype, shape)``; a shape may use ``-1`` for "any length".
        what: What the expectation comes from, for the message.

    Raises:
        ModelFileError: A missing, extra, mistyped or misshapen tensor (one line).
    """
    path, stored = header.path, header.tensors
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    if missing or extra:
        which = f"missing {excerpt(missing)}" if missing else f"unexpected {excerpt(extra)}"
        raise ModelFileError(f"model file {path} does not match {what}: tensors {which}")
    for name, (dtype, shape) in expected.items():
        got_dtype, got_shape = stored[name]
        if got_dtype != dtype:
            raise ModelFileError(
                f"corrupt model file {path}: tensor {excerpt(name)} has dtype "
                f"{excerpt(got_dtype)}, {what} needs {dtype}"
            )
        if len(got_shape) != len(shape) or any(
            s != -1 and g != s for g, s in zip(got_shape, shape, strict=True)
        ):
            raise ModelFileError(
                f"shape mismatch in {path}: {excerpt(name)} is {got_shape}, {what} needs "
                f"{tuple(shape)}"
            )


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
        if stored[name][0] == "U8":
            raise ModelFileError(
                f"corrupt model file {path}: tensor {excerpt(name)} has dtype 'U8' "
                "(float32/float64 needed)"
            )
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
