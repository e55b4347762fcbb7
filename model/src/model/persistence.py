"""The model file: one ``torch.save`` zip of tensors and JSON strings, loaded safely.

Layout (a dict; every value is a tensor, a string or an int, so it loads with
``torch.load(weights_only=True)`` and no pickled code ever runs):

- ``format`` = ``"stock-analyzer-model"``, ``format_version`` = ``FORMAT_VERSION``
- ``config``: JSON of ``ModelConfig.to_dict()``
- ``state_dict``: the network's tensors
- ``x_mean``, ``x_std``, ``y_mean``, ``y_std``: float64 scaler statistics
- ``calibration``: ``(n, H)`` conformal scores, oldest first (``n = 0``: uncalibrated)
- ``metadata``, ``training``, ``versions``: JSON strings; ``created``: UTC ISO time
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from model.errors import ModelFileError

__all__ = ["FORMAT", "FORMAT_VERSION", "read_payload", "write_payload"]

FORMAT = "stock-analyzer-model"
FORMAT_VERSION = 1
_TENSORS = ("x_mean", "x_std", "y_mean", "y_std", "calibration")
_STRINGS = ("config", "metadata", "training", "versions", "created")


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def write_payload(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically: a temporary file in the same folder, fsync, rename.

    A crash at any point leaves either the previous file or the new one, never a mix.

    Args:
        path: Destination file.
        payload: The dict to ``torch.save``.

    Returns:
        The destination path.

    Raises:
        ModelFileError: The folder does not exist or is not writable.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ModelFileError(f"cannot save model to {path}: folder {path.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise ModelFileError(f"cannot save model to {path}: {_one_line(e)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise ModelFileError(f"cannot save model to {path}: {_one_line(e)}") from None
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def read_payload(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a model file's payload without running pickled code.

    Args:
        path: The model file.

    Returns:
        The payload, with ``config``, ``metadata``, ``training`` and ``versions`` decoded
        from JSON.

    Raises:
        ModelFileError: Missing, unreadable, truncated, corrupt, unsafe, not a model file,
            or another format version.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelFileError(f"not a model file: {path} is not a regular file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ModelFileError(
            f"refusing to load {path}: it is not a plain model file and may contain code "
            f"({_one_line(e)[:120]})"
        ) from None
    except Exception as e:
        raise ModelFileError(
            f"cannot read model file {path}: truncated or corrupt ({_one_line(e)[:120]})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"not a model file: {path} (no '{FORMAT}' header)")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model file format version {version!r}; this library reads version "
            f"{FORMAT_VERSION}"
        )
    missing = [k for k in ("state_dict", *_TENSORS, *_STRINGS) if k not in payload]
    if missing:
        raise ModelFileError(f"incomplete model file {path}: missing {', '.join(missing)}")
    bad = [k for k in _TENSORS if not isinstance(payload[k], torch.Tensor)]
    bad += [k for k in _STRINGS if not isinstance(payload[k], str)]
    if not isinstance(payload["state_dict"], dict):
        bad.append("state_dict")
    if bad:
        raise ModelFileError(f"corrupt model file {path}: bad field(s) {', '.join(bad)}")
    try:
        for key in ("config", "metadata", "training", "versions"):
            payload[key] = json.loads(payload[key])
    except json.JSONDecodeError as e:
        raise ModelFileError(f"corrupt model file {path}: {key} is not JSON ({e})") from None
    return payload
