"""Property-based tests: garbage fed to ``read_candles_csv`` only ever raises our errors.

Bounds: 200 generated examples in all (60 random byte files, 80 CSV-ish texts, 40 gzip
files of random bytes or texts, 20 shuffled real files); each example must finish within
a 2 s hypothesis ``deadline``; files stay small (at most 2 KiB of bytes, 12 rows of 8 cells). No
example database is written (``database=None``), so runs are reproducible from the seed
that hypothesis prints on failure. Anything other than ``DataError``/``FetcherError``
escaping, or a returned frame that breaks the candles contract, fails the test.
"""

import gzip
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from data_fetcher import COLUMNS, FetcherError, load_sample, read_candles_csv, write_candles_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_DIR = Path(tempfile.mkdtemp(prefix="df-fuzz-"))
SETTINGS = dict(
    deadline=2000, database=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)
SUFFIXES = [".csv", ".csv.gz", ".zip", ".csv.bz2", ".csv.xz", ".txt"]

HEADERS = st.sampled_from(
    [
        "Date",
        "date",
        "Datetime",
        "Timestamp",
        "Time",
        "",
        "Open",
        "HIGH",
        "low",
        "Close",
        "Adj Close",
        "adj_close",
        "Volume",
        "vol",
        "Datetime[America/New_York]",
        "Date[UTC]",
        "Date[Nowhere/Zone]",
        "Date[",
        "Close]",
        "Unnamed: 0",
        "x",
    ]
) | st.text(max_size=8)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["1e400", "-0", "0", "nan", "inf", "-inf", "1,5", "", "null", "NaN", "1e-400"]),
)
DATES = st.one_of(
    st.datetimes(min_value=pd.Timestamp("1000-01-01").to_pydatetime()).map(str),
    st.datetimes().map(lambda d: d.isoformat() + "+05:30"),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(
        ["2024-03-10T02:30:00", "1677-09-21", "2262-04-12", "0000-00-00", "2024-02-30", "now"]
    ),
)
CELLS = st.one_of(NUMBERS, DATES, st.text(max_size=10))


def check(content: bytes, suffix: str) -> None:
    path = _DIR / f"fuzz{suffix}"
    path.write_bytes(content)
    try:
        candles = read_candles_csv(path)
    except FetcherError as exc:  # DataError and FetchError are FetcherErrors
        assert "\n" not in str(exc)
        return
    # what comes back meets the candles contract
    assert list(candles.columns) == list(COLUMNS)
    assert (candles.dtypes == np.float64).all()
    assert candles.index.tz is not None and candles.index.is_monotonic_increasing
    assert candles.index.is_unique and np.isfinite(candles.to_numpy()).all()
    assert (candles[["Open", "High", "Low", "Close"]].to_numpy() > 0).all()


@settings(max_examples=60, **SETTINGS)
@given(st.binary(max_size=2048), st.sampled_from(SUFFIXES))
def test_random_bytes(content, suffix):
    check(content, suffix)


LAYOUTS = st.sampled_from(
    [
        ["Date", "Open", "High", "Low", "Close", "Volume"],
        ["Datetime[America/New_York]", "Open", "High", "Low", "Close", "Volume"],
        ["Date", "Close"],
        ["date", "adj close", "volume"],
    ]
)


@st.composite
def csv_text(draw):
    if draw(st.booleans()):  # a real layout: the date column first, numbers after it
        headers = draw(LAYOUTS)
        row = st.tuples(DATES, st.lists(NUMBERS, min_size=len(headers) - 1, max_size=len(headers)))
        rows = [[d, *v] for d, v in draw(st.lists(row, min_size=1, max_size=12))]
    else:
        headers = draw(st.lists(HEADERS, min_size=1, max_size=7))
        rows = draw(st.lists(st.lists(CELLS, max_size=len(headers) + 1), min_size=0, max_size=12))
    sep = draw(st.sampled_from([",", ",", ";", "\t"]))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [sep.join(headers)] + [sep.join(row) for row in rows]
    return end.join(lines) + draw(st.sampled_from(["", end]))


@settings(max_examples=80, **SETTINGS)
@given(csv_text())
def test_random_csv_text(text):
    check(text.encode("utf-8", "surrogatepass"), ".csv")


@settings(max_examples=40, **SETTINGS)
@given(st.one_of(st.binary(max_size=2048), csv_text().map(lambda t: t.encode("utf-8", "replace"))))
def test_gzip_of_garbage(payload):
    check(gzip.compress(payload), ".csv.gz")


@settings(max_examples=20, **SETTINGS)
@given(st.data())
def test_damaged_real_file(data):
    buffer = _DIR / "real.csv"
    write_candles_csv(load_sample("MSFT").iloc[:30], buffer)
    content = bytearray(gzip.compress(buffer.read_bytes()))
    for _ in range(data.draw(st.integers(1, 5))):
        where = data.draw(st.integers(0, len(content) - 1))
        content[where] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(content)))
    check(bytes(content[:cut]), ".csv.gz")
