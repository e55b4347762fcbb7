"""backtest(engine=...): the same report, bit for bit, serially and on a process pool."""

import importlib

import numpy as np
import pytest
from data_fetcher import Fetcher
from finance_demo import backtest, make_engine


@pytest.fixture(scope="module")
def sample():
    """Two years of the shipped S&P 500 sample (about 500 daily candles)."""
    return Fetcher("^GSPC", period="2y", interval="1d", source="sample").fetch_historical()


@pytest.fixture(scope="module")
def serial_report(sample, tiny_settings):
    return backtest(sample, tiny_settings, folds=3, symbol="^GSPC", interval="1d")


def assert_same_report(report, reference):
    """Predictions, metrics and fold records identical (timings aside)."""
    assert report.predictions.keys() == reference.predictions.keys()
    for name, value in reference.predictions.items():
        if name == "time":
            assert report.predictions[name].equals(value)
        else:
            assert np.array_equal(report.predictions[name], value), name
    assert report.metrics == reference.metrics
    strip = [{k: v for k, v in f.items() if k != "seconds"} for f in reference.folds]
    assert [{k: v for k, v in f.items() if k != "seconds"} for f in report.folds] == strip
    assert report.folds_planned == reference.folds_planned
    assert report.interrupted == reference.interrupted


def fold_rows(report, fold):
    """The prediction columns of one fold (0-based) of a report."""
    keep = report.predictions["fold"] == fold
    return {k: v[keep] for k, v in report.predictions.items() if k != "time"}


def test_serial_engine_is_the_default(sample, tiny_settings, serial_report):
    with make_engine("serial") as engine:
        report = backtest(
            sample, tiny_settings, folds=3, symbol="^GSPC", interval="1d", engine=engine
        )
    assert_same_report(report, serial_report)
    assert len(serial_report.folds) == 3 and not serial_report.interrupted


def test_process_engine_gives_the_same_report(sample, tiny_settings, serial_report):
    calls = []
    with make_engine("process", workers=2) as engine:
        report = backtest(
            sample,
            tiny_settings,
            folds=3,
            symbol="^GSPC",
            interval="1d",
            engine=engine,
            progress=lambda done, total, info: calls.append((done, total, info["fold"])),
        )
    assert_same_report(report, serial_report)
    # progress as folds finish: a running count, every fold once
    assert [c[:2] for c in calls] == [(1, 3), (2, 3), (3, 3)]
    assert sorted(c[2] for c in calls) == [1, 2, 3]


def test_interrupt_keeps_the_finished_folds_on_a_pool(sample, tiny_settings, serial_report):
    def stop(done, total, info):
        raise KeyboardInterrupt

    with make_engine("process", workers=2) as engine:
        report = backtest(
            sample, tiny_settings, folds=3, symbol="^GSPC", engine=engine, progress=stop
        )
    assert report.interrupted and report.folds_planned == 3 and len(report.folds) == 1
    k = report.folds[0]["fold"] - 1
    got, want = fold_rows(report, k), fold_rows(serial_report, k)
    assert all(np.array_equal(got[name], want[name]) for name in want)


def test_interrupt_serially_reports_the_folds_before(sample, tiny_settings, serial_report):
    def stop(done, total, info):
        if done == 2:
            raise KeyboardInterrupt

    report = backtest(sample, tiny_settings, folds=3, symbol="^GSPC", progress=stop)
    assert report.interrupted and [f["fold"] for f in report.folds] == [1, 2]
    for k in (0, 1):
        got, want = fold_rows(report, k), fold_rows(serial_report, k)
        assert all(np.array_equal(got[name], want[name]) for name in want)


