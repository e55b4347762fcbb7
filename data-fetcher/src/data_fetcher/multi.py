"""``MultiFetcher``: candles of many symbols, one batched Yahoo request per poll."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cache import CandleCache, default_ttl
from .errors import DataError, FetcherError, FetchError
from .fetcher import Fetcher, default_period
from .intervals import check_interval, check_period, drop_before, parse_since
from .replay import ReplaySource
from .retry import RetryPolicy, call_with_retry
from .validate import COLUMNS
from .yahoo import (
    _LATEST_PERIOD,
    _SUGGEST,
    _yfinance_raising,
    check_yahoo_range,
    classify_error_text,
    newest_complete,
    normalize_yfinance,
)

__all__ = ["MAX_SYMBOLS", "MultiFetcher"]

logger = logging.getLogger("data_fetcher")

#: The most symbols one ``MultiFetcher`` accepts.
MAX_SYMBOLS = 5000
_TRANSIENT = ("network", "rate_limit", "server")


def _check_symbols(symbols: Iterable[str]) -> list[str]:
    if isinstance(symbols, str):
        symbols = symbols.split(",")
    try:
        given = list(symbols)
    except TypeError:
        raise ValueError(f"symbols must be a list of strings, got {symbols!r}") from None
    if not given:
        raise ValueError("symbols is empty: give at least one symbol")
    if len(given) > MAX_SYMBOLS:
        raise ValueError(f"{len(given)} symbols given, at most {MAX_SYMBOLS} are accepted")
    out: list[str] = []
    seen: set[str] = set()
    for position, symbol in enumerate(given, 1):
        if not isinstance(symbol, str) or not symbol.strip():
            raise ValueError(f"symbol {position} is blank ({symbol!r}); give a ticker")
        key = symbol.strip().upper()
        if key in seen:
            raise ValueError(f"symbol {key!r} is given twice; give each symbol once")
        seen.add(key)
        out.append(key)
    return out


class _BatchFailed(Exception):
    """Every symbol of a batch failed the same transient way (a whole-request failure)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class _YahooBatch:
    """One ``yfinance.download()`` call for many symbols, split back into per-symbol candles."""

    def __init__(
        self,
        symbols: list[str],
        interval: str,
        *,
        session: object | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        timeout: float = 10.0,
        threads: bool | int = True,
    ) -> None:
        self.symbols, self.interval = symbols, interval
        self.session, self.retry = session, retry or RetryPolicy()
        self.sleep, self.rng, self.timeout, self.threads = sleep, rng, timeout, threads
        self.calls = 0  # calls into yfinance.download() (one per attempt)
        self.attempts = 0  # attempts made by the last download

    def _download_once(
        self, symbols: list[str], period: str, threads: bool | int | None = None
    ) -> tuple[pd.DataFrame, dict[str, str], dict[str, str]]:
        from yfinance.data import YfData

        self.calls += 1
        YfData.cache_get.cache_clear()  # never reuse a memoized (failed) answer
        from yfinance import multi

        # ``yf.download(...)`` is ``_download_impl(_DownloadCtx(), ...)``: the same call with
        # a context of our own, because the per-ticker errors live there (download() only
        # logs them).
        ctx = multi._DownloadCtx()
        ctx.dfs = zones = _ZoneRecorder()
        with _yfinance_raising():
            frame = multi._download_impl(
                ctx,
                symbols,
                period=period,
                interval=self.interval,
                group_by="ticker",
                auto_adjust=True,
                actions=False,
                threads=self.threads if threads is None else threads,
                ignore_tz=False,  # keep the instants; each symbol gets its own zone back
                progress=False,
                session=self.session,
                timeout=self.timeout,
                multi_level_index=True,
            )
        failed = {s: ctx.errors[s] for s in symbols if s in ctx.errors}
        if len(failed) == len(symbols):
            kinds = {classify_error_text(text) for text in failed.values()}
            transient = kinds & set(_TRANSIENT)
            if transient and kinds <= set(_TRANSIENT) | {"other"}:
                kind = sorted(transient, key=_TRANSIENT.index)[0]
                raise _BatchFailed(kind, next(iter(failed.values())))
        return frame, failed, zones.zones

    def download(
        self, symbols: list[str], period: str, *, empty_ok: bool
    ) -> tuple[dict[str, pd.DataFrame | None], dict[str, str]]:
        """Per-symbol candles (``None``: an empty answer when ``empty_ok``) and errors.

        Raises:
            FetchError: The whole request failed (network, rate limit, server) after the
                retries; ``.kind`` says which and ``.transient`` is True.
        """
        try:
            (frame, failed, zones), self.attempts = call_with_retry(
                lambda: self._download_once(symbols, period),
                is_transient=lambda exc: isinstance(exc, _BatchFailed),
                policy=self.retry,
                sleep=self.sleep,
                rng=self.rng,
                what=f"Yahoo batch request for {len(symbols)} symbol(s)",
            )
        except _BatchFailed as exc:
            self.attempts = getattr(exc, "attempts", 1)
            raise _whole_request_error(exc, len(symbols), self.attempts) from None
        except Exception as exc:  # yfinance itself failed (a bad session...)
            self.attempts = getattr(exc, "attempts", 1)
            error = FetchError(
                f"Yahoo batch request for {len(symbols)} symbol(s) failed "
                f"({type(exc).__name__}: {_one_line(str(exc))})"
            )
            error.kind, error.transient = "other", False
            raise error from None
        retried: dict[str, pd.DataFrame] = {}
        again = [s for s in symbols if s in failed and _passing(failed[s])]
        if again:
            # a symbol that failed for a passing reason inside the threaded batch (e.g.
            # yfinance's SQLite cache "database is locked" under concurrent threads) is
            # asked once more, on one thread; an unknown or empty symbol is not
            try:
                frame2, failed2, zones2 = self._download_once(again, period, threads=False)
            except Exception:  # the second try failing keeps the first reasons
                frame2, failed2, zones2 = None, {}, {}
            for symbol in again if frame2 is not None else ():
                if symbol in failed2:
                    failed[symbol] = failed2[symbol]
                    continue
                try:
                    retried[symbol] = _split(frame2, symbol, zones2.get(symbol))
                except DataError:
                    continue
                del failed[symbol]
        candles: dict[str, pd.DataFrame | None] = {}
        errors: dict[str, str] = {}
        for symbol in symbols:
            if symbol in failed:
                kind = classify_error_text(failed[symbol])
                if kind == "empty" and empty_ok:
                    candles[symbol] = None
                else:
                    errors[symbol] = _symbol_reason(symbol, kind, failed[symbol], period)
                continue
            if symbol in retried:
                candles[symbol] = retried[symbol]
                continue
            try:
                candles[symbol] = _split(frame, symbol, zones.get(symbol))
            except DataError as exc:
                if empty_ok and "no candles" in str(exc):
                    candles[symbol] = None
                else:
                    errors[symbol] = str(exc)
        return candles, errors


