"""The live loop outlives every kind of feed fault and never feeds a bad candle."""

import json
import math
import os
import signal

import numpy as np
import pytest
from data_fetcher import DataError, FetchError, RetryPolicy
from finance_demo import Activator, System
from finance_demo.journal import PredictionLog, quarantine_fragment

#: The live loop's back-off with no waiting (the tests' feeds fail on purpose).
NO_WAIT = RetryPolicy(base_delay=0.0, max_delay=0.0, jitter=0.0)


def test_the_back_off_is_data_fetchers_retry_policy(FakeFeed, tiny_model, make_candles):
    """Failed polls wait RetryPolicy.delay(0), delay(1), ... (capped), then start over."""
    candles = make_candles(300, seed=5)
    history, rest = candles.iloc[:250], candles.iloc[250:]
    items = [ConnectionError("reset")] * 4 + [rest.iloc[[0]], TimeoutError("slow"), rest.iloc[[1]]]
    messages = []
    policy = RetryPolicy(base_delay=0.001, max_delay=0.004, jitter=0.0)
    summary = Activator(
        FakeFeed(history, items, is_live=True),
        System(tiny_model),
        poll_interval=0,
        retry=policy,
        echo=messages.append,
    ).execute()
    waits = [m.split("retrying in ")[1] for m in messages if m.startswith("fetch failed")]
    assert waits == ["0.001 s", "0.002 s", "0.004 s", "0.004 s", "0.001 s"]
    assert summary.failures == 5 and summary.ticks == 2


def test_the_retry_must_be_a_policy(tiny_model, make_candles):
    from data_fetcher import Fetcher

    feed = Fetcher.from_frame(make_candles(300), symbol="W", interval="1d")
    with pytest.raises(ValueError, match="RetryPolicy"):
        Activator(feed, System(tiny_model), retry=2.0)


def _bad(candle, value):
    out = candle.copy()
    out["Close"] = value
    return out


def _faults(rest, n_ticks, seed=0):
    """Good candles of ``rest`` interleaved with every failure mode, in random order."""
    rng = np.random.default_rng(seed)
    kinds = [
        lambda c: FetchError("Yahoo unreachable"),
        lambda c: DataError("no candles in the answer"),
        lambda c: ConnectionError("connection reset by peer"),
        lambda c: TimeoutError("read timed out"),
        lambda c: OSError(28, "No space left on device"),
        lambda c: ValueError("a bug in a custom source\nwith a second line"),
        lambda c: None,  # an empty answer: nothing new
        lambda c: c.iloc[0:0],  # an empty frame
        lambda c: _bad(c, float("nan")),
        lambda c: _bad(c, 0.0),
        lambda c: _bad(c, -1.0),
        lambda c: _bad(c, float("inf")),
        lambda c: _bad(c, 1e300),  # would overflow the feature kernels
        lambda c: c.drop(columns="Close"),
    ]
    items, expected = [], {"failures": 0, "bad": 0, "empty": 0}
    for i in range(n_ticks):
        candle = rest.iloc[[i]]
        for _ in range(rng.integers(0, 3)):
            k = int(rng.integers(len(kinds)))
            item = kinds[k](candle)
            items.append(item)
            if isinstance(item, Exception):
                expected["failures"] += 1
            elif k >= 8:
                expected["bad"] += 1
        items.append(candle)
    return items, expected


def test_a_feed_failing_every_way_for_1000_ticks_keeps_going(
    FakeFeed, tiny_model, make_candles, tmp_path
):
    candles = make_candles(1300, seed=3)
    history, rest = candles.iloc[:250], candles.iloc[250:]
    items, expected = _faults(rest, 1000)
    log = tmp_path / "p.jsonl"
    messages = []
    summary = Activator(
        FakeFeed(history, items, is_live=True),
        System(tiny_model),
        poll_interval=0,
        log=log,
        retry=NO_WAIT,
        echo=messages.append,
    ).execute()
    assert summary.ticks == 1000 and summary.predictions == 1000
    assert summary.failures == expected["failures"] > 100
    assert summary.bad_candles == expected["bad"] > 100
    assert summary.stopped == "exhausted"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum(r["type"] == "prediction" for r in records) == summary.predictions
    assert sum(r["type"] == "outcome" for r in records) == summary.outcomes == 999
    assert all(math.isfinite(r["predicted_price"]) for r in records if r["type"] == "prediction")
    assert sum(m.startswith("fetch failed") for m in messages) == summary.failures
    assert sum(m.startswith("skipped a bad candle") for m in messages) == summary.bad_candles
    assert all("\n" not in m for m in messages)  # one line each
    assert summary.to_dict()["bad_candles"] == summary.bad_candles


def test_faults_do_not_change_the_predictions(FakeFeed, tiny_model, make_candles):
    candles = make_candles(420, seed=4)
    history, rest = candles.iloc[:250], candles.iloc[250:]
    clean = [rest.iloc[[i]] for i in range(len(rest))]
    faulty, _ = _faults(rest, len(rest), seed=1)
    runs = []
    for items in (clean, faulty):
        stream = __import__("io").StringIO()
        Activator(
            FakeFeed(history, items), System(tiny_model), log=stream, retry=NO_WAIT, echo=print
        ).execute()
        runs.append(stream.getvalue())
    assert runs[0] == runs[1]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, "x", None, True])
def test_poll_interval_must_be_finite(FakeFeed, tiny_model, candles, value):
    with pytest.raises(ValueError, match="poll_interval must be a finite number"):
        Activator(FakeFeed(candles, []), System(tiny_model), poll_interval=value)


def test_a_second_signal_during_shutdown_still_ends_with_the_summary(tiny_model, candles):
    from data_fetcher import Fetcher

    fetcher = Fetcher.from_frame(candles, symbol="WALK", interval="1d", replay_start=-50)
    messages = []

    def on_record(record):
        if record["type"] == "prediction":
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)  # impatient user
            os.kill(os.getpid(), signal.SIGTERM)

    summary = Activator(
        fetcher, System(tiny_model), on_record=on_record, echo=messages.append
    ).execute()
    assert summary.stopped == "signal" and summary.ticks == 1
    assert sum("again: finishing the shutdown" in m for m in messages) == 2


def test_a_cut_off_last_line_is_moved_aside_before_appending(tmp_path):
    log = tmp_path / "p.jsonl"
    log.write_text('{"type": "prediction", "close": 1.0}\n{"type": "predic')
    with PredictionLog(log) as journal:
        journal.write({"type": "prediction", "close": 2.0})
    assert journal.quarantined == len('{"type": "predic')
    lines = log.read_text().splitlines()
    assert [json.loads(x)["close"] for x in lines] == [1.0, 2.0]
    assert (tmp_path / "p.jsonl.partial").read_text() == '{"type": "predic\n'


@pytest.mark.parametrize(
    ("content", "moved"),
    [("", 0), ('{"a": 1}\n', 0), ("no newline at all", 17), ("x" * 200_000, 200_000)],
)
def test_quarantine_fragment(tmp_path, content, moved):
    log = tmp_path / "p.jsonl"
    log.write_text(content)
    assert quarantine_fragment(log) == moved
    assert log.read_text() == (content if not moved else content[: len(content) - moved])
    assert quarantine_fragment(tmp_path / "missing.jsonl") == 0
