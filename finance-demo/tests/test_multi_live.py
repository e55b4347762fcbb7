"""The multi-symbol live loop: one batched poll, one forward per network, per-symbol lanes."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from data_fetcher import FetchError, MultiFetcher, RetryPolicy
from finance_demo import Activator, SettingsError, System, bind_symbol, train_global
from finance_demo.multi_live import MultiActivator, MultiSystem

NO_WAIT = RetryPolicy(base_delay=0.0, max_delay=0.0, jitter=0.0)


@pytest.fixture(scope="module")
def walks(make_candles):
    return {f"W{i}": make_candles(260, seed=10 + i) for i in range(3)}


@pytest.fixture(scope="module")
def global_model(walks, tiny_settings):
    return train_global(walks, tiny_settings, interval="1d")


class CountCalls:
    """Wrap a model: count the forward passes (batches) it is asked for."""

    def __init__(self, model):
        self.model, self.batches = model, []

    def forecast(self, X, level=0.9):
        self.batches.append(len(X))
        return self.model.forecast(X, level=level)

    def __getattr__(self, name):
        return getattr(self.model, name)


def test_step_equals_each_symbols_system_with_one_forward_per_network(
    global_model, walks, tiny_model, make_candles
):
    bound = {s: bind_symbol(global_model, s) for s in walks}
    counted = CountCalls(global_model)
    for b in bound.values():
        b.model = counted  # every bound symbol runs the same (counted) network
    other = make_candles(260, seed=99)
    models = {**bound, "SOLO": tiny_model}  # and a per-symbol model beside them
    multi = MultiSystem(models)
    single = {s: System(m) for s, m in models.items()}
    frames = {**walks, "SOLO": other}
    seen = 0
    for t in range(260):
        step = {s: (f.index[t], float(f["Close"].iloc[t])) for s, f in frames.items()}
        counted.batches.clear()
        preds = multi.step(step)
        ones = {s: single[s].process_candle(*step[s]) for s in step}
        assert set(preds) == {s for s, p in ones.items() if p is not None}
        due = [s for s in preds if s in walks]
        # the global model's due symbols: ONE batch (the per-symbol one runs on its own)
        assert counted.batches == ([len(due)] if due else [])
        for s, p in preds.items():
            q = ones[s]
            assert p.tick == q.tick and p.time == q.time and p.close == q.close
            for name in ("mean", "lower", "upper", "sigma"):
                np.testing.assert_allclose(getattr(p, name), getattr(q, name), atol=1e-6)
            seen += 1
    assert seen > 600


def _records(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_loop_over_a_batched_replay_equals_one_loop_per_symbol(global_model, walks):
    log = io.StringIO()
    fetcher = MultiFetcher.from_frames(walks, interval="1d", replay_start=-60)
    system = MultiSystem({s: bind_symbol(global_model, s) for s in walks})
    summary = MultiActivator(fetcher, system, log=log, handle_signals=False).execute()
    assert summary.stopped == "exhausted" and summary.polls >= 60
    records = _records(log)
    for s, frame in walks.items():
        lane = summary.symbols[s]
        assert lane.ticks == 60 and lane.predictions == 60 and lane.outcomes == 59
        assert lane.warmup == 200
        one = io.StringIO()
        single = Activator(
            MultiFetcher.from_frames({s: frame}, interval="1d", replay_start=-60)._fetchers[s],
            System(bind_symbol(global_model, s)),
            log=one,
            handle_signals=False,
        ).execute()
        assert single.predictions == lane.predictions
        mine = [r for r in records if r["symbol"] == s]
        theirs = _records(one)
        assert [r["type"] for r in mine] == [r["type"] for r in theirs]
        for a, b in zip(mine, theirs, strict=True):
            assert a["time"] == b["time"] and a["horizon"] == b["horizon"]
            assert a["predicted_return"] == pytest.approx(b["predicted_return"], abs=1e-6)
        m, n = lane.metrics["h1"], single.metrics["h1"]
        assert m.count == n.count and m.coverage == n.coverage
    assert summary.predictions == 180 and summary.to_dict()["symbols"]["W0"]["ticks"] == 60


class ScriptedMulti:
    """A multi-symbol feed: a history per symbol, then one scripted poll per call.

    Each poll item is a ``{symbol: (time, close)}`` dict, or an exception to raise.
    """

    def __init__(self, history, polls, errors=None):
        self.history, self.polls = history, list(polls)
        self.symbols = tuple(history)
        self.interval, self.is_live, self.errors = "1d", False, {}
        self._errors = errors or {}

    @property
    def exhausted(self):
        return not self.polls

    def fetch_historical(self):
        return dict(self.history)

    def fetch_latest_table(self):
        item = self.polls.pop(0)
        if isinstance(item, BaseException):
            raise item
        self.errors = self._errors
        rows = [
            (s, pd.Timestamp(t).tz_convert("UTC"), c, c, c, c, 1.0) for s, (t, c) in item.items()
        ]
        table = pd.DataFrame(
            rows, columns=["Symbol", "Time", "Open", "High", "Low", "Close", "Volume"]
        )
        return table.set_index("Symbol")


def test_bad_candles_repeats_and_failures_stay_per_symbol(global_model, walks):
    hist = {s: f.iloc[:200] for s, f in walks.items()}
    nxt = {s: f.index[200:] for s, f in walks.items()}
    close = {s: f["Close"].to_numpy()[200:] for s, f in walks.items()}
    polls = [
        {s: (nxt[s][0], close[s][0]) for s in walks},
        FetchError("yahoo: 503"),  # the whole poll fails: retried, counted once
        {"W0": (nxt["W0"][1], float("nan")), "W1": (nxt["W1"][1], close["W1"][1])},
        {"W0": (nxt["W0"][1], close["W0"][1]), "W1": (nxt["W1"][1], close["W1"][1])},
        {"W2": (nxt["W2"][1], -5.0)},
    ]
    echoed = []
    feed = ScriptedMulti(hist, polls, errors={"W2": "no data (delisted?)"})
    system = MultiSystem({s: bind_symbol(global_model, s) for s in walks})
    summary = MultiActivator(
        feed, system, echo=echoed.append, retry=NO_WAIT, handle_signals=False
    ).execute()
    lanes = summary.symbols
    assert summary.failures == 1 and summary.stopped == "exhausted"
    assert (lanes["W0"].ticks, lanes["W0"].bad_candles) == (2, 1)  # NaN skipped, then fed
    assert (lanes["W1"].ticks, lanes["W1"].skipped) == (2, 1)  # the repeat is skipped
    assert (lanes["W2"].ticks, lanes["W2"].bad_candles) == (1, 1)
    assert summary.symbol_errors == {"W2": 4}
    assert sum("W2: no data (delisted?)" in line for line in echoed) == 1  # said once
    assert any(line.startswith("fetch failed (yahoo: 503)") for line in echoed)
    assert any("W0: skipped a bad candle: close nan" in line for line in echoed)


def test_stop_after_the_current_tick_and_max_ticks(global_model, walks):
    fetcher = MultiFetcher.from_frames(walks, interval="1d", replay_start=-60)
    system = MultiSystem({s: bind_symbol(global_model, s) for s in walks})
    loop = MultiActivator(fetcher, system, max_ticks=5, handle_signals=False)
    assert loop.execute().stopped == "max_ticks"
    assert all(lane.ticks == 5 for lane in loop.summary.symbols.values())
    fetcher = MultiFetcher.from_frames(walks, interval="1d", replay_start=-60)
    system = MultiSystem({s: bind_symbol(global_model, s) for s in walks})
    loop = MultiActivator(fetcher, system, handle_signals=False)
    loop.on_record = lambda record: loop.stop() if record["type"] == "outcome" else None
    summary = loop.execute()
    assert summary.stopped == "signal"
    assert all(lane.ticks == 2 for lane in summary.symbols.values())  # the tick finished


def test_bad_setups_are_one_line(global_model, walks):
    with pytest.raises(SettingsError, match="at least one symbol"):
        MultiSystem({})
    fetcher = MultiFetcher.from_frames({"W0": walks["W0"]}, interval="1d")
    system = MultiSystem({s: bind_symbol(global_model, s) for s in walks})
    with pytest.raises(SettingsError, match="does not fetch W1, W2"):
        MultiActivator(fetcher, system)
    with pytest.raises(ValueError, match="poll_interval"):
        MultiActivator(
            MultiFetcher.from_frames(walks, interval="1d"), system, poll_interval=float("nan")
        )
