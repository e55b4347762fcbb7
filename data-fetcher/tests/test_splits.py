import dataclasses
import logging

import numpy as np
import pandas as pd
import pytest
from data_fetcher import (
    SAMPLE_SYMBOLS,
    Fetcher,
    SplitSuspect,
    find_unadjusted_splits,
    load_sample,
    read_candles_csv,
    write_candles_csv,
)

PRICES = ["Open", "High", "Low", "Close"]


def quiet_day(candles, near):
    """First position at or after ``near`` whose own close change is below 0.3 %."""
    change = candles["Close"].pct_change().abs().to_numpy()
    return int(np.flatnonzero((change < 0.003) & (np.arange(len(change)) >= near))[0])


def unadjusted(original):
    """MSFT with an injected 2-for-1 split (price halves: 1:2) and a later 1-for-3 reverse
    split (price triples: 3:1) that were not adjusted for."""
    n = len(original)
    first, second = quiet_day(original, n // 3), quiet_day(original, 2 * n // 3)
    scale = np.ones(n)
    scale[:second] /= 3.0
    scale[:first] *= 2.0
    broken = original.copy()
    for col in PRICES:
        broken[col] = original[col] * scale
    broken["Volume"] = original["Volume"] / scale
    return broken, original.index[first], original.index[second]


def test_finds_injected_splits_with_date_and_ratio():
    broken, first, second = unadjusted(load_sample("MSFT"))
    suspects = find_unadjusted_splits(broken, "MSFT")
    assert [(s.time, s.ratio) for s in suspects] == [(first, "1:2"), (second, "3:1")]
    assert suspects[0].change == pytest.approx(-0.5, abs=0.01)
    assert suspects[1].change == pytest.approx(2.0, abs=0.03)
    with pytest.raises(dataclasses.FrozenInstanceError):
        suspects[0].ratio = "2:1"
    assert isinstance(suspects[0], SplitSuspect) and suspects[0].factor == 0.5


def test_csv_warns_once_per_suspect(tmp_path, caplog):
    broken, first, second = unadjusted(load_sample("MSFT"))
    path = tmp_path / "msft.csv"
    write_candles_csv(broken, path)
    with caplog.at_level(logging.WARNING, logger="data_fetcher"):
        read_candles_csv(path, symbol="MSFT")
    lines = [r.getMessage() for r in caplog.records if "split" in r.getMessage()]
    assert len(lines) == 2
    before = broken["Close"].iloc[broken.index.get_loc(first) - 1]
    after = broken.loc[first, "Close"]
    assert lines[0] == (
        f"MSFT: close went from {before:.10g} to {after:.10g} on {first.date()} "
        f"({after / before - 1:+.1%}), which looks like an unadjusted 1:2 split; "
        "pass adjust_splits=True to adjust"
    )
    assert f"on {second.date()} (+" in lines[1] and "unadjusted 3:1 split" in lines[1]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="data_fetcher"):
        Fetcher("MSFT", interval="1d", source=f"replay:{path}")
    assert sum("looks like an unadjusted" in r.getMessage() for r in caplog.records) == 2


def test_adjust_splits_gives_back_the_original(tmp_path, caplog):
    original = load_sample("MSFT")
    broken, _, _ = unadjusted(original)
    path = tmp_path / "msft.csv.gz"
    write_candles_csv(broken, path)
    with caplog.at_level(logging.WARNING, logger="data_fetcher"):
        fixed = read_candles_csv(path, symbol="MSFT", adjust_splits=True)
        via_fetcher = Fetcher(
            "MSFT", interval="1d", source=f"csv:{path}", adjust_splits=True
        ).fetch_historical()
        replayed = Fetcher(
            "MSFT", interval="1d", source=f"replay:{path}", adjust_splits=True, replay_start=-1
        ).fetch_historical()
    assert not [r for r in caplog.records if "looks like" in r.getMessage()]
    for frame in (fixed, via_fetcher):
        np.testing.assert_allclose(frame.to_numpy(), original.to_numpy(), rtol=1e-9, atol=0)
    np.testing.assert_allclose(replayed.to_numpy(), original.iloc[:-1].to_numpy(), rtol=1e-9)
    assert find_unadjusted_splits(fixed, "MSFT") == []


@pytest.mark.parametrize("symbol", list(SAMPLE_SYMBOLS))
def test_no_false_alarm_on_real_history(symbol):
    """1987, 2000, 2008, 2020 crashes and FX jumps in the shipped series are not splits."""
    assert find_unadjusted_splits(load_sample(symbol), symbol) == []


def test_crash_of_a_split_size_on_a_volatile_series_is_not_flagged():
    # -50 % in one candle on a series that moves +-30 % a day is not an outlier
    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.3, 200)))
    close[150:] = close[150:] / close[150] * close[149] * 0.5
    index = pd.date_range("2020-01-01", periods=200, freq="D", tz="UTC")
    frame = pd.DataFrame({"Close": close}, index=index)
    assert find_unadjusted_splits(frame) == []


def test_adjust_splits_only_for_files():
    with pytest.raises(ValueError, match="adjust_splits applies to files"):
        Fetcher("MSFT", interval="1d", source="sample", adjust_splits=True)
    with pytest.raises(ValueError, match="adjust_splits applies to files"):
        Fetcher("MSFT", interval="1d", source="yahoo", adjust_splits=True)
