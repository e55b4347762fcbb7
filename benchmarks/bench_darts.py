"""Training throughput of ``model.Model`` against Darts' ``BlockRNNModel``, same run.

Darts is not a dependency of this project. To run this, make a separate environment
with both installed, for example::

    python3.11 -m venv /tmp/darts-venv
    /tmp/darts-venv/bin/pip install -c constraints.txt torch==2.13.0 "darts[torch]" -e ./model
    /tmp/darts-venv/bin/python benchmarks/bench_darts.py

Both train the same network on the same data: a 2-layer LSTM, hidden size 32, over
sequences of 20 steps of 6 features plus the target (Darts feeds the target's own past
as an input too, so its input has 7 columns, ours 6), one output. Throughput is training
samples processed per second of wall time, epochs included, set-up excluded where the
library allows. Darts is timed at its default batch size (32) and at ours (256); ours at
its default (256). Torch threads: the same for both (``--threads``, default 2).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings

import numpy as np
import torch

N, SEQ_LEN, FEATURES, EPOCHS = 4000, 20, 6, 3


def ours(X: np.ndarray, y: np.ndarray) -> float:
    from model import Model, TrainConfig

    m = Model()
    start = time.perf_counter()
    m.train(X, y, TrainConfig(epochs=EPOCHS, patience=EPOCHS, seed=0))  # default batch size
    seconds = time.perf_counter() - start
    return EPOCHS * int(len(X) * 0.85) / seconds  # 15 % is the validation part


def darts(series_y: np.ndarray, covariates: np.ndarray, batch_size: int) -> float:
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    target = TimeSeries.from_values(series_y.astype(np.float32))
    past = TimeSeries.from_values(covariates.astype(np.float32))
    model = BlockRNNModel(
        model="LSTM",
        input_chunk_length=SEQ_LEN,
        output_chunk_length=1,
        hidden_dim=32,
        n_rnn_layers=2,
        batch_size=batch_size,
        n_epochs=EPOCHS,
        random_state=0,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "logger": False,
            "enable_checkpointing": False,
            "enable_model_summary": False,
        },
    )
    samples = len(series_y) - SEQ_LEN  # one sample per window with a next value
    start = time.perf_counter()
    model.fit(target, past_covariates=past, verbose=False)
    return EPOCHS * samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    rng = np.random.default_rng(0)
    covariates = rng.normal(size=(N + SEQ_LEN, FEATURES))
    series_y = 0.01 * covariates[:, 0] + 0.01 * rng.normal(size=N + SEQ_LEN)
    windows = np.lib.stride_tricks.sliding_window_view(covariates, (SEQ_LEN, FEATURES))
    X = windows[:N, 0].astype(np.float32)
    y = series_y[SEQ_LEN : SEQ_LEN + N]

    results: dict[str, list[float]] = {"ours (batch 256)": [], "darts 32": [], "darts 256": []}
    for _ in range(args.repeats):  # interleaved, so load changes hit all alike
        results["ours (batch 256)"].append(ours(X, y))
        results["darts 32"].append(darts(series_y, covariates, 32))
        results["darts 256"].append(darts(series_y, covariates, 256))
    base = statistics.median(results["ours (batch 256)"])
    print(f"torch {torch.__version__}, {args.threads} threads, {N} samples x {EPOCHS} epochs")
    print(f"{'trainer':>18} {'samples/s':>10} {'ours / this':>12}")
    for name, values in results.items():
        med = statistics.median(values)
        print(f"{name:>18} {med:>10,.0f} {base / med:>11.2f}x")


if __name__ == "__main__":
    main()
