"""Benchmark feature_extraction: the batch path against the per-window live path.

Run: .venv/bin/python benchmarks/bench_features.py [--prices N] [--loop-windows N]

Measured in the same run, on one seeded geometric random walk of 1,000,000 prices,
buffer_size=50, stride 1, window_size=5, normalize="last":

* ``transform`` over every window, in windows/s;
* the per-window ``execute`` loop, timed on ``--loop-windows`` windows in all and
  extrapolated per window to the whole series (the output says so);
* the seed's literal per-window definition (np.convolve, np.gradient, np.std,
  np.fft.rfft), timed the same way, as a second reference;
* ``execute`` latency per call (the live path): p50 and p99 in microseconds;
* the peak memory that ``transform`` allocates (tracemalloc, a separate run).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np
from feature_extraction import FeatureExtraction

BUFFER_SIZE = 50
WINDOW_SIZE = 5


def seed_features(window: np.ndarray, w: int) -> np.ndarray:
    """The design's definition, literally, on one window (normalize="last")."""
    x = window / window[-1]
    ma = np.convolve(x, np.ones(w) / w, mode="valid")
    slope = np.gradient(ma)
    mags = np.abs(np.fft.rfft(x))
    idx = int(np.argmax(mags[1:])) + 1
    return np.array([ma[-1], slope[-1], np.std(slope), idx, mags[idx], np.mean(mags)])


def time_loop(fn, closes: np.ndarray, n: int) -> float:
    """Seconds per window of ``fn`` over the first ``n`` windows."""
    start = time.perf_counter()
    for i in range(n):
        fn(closes[i : i + BUFFER_SIZE])
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices", type=int, default=1_000_000)
    parser.add_argument("--loop-windows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    closes = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, args.prices)))
    fx = FeatureExtraction(window_size=WINDOW_SIZE, normalize="last")
    n_windows = args.prices - BUFFER_SIZE + 1
    n_loop = min(args.loop_windows, n_windows)

    fx.transform(closes[:10_000], BUFFER_SIZE)  # warm up (plans, caches)
    # Interleaved rounds: each round times transform on all windows, then the execute
    # and seed loops on a slice of windows, so that load from other processes hits all
    # three alike; the ratios are per round, then the median.
    per_round = max(1, n_loop // args.repeats)
    t_batch, t_exec, t_seed, latencies = [], [], [], []
    for r in range(args.repeats):
        start = time.perf_counter()
        feats = fx.transform(closes, BUFFER_SIZE)
        t_batch.append(time.perf_counter() - start)
        offset = r * per_round
        chunk = closes[offset : offset + per_round + BUFFER_SIZE - 1]
        t_exec.append(time_loop(fx.execute, chunk, per_round))
        t_seed.append(time_loop(lambda w: seed_features(w, WINDOW_SIZE), chunk, per_round))
        for i in range(per_round):
            window = chunk[i : i + BUFFER_SIZE]
            start = time.perf_counter()
            fx.execute(window)
            latencies.append(time.perf_counter() - start)
    n_loop = per_round * args.repeats
    ratio_exec = statistics.median(e * n_windows / b for e, b in zip(t_exec, t_batch, strict=True))
    ratio_seed = statistics.median(e * n_windows / b for e, b in zip(t_seed, t_batch, strict=True))
    batch_s = statistics.median(t_batch)
    per_execute = statistics.median(t_exec)
    per_seed = statistics.median(t_seed)
    p50, p99 = np.percentile(np.array(latencies) * 1e6, [50, 99])

    live = np.array([fx.execute(closes[i : i + BUFFER_SIZE]) for i in range(n_loop)])
    seed = np.array(
        [seed_features(closes[i : i + BUFFER_SIZE], WINDOW_SIZE) for i in range(n_loop)]
    )
    diff_live = float(np.max(np.abs(feats[:n_loop] - live)))
    diff_seed = float(np.max(np.abs(feats[:n_loop] - seed)))

    tracemalloc.start()
    fx.transform(closes, BUFFER_SIZE)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"{args.prices:,} prices, buffer_size={BUFFER_SIZE}, stride 1, {n_windows:,} windows")
    print(f"{args.repeats} interleaved rounds; figures are medians over rounds")
    print(f"transform            : {batch_s:7.3f} s  {n_windows / batch_s:12,.0f} windows/s")
    print(
        f"execute loop         : {per_execute * n_windows:7.1f} s  {1 / per_execute:12,.0f} "
        f"windows/s  (timed on {per_round:,} windows per round, extrapolated per window)"
    )
    print(
        f"seed-definition loop : {per_seed * n_windows:7.1f} s  {1 / per_seed:12,.0f} "
        f"windows/s  (timed on {per_round:,} windows per round, extrapolated per window)"
    )
    print(f"speed-up transform / execute loop        : {ratio_exec:6.0f}x")
    print(f"speed-up transform / seed-definition loop: {ratio_seed:6.0f}x")
    print(f"execute latency (live path): p50 {p50:.1f} us, p99 {p99:.1f} us ({n_loop:,} calls)")
    print(
        f"transform peak memory: {peak / 2**20:.0f} MiB "
        f"(output alone {feats.nbytes / 2**20:.0f} MiB; input {closes.nbytes / 2**20:.0f} MiB)"
    )
    print(
        f"max |transform - execute| on {n_loop:,} windows: {diff_live:.1e}; "
        f"max |transform - seed definition|: {diff_seed:.1e}"
    )


if __name__ == "__main__":
    main()
