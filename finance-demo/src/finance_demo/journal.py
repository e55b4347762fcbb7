"""The JSONL prediction log: one JSON object per line, flushed at once."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import IO, Any

__all__ = ["PredictionLog", "quarantine_fragment"]

_TAIL = 1 << 16  # bytes read from the end to find the last newline, per step


def quarantine_fragment(path: Path) -> int:
    """Move a cut-off last line of ``path`` to ``<path>.partial``; return its size.

    A JSONL log whose writer died in the middle of a line ends without a newline. The
    bytes after the last newline are appended to ``<path>.partial`` (fsynced) and then
    cut from the log, so the next record starts on a line of its own and the fragment is
    kept for inspection. A complete log (or a missing or empty file) is left alone.

    Args:
        path: The log file.

    Returns:
        The number of bytes moved aside (0 when the log was complete).
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size == 0:
        return 0
    with open(path, "rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return 0
        end = size
        cut = 0
        while end > 0:  # find the last newline, reading backwards in bounded steps
            start = max(0, end - _TAIL)
            f.seek(start)
            block = f.read(end - start)
            i = block.rfind(b"\n")
            if i >= 0:
                cut = start + i + 1
                break
            end = start
        f.seek(cut)
        fragment = f.read()
        with open(path.with_name(path.name + ".partial"), "ab") as side:
            side.write(fragment + b"\n")
            side.flush()
            os.fsync(side.fileno())
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
    return len(fragment)


def _clean(value: Any) -> Any:
    """JSON has no NaN: write ``null`` for it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class PredictionLog:
    r"""Append records to a JSONL file (or stream), one flushed line per record.

    Each line is written with a single ``write`` followed by ``flush``, so a crash or a
    kill after :meth:`write` returns never loses the record. ``fsync=True`` also asks the
    OS to put it on disk (slower).

    Args:
        target: A path (opened for appending, created with its folder), an open text
            stream, or ``None`` (records are counted but not written). When the file's
            last line was cut off (a crash or a full disk in the middle of a write), that
            fragment is moved to ``<name>.partial`` and removed from the log before the
            first new record, so every record stays on a line of its own.
        fsync: Call ``os.fsync`` after each line (paths only).

    Examples:
        >>> import io
        >>> stream = io.StringIO()
        >>> log = PredictionLog(stream)
        >>> log.write({"type": "prediction", "close": 1.5})
        >>> stream.getvalue()
        '{"type": "prediction", "close": 1.5}\n'
    """

    def __init__(self, target: str | Path | IO[str] | None, *, fsync: bool = False) -> None:
        self.path: Path | None = None
        self.lines = 0
        self.quarantined = 0
        self._owned = False
        self._fsync = fsync
        if target is None:
            self._stream: IO[str] | None = None
        elif isinstance(target, (str, Path)):
            self.path = Path(target)
            if self.path.parent != Path():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.quarantined = quarantine_fragment(self.path)
            self._stream = open(self.path, "a", encoding="utf-8")
            self._owned = True
        else:
            self._stream = target

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as one line and flush it.

        Args:
            record: A JSON-able dict (NaN becomes ``null``).
        """
        self.lines += 1
        if self._stream is None:
            return
        line = json.dumps({k: _clean(v) for k, v in record.items()})
        self._stream.write(line + "\n")
        self._stream.flush()
        if self._fsync and self._owned:
            os.fsync(self._stream.fileno())

    def close(self) -> None:
        """Flush and close the file (a stream given by the caller is only flushed)."""
        if self._stream is None:
            return
        self._stream.flush()
        if self._owned:
            self._stream.close()
        self._stream = None

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
