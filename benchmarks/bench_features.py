"""Benchmark feature_extraction: the batch path against the per-window live path.

Run: .venv/bin/python benchmarks/bench_features.py [--prices N] [--loop-windows N]
     [--part all|six|groups]

Part "six" (the default six trend/FFT features, the reference):

Measured in the same run, on one seeded geometric random walk of 1,000,000 prices,
buffer_size=50, stride 1, window_size=5, normalize="last":

* ``transform`` over every window, in windows/s;
* the per-window ``execute`` loop, timed on ``--loop-windows`` windows in all and
  extrapolated per window to the whole series (the output says so);
* the seed's literal per-window definition (np.convolve, np.gradient, np.std,
  np.fft.rfft), timed the same way, as a second reference;
* ``execute`` latency per call (the live path): p50 and p99 in microseconds;
* the peak memory that ``transform`` allocates (tracemalloc, a separate run).

Part "groups" (``FeatureConfig.groups``), on a seeded OHLCV random walk of ``--prices``
candles, buffer_size=50, stride 1, in the same run as a six-feature reference:

* ``transform`` of each group alone and of all seven groups (22 features), windows/s
  (median of ``--repeats`` interleaved rounds); target >= 1,000,000 windows/s for all;
* ``transform`` = ``execute`` bit for bit on the first ``--loop-windows`` windows;
* the emitting live tick (``finance_demo.System.process_row``, step_size 1, default
  network: 2-layer LSTM, hidden 32, seq_len 20, torch on 1 thread) with all groups,
  interleaved with the six-feature model's ``process_candle``: p50 and p99; target
  p50 <= 1 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc

import numpy as np
from feature_extraction import GROUP_CHOICES, FeatureExtraction

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


def ohlcv_walk(n: int, seed: int = 0) -> np.ndarray:
    """A consistent OHLCV random walk ``(n, 5)`` (Low <= Open, Close <= High)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.003, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.004, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.004, n)))
    volume = np.round(np.exp(rng.normal(13.0, 0.6, n)))
    return np.stack([open_, high, low, close, volume], axis=1)


