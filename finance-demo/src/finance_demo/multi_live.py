"""The live loop over many symbols: one batched poll, one batched forward pass per tick.

:class:`MultiSystem` keeps one live pipeline per symbol (buffer → features → ring of
feature vectors, exactly :class:`~finance_demo.System`'s) and, on each tick, runs the
network once for all the symbols whose prediction is due: the sequences of the symbols
that share one network (the symbols of a global model, or several symbols given the same
model) are stacked into one batch. The predictions equal each symbol's own ``System``'s
(the same features bit for bit; the network on a batch instead of one sequence).

:class:`MultiActivator` is the polling loop around it: a ``data_fetcher.MultiFetcher``
answers every poll with one batched request for all symbols; each symbol has its own
lane (warm-up, bad or repeated candles, outcomes, metrics, rolling recalibration: the
single-symbol :class:`~finance_demo.Activator`'s bookkeeping, teaching a symbol's adaptive
ensemble its realized outcomes included) and all lanes write one JSONL log, one record
per symbol and horizon.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from finance_demo.activator import LIVE_RETRY, Activator, Summary, _LoopControl, check_spacing
from finance_demo.errors import PipelineError, SettingsError
from finance_demo.journal import PredictionLog
from finance_demo.live_metrics import LiveMetrics
from finance_demo.system import Prediction, System
from finance_demo.training import torch_threads

__all__ = ["MultiActivator", "MultiSummary", "MultiSystem"]


_PLAIN = (None, None, None, None)

#: What :meth:`MultiSystem._predict` fills in a Prediction (a test checks it is all).
_PREDICTION_FIELDS = (
    "tick", "time", "close", "horizons", "mean", "lower", "upper", "sigma", "seq", "p_up",
    "trend",
)  # fmt: skip


def _network(model: Any) -> tuple[Any, tuple[Any, ...]]:
    """``(network, (x_mean, x_std, code, y_scale))``: what this symbol's batch runs on.

    A global model bound to a symbol (``SymbolModel``) runs its shared network on scaled,
    coded inputs and scales the forecast back; any other model runs on its own inputs.
    """
    from finance_demo.global_model import SymbolModel

    if isinstance(model, SymbolModel):
        return model.model, (model.x_mean, model.x_std, model.code, model.y_scale)
    return model, _PLAIN


def _sample_size(stack: Any) -> int:
    """Numbers in one sample of a buffer stack."""
    return math.prod(stack.channel_shape)


@dataclasses.dataclass(eq=False)
class _Group:
    """The symbols of one input stack and one ring stack (one bulk transform)."""

    symbols: list[str]
    first: System
    inputs: Any
    rings: Any
    nets: np.ndarray  # the network batch of each symbol


class MultiSystem:
    """One live pipeline per symbol; one forward pass per network and tick.

    The symbols' input buffers (and their rings of feature vectors) that share a shape
    are one stacked array (:class:`signal_processing.buffer.BufferStack`): a tick writes
    every symbol's new candle with one fancy-indexed store and reads the due windows and
    sequences with one gather each. Each symbol's :class:`System` in :attr:`systems`
    still works on its own (its buffers are views into the stacks, with their own state).

    Args:
        models: ``symbol -> model``: per-symbol models, or one global model bound to each
            symbol (:func:`~finance_demo.bind_symbol`), or a mix.
        level: Interval level (default: each model's).

    Raises:
        SettingsError: No symbols.
        ForeignModelError: A model without a pipeline spec (one line).
    """

    def __init__(self, models: Mapping[str, Any], level: float | None = None) -> None:
        from signal_processing.buffer import BufferStack

        if not models:
            raise SettingsError("a multi-symbol live loop needs at least one symbol")
        self.systems: dict[str, System] = {s: System(m, level) for s, m in models.items()}
        covariates = [s for s, sys_ in self.systems.items() if sys_.covariates]
        if covariates:
            names = ",".join(self.systems[covariates[0]].covariates)
            raise PipelineError(
                f"the model of {covariates[0]} has features.covariates {names}: the "
                "multi-symbol live loop does not take covariates; run predict for one symbol"
            )
        self._nets = {s: _network(m) for s, m in models.items()}
        # the symbols whose model learns from outcomes (``observe``: an adaptive ensemble)
        # get a copy of their input in the Prediction, as System's (the others need none)
        self._keeps_seq = {s: callable(getattr(m, "observe", None)) for s, m in models.items()}
        # one batch of the network: the symbols of one network and level
        net_keys: dict[tuple[int, float], int] = {}
        self._net_of = {
            s: net_keys.setdefault((id(self._nets[s][0]), sys_.level), len(net_keys))
            for s, sys_ in self.systems.items()
        }
        # one input stack per feature pipeline (one bulk transform), one ring stack per
        # (feature pipeline, ring shape): the symbols of a stack go through one forward
        inputs: dict[Any, list[str]] = {}
        for s, sys_ in self.systems.items():
            key = (repr(sys_.pipeline.features), sys_.pipeline.buffer_size, sys_.needs_ohlcv)
            inputs.setdefault(key, []).append(s)
        self._groups: list[_Group] = []
        self._where: dict[str, tuple[_Group, int]] = {}
        for symbols in inputs.values():
            rings: dict[tuple[int, ...], list[str]] = {}
            for s in symbols:
                ring = self.systems[s].ring
                rings.setdefault((ring.buffer_size, *ring.channel_shape), []).append(s)
            for members in rings.values():
                group = _Group(
                    symbols=members,
                    first=self.systems[members[0]],
                    inputs=BufferStack([self.systems[s].input_buffer for s in members]),
                    rings=BufferStack([self.systems[s].ring for s in members]),
                    nets=np.array([self._net_of[s] for s in members]),
                )
                self._groups.append(group)
                for i, s in enumerate(members):
                    self._where[s] = (group, i)
        self._stack_cache: dict[int, tuple[Any, ...]] = {}
        self._close_only = {s for s, sys_ in self.systems.items() if not sys_.needs_ohlcv}

    @property
    def symbols(self) -> list[str]:
        """The symbols, in input order."""
        return list(self.systems)

    def _push(self, pushed: Mapping[str, Any]) -> list[tuple[_Group, np.ndarray, np.ndarray]]:
        """Push one frame per symbol; per stack, the due rows and their sequences.

        Returns:
            ``(group, rows, X)``: the positions in ``group`` of the symbols whose
            prediction is due, in ``pushed`` order, and their ``(k, seq_len, n_features)``
            sequences (one fresh array).
        """
        systems, where = self.systems, self._where
        picked: dict[int, tuple[_Group, list[int], list[Any]]] = {}
        for symbol, frame in pushed.items():
            systems[symbol].tick += 1
            group, i = where[symbol]
            entry = picked.get(id(group))
            if entry is None:
                entry = picked[id(group)] = (group, [], [])
            entry[1].append(i)
            entry[2].append(frame)
        out = []
        for group, rows_list, frames in picked.values():
            rows = np.array(rows_list, dtype=np.intp)
            stack = group.inputs
            try:
                samples = np.array(frames, dtype=np.float64).reshape(
                    len(rows), *stack.channel_shape
                )
            except (TypeError, ValueError):  # name the symbol whose frame does not fit
                for i, frame in zip(rows_list, frames, strict=True):
                    try:
                        ok = np.asarray(frame, dtype=np.float64).size == _sample_size(stack)
                    except (TypeError, ValueError):
                        ok = False
                    if not ok:
                        raise ValueError(
                            f"{group.symbols[i]}: a frame must fit the buffer's channel shape "
                            f"{stack.channel_shape}, got {frame!r}"
                        ) from None
                raise
            due = rows[stack.push(rows, samples)]
            if not len(due):
                continue
            b = stack.buffer_size
            windows = stack.windows(due)
            extract = group.first.modules["features"]
            try:
                feats = extract.transform(windows.reshape(-1, *windows.shape[2:]), b, stride=b)
            except ValueError:  # one bad window: find whose, in one line
                rows_out = []
                for i, window in zip(due.tolist(), windows, strict=True):
                    try:
                        rows_out.append(extract.execute(window))
                    except ValueError as exc:
                        raise PipelineError(f"{group.symbols[i]}: {exc}") from None
                feats = np.stack(rows_out)
            rings = group.rings
            rings.push(due, feats)
            full = due[rings.ticks[due] >= rings.buffer_size]
            if len(full):
                out.append((group, full, rings.windows(full)))
        return out

    def features(self, pushed: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Push one frame per symbol; the input sequences of the symbols now due.

        The due windows of the symbols that share a feature pipeline go through ONE bulk
        ``transform`` (stride = window length, so each output row is one symbol's window,
        equal bit for bit to that symbol's own ``execute``).

        Args:
            pushed: ``symbol -> frame`` (a close, or an OHLCV row for an OHLCV model).

        Returns:
            ``symbol -> (seq_len, n_features)`` sequence of each symbol whose prediction
            is due (rows of one fresh batch; :meth:`forecast` stacks them again).
        """
        return {
            group.symbols[i]: X[k]
            for group, rows, X in self._push(pushed)
            for k, i in enumerate(rows.tolist())
        }

    def forecast(self, due: Mapping[str, tuple[Any, float, np.ndarray]]) -> dict[str, Prediction]:
        """One batched forward pass per network over the due symbols' sequences.

        Args:
            due: ``symbol -> (time, close, sequence)`` of the symbols that emit now (the
                sequences of :meth:`features`).

        Returns:
            ``symbol -> Prediction`` for every symbol of ``due``.
        """
        groups: dict[int, list[str]] = {}
        for symbol in due:
            groups.setdefault(self._net_of[symbol], []).append(symbol)
        out: dict[str, Prediction] = {}
        for symbols in groups.values():
            X = np.stack([due[s][2] for s in symbols])
            times = [due[s][0] for s in symbols]
            closes = [due[s][1] for s in symbols]
            self._predict(symbols, X, times, closes, out)
        return out

    def _predict(
        self,
        symbols: list[str],
        X: np.ndarray,
        times: list[Any],
        closes: list[Any],
        out: dict[str, Prediction],
    ) -> None:
        """One forward of these symbols' network on ``X`` (theirs, stacked; scaled here)."""
        first = self.systems[symbols[0]]
        net, (x_mean, *_) = self._nets[symbols[0]]
        seqs = [X[k].copy() if self._keeps_seq[s] else None for k, s in enumerate(symbols)]
        if x_mean is not None:  # a global model's symbols: scale and code in bulk
            mean_, std_, codes, scale = self._stacked(tuple(symbols))
            X -= mean_
            X /= std_
            if codes.shape[1]:
                codes = np.broadcast_to(codes[:, None, :], (*X.shape[:2], codes.shape[1]))
                X = np.concatenate([X, codes], axis=-1)
        fc = net.forecast(X, level=first.level)
        horizons = first.pipeline.horizons
        n = len(symbols)
        parts = [
            np.asarray(a, dtype=np.float64).reshape(n, len(horizons))
            for a in (fc.mean, fc.sigma, fc.lower, fc.upper)
        ]
        if x_mean is not None:
            parts = [p * scale for p in parts]
        mean, sigma, lower, upper = (list(p) for p in parts)  # row views
        p_up = getattr(fc, "p_up", None)  # probabilities: not scaled
        ups = [None] * n if p_up is None else list(np.asarray(p_up, np.float64).reshape(n, -1))
        trend = getattr(fc, "trend", None)  # scores in [-1, 1]: not scaled either
        trends = [None] * n if trend is None else list(np.asarray(trend, np.float64).reshape(n, -1))
        systems = self.systems
        new = object.__new__
        for k, s in enumerate(symbols):
            # a frozen dataclass: its fields set in one go (every one of _PREDICTION_FIELDS,
            # the values its __init__ would store) instead of one frozen __setattr__ each
            pred = new(Prediction)
            pred.__dict__.update(
                tick=systems[s].tick,
                time=times[k],
                close=float(closes[k]),
                horizons=horizons,
                mean=mean[k],
                lower=lower[k],
                upper=upper[k],
                sigma=sigma[k],
                seq=seqs[k],
                p_up=ups[k],
                trend=trends[k],
            )
            out[s] = pred

    def _stacked(self, symbols: tuple[str, ...]) -> tuple[np.ndarray, ...]:
        """The scalers and codes of these symbols stacked (kept for the next tick's batch)."""
        cache = self._stack_cache.get(id(self._nets[symbols[0]][0]))
        if cache is None or cache[0] != symbols:
            pick = [self._nets[s][1] for s in symbols]
            cache = (
                symbols,
                np.stack([p[0] for p in pick])[:, None, :],
                np.stack([p[1] for p in pick])[:, None, :],
                np.stack([p[2] for p in pick]),
                np.stack([p[3] for p in pick]),
            )
            self._stack_cache[id(self._nets[symbols[0]][0])] = cache
        return cache[1:]

    def step(self, candles: Mapping[str, tuple[Any, Any]]) -> dict[str, Prediction]:
        """Push one candle per symbol (``symbol -> (time, row)``); predict the due ones.

        ``row`` is one close (close-only models) or ``(Open, High, Low, Close, Volume)``.

        Returns:
            ``symbol -> Prediction`` for the symbols whose prediction was due.
        """
        frames, closes = {}, {}
        close_only = self._close_only
        for symbol, (_, row) in candles.items():
            if type(row) is float and symbol in close_only:  # the common case, inline
                frames[symbol] = closes[symbol] = row
            else:
                frames[symbol], closes[symbol] = self._frame(symbol, row)
        out: dict[str, Prediction] = {}
        for group, rows, X in self._push(frames):
            names = [group.symbols[i] for i in rows.tolist()]
            nets = group.nets[rows]
            for net in np.unique(nets):  # one network in the common case: X as it is
                pick = None if (nets == net).all() else nets == net
                symbols = (
                    names if pick is None else [n for n, p in zip(names, pick, strict=True) if p]
                )
                self._predict(
                    symbols,
                    X if pick is None else X[pick],
                    [candles[s][0] for s in symbols],
                    [closes[s] for s in symbols],
                    out,
                )
        return out

    def _frame(self, symbol: str, row: Any) -> tuple[Any, float]:
        """What the symbol's buffer takes from a candle, and the candle's close."""
        from finance_demo.system import _row_values

        system = self.systems[symbol]
        if type(row) is float and not system.needs_ohlcv:  # the common close-only case
            return row, row
        if np.ndim(row) == 0 and not hasattr(row, "keys"):
            if system.needs_ohlcv:
                raise system._needs_rows("a close alone")
            return float(row), float(row)
        values = _row_values(row)
        return (values if system.needs_ohlcv else float(values[3])), float(values[3])


@dataclasses.dataclass
class MultiSummary:
    """What a multi-symbol live run did: per symbol a :class:`Summary`, and the polls.

    Attributes:
        symbols: ``symbol -> Summary`` (ticks, predictions, outcomes, skipped, bad
            candles, metrics per horizon of that symbol).
        polls: Polls answered (one batched request each).
        failures: Polls that failed as a whole (retried with back-off).
        symbol_errors: Per-symbol failures of answered polls, by symbol.
        stopped: ``max_ticks``, ``exhausted`` or ``signal``.
        seconds: Wall time of the loop (warm-up excluded).
        log_path: The JSONL log (``None``: a stream or none).
    """

    symbols: dict[str, Summary]
    polls: int = 0
    failures: int = 0
    symbol_errors: dict[str, int] = dataclasses.field(default_factory=dict)
    stopped: str | None = None
    seconds: float = 0.0
    log_path: str | None = None

    @property
    def predictions(self) -> int:
        """Predictions over all symbols."""
        return sum(s.predictions for s in self.symbols.values())

    @property
    def outcomes(self) -> int:
        """Realized outcomes over all symbols."""
        return sum(s.outcomes for s in self.symbols.values())

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-able data."""
        return {
            "symbols": {s: summary.to_dict() for s, summary in self.symbols.items()},
            "polls": self.polls,
            "failures": self.failures,
            "symbol_errors": dict(self.symbol_errors),
            "predictions": self.predictions,
            "outcomes": self.outcomes,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "log_path": self.log_path,
        }


class _Lane(Activator):
    """One symbol's bookkeeping inside a :class:`MultiActivator` (no loop of its own)."""

    def __init__(self, system: System, symbol: str, interval: str, recalibrate: int | None):
        super().__init__(
            _NoFeed(symbol, interval), system, 0, None, handle_signals=False,
            num_threads=None, recalibrate=recalibrate,
        )  # fmt: skip
        self.symbol = symbol
        self._tz: str | None = None  # the history's time zone (the records keep it)


class _NoFeed:
    """The lanes' stand-in fetcher: the MultiActivator polls for all of them."""

    is_live = False
    exhausted = False

    def __init__(self, symbol: str, interval: str) -> None:
        self.symbol = symbol
        self.interval = interval


class MultiActivator(_LoopControl):
    """Run the live loop over many symbols: one poll and one forward pass per tick.

    Args:
        fetcher: A ``data_fetcher.MultiFetcher`` (``fetch_historical() -> {symbol:
            candles}``, ``fetch_latest_table()`` (one row per symbol with a new candle),
            ``errors``, ``symbols``, ``exhausted``, ``is_live``, ``interval``).
        system: The :class:`MultiSystem` of the same symbols.
        poll_interval: Seconds between polls of a live source (a replay never waits).
        max_ticks: Stop after this many polls that brought a new candle.
        log: JSONL file or text stream for every symbol's records (``None``: none).
        echo: One-line diagnostics (default: stderr).
        on_record: Called with every record written.
        retry: Back-off between failed polls (default: the single loop's).
        handle_signals: SIGINT/SIGTERM stop the loop after the current tick.
        num_threads: Torch threads during the loop.
        recalibrate: Roll each symbol's interval calibration over its last N outcomes
            (a global model's symbols share its calibration, so they roll it together).

    A symbol whose model has ``observe(seq, realized)`` (a per-symbol adaptive ensemble)
    is handed each prediction's input and realized returns once its last horizon has
    passed, as in :class:`~finance_demo.Activator`: its weights move with its own
    outcomes and are in that symbol's records and :class:`Summary`.
    """

    def __init__(
        self,
        fetcher: Any,
        system: MultiSystem,
        poll_interval: float = 60,
        max_ticks: int | None = None,
        log: str | Path | IO[str] | None = None,
        *,
        echo: Callable[[str], None] | None = None,
        on_record: Callable[[dict[str, Any]], None] | None = None,
        retry: Any = None,
        handle_signals: bool = True,
        num_threads: int | None = 1,
        recalibrate: int | None = None,
    ) -> None:
        missing = [s for s in system.symbols if s not in set(fetcher.symbols)]
        if missing:
            raise SettingsError(f"the fetcher does not fetch {', '.join(missing)}")
        self.fetcher = fetcher
        self.system = system
        self.interval = getattr(fetcher, "interval", None) or "1d"
        # one lane per symbol: Activator's checks, outcomes, metrics and records
        self.lanes = {
            s: _Lane(system.systems[s], s, system.systems[s].interval or self.interval, recalibrate)
            for s in system.symbols
        }
        first = next(iter(self.lanes.values()))  # validates the shared arguments once
        Activator(
            _NoFeed("", self.interval), first.system, poll_interval, max_ticks, None,
            handle_signals=False, recalibrate=recalibrate,
        )  # fmt: skip
        self.poll_interval = poll_interval
        self.max_ticks = max_ticks
        self.log = log
        self.echo = echo or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.on_record = on_record
        self.retry = LIVE_RETRY if retry is None else retry
        self.handle_signals = handle_signals
        self.num_threads = num_threads
        self._stop = threading.Event()
        self.summary = MultiSummary(symbols={s: lane.summary for s, lane in self.lanes.items()})

    def warm_up(self) -> int:
        """Fetch every symbol's history (one request) and bring each pipeline to its state.

        Returns:
            The candles used, over all symbols.
        """
        history = self.fetcher.fetch_historical()
        n = 0
        for symbol, lane in self.lanes.items():
            candles = history.get(symbol)
            if candles is None:
                raise PipelineError(f"{symbol}: no history came back")
            check_spacing(candles.index, lane.interval, f"the history candles of {symbol}")
            system = lane.system
            if system.needs_ohlcv:
                system.warm_up(candles)
            else:
                system.warm_up(candles["Close"].to_numpy(dtype=np.float64))
            if len(candles):
                lane._last_time = candles.index[-1]
            tz = getattr(candles.index, "tz", None)
            lane._tz = None if tz is None else str(tz)
            lane.summary.warmup = len(candles)
            n += len(candles)
        return n

    def _poll(self) -> Any:
        """One batched poll (``fetch_latest_table``), retrying with back-off; ``None``: stop."""
        return self._retried(self.fetcher.fetch_latest_table)

    def _tick(self, table: Any) -> bool:
        """Feed one poll's new candles; one batched forward; records. Whether any was new.

        ``table``: one row per symbol with a new candle (index ``Symbol``, ``Time`` in UTC
        then ``Open, High, Low, Close, Volume``), as ``MultiFetcher.fetch_latest_table``.
        """
        from data_fetcher.validate import MAX_PRICE

        from finance_demo.errors import IntervalMismatchError

        if len(table) == 0:
            return False
        names = table.index.tolist()
        stamps = table["Time"]
        values = table[["Open", "High", "Low", "Close", "Volume"]].to_numpy(dtype=np.float64)
        accepted: dict[str, tuple[Any, Any]] = {}
        for i, symbol in enumerate(names):
            lane = self.lanes.get(symbol)
            if lane is None:
                continue
            row, close = values[i], float(values[i, 3])
            stamp = stamps.iloc[i]
            tz = lane._tz
            if tz is not None and str(stamp.tz) != tz:  # the records keep the history's zone
                stamp = stamp.tz_convert(tz)
            if not math.isfinite(close) or not 0 < close <= MAX_PRICE:
                lane.summary.bad_candles += 1
                self.echo(f"{symbol}: skipped a bad candle: close {close!r} at {stamp}")
                continue
            if lane._last_time is not None:
                if stamp <= lane._last_time:
                    lane.summary.skipped += 1
                    continue
                if stamp - lane._last_time < 0.5 * lane._step:
                    raise IntervalMismatchError(
                        f"{symbol}: a new candle came {stamp - lane._last_time} after the "
                        f"previous one, but the model was trained on {lane.interval} candles"
                    )
            accepted[symbol] = (stamp, row)
        preds = self.system.step(accepted)
        # each prediction's own weights: before this tick's outcomes teach the ensemble
        weights = {symbol: self.lanes[symbol]._weights() for symbol in preds}
        for symbol, (stamp, row) in accepted.items():
            lane = self.lanes[symbol]
            lane.summary.ticks += 1
            lane._last_time = stamp
            lane._record_outcomes(lane.system.tick, stamp, float(row[3]))
        for symbol, pred in preds.items():
            lane = self.lanes[symbol]
            lane.summary.predictions += 1
            lane._record_prediction(pred, weights[symbol])
        return bool(accepted)

    def execute(self) -> MultiSummary:
        """Run until ``max_ticks``, the end of a replay, or SIGINT/SIGTERM.

        Returns:
            The :class:`MultiSummary`.
        """
        with self._signals():
            return self._run()

    def _run(self) -> MultiSummary:
        journal = PredictionLog(self.log)
        self.summary.log_path = str(journal.path) if journal.path else None
        for lane in self.lanes.values():
            lane._journal = journal
            lane.on_record = self.on_record
            horizons = lane.system.pipeline.horizons
            lane.summary.metrics = {f"h{h}": LiveMetrics() for h in horizons}
            lane.summary.log_path = self.summary.log_path
            lane.summary.weights = lane._weights()
        live = bool(getattr(self.fetcher, "is_live", True))
        try:
            with torch_threads(self.num_threads):
                self.warm_up()
                t0 = time.perf_counter()
                try:
                    self._loop(live)
                finally:
                    self.summary.seconds = time.perf_counter() - t0
        finally:
            journal.close()
        return self.summary

    def _loop(self, live: bool) -> None:
        ticks = 0
        while not self._stop.is_set():
            if self.max_ticks is not None and ticks >= self.max_ticks:
                self.summary.stopped = "max_ticks"
                break
            latest = self._poll()
            if latest is None:
                break
            self.summary.polls += 1
            for symbol, reason in (getattr(self.fetcher, "errors", None) or {}).items():
                seen = self.summary.symbol_errors.get(symbol, 0)
                if not seen:  # once per symbol: a dead ticker must not flood the log
                    self.echo(f"{symbol}: {reason}")
                self.summary.symbol_errors[symbol] = seen + 1
            if self._tick(latest):
                ticks += 1
            elif getattr(self.fetcher, "exhausted", False):
                self.summary.stopped = "exhausted"
                break
            if live and not self._stop.is_set():
                self._stop.wait(self.poll_interval)
        if self._stop.is_set() and not self.summary.stopped:
            self.summary.stopped = "signal"
