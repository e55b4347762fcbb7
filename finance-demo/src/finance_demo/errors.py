"""Exceptions of the pipeline; every message is one line meant for a user."""

from __future__ import annotations

__all__ = [
    "ForeignModelError",
    "InsufficientDataError",
    "IntervalMismatchError",
    "PipelineError",
    "SettingsError",
]


class PipelineError(Exception):
    """Base class of the errors raised by ``finance_demo`` (one-line messages)."""


class SettingsError(PipelineError, ValueError):
    """A settings file or dict has an unknown key or a bad value (named in the message)."""


class InsufficientDataError(PipelineError, ValueError):
    """Too few candles for the window sizes (buffer, sequence, horizon, split)."""


class IntervalMismatchError(PipelineError, ValueError):
    """Candles of another interval than the one the model was trained on."""


class ForeignModelError(PipelineError, ValueError):
    """A model file that ``finance_demo.train_model`` did not write (no pipeline settings)."""
