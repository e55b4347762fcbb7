"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

Every file the pipeline and the CLI write in one go (training histories, backtest
reports, CSV exports, plots) goes through :func:`atomic_write`: the bytes go to a
temporary file in the same directory, are flushed and fsync'ed, and the temporary file
is renamed over the target (``os.replace``, atomic on POSIX and Windows). A crash, a
SIGKILL or a full disk leaves the previous file (or none), plus no stray temporary file
when Python is still alive to remove it. The new file follows the umask, like ``open``.
(The model file has the same guarantee from ``model``'s own writer, and the Yahoo cache
from ``data_fetcher``'s; the prediction log is append-only, see ``PredictionLog``.)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` atomically, creating the parent directories.

    Args:
        path: The target file.
        data: Its whole content (``str`` is written as UTF-8).

    Returns:
        The path written.

    Raises:
        OSError: The directory cannot be created or written, or the disk is full (the
            target is then untouched).

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> atomic_write(d / "a" / "x.json", '{"ok": 1}').read_text()
        '{"ok": 1}'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target
