"""How fast data_fetcher gets candles, as ratios against references measured in the same run.

Run: .venv/bin/python benchmarks/bench_data_fetcher.py
"""

import statistics
import tempfile
import time
from importlib import resources

import data_fetcher
import pandas as pd
from data_fetcher import Fetcher
from data_fetcher.testing import YahooChartSession, isolated_yfinance


def median_time(func, repeat=7):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    path = resources.files("data_fetcher").joinpath("data", "sp500_daily.csv.gz")

    def plain_read():
        with path.open("rb") as fh:
            pd.read_csv(fh, index_col="Date", parse_dates=["Date"], compression="gzip")

    def sample_cold():
        data_fetcher.sample._read.cache_clear()  # as the first load in a process
        Fetcher("^GSPC", "max", "1d", source="sample").fetch_historical()

    def sample_warm():
        Fetcher("^GSPC", "max", "1d", source="sample").fetch_historical()

    ref = median_time(plain_read)
    cold = median_time(sample_cold)
    warm = median_time(sample_warm)
    print(f"plain pd.read_csv of the S&P 500 file (reference): {ref * 1e3:8.2f} ms")
    print(
        f"sample, first load in a process, validated:        {cold * 1e3:8.2f} ms  "
        f"ratio {cold / ref:5.2f}x"
    )
    print(
        f"sample, later loads (memoized file):               {warm * 1e3:8.2f} ms  "
        f"ratio {warm / ref:5.2f}x"
    )

    with tempfile.TemporaryDirectory() as tmp, isolated_yfinance(tmp + "/yf"):

        def through_yfinance():
            Fetcher(
                "^GSPC", "max", "1d", session=YahooChartSession(), use_cache=False, cache_dir=tmp
            ).fetch_historical()

        Fetcher("^GSPC", "max", "1d", session=YahooChartSession(), cache_dir=tmp).fetch_historical()

        def cache_hit():
            Fetcher(
                "^GSPC", "max", "1d", session=YahooChartSession(offline=True), cache_dir=tmp
            ).fetch_historical()

        parse = median_time(through_yfinance, repeat=5)
        hit = median_time(cache_hit)
        print(f"yahoo via yfinance parsing, offline session (ref): {parse * 1e3:8.2f} ms")
        print(
            f"yahoo cache hit (no request made):                 {hit * 1e3:8.2f} ms"
            f"  ratio {hit / parse:5.2f}x"
        )

    feed = Fetcher("EURUSD=X", "max", "1h", source="replay", replay_start=0)
    frame = feed.source.candles
    n = 2000
    start = time.perf_counter()
    for i in range(n):
        frame.iloc[i : i + 1].copy()
    ref_tick = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for _ in range(n):
        feed.fetch_latest()
    per_tick = (time.perf_counter() - start) / n
    print(f"plain DataFrame.iloc[i:i+1].copy() (reference):    {ref_tick * 1e6:8.1f} us")
    print(
        f"replay fetch_latest per candle:                    {per_tick * 1e6:8.1f} us  "
        f"ratio {per_tick / ref_tick:5.2f}x"
    )


if __name__ == "__main__":
    main()
