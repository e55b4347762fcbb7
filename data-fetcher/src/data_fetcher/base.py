"""The interface every candle source implements, and the registry of source names."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import pandas as pd

from .errors import FetchError

__all__ = ["CandleSource", "SourceFactory", "register_source", "source_names"]


class CandleSource(ABC):
    """One way of getting candles (Yahoo, the shipped sample, a CSV file, a replay...).

    Subclasses implement :meth:`fetch_historical`; a live or replayed source also
    implements :meth:`fetch_latest`. Register a new kind with :func:`register_source`.

    Examples:
        >>> class Constant(CandleSource):
        ...     def __init__(self, candles):
        ...         self.candles = candles
        ...     def fetch_historical(self):
        ...         return self.candles
        >>> Constant(None).is_live, Constant(None).exhausted
        (False, False)
    """

    #: True when :meth:`fetch_latest` follows the wall clock (poll it every interval).
    is_live: bool = False

    @abstractmethod
    def fetch_historical(self) -> pd.DataFrame:
        """Return the candles of the source (see the candles contract)."""

    def fetch_latest(self) -> pd.DataFrame | None:
        """Return the newest completed candle as a one-row frame, or ``None``.

        Raises:
            FetchError: This source is not a live feed.
        """
        raise FetchError(
            f"source '{self.name}' holds historical candles only, it is not a live feed; "
            "use source='replay' (or 'replay:PATH') to play history back, or 'yahoo' for live"
        )

    @property
    def exhausted(self) -> bool:
        """True when a replay has no candle left (always False for other sources)."""
        return False

    @property
    def name(self) -> str:
        """Short name of the source, used in messages."""
        return type(self).__name__


#: ``factory(symbol, period, interval, argument, **options) -> CandleSource``; ``argument``
#: is what follows the first ``:`` in the source string (``None`` without one).
SourceFactory = Callable[..., CandleSource]

_REGISTRY: dict[str, SourceFactory] = {}


def register_source(name: str, factory: SourceFactory) -> None:
    """Make ``Fetcher(..., source="name")`` (or ``"name:ARG"``) build its source with ``factory``.

    Args:
        name: The source name (no ``:``).
        factory: Called as ``factory(symbol, period, interval, argument, **options)``, where
            ``options`` are the keyword arguments given to ``Fetcher`` (``cache_dir``,
            ``use_cache``, ``replay_start``, ``session``...). Ignore the ones you don't need.

    Raises:
        ValueError: ``name`` is empty or contains ``:``.
    """
    if not name or ":" in name:
        raise ValueError(f"source name {name!r} must be non-empty and contain no ':'")
    _REGISTRY[name] = factory


def get_factory(name: str) -> SourceFactory:
    """Return the factory registered under ``name``.

    Raises:
        ValueError: No source has that name (the message lists the known ones).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"source {name!r} is unknown; use one of {known}") from None


def source_names() -> list[str]:
    """Names of the registered sources."""
    return sorted(_REGISTRY)
