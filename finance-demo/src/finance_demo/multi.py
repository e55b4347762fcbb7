"""Many symbols: one job per symbol on an engine; a failing symbol does not stop the others.

:func:`run_symbols` runs a per-symbol job (:func:`train_symbol`, :func:`backtest_symbol`
or any picklable top-level function whose first argument is the symbol) on an engine of
:func:`~finance_demo.make_engine`, and returns a :class:`MultiResult`: the results of the
symbols that worked, in the order given, and one ``{"symbol": ..., "error": ...}`` line
for each that failed. :func:`read_watchlist` reads the symbols from a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from finance_demo.config import Settings
from finance_demo.errors import SettingsError

__all__ = [
    "MAX_SYMBOLS",
    "MultiResult",
    "backtest_symbol",
    "backtest_symbols",
    "read_watchlist",
    "run_symbols",
    "train_symbol",
]

#: Most symbols of one run or watchlist (a stray file of 100 000 lines is a mistake).
MAX_SYMBOLS = 1000
#: Largest watchlist file read, in bytes.
MAX_WATCHLIST_BYTES = 1_000_000
#: A symbol as Yahoo spells it: ``MSFT``, ``^GSPC``, ``EURUSD=X``, ``BRK-B``, ``0700.HK``.
SYMBOL_RE = re.compile(r"[A-Za-z0-9^][A-Za-z0-9.^=_-]{0,31}")


@dataclasses.dataclass(frozen=True)
class MultiResult:
    """What :func:`run_symbols` returns.

    Attributes:
        symbols: The symbols asked for, in order.
        results: ``symbol -> the job's return`` for the symbols that worked, in order.
        errors: ``{"symbol": ..., "error": "<one line>"}`` for each that failed, in order.
        seconds: Wall time of the run.
        interrupted: A Ctrl-C ended the run early (the unfinished symbols are in
            ``errors``).
    """

    symbols: tuple[str, ...]
    results: dict[str, Any]
    errors: list[dict[str, str]]
    seconds: float
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """Every symbol worked."""
        return not self.errors

    @property
    def failed(self) -> list[str]:
        """The symbols that failed, in order."""
        return [e["symbol"] for e in self.errors]


def _one_line(exc: BaseException) -> str:
    """An exception as one line: the message of a user-facing error, else type: message."""
    from data_fetcher import FetcherError

    from finance_demo.errors import PipelineError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (PipelineError, FetcherError, ValueError)):
        return text
    return f"{type(exc).__name__}: {text}"


def _guarded(job: Callable[..., Any], symbol: str, kwargs: dict[str, Any]) -> tuple[bool, Any]:
    """Run one symbol's job where the engine runs it: ``(True, result)`` or ``(False, line)``.

    The error is turned into its line in the worker, so that an exception that does not
    pickle (or a large traceback) never travels back.
    """
    try:
        return True, job(symbol, **kwargs)
    except Exception as exc:
        return False, _one_line(exc)


def _check_symbols(symbols: Iterable[str]) -> tuple[str, ...]:
    if isinstance(symbols, str):
        raise SettingsError(f"symbols must be a list of strings, not the string {symbols!r}")
    out = tuple(symbols)
    if not out:
        raise SettingsError("no symbols to run")
    if len(out) > MAX_SYMBOLS:
        raise SettingsError(f"{len(out)} symbols, more than {MAX_SYMBOLS} in one run")
    seen: set[str] = set()
    for symbol in out:
        if not isinstance(symbol, str) or not SYMBOL_RE.fullmatch(symbol):
            raise SettingsError(f"not a symbol: {symbol!r}")
        if symbol.upper() in seen:
            raise SettingsError(f"symbol {symbol!r} is listed twice")
        seen.add(symbol.upper())
    return out


def run_symbols(
    job: Callable[..., Any],
    symbols: Iterable[str],
    engine: Any = None,
    *,
    progress: Callable[[int, int, str, bool], None] | None = None,
    **kwargs: Any,
) -> MultiResult:
    """Run ``job(symbol, **kwargs)`` for each symbol on an engine.

    Args:
        job: A picklable top-level function (e.g. :func:`train_symbol`).
        symbols: Distinct symbols.
        engine: An engine of :func:`~finance_demo.make_engine` or any
            ``concurrent.futures.Executor`` (``None``: one after the other, here).
        progress: Called as each symbol ends with ``(done, total, symbol, ok)`` (not
            passed to the job).
        **kwargs: Passed to every job (picklable for a process or Ray engine).

    Returns:
        The :class:`MultiResult`; a symbol whose job raised (or whose worker died) is in
        ``errors`` with a one-line reason, and the others still ran.

    Raises:
        SettingsError: No symbols, too many, a bad or repeated one.

    Examples:
        >>> r = run_symbols(int, ["7", "MSFT"], base=10)
        >>> r.results, r.errors
        ({'7': 7}, [{'symbol': 'MSFT', 'error': "invalid literal for int() with base 10: 'MSFT'"}])
    """
    from finance_demo.engine import SerialEngine, completed

    symbols = _check_symbols(symbols)
    t0 = time.perf_counter()
    outcome: dict[str, tuple[bool, Any]] = {}
    calls = ((_guarded, (job, symbol, kwargs)) for symbol in symbols)
    runs = completed(SerialEngine() if engine is None else engine, calls)
    with contextlib.closing(runs):
        for index, future in runs:
            symbol = symbols[index]
            try:
                outcome[symbol] = future.result()
            except Exception as exc:  # the worker died, the job or its result did not pickle
                outcome[symbol] = (False, _one_line(exc))
            if progress is not None:
                progress(len(outcome), len(symbols), symbol, outcome[symbol][0])
    return MultiResult(
        symbols=symbols,
        results={s: outcome[s][1] for s in symbols if outcome[s][0]},
        errors=[{"symbol": s, "error": outcome[s][1]} for s in symbols if not outcome[s][0]],
        seconds=round(time.perf_counter() - t0, 3),
    )


def _candles(symbol: str, source: str, period: str | None, interval: str | None) -> Any:
    from data_fetcher import Fetcher
    from data_fetcher.intervals import infer_interval

    fetcher = Fetcher(symbol, period=period, interval=interval, source=source)
    candles = fetcher.fetch_historical()
    return candles, fetcher.interval or infer_interval(candles.index)


def train_symbol(
    symbol: str,
    settings: Settings | None = None,
    source: str = "sample",
    period: str | None = None,
    interval: str | None = "1d",
    kind: str = "lstm",
) -> Any:
    """Fetch one symbol's candles with ``data_fetcher.Fetcher`` and train a model on them.

    Args:
        symbol: Ticker (``"MSFT"``).
        settings: Pipeline, network and training settings (defaults when ``None``).
        source: Fetcher source (``"sample"``, ``"yahoo"``, ``"csv:PATH"``...).
        period: Fetcher period (``None``: the source's default).
        interval: Candle interval (default ``"1d"``, as ``DataConfig``; ``None``: the
            data's native one, inferred from the stamps and recorded).
        kind: The model family (``lstm``, ``seq2seq``, ``gbdt``, ``rf``, ``ensemble``).

    Returns:
        The trained forecaster (see :func:`~finance_demo.train_model`).
    """
    from finance_demo.training import train_model

    candles, interval = _candles(symbol, source, period, interval)
    return train_model(candles, settings, symbol, interval, kind=kind)


def backtest_symbol(
    symbol: str,
    settings: Settings | None = None,
    source: str = "sample",
    period: str | None = None,
    interval: str | None = "1d",
    **options: Any,
) -> Any:
    """Fetch one symbol's candles and run :func:`~finance_demo.backtest` on them (serially).

    Args:
        symbol: Ticker (``"MSFT"``).
        settings: Pipeline, network and training settings (defaults when ``None``).
        source: Fetcher source (``"sample"``, ``"yahoo"``, ``"csv:PATH"``...).
        period: Fetcher period (``None``: the source's default).
        interval: Candle interval (default ``"1d"``, as ``DataConfig``; ``None``: the
            data's native one, inferred from the stamps and recorded).
        **options: ``folds``, ``retrain_every``, ``level``, ``start`` of the backtest.

    Returns:
        The :class:`~finance_demo.BacktestReport`.
    """
    from finance_demo.backtest import backtest

    candles, interval = _candles(symbol, source, period, interval)
    return backtest(candles, settings, symbol=symbol, interval=interval, **options)


def backtest_symbols(
    symbols: Iterable[str],
    settings: Settings | None = None,
    source: str = "sample",
    period: str | None = None,
    interval: str | None = "1d",
    *,
    engine: Any = None,
    progress: Callable[[int, int, str, dict[str, Any]], None] | None = None,
    **options: Any,
) -> MultiResult:
    """Fetch each symbol's candles here, then backtest all their folds in one queue.

    The folds of every symbol go to the engine together, the longest first
    (:func:`~finance_demo.backtest_many`), rather than one job per symbol: a pool stays
    busy until the end even when one symbol has far more candles than the others. Each
    report equals :func:`backtest_symbol`'s for that symbol (but ``seconds``).

    Args:
        symbols: Distinct symbols.
        settings: Pipeline, network and training settings (defaults when ``None``).
        source: Fetcher source (``"sample"``, ``"yahoo"``, ``"csv:PATH"``...).
        period: Fetcher period (``None``: the source's default).
        interval: Candle interval (``None``: each symbol's native one).
        engine: An engine of :func:`~finance_demo.make_engine` (``None``: here).
        progress: Called as each fold finishes (see :func:`~finance_demo.backtest_many`).
        **options: ``folds``, ``retrain_every``, ``level``, ``start`` of the backtest.

    Returns:
        The :class:`MultiResult`: a symbol that could not be fetched, planned or
        backtested is in ``errors`` with its line, in the order given.

    Raises:
        SettingsError: No symbols, too many, a bad or repeated one; bad backtest options.
    """
    from finance_demo.backtest import backtest_many

    symbols = _check_symbols(symbols)
    t0 = time.perf_counter()
    candles: dict[str, Any] = {}
    intervals: dict[str, str | None] = {}
    fetch_errors: dict[str, str] = {}
    for symbol in symbols:
        try:
            candles[symbol], intervals[symbol] = _candles(symbol, source, period, interval)
        except Exception as exc:
            fetch_errors[symbol] = _one_line(exc)
    if candles:
        result = backtest_many(
            candles, settings, intervals=intervals, progress=progress, engine=engine, **options
        )
    else:
        result = MultiResult((), {}, [], 0.0)
    errors = {e["symbol"]: e["error"] for e in result.errors} | fetch_errors
    return MultiResult(
        symbols=symbols,
        results=result.results,
        errors=[{"symbol": s, "error": errors[s]} for s in symbols if s in errors],
        seconds=round(time.perf_counter() - t0, 3),
        interrupted=result.interrupted,
    )


def read_watchlist(path: str | Path, max_symbols: int = MAX_SYMBOLS) -> list[str]:
    """Read a watchlist: one symbol a line, ``#`` comments and blank lines ignored.

    Args:
        path: The file (UTF-8).
        max_symbols: Most symbols accepted.

    Returns:
        The symbols, in file order.

    Raises:
        SettingsError: The file cannot be read, is too large, holds no symbol, more than
            ``max_symbols``, a line that is not one symbol, or a symbol twice (the
            message names the file and the line).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_WATCHLIST_BYTES:
            raise SettingsError(
                f"watchlist {path}: {size} bytes, larger than {MAX_WATCHLIST_BYTES}"
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SettingsError(f"cannot read watchlist {path}: {reason}") from None
    symbols: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if not SYMBOL_RE.fullmatch(entry):
            raise SettingsError(
                f"watchlist {path}, line {number}: {entry!r} is not one symbol "
                "(one symbol a line, # for comments)"
            )
        key = entry.upper()
        if key in first_line:
            raise SettingsError(
                f"watchlist {path}, line {number}: {entry!r} is listed twice "
                f"(first on line {first_line[key]})"
            )
        first_line[key] = number
        symbols.append(entry)
        if len(symbols) > max_symbols:
            raise SettingsError(f"watchlist {path}: more than {max_symbols} symbols")
    if not symbols:
        raise SettingsError(f"watchlist {path}: no symbols (one symbol a line, # for comments)")
    return symbols
