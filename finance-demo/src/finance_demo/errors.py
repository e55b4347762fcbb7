"""Exceptions of the pipeline; every message is one line meant for a user."""

from __future__ import annotations

__all__ = [
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