def bench_groups(args: argparse.Namespace) -> None:
    """Part "groups": bulk transform per group and all groups; the live emitting tick."""
    import pandas as pd
    import torch
    from finance_demo import System, load_settings, train_model

    rows = ohlcv_walk(args.prices)
    closes = np.ascontiguousarray(rows[:, 3])
    n_windows = args.prices - BUFFER_SIZE + 1
    cases = {"six (reference)": ("trend_fft",)}
    cases.update({g: (g,) for g in GROUP_CHOICES if g != "trend_fft"})
    cases["all groups"] = tuple(GROUP_CHOICES)
    extractors = {k: FeatureExtraction(window_size=WINDOW_SIZE, groups=g) for k, g in cases.items()}
    times: dict[str, list[float]] = {k: [] for k in cases}
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    for fx in extractors.values():  # warm up (plans, caches)
        fx.transform(rows[:10_000] if fx.needs_ohlcv else closes[:10_000], BUFFER_SIZE)
    for _ in range(args.repeats):
        for key, fx in extractors.items():
            data = rows if fx.needs_ohlcv else closes
            c0, start = time.process_time(), time.perf_counter()
            fx.transform(data, BUFFER_SIZE)
            times[key].append(time.perf_counter() - start)
            cpu[key].append(time.process_time() - c0)
    load = os.getloadavg()[0]
    print(
        f"\ngroups: {args.prices:,} OHLCV candles, buffer_size={BUFFER_SIZE}, stride 1, "
        f"{n_windows:,} windows; medians of {args.repeats} interleaved rounds; "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the end of the rounds"
    )
    for key, fx in extractors.items():
        t, c = statistics.median(times[key]), statistics.median(cpu[key])
        print(
            f"transform {key:<16}: {t:7.3f} s  {n_windows / t:12,.0f} windows/s  "
            f"(CPU {c:6.3f} s, all threads; {fx.n_features} features)"
        )
    t_all = statistics.median(times["all groups"])
    t_six = statistics.median(times["six (reference)"])
    print(
        f"all groups / six features time: {t_all / t_six:.2f}x; target >= 1,000,000 "
        f"windows/s for all groups: {'met' if n_windows / t_all >= 1e6 else 'MISSED'}"
    )
    fx = extractors["all groups"]
    n_check = min(args.loop_windows, n_windows)
    bulk = fx.transform(rows[: n_check + BUFFER_SIZE - 1], BUFFER_SIZE)
    live = np.stack([fx.execute(rows[i : i + BUFFER_SIZE]) for i in range(n_check)])
    print(f"transform == execute bit for bit on {n_check:,} windows: {np.array_equal(bulk, live)}")

    # the live emitting tick: all groups (process_row) against six features (process_candle)
    torch.set_num_threads(1)
    n = 3000
    index = pd.date_range("2000-01-03", periods=n, freq="B", tz="UTC")
    candles = pd.DataFrame(rows[:n], columns=["Open", "High", "Low", "Close", "Volume"])
    candles.index = index
    systems = {}
    for key, groups in (("six", ("trend_fft",)), ("all", tuple(GROUP_CHOICES))):
        settings = load_settings(
            {"features": {"groups": list(groups)}, "training": {"epochs": 1}}
        )  # default pipeline (buffer 50, seq_len 20) and network
        model = train_model(candles, settings, symbol="WALK", interval="1d")
        systems[key] = System(model)
    warm = 200
    for system in systems.values():
        system.warm_up(candles.iloc[:warm])
    tick: dict[str, list[float]] = {"six": [], "all": []}
    tick_cpu: dict[str, list[float]] = {"six": [], "all": []}
    feats = []
    stream = rows[warm:n]
    for i, row in enumerate(stream):
        order = ("six", "all") if i % 2 == 0 else ("all", "six")
        for key in order:
            system = systems[key]
            c0, start = time.thread_time(), time.perf_counter()
            if key == "six":
                out = system.process_candle(index[warm + i], float(row[3]))
            else:
                out = system.process_row(index[warm + i], row)
            tick[key].append(time.perf_counter() - start)
            tick_cpu[key].append(time.thread_time() - c0)
            assert out is not None
        window = rows[warm + i - BUFFER_SIZE + 1 : warm + i + 1]
        start = time.perf_counter()
        systems["all"].modules["features"].execute(window)
        feats.append(time.perf_counter() - start)
    (s50, s99), (a50, a99) = (np.percentile(tick[k], [50, 99]) * 1e3 for k in ("six", "all"))
    sc50, ac50 = (float(np.percentile(tick_cpu[k], 50)) * 1e3 for k in ("six", "all"))
    f50, f99 = np.percentile(feats, [50, 99]) * 1e3
    print(
        f"live emitting tick, six features (process_candle): p50 {s50:.3f} ms, "
        f"p99 {s99:.3f} ms, CPU p50 {sc50:.3f} ms ({len(stream):,} ticks)"
    )
    width = systems["all"].model.config.input_dim
    print(
        f"live emitting tick, all groups, {width} features (process_row): p50 {a50:.3f} ms, "
        f"p99 {a99:.3f} ms, CPU p50 {ac50:.3f} ms; of which features.execute (wall): "
        f"p50 {f50:.3f} ms, p99 {f99:.3f} ms"
    )
    print(
        f"target p50 <= 1 ms with all groups: wall {'met' if a50 <= 1.0 else 'MISSED'}, "
        f"CPU {'met' if ac50 <= 1.0 else 'MISSED'} (load average {os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices", type=int, default=1_000_000)
    parser.add_argument("--loop-windows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--part", choices=["all", "six", "groups"], default="all")
    args = parser.parse_args()
    if args.part in ("all", "six"):
        bench_six(args)
    if args.part in ("all", "groups"):
        bench_groups(args)


def bench_six(args: argparse.Namespace) -> None:
    """Part "six": the six default features, batch against the per-window loops."""
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
