"""Exceptions raised by the model package (one-line messages)."""

from __future__ import annotations

__all__ = ["MissingExtraError", "ModelError", "ModelFileError"]


class ModelError(Exception):
    """Base class of the errors of the model package."""


class ModelFileError(ModelError):
    """A model file is missing, truncated, corrupt, unsafe or incompatible.

    The message is one line that names the file and the reason.
    """


class MissingExtraError(ModelError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""
