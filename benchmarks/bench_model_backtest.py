"""Benchmark of the model kinds where they are used: the walk-forward backtest, measured in one run.

Run: .venv/bin/python benchmarks/bench_model_backtest.py [--quick]

1. Wall time of the 10-fold walk-forward backtest of the shipped S&P 500 sample
   (``data_fetcher.load_sample("^GSPC")``, default ``Settings()``: buffer 50, seq_len 20,
   LSTM hidden 32 x 2 layers, up to 20 epochs with early stopping, 1 thread) with the
   kind ``gbdt`` (default ``TreeConfig``, early stopping on validation) against the same
   backtest with ``lstm``: ``finance_demo.compare_models(candles, Settings(), (kind,),
   folds=10)``. Both include the same baselines (ridge, EWMA, GARCH, ...) and datasets;
   the training part alone (the folds' per-kind seconds) is printed too. Issue target:
   gbdt at most 1/5 of the LSTM's time.
2. Training throughput (samples/s of ``fit``, validation passes included) of seq2seq
   against the LSTM on the sample's own sequences (the first fold's training rows),
   default sizes, a fixed number of epochs (patience = epochs). Target: within 2x.

Imports and the GARCH library are warmed up before any timing; runs are interleaved and
repeated, medians reported. Public tools only (``time.perf_counter``).
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time

import numpy as np
import torch
from data_fetcher import load_sample
from finance_demo import Settings, build_dataset, compare_models, split_dataset

from model import Model, Seq2SeqForecaster

QUICK = "--quick" in sys.argv
FOLDS = 3 if QUICK else 10
REPEATS = 1 if QUICK else 2
EPOCHS = 2 if QUICK else 5


def backtest_seconds(candles, kind: str) -> tuple[float, float]:
    start = time.perf_counter()
    report = compare_models(candles, Settings(), (kind,), folds=FOLDS)
    wall = time.perf_counter() - start
    return wall, sum(f["models"][kind]["seconds"] for f in report.folds)


def bench_backtest(candles) -> None:
    compare_models(candles.iloc[-600:], Settings(), ("gbdt",), folds=1)  # warm-up imports
    walls: dict[str, list[float]] = {"gbdt": [], "lstm": []}
    trains: dict[str, list[float]] = {"gbdt": [], "lstm": []}
    for _ in range(REPEATS):
        for kind in walls:
            wall, train = backtest_seconds(candles, kind)
            walls[kind].append(wall)
            trains[kind].append(train)
    w = {k: statistics.median(v) for k, v in walls.items()}
    t = {k: statistics.median(v) for k, v in trains.items()}
    print(f"1. {FOLDS}-fold walk-forward backtest of ^GSPC ({len(candles)} candles), 1 thread")
    for kind in ("lstm", "gbdt"):
        print(f"   {kind:5} {w[kind]:7.2f} s wall ({t[kind]:6.2f} s training + forecasting)")
    print(
        f"   gbdt/lstm wall {w['gbdt'] / w['lstm']:.3f} (target <= 0.200); "
        f"training alone {t['gbdt'] / t['lstm']:.3f}; shared work per run "
        f"{w['lstm'] - t['lstm']:.2f} s (lstm run) / {w['gbdt'] - t['gbdt']:.2f} s (gbdt run)"
    )


def bench_seq2seq(candles) -> None:
    settings = Settings()
    p, tr = settings.pipeline, settings.training
    data = build_dataset(candles, p).labeled()
    seen = data.subset(slice(0, len(data) // 2))
    fit, val, _ = split_dataset(seen, tr.val_fraction, 0.0, p.step_size)
    train = dataclasses.replace(tr, epochs=EPOCHS, patience=EPOCHS, num_threads=1)
    rates: dict[str, list[float]] = {"lstm": [], "seq2seq": []}
    for _ in range(REPEATS + 1):
        for kind, make in (("lstm", Model), ("seq2seq", Seq2SeqForecaster)):
            m = make(settings.model)
            start = time.perf_counter()
            m.fit(fit.X, fit.y, train, X_val=val.X, y_val=val.y)
            rates[kind].append(EPOCHS * len(fit) / (time.perf_counter() - start))
    lstm, s2s = (statistics.median(rates[k]) for k in ("lstm", "seq2seq"))
    print(f"2. training throughput on {len(fit)} ^GSPC sequences ({EPOCHS} epochs, 1 thread)")
    print(
        f"   lstm {lstm:8.0f} samples/s, seq2seq {s2s:8.0f} samples/s: seq2seq is "
        f"{lstm / s2s:.2f}x slower (target: within 2x)"
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    candles = load_sample("^GSPC")
    print(f"torch {torch.__version__}, numpy {np.__version__}, {REPEATS} repeats (medians)")
    bench_backtest(candles)
    bench_seq2seq(candles)