def _passing(text: str) -> bool:
    """A per-symbol failure inside a batch that a second request may not meet.

    Not an unknown symbol or an empty answer (permanent), and not a rate limit (asking
    again makes it worse): the network, the server, or anything else (yfinance's own
    SQLite caches raise ``OperationalError('database is locked')`` under its threads).
    """
    return classify_error_text(text) not in ("unknown_symbol", "empty", "rate_limit")


def _one_line(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _symbol_reason(symbol: str, kind: str, text: str, period: str) -> str:
    """One line for one symbol of a batch, worded like the single-symbol errors."""
    if kind == "unknown_symbol":
        said = re.search(r"\$\S+: (.+?)['\"]\)$", text)  # YFTickerMissingError's rationale
        reason = _one_line(said.group(1), 80) if said else "no data found, symbol may be delisted"
        return (
            f"{symbol}: unknown symbol on Yahoo Finance ({reason}); check the spelling as "
            "shown on finance.yahoo.com"
        )
    if kind == "empty":
        return (
            f"{symbol}: Yahoo returned no candles (period={period}); the market may have been "
            "closed or the symbol delisted"
        )
    if kind in _TRANSIENT:
        return f"{symbol}: Yahoo request failed ({kind}: {_one_line(text, 80)}); retry later"
    return f"{symbol}: Yahoo request failed ({_one_line(text)})"


def _whole_request_error(exc: _BatchFailed, count: int, attempts: int) -> FetchError:
    what = {
        "network": "cannot reach Yahoo Finance, the network looks unreachable",
        "rate_limit": "Yahoo Finance is rate-limiting requests",
        "server": "Yahoo Finance answered with a server error or an unreadable answer",
    }[exc.kind]
    error = FetchError(
        f"Yahoo batch request for {count} symbol(s): {what} ({_one_line(str(exc), 80)}) "
        f"after {attempts} attempt(s); retry later or {_SUGGEST}"
    )
    error.kind, error.transient = exc.kind, True
    return error


def _split(frame: pd.DataFrame, symbol: str, zone: str | None) -> pd.DataFrame:
    """The candles of ``symbol`` from ``download()``'s frame, as ``Ticker.history`` gave them.

    ``download()`` puts every symbol on the union of the stamps (NaN rows where a symbol
    has no candle) converted to the most common zone; the NaN-only rows are dropped and
    the index goes back to ``zone`` (the symbol's exchange zone), so the result equals what
    ``Fetcher(symbol, source="yahoo")`` returns for the same answer.
    """
    if not isinstance(frame.columns, pd.MultiIndex) or symbol not in frame.columns.get_level_values(
        0
    ):
        raise DataError(f"{symbol}: Yahoo returned no candles (empty result)")
    own = frame.xs(symbol, axis=1, level=0)
    own = own[own.notna().any(axis=1)]
    own.columns.name = None
    if zone is not None and isinstance(own.index, pd.DatetimeIndex) and own.index.tz is not None:
        name = own.index.name
        own.index = own.index.tz_convert(zone)
        own.index.name = name
    return normalize_yfinance(own, symbol)


class _ZoneRecorder(dict):
    """``download()``'s per-ticker frames, noting the zone each had before the merge.

    yfinance stores each ticker's ``history()`` frame (in the exchange zone) here, then
    converts all of them to the most common zone; the first zone seen is the exchange's.
    """

    def __init__(self) -> None:
        super().__init__()
        self.zones: dict[str, str] = {}

    def __setitem__(self, key: str, frame: pd.DataFrame) -> None:
        tz = getattr(getattr(frame, "index", None), "tz", None)
        if key not in self.zones and tz is not None:
            self.zones[key] = str(tz)
        super().__setitem__(key, frame)


class MultiFetcher:
    """Candles of many symbols: one batched Yahoo request per call, or per-symbol replays.

    ``source="yahoo"`` fetches every symbol with **one** call into yfinance's
    ``download()`` per ``fetch_historical()`` / ``fetch_latest()`` (yfinance itself then
    sends one chart request per ticker, on ``threads`` threads). ``"sample"`` and
    ``"replay"`` (and any registered source without an argument) run one
    :class:`Fetcher` per symbol; a replay steps every symbol one candle per
    ``fetch_latest()`` (in lockstep by position, not by time stamp).

    Each symbol's frame is exactly what ``Fetcher(symbol, ...)`` returns for the same data
    (same normalization and validation, same cache entries for yahoo). A failure of one
    symbol (unknown to Yahoo, an empty answer to ``fetch_historical()``, a bad candle)
    leaves it out of the returned dict and puts a one-line reason in :attr:`errors`; the
    others still come back. A failure of the whole request (every symbol failed on the
    network, a rate limit or a server error, after the retries) raises
    :class:`FetchError` with ``.kind`` (``network``, ``rate_limit``, ``server``) and
    ``.transient = True``.

    Args:
        symbols: Tickers (a list, or one comma-separated string); at most
            :data:`MAX_SYMBOLS`, each once, none blank; spelled as on Yahoo
            (upper-cased).
        period, interval, source, cache_dir, use_cache, replay_start, since,
            adjust_splits: As for :class:`Fetcher` (``source`` is a name: ``yahoo``,
            ``sample``, ``replay`` or a registered one without ``:ARG``; files hold one
            symbol, use :meth:`from_frames`).
        **options: For yahoo: ``session``, ``cache_ttl``, ``retry`` (:class:`RetryPolicy`,
            retries of a whole-request failure), ``sleep``, ``clock``, ``rng``,
            ``timeout``, ``threads`` (yfinance's download threads, default ``True``: up
            to twice the CPUs). Other sources: passed to each ``Fetcher``.

    Raises:
        ValueError: Bad symbols (empty list, duplicate, blank, too many), source, interval
            or period; one line.
        FetcherError: A per-symbol source cannot be set up (e.g. no sample series).

    Examples:
        >>> feed = MultiFetcher(["MSFT", "IBM"], interval="1d", source="replay")
        >>> warm_up = feed.fetch_historical()
        >>> sorted(warm_up), sorted(feed.fetch_latest())
        (['IBM', 'MSFT'], ['IBM', 'MSFT'])
        >>> feed.is_live, feed.exhausted, feed.errors
        (False, False, {})
    """

    def __init__(
        self,
        symbols: Iterable[str],
        period: str | None = None,
        interval: str | None = "1h",
        source: str = "yahoo",
        *,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        replay_start: int | str | pd.Timestamp | None = None,
        since: str | pd.Timestamp | None = None,
        adjust_splits: bool = False,
        **options: Any,
    ) -> None:
        self._symbols = tuple(_check_symbols(symbols))
        if not isinstance(source, str):
            raise ValueError(f"source must be a source name, got {source!r}")
        name, sep, _ = source.partition(":")
        if sep:
            raise ValueError(
                f"source {source!r} names one file, which holds one symbol; use "
                "MultiFetcher.from_frames({symbol: candles, ...}) for several"
            )
        if since is not None:
            parse_since(since, self._symbols[0])
        self.since = since
        self.source = name
        #: One-line reason per symbol that failed in the last fetch (empty when none did).
        self.errors: dict[str, str] = {}
        self._fetchers: dict[str, Fetcher] = {}
        if name != "yahoo":
            for symbol in self._symbols:
                self._fetchers[symbol] = Fetcher(
                    symbol,
                    period,
                    interval,
                    source,
                    cache_dir=cache_dir,
                    use_cache=use_cache,
                    replay_start=replay_start,
                    since=since,
                    adjust_splits=adjust_splits,
                    **options,
                )
            first = self._fetchers[self._symbols[0]]
            self.period, self.interval = first.period, first.interval
            return
        if replay_start is not None:
            raise ValueError("replay_start only applies to replay sources, not 'yahoo'")
        if adjust_splits:
            raise ValueError(
                "adjust_splits applies to files (csv:PATH, replay:PATH), not 'yahoo': "
                "Yahoo prices are already split-adjusted"
            )
        self.interval = check_interval(interval or "1h")
        self.period = check_period(period or default_period("yahoo", self.interval))
        check_yahoo_range(self.period, self.interval)
        cache_ttl = options.pop("cache_ttl", None)
        self.clock: Callable[[], float] = options.pop("clock", time.time)
        known = {"session", "retry", "sleep", "rng", "timeout", "threads"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"MultiFetcher got unexpected option(s): {', '.join(unknown)}")
        self.use_cache = use_cache
        ttl = default_ttl(self.interval) if cache_ttl is None else cache_ttl
        self.cache = CandleCache(cache_dir, ttl=ttl, clock=self.clock)
        self._batch = _YahooBatch(list(self._symbols), self.interval, **options)
        self._last: dict[str, pd.Timestamp] = {}

    @classmethod
    def from_frames(
        cls,
        frames: Mapping[str, pd.DataFrame],
        *,
        interval: str | None = None,
        replay_start: int | str | pd.Timestamp | None = None,
    ) -> MultiFetcher:
        """Play candles frames back as live feeds, one per symbol (see ``Fetcher.from_frame``).

        Args:
            frames: Symbol -> candles (validated; a naive index is read as UTC). The
                symbols are kept as given (stripped), and checked like ``symbols``.
            interval: Resample every frame to this interval; ``None`` keeps them.
            replay_start: As for ``Fetcher`` (the same for every symbol).
        """
        if not isinstance(frames, Mapping):
            raise ValueError(f"frames must be a mapping symbol -> candles, got {frames!r}")
        names = _check_symbols([str(s).strip() if isinstance(s, str) else s for s in frames])
        del names  # checked only: the keys stay as given
        self = cls.__new__(cls)
        self._fetchers = {
            symbol.strip(): Fetcher.from_frame(
                frame, symbol=symbol.strip(), interval=interval, replay_start=replay_start
            )
            for symbol, frame in frames.items()
        }
        self._symbols = tuple(self._fetchers)
        self.source, self.since, self.errors = "frame", None, {}
        first = self._fetchers[self._symbols[0]]
        self.period, self.interval = first.period, first.interval
        return self

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols, in the order given (the keys of every result dict)."""
        return self._symbols

    @property
    def is_live(self) -> bool:
        """True for yahoo: poll :meth:`fetch_latest` every interval."""
        return not self._fetchers

    @property
    def exhausted(self) -> bool:
        """True when every replayed symbol has played its last candle (never for yahoo)."""
        return bool(self._fetchers) and all(f.exhausted for f in self._fetchers.values())

    @property
    def attempts(self) -> int:
        """Attempts made by the last yahoo batch (``0`` for other sources)."""
        return self._batch.attempts if not self._fetchers else 0

    def fetch_historical(self) -> dict[str, pd.DataFrame]:
        """Candles of every symbol that could be had (for a replay: before the replay point).

        A symbol that failed is absent and has its reason in :attr:`errors`. yahoo reads
        the disk cache per symbol (the entries ``Fetcher`` uses) and asks Yahoo, in one
        batch, only for the symbols missing from it.

        Raises:
            FetchError: The whole Yahoo request failed (``.transient`` says if a later
                try may succeed).
        """
        errors: dict[str, str] = {}
        out: dict[str, pd.DataFrame] = {}
        if self._fetchers:
            for symbol, fetcher in self._fetchers.items():
                try:
                    out[symbol] = fetcher.fetch_historical()
                except FetcherError as exc:
                    errors[symbol] = str(exc)
            self.errors = errors
            return out
        missing: list[str] = []
        for symbol in self._symbols:
            cached = self.cache.load(self._key(symbol)) if self.use_cache else None
            if cached is None:
                missing.append(symbol)
            else:
                out[symbol] = cached
        if missing:
            got, errors = self._batch.download(missing, self.period, empty_ok=False)
            for symbol, candles in got.items():
                if self.use_cache:
                    self.cache.store(self._key(symbol), candles)
                out[symbol] = candles
        result: dict[str, pd.DataFrame] = {}
        for symbol in self._symbols:
            if symbol not in out:
                continue
            candles = out[symbol]
            self._last[symbol] = candles.index[-1]
            try:
                result[symbol] = drop_before(candles, self.since, symbol)
            except FetcherError as exc:
                errors[symbol] = str(exc)
        self.errors = {s: errors[s] for s in self._symbols if s in errors}
        return result

    def fetch_latest(self) -> dict[str, pd.DataFrame | None]:
        """Per symbol, the newest completed candle (one row) or ``None`` when nothing is new.

        yahoo: one batched request per call; an empty answer (market closed) is ``None``,
        an unknown symbol or a bad candle leaves the symbol out (reason in
        :attr:`errors`). Replay: the next candle of every symbol, ``None`` for those
        already exhausted.

        Raises:
            FetchError: The whole Yahoo request failed, or the source is not a feed
                (``sample``).
        """
        if self._fetchers:
            self.errors = {}
            return {symbol: f.source.fetch_latest() for symbol, f in self._fetchers.items()}
        period = _LATEST_PERIOD.get(self.interval, "1d")
        got, errors = self._batch.download(list(self._symbols), period, empty_ok=True)
        now = self.clock()
        result: dict[str, pd.DataFrame | None] = {}
        for symbol in self._symbols:
            if symbol in errors:
                continue
            candles = got[symbol]
            newest = None
            if candles is not None:
                newest = newest_complete(candles, self.interval, now, self._last.get(symbol))
            if newest is not None:
                self._last[symbol] = newest.index[0]
            result[symbol] = newest
        self.errors = errors
        return result

    def fetch_latest_table(self) -> pd.DataFrame:
        """This poll's new candles as one frame: one row per symbol that has a new candle.

        The same poll as :meth:`fetch_latest` (and the same :attr:`errors`), shaped for a
        loop over many symbols: index ``Symbol`` (in :attr:`symbols` order, the symbols
        without a new candle left out), columns ``Time`` (the candle's stamp in UTC) then
        ``Open, High, Low, Close, Volume`` (float64). A replay builds it straight from
        the series' arrays, without a frame per symbol.
        """
        names: list[str] = []
        stamps: list[int] = []
        rows: list[np.ndarray] = []
        if self._fetchers and all(
            isinstance(f.source, ReplaySource) for f in self._fetchers.values()
        ):
            self.errors = {}
            for symbol, fetcher in self._fetchers.items():
                source = fetcher.source
                at = source.advance()
                if at is not None:
                    names.append(symbol)
                    stamps.append(source.candles.index.asi8[at])
                    rows.append(source._values[at])
        else:
            for symbol, row in self.fetch_latest().items():
                if row is not None:
                    names.append(symbol)
                    stamps.append(row.index.asi8[0])
                    rows.append(row.to_numpy(dtype="float64")[0])
        values = np.vstack(rows) if rows else np.empty((0, len(COLUMNS)))
        table = pd.DataFrame(values, index=pd.Index(names, name="Symbol"), columns=list(COLUMNS))
        table.insert(0, "Time", pd.DatetimeIndex(np.array(stamps, dtype="int64"), tz="UTC"))
        return table

    def _key(self, symbol: str) -> tuple[str, str, str]:
        return (symbol, self.interval, self.period)  # the key YahooSource uses

    def __repr__(self) -> str:
        shown = ", ".join(self._symbols[:3]) + (", ..." if len(self._symbols) > 3 else "")
        return (
            f"MultiFetcher([{shown}] ({len(self._symbols)}), period={self.period!r}, "
            f"interval={self.interval!r}, source={self.source!r})"
        )
