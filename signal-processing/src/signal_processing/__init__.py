"""signal_processing: the sliding-window ``Buffer`` and the ``System`` base class.

``Buffer`` keeps the last ``buffer_size`` samples in preallocated storage and says when a
window is due; ``System`` pushes frames into a buffer and runs an ordered chain of modules
on every due window.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from signal_processing.config import BufferConfig

#: Public names whose modules import numpy, loaded on first attribute access, so that
#: the numpy-free ``BufferConfig`` is cheap to import (``stock-analyzer info``).
_LAZY = {
    "Buffer": "signal_processing.buffer",
    "BufferNotFullError": "signal_processing.buffer",
    "System": "signal_processing.system",
}

if TYPE_CHECKING:
    from signal_processing.buffer import Buffer, BufferNotFullError
    from signal_processing.system import System

__version__ = "1.0.0"
__all__ = ["Buffer", "BufferConfig", "BufferNotFullError", "System", "__version__"]


def __getattr__(name: str) -> Any:
    """Import the numpy-backed public names on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
