"""Benchmark of the executor seam: a walk-forward backtest's folds on a process pool vs serially.

Run: .venv/bin/python benchmarks/bench_engine.py [--quick] [--workers N] [--ray]

Four shipped samples (``^GSPC``, ``MSFT``, ``IBM`` daily, ``EURUSD=X`` hourly), a 10-fold
backtest of each with the same small settings, first serially (``engine=None``), then on
``make_engine("process")`` (one pool for the four, its start-up counted in its time).
Prints the wall times, the ratio serial / process (the target is >= 1.7x on 2 cores) and
checks that both runs give the same predictions and metrics, bit for bit. ``--ray`` also
runs them on ``make_engine("ray")`` (a local single-node cluster, its start counted).
Public tools only: ``data_fetcher.Fetcher``, ``finance_demo.load_settings``, ``backtest``,
``make_engine``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from data_fetcher import Fetcher
from finance_demo import backtest, load_settings, make_engine

QUICK = "--quick" in sys.argv
WORKERS = int(sys.argv[sys.argv.index("--workers") + 1]) if "--workers" in sys.argv else None
RAY = "--ray" in sys.argv
SYMBOLS = ("^GSPC", "MSFT", "IBM", "EURUSD=X")
FOLDS = 10
PERIOD = "2y" if QUICK else "5y"
SETTINGS = {"training": {"epochs": 1 if QUICK else 3}}


def same(a, b) -> bool:
    """Two reports with the same predictions and metrics, bit for bit."""
    pa, pb = a.predictions, b.predictions
    return (
        pa.keys() == pb.keys()
        and all(np.array_equal(pa[k], pb[k]) for k in pa if k != "time")
        and a.metrics == b.metrics
    )


def run(histories, settings, engine) -> tuple[float, dict]:
    start = time.perf_counter()
    reports = {
        s: backtest(c, settings, folds=FOLDS, symbol=s, engine=engine) for s, c in histories.items()
    }
    return time.perf_counter() - start, reports


def main() -> None:
    settings = load_settings(SETTINGS)
    histories = {
        s: Fetcher(s, period=PERIOD, interval=None, source="sample").fetch_historical()
        for s in SYMBOLS
    }
    sizes = ", ".join(f"{s} {len(c)}" for s, c in histories.items())
    print(f"{FOLDS}-fold backtests, candles: {sizes}; settings {SETTINGS}")
    serial_s, serial = run(histories, settings, None)
    print(f"serial:  {serial_s:7.2f} s")
    start = time.perf_counter()
    with make_engine("process", workers=WORKERS) as engine:
        pool_s, pooled = run(histories, settings, engine)
        workers = engine.workers
    total_s = time.perf_counter() - start
    print(
        f"process: {total_s:7.2f} s ({workers} workers; pool start and shutdown included; "
        f"{pool_s:.2f} s in the backtests)"
    )
    identical = all(same(serial[s], pooled[s]) for s in SYMBOLS)
    print(f"identical reports: {identical}")
    print(f"ratio serial / process: {serial_s / total_s:.2f}x (target >= 1.7x on 2 cores)")
    if not identical:
        sys.exit("the process engine's reports differ from the serial ones")
    if RAY:
        start = time.perf_counter()
        with make_engine("ray", workers=WORKERS) as engine:
            ray_s, on_ray = run(histories, settings, engine)
        ray_total = time.perf_counter() - start
        same_ray = all(same(serial[s], on_ray[s]) for s in SYMBOLS)
        print(
            f"ray:     {ray_total:7.2f} s (local cluster start and shutdown included; "
            f"{ray_s:.2f} s in the backtests); identical reports: {same_ray}; ratio serial / "
            f"ray: {serial_s / ray_total:.2f}x"
        )
        if not same_ray:
            sys.exit("the ray engine's reports differ from the serial ones")


if __name__ == "__main__":
    main()
