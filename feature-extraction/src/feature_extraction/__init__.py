"""feature_extraction: feature groups of price windows, live and in bulk.

Groups: trend/FFT (the six default features), returns, range and realized volatility,
volume, technical indicators.

``FeatureExtraction.execute`` computes one window (the live path);
``FeatureExtraction.transform`` computes every window of a history with no per-window
Python loop and gives the same numbers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from feature_extraction.config import (
    FEATURE_NAMES,
    GROUP_CHOICES,
    GROUPS,
    NORMALIZE_CHOICES,
    OHLCV,
    FeatureConfig,
)

#: Public names whose modules import numpy, loaded on first attribute access, so that
#: the numpy-free ``FeatureConfig`` is cheap to import (``stock-analyzer info``).
_LAZY = {"FeatureExtraction": "feature_extraction.extraction"}

if TYPE_CHECKING:
    from feature_extraction.extraction import FeatureExtraction

__version__ = "1.0.0"
__all__ = [
    "FEATURE_NAMES",
    "GROUPS",
    "GROUP_CHOICES",
    "NORMALIZE_CHOICES",
    "OHLCV",
    "FeatureConfig",
    "FeatureExtraction",
    "__version__",
]


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
