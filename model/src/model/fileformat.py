"""Model file format 2: a safetensors file whose header carries every other field as JSON.

Layout (the `safetensors <https://huggingface.co/docs/safetensors>`_ format):
8 bytes little-endian ``N``, then ``N`` bytes of JSON, then the tensor bytes. The JSON maps
each tensor name to ``{"dtype", "shape", "data_offsets"}``; its ``__metadata__`` holds
string values: ``format`` = ``"stock-analyzer-model"``, ``format_version`` = ``"2"``, and
the JSON strings ``config``, ``metadata``, ``training``, ``versions`` plus ``created`` (UTC
ISO time), and optionally ``kind`` (the forecaster, one of ``KINDS``; a file without it
is an ``"lstm"``) with ``kind_config`` (a JSON mapping the forecaster of that kind reads:
its own config, booster sizes, ensemble members). LSTM tensors: ``net.<name>`` (the
network's state dict, float32), ``x_mean``, ``x_std``, ``y_mean``, ``y_std`` (float64
scaler statistics) and ``calibration`` (``(n, H)`` float64 conformal scores, ``n = 0``:
uncalibrated). Other kinds also store uint8 tensors (LightGBM text models).

This module imports no torch: ``read_header`` parses the header with plain ``json`` and
checks it (sizes, dtypes, offsets, config) so that nothing is allocated from an unchecked
claim; ``read_tensors`` then reads the bytes the header describes. No pickle anywhere.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import reprlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.config import ModelConfig
from model.errors import ModelFileError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "KINDS",
    "MAX_FILE_BYTES",
    "MAX_HEADER_BYTES",
    "ModelHeader",
    "read_header",
    "read_tensors",
    "write_file",
]

FORMAT = "stock-analyzer-model"
FORMAT_VERSION = "2"
#: The JSON header may be at most this long (metadata, history and config included).
MAX_HEADER_BYTES = 1 << 20
#: A model file may be at most this long (a 16 GiB network is far beyond this library).
MAX_FILE_BYTES = 16 << 30
#: The forecaster kinds a model file may hold (``kind`` in the header; absent: "lstm").
KINDS = ("lstm", "seq2seq", "gbdt", "rf", "ensemble")
#: Accepted tensor dtypes: safetensors name -> (numpy dtype string, bytes per value).
_DTYPES = {"F32": ("<f4", 4), "F64": ("<f8", 8), "U8": ("|u1", 1)}
_SCALERS = ("x_mean", "x_std", "y_mean", "y_std", "calibration")
_JSON_FIELDS = ("config", "metadata", "training", "versions")
_META_KEYS = {"format", "format_version", "created", *_JSON_FIELDS}
_OPTIONAL_KEYS = {"kind", "kind_config"}
_FORMAT1_MESSAGE = (
    "{path} is a format-1 model file (written by stock-analyzer 1.0); format 2 is read "
    "since 1.1: re-create it with `stock-analyzer train`"
)
_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxdict = _repr.maxtuple = 6
_repr.maxlevel = 2


def excerpt(value: Any) -> str:
    """A bounded (<= ~80 characters) one-line ``repr`` of ``value`` for error messages.

    Args:
        value: Anything taken from a file.

    Returns:
        The excerpt.
    """
    text = " ".join(_repr.repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _one_line(error: BaseException, limit: int = 160) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class ModelHeader:
    """What a format-2 model file says about itself, checked, read without torch.

    Args:
        path: The file.
        config: The network's architecture.
        metadata: The caller's JSON-able metadata (``Model.metadata``).
        training: ``{"summary": ..., "history": [...]}`` of the training run.
        versions: Library versions that wrote the file (name -> version).
        created: UTC ISO time the file was written.
        tensors: Tensor name -> ``(dtype, shape)``, dtype ``"F32"``, ``"F64"`` or ``"U8"``.
        offsets: Tensor name -> ``(begin, end)`` byte offsets in the data section.
        data_start: Byte position of the data section in the file.
        kind: The forecaster kind (one of ``KINDS``).
        kind_config: What that kind stores in the header besides ``config`` (a mapping,
            checked by the forecaster's loader; empty for an LSTM).
    """

    path: Path
    config: ModelConfig
    metadata: dict[str, Any]
    training: dict[str, Any]
    versions: dict[str, str]
    created: str
    tensors: dict[str, tuple[str, tuple[int, ...]]]
    offsets: dict[str, tuple[int, int]] = field(repr=False)
    data_start: int = field(repr=False)
    kind: str = "lstm"
    kind_config: dict[str, Any] = field(default_factory=dict, repr=False)


def _fail(path: Path, reason: str) -> ModelFileError:
    return ModelFileError(f"corrupt model file {path}: {reason}")


def _open_checked(path: Path) -> tuple[int, bytes]:
    if not path.exists():
        raise ModelFileError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelFileError(f"not a model file: {path} is not a regular file")
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if head[:2] == b"PK":
                raise ModelFileError(_FORMAT1_MESSAGE.format(path=path))
            if len(head) < 8:
                raise ModelFileError(f"not a model file: {path} is too short ({size} bytes)")
            n = int.from_bytes(head, "little")
            if n > MAX_HEADER_BYTES:
                raise ModelFileError(
                    f"not a model file: {path} claims a {n}-byte header "
                    f"(at most {MAX_HEADER_BYTES} allowed)"
                )
            if size > MAX_FILE_BYTES:
                raise ModelFileError(
                    f"refusing {path}: {size} bytes is over the {MAX_FILE_BYTES}-byte limit"
                )
            if size < 8 + n:
                raise ModelFileError(
                    f"truncated model file {path}: the header needs {8 + n} bytes, "
                    f"the file has {size}"
                )
            raw = f.read(n)
    except OSError as e:
        raise ModelFileError(f"cannot read model file {path}: {_one_line(e)}") from None
    return size, raw


def _parse_json(path: Path, raw: bytes | str, what: str) -> Any:
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _fail(path, f"{what} is not JSON ({_one_line(e, 80)})") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _tensor_entry(path: Path, name: str, entry: Any) -> tuple[str, tuple[int, ...], int, int]:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _fail(path, f"tensor {excerpt(name)} entry is {excerpt(entry)}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _DTYPES:
        raise _fail(path, f"tensor {excerpt(name)} has dtype {excerpt(dtype)} (F32/F64/U8 only)")
    if (
        not isinstance(shape, list)
        or len(shape) > 4
        or any(type(s) is not int or s < 0 or s > 1 << 40 for s in shape)
    ):
        raise _fail(path, f"tensor {excerpt(name)} has shape {excerpt(shape)}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or any(type(o) is not int or o < 0 for o in offsets)
    ):
        raise _fail(path, f"tensor {excerpt(name)} has data_offsets {excerpt(offsets)}")
    begin, end = offsets
    if end - begin != math.prod(shape) * _DTYPES[dtype][1]:
        raise _fail(path, f"tensor {excerpt(name)}: offsets {offsets} do not fit shape {shape}")
    return dtype, tuple(shape), begin, end


def read_header(path: str | os.PathLike) -> ModelHeader:
    """Read and check a model file's header, without torch and without reading the tensors.

    Checks: header at most ``MAX_HEADER_BYTES`` and present in full; JSON of the
    safetensors layout; format name and version; the config through ``ModelConfig``;
    ``metadata``/``training``/``versions`` mappings; every tensor float32/float64 with
    offsets that tile the data section exactly (so the file holds every byte it claims).

    Args:
        path: The model file.

    Returns:
        The checked header.

    Raises:
        ModelFileError: Missing, unreadable, truncated, corrupt, over a cap, a format-1
            file or another format version (one line, bounded excerpts).
    """
    path = Path(path)
    size, raw = _open_checked(path)
    header = _parse_json(path, raw, "the header")
    if not isinstance(header, dict):
        raise ModelFileError(f"not a model file: {path} (header is {excerpt(header)})")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"not a model file: {path} (no '{FORMAT}' header)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model file format version {excerpt(meta.get('format_version'))}; "
            f"this library reads version {FORMAT_VERSION}"
        )
    unknown = sorted(set(meta) - _META_KEYS - _OPTIONAL_KEYS)
    missing = sorted(_META_KEYS - set(meta))
    if unknown or missing:
        what = f"unknown key(s) {excerpt(unknown)}" if unknown else f"missing {missing}"
        raise _fail(path, f"header metadata has {what}")
    bad = [k for k in meta if not isinstance(meta[k], str)]
    if bad:
        raise _fail(path, f"header metadata {sorted(bad)[0]} is not a string")
    kind = meta.get("kind", "lstm")
    if kind not in KINDS:
        raise ModelFileError(
            f"unsupported model file {path}: unknown forecaster kind {excerpt(kind)} "
            f"(known: {', '.join(KINDS)})"
        )
    kind_config = _parse_json(path, meta.get("kind_config", "{}"), "kind_config")
    if not isinstance(kind_config, dict):
        raise _fail(path, f"kind_config must be a mapping, got {excerpt(kind_config)}")
    decoded = {k: _parse_json(path, meta[k], k) for k in _JSON_FIELDS}
    for key in ("config", "metadata", "training", "versions"):
        if not isinstance(decoded[key], dict):
            raise _fail(path, f"{key} must be a mapping, got {excerpt(decoded[key])}")
    try:
        config = ModelConfig.from_dict(decoded["config"])
    except (TypeError, ValueError) as e:
        raise ModelFileError(
            f"incompatible model file {path}: bad config ({_one_line(e)})"
        ) from None
    versions = decoded["versions"]
    if any(not isinstance(v, str) for v in versions.values()):
        raise _fail(path, f"versions must map names to strings, got {excerpt(versions)}")
    training = decoded["training"]
    if not isinstance(training.get("summary", {}), dict) or not isinstance(
        training.get("history", []), list
    ):
        raise _fail(path, "training must hold a summary mapping and a history list")
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    offsets: dict[str, tuple[int, int]] = {}
    for name, entry in header.items():
        dtype, shape, begin, end = _tensor_entry(path, name, entry)
        tensors[name], offsets[name] = (dtype, shape), (begin, end)
    data_len = size - 8 - len(raw)
    position = 0
    for name, (begin, end) in sorted(offsets.items(), key=lambda kv: kv[1]):
        if begin != position:
            raise _fail(path, f"tensor {excerpt(name)} data does not follow the previous one")
        position = end
    if position != data_len:
        raise ModelFileError(
            f"truncated or padded model file {path}: the header describes {position} data "
            f"bytes, the file has {data_len}"
        )
    return ModelHeader(
        path=path,
        config=config,
        metadata=decoded["metadata"],
        training=training,
        versions=versions,
        created=meta["created"],
        tensors=tensors,
        offsets=offsets,
        data_start=8 + len(raw),
        kind=kind,
        kind_config=kind_config,
    )


def read_tensors(header: ModelHeader) -> dict[str, Any]:
    """Read the tensors ``header`` describes (call only after checking their shapes).

    Only the byte range those tensors span is read, so a header narrowed to some tensors
    (an ensemble member's) reads just those.

    Args:
        header: From ``read_header`` (or narrowed from it).

    Returns:
        Name -> array (float32, float64 or uint8, native byte order), every value finite.

    Raises:
        ModelFileError: The file changed or cannot be read, or a value is NaN or infinite.
    """
    import numpy as np

    path = header.path
    if not header.offsets:
        return {}
    first = min(b for b, _ in header.offsets.values())
    last = max(e for _, e in header.offsets.values())
    try:
        with path.open("rb") as f:
            f.seek(header.data_start + first)
            data = f.read(last - first)
    except OSError as e:
        raise ModelFileError(f"cannot read model file {path}: {_one_line(e)}") from None
    if len(data) != last - first:
        raise ModelFileError(f"model file {path} changed while it was read")
    arrays = {}
    for name, (dtype, shape) in header.tensors.items():
        begin = header.offsets[name][0] - first
        kind = np.dtype(_DTYPES[dtype][0])
        array = np.frombuffer(data, dtype=kind, count=math.prod(shape), offset=begin)
        array = array.reshape(shape).astype(kind.newbyteorder("="))
        if not np.isfinite(array).all():
            raise ModelFileError(f"corrupt model file {path}: {excerpt(name)} has NaN or inf")
        arrays[name] = array
    return arrays


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_file(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` atomically (temporary file, fsync, rename), with umask permissions.

    A crash at any point leaves either the previous file or the new one, never a mix; the
    file gets mode ``0o666 & ~umask`` like any file ``open()`` creates.

    Args:
        path: Destination file.
        data: The bytes.

    Returns:
        The destination path.

    Raises:
        ModelFileError: The folder does not exist or is not writable, or the disk is full.
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
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
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
