"""Benchmark of the model package: training throughput and live-path latency.

Run: .venv/bin/python benchmarks/bench_model.py [--quick]

1. Training samples/s of ``Model.train`` (validation, early stopping bookkeeping, clipping,
   scheduler included, wall time of the call) against a minimal plain-PyTorch loop
   (the same network, Adam, Gaussian NLL, randperm batches) on identical tensors and batch
   size, for a few batch sizes and 1 vs 2 torch threads.
2. ``Model.execute`` and ``Model.forecast_one`` latency for one sequence against a bare
   ``nn.LSTM`` + ``nn.Linear`` forward with the same weights under
   ``torch.inference_mode`` at batch 1 (scaling, checks and unscaling included in ours).
All ratios are measured in the same run (medians of repeats, interleaved).
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import torch
from model.network import LSTMNetwork
from model.training import gaussian_nll

from model import Model, TrainConfig

QUICK = "--quick" in sys.argv
N, SEQ_LEN, N_VAL = (2048 if QUICK else 4096), 20, 512
EPOCHS = 2 if QUICK else 3
REPEATS = 1 if QUICK else 3


def plain_loop(X: torch.Tensor, Y: torch.Tensor, batch_size: int, epochs: int) -> float:
    torch.manual_seed(0)
    net = LSTMNetwork(Model().config)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(X.shape[0])
        for i in range(0, X.shape[0], batch_size):
            idx = perm[i : i + batch_size]
            mean, logvar = net(X[idx])
            loss = gaussian_nll(mean, logvar, Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return epochs * X.shape[0] / (time.perf_counter() - start)


def model_train(X, y, Xv, yv, batch_size: int, epochs: int) -> float:
    m = Model()
    start = time.perf_counter()
    m.train(
        X, y, TrainConfig(epochs=epochs, batch_size=batch_size, patience=epochs), X_val=Xv, y_val=yv
    )
    return epochs * X.shape[0] / (time.perf_counter() - start)


def bench_training() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, SEQ_LEN, 6)).astype(np.float32)
    y = (0.01 * X[:, -1, 0] + 0.01 * rng.normal(size=N)).astype(np.float32)
    Xv = rng.normal(size=(N_VAL, SEQ_LEN, 6)).astype(np.float32)
    yv = 0.01 * rng.normal(size=N_VAL)
    # the plain loop gets the tensors Model.train builds (standardized)
    Xt = torch.from_numpy((X - X.reshape(-1, 6).mean(0)) / X.reshape(-1, 6).std(0))
    Yt = torch.from_numpy(((y - y.mean()) / y.std())[:, None])
    original = torch.get_num_threads()
    print(
        f"training: N={N} seq_len={SEQ_LEN} default network, {EPOCHS} epochs, median of {REPEATS}"
    )
    print(f"{'threads':>7} {'batch':>5} {'plain samples/s':>16} {'Model.train':>12} {'ratio':>6}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for bs in (32, 64, 128, 256, 512):
            plain, ours = [], []
            for _ in range(REPEATS):
                plain.append(plain_loop(Xt, Yt, bs, EPOCHS))
                ours.append(model_train(X, y, Xv, yv, bs, EPOCHS))
            p, o = statistics.median(plain), statistics.median(ours)
            print(f"{threads:>7} {bs:>5} {p:>16,.0f} {o:>12,.0f} {o / p:>6.2f}x", flush=True)
    torch.set_num_threads(original)


def bench_latency() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, SEQ_LEN, 6)).astype(np.float32)
    m = Model()
    m.train(X, rng.normal(size=600) * 0.01, TrainConfig(epochs=1, seed=0))
    # The reference: a plain nn.LSTM + nn.Linear holding the same weights, called the
    # ordinary way (LSTMNetwork itself calls the LSTM kernel directly in inference).
    bare_net = torch.nn.ModuleDict(
        {"lstm": torch.nn.LSTM(6, 32, 2, batch_first=True), "head": torch.nn.Linear(32, 2)}
    ).eval()
    bare_net.lstm.load_state_dict(m.network.lstm.state_dict())
    bare_net.head.load_state_dict(m.network.head.state_dict())
    seq = X[0].astype(np.float64)  # what a live pipeline hands over
    bare_input = torch.from_numpy(X[:1].copy())
    n = 300 if QUICK else 2000

    def bare() -> None:
        with torch.inference_mode():
            bare_net.head(bare_net.lstm(bare_input)[0][:, -1])

    calls = {"bare forward": bare, "execute": lambda: m.execute(seq)}
    calls["forecast_one"] = lambda: m.forecast_one(seq, 0.9)
    times = {k: [] for k in calls}
    for fn in calls.values():
        for _ in range(50):
            fn()
    for _ in range(n):
        for name, fn in calls.items():  # interleaved, so load changes hit all equally
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["bare forward"])
    print(f"\nlatency, batch 1, seq_len={SEQ_LEN}, threads={torch.get_num_threads()}, n={n}")
    print(f"{'call':>13} {'p50 us':>8} {'p99 us':>8} {'p50 ratio':>10}")
    for name, ts in times.items():
        p50, p99 = np.percentile(ts, 50) * 1e6, np.percentile(ts, 99) * 1e6
        print(f"{name:>13} {p50:>8.0f} {p99:>8.0f} {np.median(ts) / base:>9.2f}x")


if __name__ == "__main__":
    print(f"torch {torch.__version__}, default threads {torch.get_num_threads()}")
    bench_latency()
    bench_training()
