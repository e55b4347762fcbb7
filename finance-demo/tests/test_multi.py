"""Many symbols on an engine (a failing one reported, the others run) and watchlists."""

import threading

import numpy as np
import pytest
from finance_demo import (
    MultiResult,
    SettingsError,
    backtest_symbol,
    make_engine,
    read_watchlist,
    run_symbols,
    train_symbol,
)

NO_SAMPLE = "no sample data for symbol 'NOPE'; sample symbols are"


def a_lock(symbol):
    return threading.Lock()  # does not pickle: the result cannot come back from a worker


def shout(symbol, suffix="!"):
    if symbol == "BOOM":
        raise RuntimeError("kaput\nsecond line")
    return symbol + suffix


def test_train_symbols_serially_a_failing_one_reported(tiny_settings):
    calls = []
    result = run_symbols(
        train_symbol,
        ["MSFT", "NOPE", "IBM"],
        None,
        settings=tiny_settings,
        period="1y",
        progress=lambda *args: calls.append(args),
    )
    assert isinstance(result, MultiResult) and not result.ok
    assert list(result.results) == ["MSFT", "IBM"] and result.failed == ["NOPE"]
    assert result.errors[0]["symbol"] == "NOPE"
    assert result.errors[0]["error"].startswith(NO_SAMPLE) and "\n" not in result.errors[0]["error"]
    assert calls == [(1, 3, "MSFT", True), (2, 3, "NOPE", False), (3, 3, "IBM", True)]
    model = result.results["IBM"]
    assert model.metadata["pipeline"]["symbol"] == "IBM"
    assert model.metadata["pipeline"]["interval"] == "1d"


def test_backtest_symbols_on_processes_same_as_serial(tiny_settings):
    symbols = ["^GSPC", "NOPE", "MSFT"]
    options = {"settings": tiny_settings, "period": "2y", "folds": 2}
    serial = run_symbols(backtest_symbol, symbols, None, **options)
    calls = []
    with make_engine("process", workers=2) as engine:
        pooled = run_symbols(
            backtest_symbol, symbols, engine, progress=lambda *a: calls.append(a), **options
        )
    assert pooled.errors == serial.errors and pooled.failed == ["NOPE"]
    assert list(pooled.results) == ["^GSPC", "MSFT"]
    for symbol, report in serial.results.items():
        other = pooled.results[symbol]
        assert other.symbol == symbol and other.metrics == report.metrics
        assert all(
            np.array_equal(other.predictions[k], v)
            for k, v in report.predictions.items()
            if k != "time"
        )
    assert sorted(c[2] for c in calls) == sorted(symbols) and [c[0] for c in calls] == [1, 2, 3]


def test_errors_become_one_line():
    result = run_symbols(shout, ["MSFT", "BOOM"], suffix="?")
    assert result.results == {"MSFT": "MSFT?"}
    assert result.errors == [{"symbol": "BOOM", "error": "RuntimeError: kaput second line"}]


def test_a_result_that_does_not_pickle_is_an_error_not_a_crash():
    with make_engine("process", workers=1) as engine:
        result = run_symbols(a_lock, ["MSFT", "IBM"], engine)
    assert result.failed == ["MSFT", "IBM"]
    assert all("pickle" in e["error"] and "\n" not in e["error"] for e in result.errors)


@pytest.mark.parametrize(
    ("symbols", "message"),
    [
        ([], "no symbols to run"),
        ("MSFT", "symbols must be a list of strings, not the string 'MSFT'"),
        (["MSFT", "msft"], "symbol 'msft' is listed twice"),
        (["MS FT"], "not a symbol: 'MS FT'"),
        ([7], "not a symbol: 7"),
    ],
)
def test_run_symbols_refuses(symbols, message):
    with pytest.raises(SettingsError, match="^" + message.replace("(", r"\(")):
        run_symbols(shout, symbols)


def test_read_watchlist(tmp_path):
    path = tmp_path / "watch.txt"
    path.write_text("# my list\nMSFT\n\n  ^GSPC   # the index\nEURUSD=X\nbrk-b\n", "utf-8")
    assert read_watchlist(path) == ["MSFT", "^GSPC", "EURUSD=X", "brk-b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("MSFT\nIBM\nmsft\n", "line 3: 'msft' is listed twice (first on line 1)"),
        ("MSFT IBM\n", "line 1: 'MSFT IBM' is not one symbol (one symbol a line"),
        ("MSFT,IBM\n", "line 1: 'MSFT,IBM' is not one symbol"),
        ("# nothing\n\n   \n", "no symbols (one symbol a line, # for comments)"),
        ("", "no symbols"),
        ("A\nB\nC\nD\n", "more than 3 symbols"),
    ],
)
def test_read_watchlist_errors(tmp_path, text, message):
    path = tmp_path / "watch.txt"
    path.write_text(text, "utf-8")
    with pytest.raises(SettingsError) as info:
        read_watchlist(path, max_symbols=3)
    assert str(info.value).startswith(f"watchlist {path}") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_read_watchlist_unreadable(tmp_path):
    with pytest.raises(SettingsError, match=r"cannot read watchlist .*No such file"):
        read_watchlist(tmp_path / "missing.txt")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"MSFT\n\xff\xfe\n")
    with pytest.raises(SettingsError, match="cannot read watchlist"):
        read_watchlist(binary)
    huge = tmp_path / "huge.txt"
    huge.write_text("MSFT\n" * 250_000, "utf-8")
    with pytest.raises(SettingsError, match="bytes, larger than 1000000"):
        read_watchlist(huge)
