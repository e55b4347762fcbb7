"""Buffer.push + get_window against a deque(maxlen=B) + np.array(deque) baseline.

Both sides see the same ticks and produce a window on the same schedule (first when full,
then every step_size ticks); each setting is timed in alternating repeats and the median
is reported, with the ratio baseline / Buffer (> 1 means Buffer is faster).

    .venv/bin/python benchmarks/bench_buffer.py [--ticks 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections import deque

import numpy as np
from signal_processing import Buffer

SETTINGS = [(50, 1), (50, 5), (200, 1), (200, 20)]


def run_buffer(ticks: list[float], size: int, step: int) -> tuple[float, float]:
    buf = Buffer(size, step)
    push, get = buf.push, buf.get_window
    check = 0.0
    start = time.perf_counter()
    for x in ticks:
        if push(x):
            check += get()[0, 0]
    return time.perf_counter() - start, check


def run_deque(ticks: list[float], size: int, step: int) -> tuple[float, float]:
    window: deque[float] = deque(maxlen=size)
    append = window.append
    check = 0.0
    n = 0
    start = time.perf_counter()
    for x in ticks:
        append(x)
        n += 1
        if n >= size and (n - size) % step == 0:
            check += np.array(window)[0]
    return time.perf_counter() - start, check


def run_push_only(ticks: list[float], size: int) -> float:
    buf = Buffer(size, 1)
    push = buf.push
    start = time.perf_counter()
    for x in ticks:
        push(x)
    return time.perf_counter() - start


def run_deque_append_only(ticks: list[float], size: int) -> float:
    window: deque[float] = deque(maxlen=size)
    append = window.append
    start = time.perf_counter()
    for x in ticks:
        append(x)
    return time.perf_counter() - start


def flat_memory(ticks: list[float], size: int) -> int:
    buf = Buffer(size, 1)
    for x in ticks[:1000]:
        buf.push(x)
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    for x in ticks:
        if buf.push(x):
            buf.get_window()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return after - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    opts = parser.parse_args()
    rng = np.random.default_rng(0)
    ticks = (100.0 + rng.normal(size=opts.ticks).cumsum()).tolist()
    n = len(ticks)
    print(f"{n} ticks, median of {opts.repeats} alternating repeats, times in ns per tick")
    print(f"{'B':>5} {'S':>4} {'windows':>8} {'Buffer':>9} {'deque':>9} {'deque/Buffer':>13}")
    for size, step in SETTINGS:
        ours, theirs = [], []
        for _ in range(opts.repeats):
            t_ours, c_ours = run_buffer(ticks, size, step)
            t_theirs, c_theirs = run_deque(ticks, size, step)
            if c_ours != c_theirs:
                raise SystemExit(f"B={size} S={step}: the two sides emitted different windows")
            ours.append(t_ours)
            theirs.append(t_theirs)
        a, b = statistics.median(ours), statistics.median(theirs)
        windows = 0 if n < size else (n - size) // step + 1
        print(
            f"{size:>5} {step:>4} {windows:>8} {a / n * 1e9:>9.0f} {b / n * 1e9:>9.0f} "
            f"{b / a:>12.2f}x"
        )
    push = statistics.median(run_push_only(ticks, 50) for _ in range(opts.repeats))
    append = statistics.median(run_deque_append_only(ticks, 50) for _ in range(opts.repeats))
    print(
        f"push only (B=50): Buffer.push {push / n * 1e9:.0f} ns/tick, "
        f"deque.append {append / n * 1e9:.0f} ns/tick, ratio push/append {push / append:.1f}"
    )
    grown = flat_memory(ticks, 50)
    print(f"memory growth over {n} push+get_window ticks (tracemalloc): {grown} bytes")


if __name__ == "__main__":
    main()
