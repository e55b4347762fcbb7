"""``Fetcher``: one front door to every candle source (yahoo, sample, csv, replay)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .base import CandleSource, get_factory, register_source
from .csv_source import CsvSource
from .intervals import (
    check_interval,
    check_period,
    drop_before,
    parse_since,
    to_interval,
)
from .replay import ReplaySource
from .sample import SampleSource
from .yahoo import YahooSource, yahoo_default_period

__all__ = ["Fetcher", "default_period"]

#: Interval of the yahoo source when none is given.
_YAHOO_INTERVAL = "1h"


def default_period(source: str | CandleSource, interval: str | None = None) -> str:
    """The period a ``Fetcher`` uses when given ``period=None``.

    ``yahoo`` keeps Yahoo's own per-interval defaults (``1m``/``2m``/``5m`` -> ``5d``,
    ``15m``/``30m`` -> ``1mo``, ``60m``/``90m``/``1h`` -> ``3mo``, else ``2y``; ``None`` is
    the yahoo default interval ``1h``), each within what Yahoo serves for the interval.
    Every other source (``sample``, ``csv:PATH``, ``replay``, ``replay:PATH``, a registered
    name, a :class:`CandleSource` object) holds a finite history: ``"max"``, the whole series.

    Raises:
        ValueError: An unknown source name or interval.

    Examples:
        >>> default_period("yahoo", "5m"), default_period("yahoo", "1d")
        ('5d', '2y')
        >>> default_period("sample", "1d"), default_period("replay:prices.csv", None)
        ('max', 'max')
    """
    if isinstance(source, CandleSource):
        return "max"
    if not isinstance(source, str):
        raise ValueError(f"source must be a string or a CandleSource, got {source!r}")
    name = source.partition(":")[0]
    get_factory(name)  # an unknown source name is an error here too
    if name == "yahoo":
        return yahoo_default_period(interval or _YAHOO_INTERVAL)
    if interval is not None:
        check_interval(interval)
    return "max"


class Fetcher:
    """Candles of one symbol from one source, validated to the candles contract.

    ``source`` is ``"yahoo"`` (live, cached on disk, retried), ``"sample"`` (real candles
    shipped in the package), ``"csv:PATH"`` (a user's file), ``"replay"`` (the sample
    series played back as a live feed), ``"replay:PATH"`` (a CSV played back), the name
    of a source added with :func:`register_source`, or a :class:`CandleSource` object.

    Args:
        symbol: Ticker as spelled on Yahoo (``"MSFT"``, ``"^GSPC"``, ``"EURUSD=X"``).
        period: How much history (``"7d"``, ``"1y"``, ``"max"``...); for files and
            samples it counts back from the last candle. ``None`` (default) means
            :func:`default_period` of the source and interval: ``"max"`` for sample, csv and
            replay, Yahoo's per-interval default for yahoo. The chosen one is ``.period``.
        interval: Candle length (``"1m"`` ... ``"1h"``, ``"1d"``, ``"1wk"``, ``"1mo"``);
            coarser than the data's native interval resamples, finer is a ``DataError``.
            ``None`` means the native interval (sample, csv, replay) or ``"1h"`` (yahoo).
        source: Where the candles come from (see above).
        cache_dir: Cache directory of the yahoo source (default: ``$STOCK_ANALYZER_CACHE_DIR``
            or the user cache directory).
        use_cache: ``False`` always asks Yahoo (and does not write the cache).
        replay_start: Replay point of a replay source: int position (negative from the
            end), a timestamp (first candle at or after it), or ``None`` (the start of the
            last 15 %).
        since: ``fetch_historical()`` keeps only the candles on or after this date (str or
            Timestamp; a naive one is read in the candles' zone); see :func:`drop_before`.
        adjust_splits: For ``csv:PATH`` and ``replay:PATH``: adjust the prices before
            each suspected unadjusted split (see :func:`find_unadjusted_splits`) instead of
            logging a warning about it.
        **options: Passed to the source: for yahoo ``session`` (a requests or curl_cffi
            Session handed to yfinance), ``cache_ttl`` (seconds), ``retry``
            (:class:`RetryPolicy`), ``sleep``, ``clock``, ``timeout``; for csv ``tz`` (zone
            of naive stamps, default UTC).

    Raises:
        ValueError: An unknown source, interval or period (``DataError`` is a ValueError).
        FetcherError: The source cannot be set up (e.g. no sample for the symbol).

    Examples:
        >>> f = Fetcher("^GSPC", period="max", interval="1d", source="sample")
        >>> len(f.fetch_historical()), f.is_live, f.exhausted
        (5031, False, False)
        >>> feed = Fetcher("IBM", period="max", interval="1d", source="replay")
        >>> warm_up, first = feed.fetch_historical(), feed.fetch_latest()
        >>> first.index[0] > warm_up.index[-1]
        True
    """

    def __init__(
        self,
        symbol: str,
        period: str | None = None,
        interval: str | None = "1h",
        source: str | CandleSource = "yahoo",
        *,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        replay_start: int | str | pd.Timestamp | None = None,
        since: str | pd.Timestamp | None = None,
        adjust_splits: bool = False,
        **options: Any,
    ) -> None:
        self.symbol = symbol
        if since is not None:
            parse_since(since, symbol)  # a bad date fails here, before any download
        #: ``fetch_historical()`` keeps the candles on or after this date (``None``: all).
        self.since = since
        if period is None:
            period = default_period(source, interval)
        #: The period in use (the default of the source when none was given).
        self.period = check_period(period)
        self.interval = None if interval is None else check_interval(interval)
        if isinstance(source, CandleSource) and adjust_splits:
            raise ValueError("adjust_splits applies to files (csv:PATH, replay:PATH) only")
        if isinstance(source, CandleSource):
            # a source that knows its candles' interval (a replay) says what it is
            self.interval = getattr(source, "interval", None) or self.interval
            self.source = source
            return
        if not isinstance(source, str):
            raise ValueError(f"source must be a string or a CandleSource, got {source!r}")
        name, sep, argument = source.partition(":")
        factory = get_factory(name)
        if adjust_splits:
            if name not in ("csv", "replay") or not argument:
                raise ValueError(
                    f"adjust_splits applies to files (csv:PATH, replay:PATH), not {source!r}: "
                    "sample and Yahoo prices are already split-adjusted"
                )
            options["adjust_splits"] = True
        self.source: CandleSource = factory(
            symbol,
            self.period,
            self.interval,
            argument if sep else None,
            cache_dir=cache_dir,
            use_cache=use_cache,
            replay_start=replay_start,
            **options,
        )

    @classmethod
    def from_frame(
        cls,
        candles: pd.DataFrame,
        *,
        symbol: str = "?",
        interval: str | None = None,
        replay_start: int | str | pd.Timestamp | None = None,
    ) -> Fetcher:
        """Play any candles frame back as a live feed (a replay source).

        Args:
            candles: Candles (validated; a naive index is read as UTC); its extra numeric
                columns (covariates) are kept.
            symbol: Named in messages.
            interval: Resample to this interval when coarser than the frame's (inferred)
                native interval; ``None`` keeps the frame as it is.
            replay_start: As for ``Fetcher``.

        Returns:
            A fetcher whose ``fetch_latest()`` returns the candles after the replay point.
        """
        from .validate import validate_candles

        frame = to_interval(
            validate_candles(candles, symbol, tz="UTC", extras=True), interval, symbol
        )
        source = ReplaySource(
            frame, symbol=symbol, replay_start=replay_start, label="frame", interval=interval
        )
        return cls(symbol, period="max", source=source)

    def fetch_historical(self) -> pd.DataFrame:
        """Return the candles (for a replay: those before the replay point).

        Raises:
            FetcherError: The candles could not be obtained or are bad (one-line message),
                or none is on or after ``since``.
        """
        return drop_before(self.source.fetch_historical(), self.since, self.symbol)

    def fetch_latest(self) -> pd.DataFrame | None:
        """Return the newest completed candle as a one-row frame, or ``None`` if nothing new.

        Raises:
            FetchError: The source is not a feed (``sample``, ``csv``), or Yahoo failed.
        """
        return self.source.fetch_latest()

    @property
    def exhausted(self) -> bool:
        """True when a replay has played every candle (always False for live sources)."""
        return self.source.exhausted

    @property
    def is_live(self) -> bool:
        """True when ``fetch_latest`` follows the wall clock (yahoo): poll it every interval."""
        return self.source.is_live

    def __repr__(self) -> str:
        return (
            f"Fetcher({self.symbol!r}, period={self.period!r}, interval={self.interval!r}, "
            f"source={self.source.name!r})"
        )


def _no_replay_start(name: str, replay_start: object) -> None:
    if replay_start is not None:
        raise ValueError(f"replay_start only applies to replay sources, not {name!r}")


def _yahoo(symbol, period, interval, argument, *, replay_start=None, **options):
    _no_replay_start("yahoo", replay_start)
    if argument:
        raise ValueError(f"source 'yahoo' takes no argument, got 'yahoo:{argument}'")
    return YahooSource(symbol, period, interval or "1h", **options)


def _sample(symbol, period, interval, argument, *, replay_start=None, **_options):
    _no_replay_start("sample", replay_start)
    return SampleSource(symbol, period, interval)


def _csv(
    symbol, period, interval, argument, *, replay_start=None, tz="UTC", adjust_splits=False, **_o
):
    _no_replay_start("csv", replay_start)
    if not argument:
        raise ValueError("source 'csv' needs a file: csv:PATH")
    return CsvSource(argument, period, interval, symbol=symbol, tz=tz, adjust_splits=adjust_splits)


def _replay(
    symbol, period, interval, argument, *, replay_start=None, tz="UTC", adjust_splits=False, **_o
):
    if argument:
        series = CsvSource(
            argument, period, interval, symbol=symbol, tz=tz, adjust_splits=adjust_splits
        ).fetch_historical()
        label = f"replay:{argument}"
    else:
        series = SampleSource(symbol, period, interval).fetch_historical()
        label = "replay"
    return ReplaySource(
        series, symbol=symbol, replay_start=replay_start, label=label, interval=interval
    )


register_source("yahoo", _yahoo)
register_source("sample", _sample)
register_source("csv", _csv)
register_source("replay", _replay)
