"""The Ray engine for real, on a single-node local cluster started once for this module."""

import os
import sys
import time

import numpy as np
import pytest
import ray
from data_fetcher import Fetcher
from finance_demo import backtest, backtest_symbol, make_engine, run_symbols
from ray import cloudpickle

# The jobs below are defined here, in a test module Ray's workers cannot import: send
# them by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def slow_square(x, delay):
    time.sleep(delay)
    return x * x


def worker_pid(_):
    return os.getpid()


def fail(message):
    raise ValueError(message)


@pytest.fixture(scope="module", autouse=True)
def cluster(tmp_path_factory):
    """Two CPUs, no dashboard, Ray's files under /tmp (never in the repository)."""
    if ray.is_initialized():  # pragma: no cover - another module left one running
        ray.shutdown()
    temp = os.environ.get("RAY_TMPDIR", "/tmp/ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
    yield
    ray.shutdown()


def test_ray_engine_order_errors_and_workers():
    with make_engine("ray") as engine:
        assert engine.kind == "ray" and engine.workers == 2
        assert list(engine.map(slow_square, [1, 2, 3], [1.0, 0.0, 0.0])) == [1, 4, 9]
        pids = set(engine.map(worker_pid, range(4)))
        assert os.getpid() not in pids
        future = engine.submit(fail, "no sample for 'NOPE'")
        with pytest.raises(ValueError, match=r"^no sample for 'NOPE'$"):  # unwrapped
            future.result()
    assert ray.is_initialized()  # the engine did not start Ray, so it leaves it running


def test_ray_cancel_and_shutdown():
    engine = make_engine("ray", workers=1)
    assert engine.workers == 1
    future = engine.submit(slow_square, 3, 60.0)
    assert future.cancel() and future.cancelled()
    engine.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        engine.submit(slow_square, 1, 0.0)


def test_ray_backtest_identical_to_serial(tiny_settings):
    sample = Fetcher("^GSPC", period="2y", interval="1d", source="sample").fetch_historical()
    reference = backtest(sample, tiny_settings, folds=3, symbol="^GSPC", interval="1d")
    calls = []
    with make_engine("ray") as engine:
        report = backtest(
            sample,
            tiny_settings,
            folds=3,
            symbol="^GSPC",
            interval="1d",
            engine=engine,
            progress=lambda done, total, info: calls.append((done, info["fold"])),
        )
    assert report.predictions["time"].equals(reference.predictions["time"])
    for name, value in reference.predictions.items():
        if name != "time":
            assert np.array_equal(report.predictions[name], value), name
    assert report.metrics == reference.metrics
    assert [d for d, _ in calls] == [1, 2, 3] and sorted(f for _, f in calls) == [1, 2, 3]


def test_ray_symbols_a_failing_one_reported(tiny_settings):
    with make_engine("ray") as engine:
        result = run_symbols(
            backtest_symbol,
            ["IBM", "NOPE"],
            engine,
            settings=tiny_settings,
            period="2y",
            folds=2,
        )
    assert list(result.results) == ["IBM"] and result.results["IBM"].symbol == "IBM"
    assert [e["symbol"] for e in result.errors] == ["NOPE"]
    assert result.errors[0]["error"].startswith("no sample data for symbol 'NOPE'; sample")
    assert "\n" not in result.errors[0]["error"]


def test_ray_global_backtest_identical_to_serial(tiny_settings, make_candles):
    from finance_demo import backtest_global

    candles = {"A": make_candles(300, seed=1), "B": make_candles(280, seed=2)}
    reference = backtest_global(candles, tiny_settings, folds=2)
    with make_engine("ray") as engine:
        result = backtest_global(candles, tiny_settings, folds=2, engine=engine)
    strip = lambda r: {**r.to_dict(), "seconds": None}  # noqa: E731
    assert strip(result) == strip(reference) and len(result.rows) == 2
