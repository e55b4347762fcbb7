"""The live loop: poll a fetcher, feed new candles through the System, log predictions."""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from data_fetcher import RetryPolicy
from data_fetcher.validate import MAX_PRICE
from model.metrics import direction_hit

from finance_demo.errors import IntervalMismatchError
from finance_demo.journal import PredictionLog
from finance_demo.live_metrics import LiveMetrics
from finance_demo.system import Prediction, System
from finance_demo.training import torch_threads

__all__ = ["Activator", "Summary", "check_spacing"]


def check_spacing(index: Any, interval: str, what: str = "the candles") -> None:
    """Refuse candles whose typical spacing is not ``interval`` (median of the gaps).

    Args:
        index: The candles' ``DatetimeIndex`` (fewer than 3 stamps are not checked).
        interval: The model's interval.
        what: How to name the candles in the message.

    Raises:
        IntervalMismatchError: The median gap is outside ``[0.5, 1.6] x interval``.
        DataError: ``interval`` is not a yfinance interval.
    """
    from data_fetcher.intervals import interval_timedelta

    if len(index) < 3:
        return
    nominal = interval_timedelta(interval)
    gap = index.to_series().diff().median()
    if not 0.5 * nominal <= gap <= 1.6 * nominal:
        raise IntervalMismatchError(
            f"{what} are spaced {gap} apart, but the model was trained on {interval} "
            "candles; use candles of the model's interval"
        )


@dataclass
class Summary:
    """What a run of the live loop did.

    Attributes:
        ticks: New candles processed (warm-up excluded).
        predictions: Predictions made (one per emitting tick).
        outcomes: Predictions whose horizon has passed (scored in ``metrics``).
        skipped: Polls that returned an already-seen candle.
        failures: Failed polls of the feed, whatever the error (each retried).
        bad_candles: New candles refused before the model saw them (a close that is
            missing, NaN, infinite or not positive).
        warmup: Candles of history used to warm up.
        stopped: ``"max_ticks"``, ``"exhausted"`` (replay ended) or ``"signal"``.
        metrics: Live metrics per horizon (``"h1"`` → :class:`LiveMetrics`).
        log_path: The JSONL log, if any.
        recalibrated: Outcomes added to the interval calibration (``recalibrate`` on).
        observed: Predictions whose realized outcomes (every horizon) were handed to
            the model's ``observe`` (an adaptive ensemble's weights learn from them).
        weights: The ensemble's current member weights (``None`` for other models).
    """

    ticks: int = 0
    predictions: int = 0
    outcomes: int = 0
    skipped: int = 0
    failures: int = 0
    bad_candles: int = 0
    warmup: int = 0
    stopped: str = ""
    metrics: dict[str, LiveMetrics] = field(default_factory=dict)
    log_path: str | None = None
    recalibrated: int = 0
    observed: int = 0
    weights: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-able dict."""
        out = {k: v for k, v in self.__dict__.items() if k != "metrics"}
        out["metrics"] = {k: m.to_dict() for k, m in self.metrics.items()}
        return out


#: The live loop's back-off between failed polls (the delays of a ``RetryPolicy``).
LIVE_RETRY = RetryPolicy(base_delay=1.0, max_delay=300.0, jitter=0.25)


def _one_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an error message, at most ``limit`` characters."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _iso(stamp: Any) -> str:
    return stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp)


class _LoopControl:
    """What the live loops share: stopping, SIGINT/SIGTERM, and the retried poll.

    A subclass sets ``_stop`` (a ``threading.Event``), ``echo``, ``retry``,
    ``handle_signals`` and ``summary`` (with a ``failures`` count).
    """

    _stop: threading.Event
    echo: Callable[[str], None]
    retry: RetryPolicy
    handle_signals: bool
    summary: Any

    def stop(self) -> None:
        """Ask the loop to stop after the current tick (safe from a signal handler)."""
        self._stop.set()

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self._stop.is_set():  # a second signal while shutting down: already on it
            self.echo(f"received {name} again: finishing the shutdown")
            return
        self.echo(f"received {name}: stopping after the current tick")
        self.stop()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM stop the loop while in the block (main thread only)."""
        previous = {}
        if self.handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._on_signal)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _retried(self, fetch: Callable[[], Any]) -> Any:
        """``fetch()``, retried with back-off until it answers; ``None`` when stopped.

        Any failure of the feed counts (a ``FetcherError``, but also ``ConnectionError``,
        ``TimeoutError``, an ``OSError`` or a bug in a custom source): the loop outlives
        it and keeps its state. Only ``KeyboardInterrupt``/``SystemExit`` pass through.
        """
        failed = 0
        while not self._stop.is_set():
            try:
                return fetch()
            except Exception as exc:
                self.summary.failures += 1
                delay = self.retry.delay(min(failed, 64))
                failed += 1
                self.echo(f"fetch failed ({_one_line(exc)}); retrying in {delay:.3g} s")
                self._stop.wait(delay)
        return None


