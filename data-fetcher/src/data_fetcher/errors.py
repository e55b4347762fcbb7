"""Exceptions raised by data_fetcher: every message is one line meant for a user."""

from __future__ import annotations

__all__ = ["DataError", "FetchError", "FetcherError"]


class FetcherError(Exception):
    """Base class of every error that data_fetcher raises on purpose.

    ``str(error)`` is a single line that can be shown to a user as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class DataError(FetcherError, ValueError):
    """The data is bad or empty (missing columns, non-numeric values, no rows...)."""


class FetchError(FetcherError):
    """The data could not be obtained (unknown symbol, network down, rate limit...).

    A Yahoo failure sets :attr:`kind` (see ``classify_error``) and :attr:`transient`
    (``True`` for ``network``, ``rate_limit`` and ``server``: a later try may succeed).
    """

    #: ``network``, ``rate_limit``, ``server``, ``unknown_symbol``, ``other`` or ``None``.
    kind: str | None = None
    #: True when a later try may succeed.
    transient: bool = False
