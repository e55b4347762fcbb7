"""Benchmark of the forecaster kinds against the LSTM, measured in the same run.

Run: .venv/bin/python benchmarks/bench_models.py [--quick]

1. Training time of the gradient-boosted trees (``TreeForecaster``, kind ``gbdt``, default
   ``TreeConfig``) and of the random forest (``rf``) against the LSTM (``Model``, default
   ``ModelConfig``/``TrainConfig``: hidden 32, 2 layers, batch 256) on the same ``X``:
   3000 samples of 20 x 6 (the last 15 % for validation), horizon 1, 1 thread each. The
   LSTM runs a fixed number of epochs (patience = epochs); the trees stop early on
   validation as they would in use (their rounds are printed).
2. Training throughput (samples/s, wall time of ``fit`` including validation passes) of
   the seq2seq forecaster (default sizes, additive attention) against the LSTM on the same
   tensors, horizons (1,) and (1, 5, 10).
Runs are interleaved and repeated; medians are reported. Public tools only
(``time.perf_counter``).
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import torch

from model import (
    Model,
    ModelConfig,
    Seq2SeqForecaster,
    TrainConfig,
    TreeForecaster,
)

QUICK = "--quick" in sys.argv
N, SEQ_LEN, DIM = 3000, 20, 6
EPOCHS = 2 if QUICK else 5
REPEATS = 1 if QUICK else 3


def data(horizons: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, SEQ_LEN, DIM)).astype(np.float32)
    scale = 0.005 * (1.0 + np.abs(X[:, -1, 1]))
    base = 0.01 * X[:, -1, 0] + scale * rng.normal(size=N)
    y = np.column_stack([base * (h + 1) for h in range(horizons)])
    return X, y


def timed(make, X, y, config: TrainConfig) -> tuple[float, object]:
    m = make()
    start = time.perf_counter()
    m.fit(X, y, config)
    return time.perf_counter() - start, m


def bench_trees() -> None:
    X, y = data(1)
    train = TrainConfig(epochs=EPOCHS, patience=EPOCHS, num_threads=1)
    kinds = {
        "lstm": lambda: Model(),
        "gbdt": lambda: TreeForecaster(kind="gbdt"),
        "rf": lambda: TreeForecaster(kind="rf"),
    }
    times: dict[str, list[float]] = {k: [] for k in kinds}
    rounds: dict[str, str] = {}
    for _ in range(REPEATS):
        for kind, make in kinds.items():
            seconds, m = timed(make, X, y, train)
            times[kind].append(seconds)
            if kind != "lstm":
                rounds[kind] = "/".join(str(r["rounds"]) for r in m.history)
    lstm = statistics.median(times["lstm"])
    print(f"1. training time on {N} x {SEQ_LEN} x {DIM}, horizon 1, 1 thread")
    print(f"   lstm  {lstm:7.2f} s  ({EPOCHS} epochs)   1.00x")
    for kind in ("gbdt", "rf"):
        t = statistics.median(times[kind])
        print(
            f"   {kind:5} {t:7.2f} s  (rounds mean/scale {rounds[kind]})   "
            f"{t / lstm:.2f}x the LSTM's time ({lstm / t:.1f}x faster)"
        )


def bench_seq2seq() -> None:
    print("2. training throughput (samples/s of fit, validation included), 1 thread")
    for horizons in ((1,), (1, 5, 10)):
        X, y = data(len(horizons))
        config = ModelConfig(horizons=horizons)
        train = TrainConfig(epochs=EPOCHS, patience=EPOCHS, num_threads=1)
        n_train = N - round(N * train.val_fraction)
        rates: dict[str, list[float]] = {"lstm": [], "seq2seq": []}
        for _ in range(REPEATS):
            for kind, make in (
                ("lstm", lambda c=config: Model(c)),
                ("seq2seq", lambda c=config: Seq2SeqForecaster(c)),
            ):
                seconds, _ = timed(make, X, y, train)
                rates[kind].append(EPOCHS * n_train / seconds)
        lstm = statistics.median(rates["lstm"])
        s2s = statistics.median(rates["seq2seq"])
        print(
            f"   horizons {horizons}: lstm {lstm:8.0f}/s, seq2seq {s2s:8.0f}/s, "
            f"seq2seq/lstm {s2s / lstm:.2f}x"
        )


if __name__ == "__main__":
    print(f"torch {torch.__version__}, {EPOCHS} epochs, {REPEATS} repeats (medians)")
    bench_trees()
    bench_seq2seq()
