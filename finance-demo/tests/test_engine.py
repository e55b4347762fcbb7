"""The executor seam: serial and process engines, their errors, a missing Ray."""

import concurrent.futures as cf
import os
import sys
import time

import numpy as np
import pytest
import torch
from finance_demo import EngineError, SettingsError, make_engine
from finance_demo.engine import SerialEngine, call_with_threads, current_threads


def slow_square(x, delay):
    time.sleep(delay)
    return x * x


def fail(message):
    raise ValueError(message)


def worker_state(_):
    return os.getpid(), torch.get_num_threads()


def interrupt():
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "threads"}, "unknown engine 'threads'; use serial, process or ray"),
        ({"kind": "process", "workers": 0}, "workers must be an integer in [1, 1024], got 0"),
        ({"kind": "process", "workers": True}, "workers must be an integer in [1, 1024]"),
        ({"kind": "process", "workers": 2.0}, "workers must be an integer in [1, 1024]"),
        ({"kind": "serial", "workers": 2}, "the serial engine runs one job at a time"),
        ({"kind": "process", "ray_address": "auto"}, "ray_address applies to the ray engine"),
    ],
)
def test_make_engine_errors(options, message):
    with pytest.raises(SettingsError) as info:
        make_engine(**options)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_serial_runs_inline_in_order():
    calls = []
    with make_engine("serial") as engine:
        assert isinstance(engine, SerialEngine) and engine.kind == "serial"
        futures = [engine.submit(calls.append, k) for k in range(3)]
        assert calls == [0, 1, 2] and all(f.done() for f in futures)  # ran at submit
        assert list(engine.map(slow_square, [3, 1, 2], [0, 0, 0])) == [9, 1, 4]
        failed = engine.submit(fail, "bad symbol")
        assert isinstance(failed.exception(), ValueError)  # kept, as a pool would
        assert [f for f in engine.as_completed(futures)] == futures
        with pytest.raises(KeyboardInterrupt):  # Ctrl-C is not swallowed into a future
            engine.submit(interrupt)
    with pytest.raises(RuntimeError, match="after shutdown"):
        engine.submit(calls.append, 9)


def test_process_engine_order_threads_and_errors():
    with make_engine("process", workers=2) as engine:
        assert engine.kind == "process" and engine.workers == 2
        # the first job finishes last: results still come in submission order
        assert list(engine.map(slow_square, [1, 2, 3], [1.0, 0.0, 0.0])) == [1, 4, 9]
        states = list(engine.map(worker_state, range(4)))
        assert all(pid != os.getpid() for pid, _ in states)
        assert {threads for _, threads in states} == {1}
        future = engine.submit(fail, "no sample for 'NOPE'")
        with pytest.raises(ValueError, match="no sample for 'NOPE'"):
            future.result()
        order = [f.result() for f in engine.as_completed([engine.submit(slow_square, 2, 0.0)])]
        assert order == [4]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_both_start_methods_give_the_same_fold(method, tmp_path):
    """A backtest fold computes the same bits in a forked and in a spawned worker."""
    from data_fetcher import Fetcher
    from finance_demo import backtest, load_settings
    from finance_demo.engine import ProcessEngine

    candles = Fetcher("IBM", period="1y", interval="1d", source="sample").fetch_historical()
    settings = load_settings({"training": {"epochs": 1}, "model": {"hidden_dim": 8}})
    alone = backtest(candles, settings, folds=2)
    with ProcessEngine(2, start_method=method) as engine:
        assert engine.start_method == method and method in repr(engine)
        states = list(engine.map(worker_state, range(2)))
        assert {threads for _, threads in states} == {1}
        pooled = backtest(candles, settings, folds=2, engine=engine)
    assert pooled.metrics == alone.metrics
    assert np.array_equal(pooled.predictions["lstm"], alone.predictions["lstm"])


def test_fork_only_while_single_threaded():
    import threading

    from finance_demo.engine import _start_method

    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert _start_method() == "spawn"  # another thread may hold a lock a fork copies
    finally:
        release.set()
        thread.join()
    assert _start_method() == ("fork" if sys.platform == "linux" else "spawn")


def test_process_engine_default_workers():
    with make_engine("process") as engine:
        assert engine.workers == len(os.sched_getaffinity(0))


def test_call_with_threads_sets_and_restores():
    before = torch.get_num_threads()
    assert call_with_threads(3, current_threads) == 3
    assert torch.get_num_threads() == before
    assert call_with_threads(None, current_threads) == before


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(EngineError) as info:
        make_engine("ray")
    assert str(info.value) == (
        "the ray engine needs Ray, which is not installed: pip install 'finance-demo[ray]'"
    )


def test_engines_are_executors():
    with make_engine("serial") as serial:
        assert isinstance(serial, cf.Executor)
    with make_engine("process", workers=1) as process:
        assert isinstance(process, cf.Executor)