def test_interrupt_before_any_fold_propagates(sample, tiny_settings, monkeypatch):
    module = importlib.import_module("finance_demo.backtest")

    def ctrl_c(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "_run_fold", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        backtest(sample, tiny_settings, folds=3)


def test_a_failing_fold_raises_its_own_error(sample, tiny_settings, monkeypatch):
    module = importlib.import_module("finance_demo.backtest")
    from finance_demo import InsufficientDataError

    def broken(*args):
        raise InsufficientDataError("fold too small")

    monkeypatch.setattr(module, "_run_fold", broken)
    with pytest.raises(InsufficientDataError, match="fold too small"):
        backtest(sample, tiny_settings, folds=3)


@pytest.fixture(scope="module")
def market():
    """Two shipped samples of different lengths, and one too short for any fold."""
    ibm = Fetcher("IBM", period="1y", interval="1d", source="sample").fetch_historical()
    gspc = Fetcher("^GSPC", period="2y", interval="1d", source="sample").fetch_historical()
    return {"^GSPC": gspc, "SHORT": gspc.iloc[:40], "IBM": ibm}


@pytest.fixture(scope="module")
def alone(market, tiny_settings):
    """Each symbol's own backtest, the reference of backtest_many."""
    return {
        s: backtest(market[s], tiny_settings, folds=2, symbol=s, interval="1d")
        for s in ("^GSPC", "IBM")
    }


def test_backtest_many_equals_one_backtest_per_symbol(market, tiny_settings, alone):
    from finance_demo import backtest_many

    seen = []
    result = backtest_many(
        market,
        tiny_settings,
        folds=2,
        intervals=dict.fromkeys(market, "1d"),
        progress=lambda n, total, s, info: seen.append((n, total, s, info["fold"])),
    )
    assert list(result.results) == ["^GSPC", "IBM"] and not result.interrupted
    for s, report in result.results.items():
        assert_same_report(report, alone[s])
        assert report.seconds == pytest.approx(sum(f["seconds"] for f in report.folds), abs=0.01)
    [error] = result.errors
    assert error["symbol"] == "SHORT" and "too few" in error["error"] and "\n" not in error["error"]
    # one queue, the longest training first: ^GSPC's last fold, and the 4 folds in all
    assert [n for n, *_ in seen] == [1, 2, 3, 4] and {t for _, t, *_ in seen} == {4}
    assert seen[0][2:] == ("^GSPC", 2)
    assert sorted(x[2:] for x in seen) == [("IBM", 1), ("IBM", 2), ("^GSPC", 1), ("^GSPC", 2)]


def test_backtest_many_on_a_pool_gives_the_same_reports(market, tiny_settings, alone):
    from finance_demo import backtest_many

    with make_engine("process", workers=2) as engine:
        result = backtest_many(market, tiny_settings, folds=2, engine=engine)
    assert [e["symbol"] for e in result.errors] == ["SHORT"]
    for s in ("^GSPC", "IBM"):
        assert_same_report(result.results[s], alone[s])


def test_backtest_many_interrupted_keeps_the_finished_symbols(market, tiny_settings, alone):
    from finance_demo import backtest_many

    two = {s: market[s] for s in ("^GSPC", "IBM")}

    def stop_at(call):
        def progress(n, total, s, info):
            if n == call:
                raise KeyboardInterrupt

        return progress

    with pytest.raises(KeyboardInterrupt):  # no symbol finished all its folds
        backtest_many(two, tiny_settings, folds=2, progress=stop_at(1))
    result = backtest_many(two, tiny_settings, folds=2, progress=stop_at(3))
    assert result.interrupted and len(result.results) == 1
    [(done, report)] = result.results.items()
    assert_same_report(report, alone[done])
    [error] = result.errors
    assert error["symbol"] != done and error["error"] == "interrupted after 1 of 2 folds"


def test_backtest_many_a_failing_fold_fails_its_symbol_only(market, tiny_settings, monkeypatch):
    from finance_demo import backtest_many

    module = importlib.import_module("finance_demo.backtest")

    real = module._run_fold

    def broken(plan, candles, k, a, b, symbol, interval, *rest):
        if symbol == "IBM" and k == 1:
            raise RuntimeError("disk full\nsecond line")
        return real(plan, candles, k, a, b, symbol, interval, *rest)

    monkeypatch.setattr(module, "_run_fold", broken)
    two = {s: market[s] for s in ("^GSPC", "IBM")}
    result = backtest_many(two, tiny_settings, folds=2)
    assert list(result.results) == ["^GSPC"]
    assert result.errors == [
        {"symbol": "IBM", "error": "fold 2: RuntimeError: disk full second line"}
    ]
    with pytest.raises(module.SettingsError, match="folds"):
        backtest_many(two, tiny_settings, folds=0)
    with pytest.raises(module.SettingsError, match="no symbols"):
        backtest_many({}, tiny_settings, folds=2)
