import gzip
import io

import numpy as np
import pandas as pd
import pytest
from data_fetcher import (
    SAMPLE_SYMBOLS,
    DataError,
    Fetcher,
    load_sample,
    read_candles_csv,
    write_candles_csv,
)


def assert_same(back, candles):
    pd.testing.assert_index_equal(back.index, candles.index, exact=True)
    assert str(back.index.tz) == str(candles.index.tz)
    # bit for bit, not approximately
    np.testing.assert_array_equal(back.to_numpy(), candles.to_numpy())
    pd.testing.assert_frame_equal(back, candles, check_exact=True)


@pytest.mark.parametrize("symbol", list(SAMPLE_SYMBOLS))
def test_every_sample_round_trips(tmp_path, symbol):
    candles = load_sample(symbol)
    path = tmp_path / "out.csv"
    write_candles_csv(candles, path)
    assert_same(read_candles_csv(path), candles)


def ny_intraday_across_dst():
    # 5-minute bars around the 2024-03-10 spring-forward and 2024-11-03 fall-back changes,
    # with awkward floats (shortest repr needs 17 digits) and a nanosecond stamp
    spring = pd.date_range("2024-03-08 15:00", "2024-03-11 10:00", freq="5min", tz="UTC")
    fall = pd.date_range("2024-11-01 15:00", "2024-11-04 10:00", freq="5min", tz="UTC")
    index = spring.append(fall).tz_convert("America/New_York").as_unit("ns")
    index = index.insert(len(index), index[-1] + pd.Timedelta(nanoseconds=1))
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, len(index))))
    close[0] = 0.1 + 0.2  # 0.30000000000000004
    frame = pd.DataFrame(
        {
            "Open": close * (1 + 1e-4),
            "High": close * 1.001,
            "Low": close * 0.999,
            "Close": close,
            "Volume": rng.integers(0, 10**6, len(index)).astype(float) + 0.5,
        },
        index=index,
    )
    frame.index.name = "Datetime"
    return frame


def test_new_york_intraday_across_dst_round_trips(tmp_path):
    candles = ny_intraday_across_dst()
    assert len(set(t.utcoffset() for t in candles.index)) == 2  # EST and EDT both present
    path = tmp_path / "ny.csv"
    write_candles_csv(candles, path)
    header = path.read_text().splitlines()[0]
    assert header == "Datetime[America/New_York],Open,High,Low,Close,Volume"
    back = read_candles_csv(path)
    assert str(back.index.tz) == "America/New_York"
    assert_same(back, candles)


def test_utc_round_trips_and_gz_is_compressed(tmp_path):
    candles = ny_intraday_across_dst().tz_convert("UTC")
    path = tmp_path / "utc.csv.gz"
    write_candles_csv(candles, path)
    assert path.read_bytes()[:2] == b"\x1f\x8b"  # gzip magic
    with gzip.open(path, "rt") as fh:
        assert fh.readline().startswith("Datetime[UTC],")
    back = read_candles_csv(path)
    assert str(back.index.tz) == "UTC"
    assert_same(back, candles)
    feed = Fetcher("X", interval=None, source=f"csv:{path}").fetch_historical()
    assert_same(feed, candles)


def test_buffer_and_plain_files_still_read(tmp_path):
    buffer = io.StringIO()
    write_candles_csv(load_sample("IBM").iloc[:3], buffer)
    path = tmp_path / "b.csv"
    path.write_text(buffer.getvalue())
    assert_same(read_candles_csv(path), load_sample("IBM").iloc[:3])
    plain = tmp_path / "plain.csv"
    plain.write_text("Datetime,Open,High,Low,Close,Volume\n2024-01-02 10:00,1,2,1,2,3\n")
    candles = read_candles_csv(plain, tz="America/New_York")
    assert str(candles.index.tz) == "America/New_York" and candles.index.name == "Date"


def test_unknown_zone_in_header_is_one_line(tmp_path):
    path = tmp_path / "z.csv"
    path.write_text("Date[Mars/Olympus],Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,3\n")
    with pytest.raises(DataError, match="unknown time zone 'Mars/Olympus'") as info:
        read_candles_csv(path)
    assert "\n" not in str(info.value)
