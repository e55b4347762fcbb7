"""The batched live tick of many symbols: finance_demo.MultiSystem against one System each.

One global model (default pipeline and network: buffer 50, seq_len 20, 2-layer LSTM,
hidden 32, symbol embedding on) is trained for one epoch on ``--symbols`` series cut from
the four shipped samples (distinct stretches of real candles; one epoch because only the
time is measured). Every symbol is warmed up on its own history; then each tick pushes
one new close per symbol (step_size 1: every symbol emits) and is timed:

1. ``MultiSystem.step``: the new closes written into the symbols' stacked buffers at once,
   all symbols' windows through ONE bulk feature ``transform`` and ONE forward pass of
   the network on the stacked sequences;
2. the reference: one ``System`` per symbol, ``process_candle`` each (features of one
   window and a forward pass of batch 1, per symbol).

Prints p50 / p99 ms per tick over ``--ticks`` ticks (torch on 1 thread, as the live loop
runs), the ratio reference / batched, and the largest difference of the predictions.

    .venv/bin/python benchmarks/bench_live_multi.py [--symbols 500] [--ticks 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from data_fetcher.sample import SAMPLE_SYMBOLS, load_sample
from finance_demo import System, bind_symbol, load_settings, train_global
from finance_demo.multi_live import MultiSystem


def universe(n: int, length: int) -> dict[str, object]:
    """``n`` series of ``length`` real candles: stretches of the shipped samples.

    The stretches of one sample start evenly spaced (they overlap when ``n`` needs more
    than the sample holds end to end); each sample gives about a quarter of them.
    """
    out = {}
    per = -(-n // len(SAMPLE_SYMBOLS))
    for base in SAMPLE_SYMBOLS:
        candles = load_sample(base)
        starts = np.linspace(0, len(candles) - length, per).astype(int)
        for k, a in enumerate(starts):
            if len(out) < n:
                out[f"{base}#{k}"] = candles.iloc[a : a + length]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--ticks", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    history, ticks = 300, args.ticks
    series = universe(args.symbols, history + ticks)
    settings = load_settings({"training": {"epochs": 1, "seed": 0}})
    t0 = time.perf_counter()
    warm = {s: c.iloc[:history] for s, c in series.items()}
    model = train_global(warm, settings, interval="1d")
    print(f"trained a global model on {len(series)} symbols in {time.perf_counter() - t0:.1f} s")
    bound = {s: bind_symbol(model, s) for s in series}
    multi = MultiSystem(bound)
    single = {s: System(m) for s, m in bound.items()}
    for s, c in warm.items():
        closes = c["Close"].to_numpy(dtype=np.float64)
        multi.systems[s].warm_up(closes)
        single[s].warm_up(closes)
    new = {s: c.iloc[history:] for s, c in series.items()}
    t_multi, t_single, worst = [], [], 0.0
    for t in range(ticks):
        step = {s: (c.index[t], float(c["Close"].iloc[t])) for s, c in new.items()}
        a = time.perf_counter()
        batched = multi.step(step)
        b = time.perf_counter()
        ones = {s: single[s].process_candle(*step[s]) for s in step}
        c = time.perf_counter()
        t_multi.append(b - a)
        t_single.append(c - b)
        assert set(batched) == {s for s, p in ones.items() if p is not None}
        for s, p in batched.items():
            worst = max(worst, float(np.abs(p.mean - ones[s].mean).max()))
    m50, m99 = (1e3 * np.percentile(t_multi, q) for q in (50, 99))
    s50, s99 = (1e3 * np.percentile(t_single, q) for q in (50, 99))
    print(f"{len(series)} symbols, {ticks} ticks, every symbol emitting on every tick")
    print(f"MultiSystem.step (one transform + one forward): p50 {m50:.2f} ms, p99 {m99:.2f} ms")
    print(f"one System per symbol:                          p50 {s50:.2f} ms, p99 {s99:.2f} ms")
    print(f"ratio (per-symbol / batched) at p50: {s50 / m50:.1f}x; largest prediction "
          f"difference {worst:.2e} (log return)")  # fmt: skip


if __name__ == "__main__":
    main()
