import numpy as np
import pandas as pd
import pytest
from data_fetcher import DataError, Fetcher, load_sample


def frame(n=20):
    idx = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    close = np.arange(1.0, n + 1)
    return pd.DataFrame(
        {"Open": close, "High": close + 1, "Low": close - 0.5, "Close": close, "Volume": 10.0},
        index=idx,
    )


def test_replay_start(args, expected):
    fetcher = Fetcher.from_frame(frame(), symbol="X", replay_start=args["replay_start"])
    assert len(fetcher.fetch_historical()) == expected
    assert fetcher.source.remaining == 20 - expected
    assert fetcher.exhausted == (expected == 20)


def test_bad_replay_start(args, expected):
    with pytest.raises(ValueError, match=expected):
        Fetcher.from_frame(frame(), symbol="X", replay_start=args["replay_start"])


def test_replay_order_and_exhaustion():
    data = frame()
    data.index = data.index.as_unit("ns")
    fetcher = Fetcher.from_frame(data, symbol="X", replay_start=15)
    warm = fetcher.fetch_historical()
    played = []
    while not fetcher.exhausted:
        row = fetcher.fetch_latest()
        assert len(row) == 1
        played.append(row)
    assert fetcher.fetch_latest() is None and fetcher.exhausted
    replayed = pd.concat(played)
    assert replayed.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(
        pd.concat([warm, replayed]), data, check_freq=False, check_names=False
    )
    assert not fetcher.is_live


def test_replay_of_sample_series():
    fetcher = Fetcher("^GSPC", "max", "1d", source="replay")
    full = load_sample("^GSPC")
    warm = fetcher.fetch_historical()
    assert len(warm) == 5031 - 755  # the last 15 % (ceil) is replayed
    assert fetcher.fetch_latest().index[0] == full.index[len(warm)]


def test_replay_of_csv_with_timestamp_start(tmp_path):
    path = tmp_path / "ibm.csv"
    load_sample("IBM").to_csv(path)
    fetcher = Fetcher("IBM", "max", "1wk", source=f"replay:{path}", replay_start="2013-01-01")
    first = fetcher.fetch_latest()
    assert first.index[0] >= pd.Timestamp("2013-01-01", tz="UTC")
    assert fetcher.fetch_historical().index[-1] < first.index[0]


def test_replay_start_is_only_for_replay():
    with pytest.raises(ValueError, match="replay_start only applies"):
        Fetcher("MSFT", "1mo", "1d", source="sample", replay_start=3)


def test_from_frame_validates_and_resamples():
    weekly = Fetcher.from_frame(frame(21), symbol="X", interval="1wk", replay_start=0)
    assert weekly.source.remaining == 3  # 2024-01-01 is a Monday: three full weeks
    with pytest.raises(DataError, match="missing column"):
        Fetcher.from_frame(frame().drop(columns="Volume"), symbol="X")
    with pytest.raises(DataError, match="finer"):
        Fetcher.from_frame(frame(), symbol="X", interval="1h")


def test_from_frame_keeps_its_own_copy():
    data = frame()
    fetcher = Fetcher.from_frame(data, symbol="X", replay_start=19)
    data.iloc[-1, 3] = -5.0
    assert fetcher.fetch_latest()["Close"].item() == 20.0


def test_a_replay_source_object_sets_the_fetcher_interval():
    # the candles are daily; the Fetcher's default interval argument ("1h") must not win
    from data_fetcher import ReplaySource

    fetcher = Fetcher("IBM", source=ReplaySource(load_sample("IBM"), symbol="IBM"))
    assert fetcher.interval == "1d"
    assert Fetcher.from_frame(frame(21), symbol="X", interval="1wk").interval == "1wk"
    assert Fetcher.from_frame(frame(), symbol="X").interval == "1d"


def test_from_frame_with_irregular_stamps_keeps_them_and_warns(caplog):
    irregular = frame(4).iloc[[0, 1, 3]]
    irregular.index = pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-09"], tz="UTC")
    with caplog.at_level("WARNING", logger="data_fetcher"):
        fetcher = Fetcher.from_frame(irregular, symbol="X", interval="1wk", replay_start=0)
    assert fetcher.source.remaining == 3
    assert "cannot tell the interval" in caplog.text
