"""Live-path cost per tick: finance_demo.System against a recompute-everything reference.

Measures, with the default sizes (buffer 50, seq_len 20), the six trend_fft features and
the default network (2-layer LSTM, hidden 32), torch on 1 thread as the live loop runs it:

1. a tick that emits no window (step_size 10): the close is pushed, nothing else;
2. an emitting tick (step_size 1): System (features of the ONE new window, the previous
   19 vectors reused from a ring) against a reference that recomputes all 20 windows'
   features on each tick (same model call); p50 / p99 over interleaved rounds, and the
   ratio reference / System (> 1: System is faster); the predictions are checked equal,
   and Model.forecast_one alone is timed on the same sequences (the network's share);
3. memory over a replay of 1,000,000 ticks (step_size 100): RSS sampled every 100k ticks,
   and tracemalloc's traced memory before/after 200k ticks.

    .venv/bin/python benchmarks/bench_live.py [--ticks 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import copy
import os
import time
import tracemalloc
from collections import deque

import numpy as np
import pandas as pd
import torch
from feature_extraction import FeatureExtraction
from finance_demo import System, load_settings, train_model


def walk(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, n)))
    idx = pd.date_range("2000-01-03", periods=n, freq="B", tz="UTC")
    return pd.DataFrame(
        {"Open": close, "High": close, "Low": close, "Close": close, "Volume": 1.0}, index=idx
    )


def with_step(model, step: int):
    other = copy.copy(model)
    other.metadata = copy.deepcopy(model.metadata)
    other.metadata["pipeline"]["step_size"] = step
    return other


class Recompute:
    """Reference: keep the last span closes; on each tick recompute all seq_len windows."""

    def __init__(self, model):
        p = model.metadata["pipeline"]
        self.b, self.L = p["buffer_size"], p["seq_len"]
        self.closes: deque[float] = deque(maxlen=self.b + self.L - 1)
        self.fe = FeatureExtraction(**model.metadata["features"])
        self.model = model

    def process(self, close: float):
        self.closes.append(close)
        if len(self.closes) < self.closes.maxlen:
            return None
        arr = np.asarray(self.closes)
        seq = np.stack([self.fe.execute(arr[i : i + self.b]) for i in range(self.L)])
        return self.model.forecast_one(seq, level=0.9)


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1e3  # ms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=1_000_000, help="replay length for memory")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    ap.add_argument("--per-round", type=int, default=300, help="emitting ticks per round")
    args = ap.parse_args()
    torch.set_num_threads(1)

    candles = walk(3000)
    # the default network on the seed's six close-only features (the live tick with every
    # feature group, on OHLCV rows, is bench_features.py --part groups)
    settings = load_settings({"features": {"groups": ["trend_fft"]}, "training": {"epochs": 1}})
    model = train_model(candles, settings, symbol="WALK", interval="1d")
    closes = candles["Close"].to_numpy()
    print(f"default network {model.config.to_dict()}, pipeline {model.metadata['pipeline']}")

    # 1. non-emitting ticks (step_size 10)
    system = System(with_step(model, 10))
    quiet, loud = [], []
    for t, c in enumerate(closes):
        start = time.perf_counter()
        out = system.process_candle(t, c)
        (quiet if out is None else loud).append(time.perf_counter() - start)
    quiet = quiet[100:]
    print(
        f"non-emitting tick (step 10): p50 {pct(quiet, 50) * 1e3:.1f} us, "
        f"p99 {pct(quiet, 99) * 1e3:.1f} us over {len(quiet)} ticks"
    )

    # 2. emitting ticks: System (reuse) vs Recompute, interleaved rounds
    live, ref = System(model), Recompute(model)
    warm = model.metadata["pipeline"]["buffer_size"] + 40
    for t in range(warm):
        live.process_candle(t, closes[t])
        ref.process(closes[t])
    times = {"reuse": [], "recompute": [], "model": []}
    t = warm
    worst = 0.0
    for rnd in range(args.rounds):
        for i in range(args.per_round):
            c = closes[(t + i) % len(closes)]
            # both see the same tick; which one runs first alternates between rounds
            if rnd % 2 == 0:
                s0 = time.perf_counter()
                a = live.process_candle(t + i, c)
                s1 = time.perf_counter()
                b = ref.process(c)
                s2 = time.perf_counter()
                times["reuse"].append(s1 - s0)
                times["recompute"].append(s2 - s1)
            else:
                s0 = time.perf_counter()
                b = ref.process(c)
                s1 = time.perf_counter()
                a = live.process_candle(t + i, c)
                s2 = time.perf_counter()
                times["recompute"].append(s1 - s0)
                times["reuse"].append(s2 - s1)
            worst = max(worst, float(np.max(np.abs(a.mean - b.mean))))
            seq = live.ring.get_window(copy=False)
            s0 = time.perf_counter()
            model.forecast_one(seq, level=0.9)
            times["model"].append(time.perf_counter() - s0)
        t += args.per_round
    r50, r99 = pct(times["reuse"], 50), pct(times["reuse"], 99)
    c50, c99 = pct(times["recompute"], 50), pct(times["recompute"], 99)
    n = len(times["reuse"])
    print(f"emitting tick, feature reuse : p50 {r50:.3f} ms, p99 {r99:.3f} ms ({n} ticks)")
    print(f"emitting tick, recompute all : p50 {c50:.3f} ms, p99 {c99:.3f} ms")
    print(
        f"ratio recompute / reuse: p50 {c50 / r50:.2f}x, p99 {c99 / r99:.2f}x; "
        f"max |prediction difference| {worst:.1e}"
    )
    m50, m99 = pct(times["model"], 50), pct(times["model"], 99)
    print(
        f"of which Model.forecast_one alone (same sequences): p50 {m50:.3f} ms, "
        f"p99 {m99:.3f} ms ({m50 / r50:.0%} of the reuse p50)"
    )
    print(
        f"targets p50 <= 0.5 ms: {'met' if r50 <= 0.5 else 'MISSED'}; "
        f"p99 <= 1 ms: {'met' if r99 <= 1.0 else 'MISSED'}"
    )

    # 3. memory over a long replay (step 100: 1 % of ticks emit)
    rng = np.random.default_rng(1)
    stream = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, args.ticks)))
    system = System(with_step(model, 100))
    samples = []
    start = time.perf_counter()
    for i, c in enumerate(stream):
        system.process_candle(i, c)
        if i % 100_000 == 0:
            samples.append(rss_mib())
    elapsed = time.perf_counter() - start
    samples.append(rss_mib())
    first = samples[1] if len(samples) > 2 else samples[0]
    print(
        f"replay of {args.ticks} ticks in {elapsed:.1f} s "
        f"({elapsed / args.ticks * 1e6:.1f} us/tick avg): RSS {first:.1f} MiB after 100k "
        f"ticks -> {samples[-1]:.1f} MiB at the end (growth {samples[-1] - first:+.2f} MiB)"
    )
    tracemalloc.start()
    for i in range(50_000):  # warm the allocator's caches
        system.process_candle(i, stream[i])
    before = tracemalloc.get_traced_memory()[0]
    for i in range(200_000):
        system.process_candle(i, stream[i % len(stream)])
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"tracemalloc over 200k more ticks: {before / 1024:.1f} KiB -> {after / 1024:.1f} KiB "
        f"(growth {(after - before) / 1024:+.1f} KiB, peak {peak / 1024:.1f} KiB)"
    )


if __name__ == "__main__":
    main()