class Activator(_LoopControl):
    """Run the live loop: warm up from history, then poll, predict, log, score.

    Args:
        fetcher: A ``data_fetcher.Fetcher`` (``fetch_historical``, ``fetch_latest``,
            ``exhausted``, ``is_live``, ``interval``, ``symbol``).
        system: A :class:`System` built from the trained model.
        poll_interval: Seconds between polls of a live source (a replay never waits).
        max_ticks: Stop after this many new candles (``None``: run until stopped).
        log: JSONL file path or text stream for the records (``None``: no file).
        echo: Called with one-line diagnostics (default: print to stderr).
        on_record: Called with every record written to the log (e.g. to print it).
        retry: The back-off between failed polls: ``data_fetcher.RetryPolicy``'s delays
            (``base_delay`` doubled per failure up to ``max_delay``, with jitter); the
            live loop never gives up, so ``max_attempts`` and ``max_elapsed`` do not apply.
            Default: :data:`LIVE_RETRY` (1 s doubling to 5 min).
        handle_signals: Install SIGINT/SIGTERM handlers (main thread only) that stop the
            loop after the current tick.
        num_threads: Torch threads during the loop (``None`` keeps the setting). One
            sequence is too small to share: 1 thread has the best tail latency.
        recalibrate: Roll the interval calibration over the last ``recalibrate``
            realized outcomes (rolling split conformal: each outcome's score
            ``|realized - predicted| / sigma`` joins the model's calibration set once all
            its horizons are realized, so later intervals track the recent error scale).
            ``None`` (default) keeps the calibration from training, which is what batch
            prediction uses. It changes ``system.model.calibration`` in place.

    A model with ``observe(seq, realized)`` (the adaptive ensemble) is handed each
    prediction's input and realized returns once its last horizon has passed, so its
    weights move as outcomes arrive; ``weights`` is then in every record and the
    :class:`Summary`. Other models are left as they are (batch and live agree exactly).

    Examples:
        >>> act = Activator(fetcher, System(model), max_ticks=300, log="p.jsonl")  # doctest: +SKIP
        >>> act.execute().predictions  # doctest: +SKIP
    """

    def __init__(
        self,
        fetcher: Any,
        system: System,
        poll_interval: float = 60,
        max_ticks: int | None = None,
        log: str | Path | IO[str] | None = None,
        *,
        echo: Callable[[str], None] | None = None,
        on_record: Callable[[dict[str, Any]], None] | None = None,
        retry: RetryPolicy | None = None,
        handle_signals: bool = True,
        num_threads: int | None = 1,
        recalibrate: int | None = None,
    ) -> None:
        if (
            isinstance(poll_interval, bool)
            or not isinstance(poll_interval, (int, float))
            or not math.isfinite(poll_interval)
            or poll_interval < 0
        ):
            raise ValueError(f"poll_interval must be a finite number >= 0, got {poll_interval!r}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValueError(f"retry must be a data_fetcher.RetryPolicy, got {retry!r}")
        if max_ticks is not None and max_ticks < 1:
            raise ValueError(f"max_ticks must be >= 1, got {max_ticks}")
        if recalibrate is not None and (isinstance(recalibrate, bool) or recalibrate < 1):
            raise ValueError(
                f"recalibrate must be a positive number of outcomes, got {recalibrate}"
            )
        self.fetcher = fetcher
        self.system = system
        self.poll_interval = poll_interval
        self.max_ticks = max_ticks
        self.log = log
        self.echo = echo or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.on_record = on_record
        self.retry = LIVE_RETRY if retry is None else retry
        self.handle_signals = handle_signals
        self.num_threads = num_threads
        self.recalibrate = recalibrate
        self._scores: dict[int, np.ndarray] = {}  # made_at tick -> scores per horizon
        self._realized: dict[int, np.ndarray] = {}  # made_at tick -> returns per horizon
        observe = getattr(system.model, "observe", None)
        self._observe: Callable[[Any, Any], None] | None = observe if callable(observe) else None
        self.interval: str = system.interval or getattr(fetcher, "interval", "1d")
        self.symbol = getattr(fetcher, "symbol", None) or system.symbol
        self._stop = threading.Event()
        from data_fetcher.intervals import interval_timedelta

        self._step = interval_timedelta(self.interval)
        self._last_time: Any = None
        self._pending: deque[tuple[int, Prediction]] = deque()
        self._journal: PredictionLog | None = None
        self.summary = Summary()

    def _check_interval(self) -> None:
        from data_fetcher.intervals import interval_timedelta

        fetched = getattr(self.fetcher, "interval", None)
        if fetched and interval_timedelta(fetched) != self._step:
            raise IntervalMismatchError(
                f"the fetcher gives {fetched} candles but the model was trained on "
                f"{self.interval} candles; use --interval {self.interval}"
            )

    def _write(self, record: dict[str, Any]) -> None:
        assert self._journal is not None
        self._journal.write(record)
        if self.on_record is not None:
            self.on_record(record)

    def warm_up(self) -> int:
        """Fetch the recent history and bring the System to its state (vectorized).

        Returns:
            The number of history candles used.
        """
        history = self.fetcher.fetch_historical()
        check_spacing(history.index, self.interval, "the history candles")
        if self.system.needs_rows:  # the whole candles (OHLCV feature groups, covariates)
            self.system.warm_up(history)
        else:
            self.system.warm_up(history["Close"].to_numpy(dtype=np.float64))
        if len(history):
            self._last_time = history.index[-1]
        return len(history)

    def _target_time(self, stamp: Any, h: int) -> Any:
        """Nominal stamp ``h`` candles later (business days for ``1d``; no holidays)."""
        if self.interval == "1d" and hasattr(stamp, "tz"):
            from pandas.tseries.offsets import BDay

            return stamp + BDay(h)
        return stamp + h * self._step

    def _weights(self) -> list[float] | None:
        """The model's member weights now (an ensemble), else ``None``."""
        model = self.system.model
        if getattr(model, "kind", None) != "ensemble":
            return None
        return [float(w) for w in model.weights]

    def _record_prediction(self, pred: Prediction, weights: list[float] | None) -> None:
        extra = {} if weights is None else {"weights": weights}
        p_up = getattr(pred, "p_up", None)
        trend = getattr(pred, "trend", None)
        for k, h in enumerate(pred.horizons):
            if p_up is not None:
                extra["p_up"] = float(p_up[k])
            if trend is not None:
                extra["trend"] = float(trend[k])
            m, lo, hi = float(pred.mean[k]), float(pred.lower[k]), float(pred.upper[k])
            self._write(
                {
                    "type": "prediction",
                    "time": _iso(pred.time),
                    "symbol": self.symbol,
                    "interval": self.interval,
                    "close": pred.close,
                    "horizon": h,
                    "predicted_return": m,
                    "predicted_price": pred.close * math.exp(m),
                    "lower_return": lo,
                    "upper_return": hi,
                    "lower_price": pred.close * math.exp(lo),
                    "upper_price": pred.close * math.exp(hi),
                    "level": self.system.level,
                    "target_time": _iso(self._target_time(pred.time, h)),
                    **extra,
                }
            )
        self._pending.append((pred.tick, pred))

    def _record_outcomes(self, tick: int, time: Any, close: float) -> None:
        """Score the pending predictions whose horizon ends at this tick."""
        pending = self._pending
        max_h = max(self.system.pipeline.horizons)
        while pending and pending[0][0] + max_h < tick:
            pending.popleft()
        for made_at, pred in pending:
            for k, h in enumerate(pred.horizons):
                if made_at + h != tick:
                    continue
                realized = math.log(close / pred.close)
                m, lo, hi = float(pred.mean[k]), float(pred.lower[k]), float(pred.upper[k])
                self.summary.metrics[f"h{h}"].update(m, realized, lo, hi)
                self.summary.outcomes += 1
                if self.recalibrate is not None and pred.sigma is not None:
                    self._add_score(made_at, pred, k, abs(realized - m) / float(pred.sigma[k]))
                extra = {}
                if self._observe is not None and pred.seq is not None:
                    self._add_realized(made_at, pred, k, realized)
                    extra["weights"] = self.summary.weights = self._weights()
                self._write(
                    {
                        "type": "outcome",
                        "time": _iso(pred.time),
                        "symbol": self.symbol,
                        "horizon": h,
                        "realized_time": _iso(time),
                        "realized_close": close,
                        "realized_return": realized,
                        "predicted_return": m,
                        "error": m - realized,
                        "direction_hit": direction_hit(realized, m),
                        "covered": lo <= realized <= hi,
                        **extra,
                    }
                )

    def _add_score(self, made_at: int, pred: Prediction, k: int, score: float) -> None:
        """Collect a prediction's scores; once its last horizon is in, recalibrate."""
        row = self._scores.setdefault(made_at, np.empty(len(pred.horizons)))
        row[k] = score
        if k == len(pred.horizons) - 1:  # horizons increase: the last one comes last
            del self._scores[made_at]
            model = self.system.model
            model.calibration = model.calibration.update(row[None, :], self.recalibrate)
            self.summary.recalibrated += 1

    def _add_realized(self, made_at: int, pred: Prediction, k: int, realized: float) -> None:
        """Collect a prediction's realized returns; once all are in, ``model.observe``."""
        assert self._observe is not None
        row = self._realized.setdefault(made_at, np.empty(len(pred.horizons)))
        row[k] = realized
        if k == len(pred.horizons) - 1:  # horizons increase: the last one comes last
            del self._realized[made_at]
            self._observe(pred.seq, row)
            self.summary.observed += 1

    def _poll(self) -> Any:
        """Fetch the newest candle, retrying with back-off; ``None`` when stopped."""
        return self._retried(self.fetcher.fetch_latest)

    def _bad_candle(self, candle: Any) -> str | None:
        """Why a polled candle cannot be fed to the model, or ``None`` when it can."""
        try:
            stamp = candle.index[-1]
            close = float(candle["Close"].iloc[-1])
        except Exception as exc:
            return f"unreadable candle ({_one_line(exc)})"
        if not math.isfinite(close) or not 0 < close <= MAX_PRICE:
            return f"candle at {_iso(stamp)} has close {close!r}"
        for name in self.system.covariates:
            value = candle[name].iloc[-1] if name in candle.columns else None
            try:
                ok = value is not None and math.isfinite(float(value))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                return f"candle at {_iso(stamp)} has covariate {name} {value!r}"
        return None

    def _process(self, candle: Any) -> None:
        stamp = candle.index[-1]
        close = float(candle["Close"].iloc[-1])
        if self._last_time is not None and stamp - self._last_time < 0.5 * self._step:
            raise IntervalMismatchError(
                f"a new candle came {stamp - self._last_time} after the previous one, but "
                f"the model was trained on {self.interval} candles"
            )
        if self.system.needs_rows:
            pred = self.system.process_row(stamp, candle.iloc[-1])
        else:
            pred = self.system.process_candle(stamp, close)
        weights = self._weights() if pred is not None else None  # the prediction's own
        self.summary.ticks += 1
        self._last_time = stamp
        self._record_outcomes(self.system.tick, stamp, close)
        if pred is not None:
            self.summary.predictions += 1
            self._record_prediction(pred, weights)

    def execute(self) -> Summary:
        """Run the loop until ``max_ticks``, the end of a replay, or SIGINT/SIGTERM.

        Returns:
            The :class:`Summary` (also in ``self.summary``).

        Raises:
            IntervalMismatchError: Candles of another interval than the model's.
            FetchError: The history could not be fetched.
        """
        self._check_interval()
        with self._signals():
            self._journal = PredictionLog(self.log)
            self.summary = Summary(
                metrics={f"h{h}": LiveMetrics() for h in self.system.pipeline.horizons},
                log_path=str(self._journal.path) if self._journal.path else None,
                weights=self._weights(),
            )
            live = bool(getattr(self.fetcher, "is_live", True))
            try:
                with torch_threads(self.num_threads):
                    self.summary.warmup = self.warm_up()
                    self._loop(live)
            finally:
                self._journal.close()
        return self.summary

    def _loop(self, live: bool) -> None:
        """Poll, skip seen candles, process new ones, until a stop condition."""
        while not self._stop.is_set():
            if self.max_ticks is not None and self.summary.ticks >= self.max_ticks:
                self.summary.stopped = "max_ticks"
                break
            candle = self._poll()
            if candle is None or len(candle) == 0:
                if self._stop.is_set():
                    break
                if getattr(self.fetcher, "exhausted", False):
                    self.summary.stopped = "exhausted"
                    break
                self._stop.wait(self.poll_interval if live else 0)
                continue
            reason = self._bad_candle(candle)
            if reason is not None:
                self.summary.bad_candles += 1
                self.echo(f"skipped a bad candle: {reason}")
                self._stop.wait(self.poll_interval if live else 0)
                continue
            if self._last_time is not None and candle.index[-1] <= self._last_time:
                self.summary.skipped += 1
                self._stop.wait(self.poll_interval if live else 0)
                continue
            self._process(candle)
            if live and not self._stop.is_set():
                self._stop.wait(self.poll_interval)
        if self._stop.is_set() and not self.summary.stopped:
            self.summary.stopped = "signal"
