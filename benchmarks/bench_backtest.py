"""Walk-forward backtest: ``finance_demo.backtest`` against Darts' ``historical_forecasts``.

Darts is not a dependency of this project. To run this, make a separate environment
with Darts and the project's packages, from the repository root::

    python3.11 -m venv /tmp/darts-venv
    /tmp/darts-venv/bin/pip install -c constraints.txt torch==2.13.0 "darts[torch]" \\
        -e ./parametrize-tests -e ./signal-processing -e ./data-fetcher \\
        -e ./feature-extraction -e ./model -e ./finance-demo
    /tmp/darts-venv/bin/python benchmarks/bench_backtest.py [--years 5] [--folds 5]
        [--epochs 3] [--rounds 2] [--threads 2] [--no-default-batch] [--no-fast]

Both sides run the same expanding-window walk-forward backtest, in the same process:

- data: the shipped S&P 500 daily sample (``^GSPC``, ``source="sample"``), the last
  ``--years`` years (default 5); the labeled samples after the first half are cut into
  ``--folds`` equal blocks by ``finance_demo.fold_bounds`` (default 5);
- network: a 2-layer LSTM, hidden size 32, over 20 steps, one step ahead; trained from
  scratch (same seed) before each fold for ``--epochs`` fixed epochs (default 3), no
  early stopping (our ``patience`` is far above the epochs, so neither early stopping
  nor the learning-rate halving can fire; Darts has neither by default), batch size 256;
- inputs: ours, the 6 ``trend_fft`` features of the last 20 ticks; Darts
  (``BlockRNNModel``), the target's own last 20 values plus the same 6 features as
  past covariates (as ``bench_darts.py``: 7 input columns against our 6). Darts' series
  are standardized once with the mean and std of the ticks before the first fold (no
  look-ahead); ours scales itself per fold;
- folds: ours, ``backtest(candles, settings, folds=N)``; Darts,
  ``historical_forecasts(series, past_covariates=..., start=<first fold's first
  target>, forecast_horizon=1, stride=1, retrain=<callable>)`` where the callable is
  true exactly at each fold's first target: Darts fits a fresh model there on the whole
  series before it, then predicts the fold's targets one by one with that model (the
  same training cut and the same predicted targets as ours). ``retrain=True`` would
  retrain at every step: not like for like.

What each side does beyond that (not equalized; both go against ours): our backtest
also validates each epoch (15 % of the rows; Darts trains on all rows and validates
none), fits a variance head and interval calibration, and runs its baselines (ridge,
drift, constant and EWMA bands) for each fold. Darts' extra row (``darts, hand loop``,
``--no-fast`` to skip) is the fastest way Darts offers for the same folds: per fold one
``fit`` and one optimized ``historical_forecasts(retrain=False)`` over the block.

Timing: each side's whole run, alternated (ours, Darts, ...) for ``--rounds`` rounds
(default 2), medians printed with the ratio Darts / ours. Torch threads are the same for
both (``--threads``, default 2: ``torch.set_num_threads`` and our
``training.num_threads``). MAE over the same out-of-sample targets (log returns) is
printed as a check that both forecast; the two will not be equal.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings

import numpy as np
import torch
from data_fetcher import Fetcher
from finance_demo import backtest, build_dataset, fold_bounds, load_settings

SEQ_LEN, HIDDEN, LAYERS, BATCH = 20, 32, 2, 256


def our_settings(epochs: int, threads: int):
    """Our settings with the network and training of the comparison."""
    return load_settings(
        {
            "model": {
                "seq_len": SEQ_LEN,
                "hidden_dim": HIDDEN,
                "num_layers": LAYERS,
                "horizons": [1],
            },
            "training": {
                "epochs": epochs,
                "patience": 1000 * epochs,  # no early stop, no learning-rate halving
                "batch_size": BATCH,
                "seed": 0,
                "num_threads": threads,
            },
        }
    )


def darts_inputs(candles, settings, folds: int):
    """Darts' target and covariate series (indexed by candle position) and the folds.

    Returns ``(target, covariates, fold_starts, y, mu, sd)``: the standardized 1-step log
    returns, the standardized features, the index values of each fold's first predicted
    target, our out-of-sample targets in order, and the target's scaling.
    """
    from darts import TimeSeries

    full = build_dataset(candles, settings.pipeline)
    data = full.labeled()
    bounds = fold_bounds(len(data), folds=folds)
    # features per tick, from full.ticks[0] - (SEQ_LEN - 1) to the last candle
    feats = np.concatenate([full.X[0], full.X[1:, -1]])
    first = int(full.ticks[0]) - (SEQ_LEN - 1)
    log_close = np.log(candles["Close"].to_numpy(dtype=np.float64))
    returns = np.diff(log_close)[first - 1 :]  # return into tick t, t = first .. end
    # our sample at tick t has target log(c[t+1] / c[t]): Darts' value at index t + 1
    fold_starts = [int(data.ticks[a]) + 1 for a, _ in bounds]
    y = data.y[bounds[0][0] :, 0]
    seen = fold_starts[0] - first  # values at ticks up to the first cut
    mu, sd = returns[:seen].mean(), returns[:seen].std()
    f_mu, f_sd = feats[:seen].mean(axis=0), feats[:seen].std(axis=0)
    target = TimeSeries.from_times_and_values(
        _range(first, len(returns)), ((returns - mu) / sd).astype(np.float32)
    )
    covariates = TimeSeries.from_times_and_values(
        _range(first, len(feats)), ((feats - f_mu) / f_sd).astype(np.float32)
    )
    return target, covariates, fold_starts, y, mu, sd


def _range(start: int, n: int):
    import pandas as pd

    return pd.RangeIndex(start, start + n)


def darts_model(epochs: int, batch_size: int):
    """The same network in Darts: ``BlockRNNModel``, 2-layer LSTM, hidden 32, 20 -> 1."""
    from darts.models import BlockRNNModel

    return BlockRNNModel(
        model="LSTM",
        input_chunk_length=SEQ_LEN,
        output_chunk_length=1,
        hidden_dim=HIDDEN,
        n_rnn_layers=LAYERS,
        batch_size=batch_size,
        n_epochs=epochs,
        random_state=0,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "logger": False,
            "enable_checkpointing": False,
            "enable_model_summary": False,
        },
    )


def run_ours(candles, settings, folds: int) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    report = backtest(candles, settings, folds=folds, symbol="^GSPC", interval="1d")
    seconds = time.perf_counter() - start
    return seconds, np.asarray(report.predictions["lstm"])[:, 0]


def run_darts(inputs, epochs: int, batch_size: int) -> tuple[float, np.ndarray]:
    """``historical_forecasts`` retraining exactly at each fold's first target."""
    target, covariates, fold_starts, _, mu, sd = inputs
    starts = frozenset(fold_starts)

    def retrain(counter, pred_time, train_series, past_covariates, future_covariates):
        return bool(pred_time in starts)

    model = darts_model(epochs, batch_size)
    start = time.perf_counter()
    fc = model.historical_forecasts(
        target,
        past_covariates=covariates,
        start=fold_starts[0],
        start_format="value",
        forecast_horizon=1,
        stride=1,
        retrain=retrain,
        last_points_only=True,
        verbose=False,
        show_warnings=False,
    )
    seconds = time.perf_counter() - start
    return seconds, fc.values()[:, 0] * sd + mu


def run_darts_fast(inputs, epochs: int, batch_size: int) -> tuple[float, np.ndarray]:
    """Per fold: ``fit`` on the series before it, optimized ``historical_forecasts``."""
    target, covariates, fold_starts, _, mu, sd = inputs
    ends = [*fold_starts[1:], int(target.time_index[-1]) + 1]
    parts = []
    start = time.perf_counter()
    for a, b in zip(fold_starts, ends, strict=True):
        model = darts_model(epochs, batch_size)
        model.fit(target.drop_after(a), past_covariates=covariates, verbose=False)
        fc = model.historical_forecasts(
            target if b > target.time_index[-1] else target.drop_after(b),
            past_covariates=covariates,
            start=a,
            start_format="value",
            forecast_horizon=1,
            stride=1,
            retrain=False,
            last_points_only=True,
            verbose=False,
            show_warnings=False,
        )
        parts.append(fc.values()[:, 0])
    seconds = time.perf_counter() - start
    return seconds, np.concatenate(parts) * sd + mu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=5, help="last years of the sample")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--no-default-batch", action="store_true", help="skip Darts at its default batch 32"
    )
    parser.add_argument("--no-fast", action="store_true", help="skip Darts' hand loop")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import darts.models  # noqa: F401  (Lightning imported first, so the levels below stick)
    import pytorch_lightning  # noqa: F401

    for name in ("pytorch_lightning", "lightning_fabric", "lightning", "darts"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    candles = Fetcher(
        "^GSPC", period=f"{args.years}y", interval=None, source="sample"
    ).fetch_historical()
    settings = our_settings(args.epochs, args.threads)
    inputs = darts_inputs(candles, settings, args.folds)
    y = inputs[3]
    print(
        f"^GSPC daily sample, {len(candles)} candles {candles.index[0]:%Y-%m-%d} .. "
        f"{candles.index[-1]:%Y-%m-%d}; {args.folds} folds, {len(y)} out-of-sample "
        f"targets; {args.epochs} epochs per fold; torch {torch.__version__}, "
        f"{args.threads} threads"
    )
    runs = {
        f"ours (batch {BATCH})": lambda: run_ours(candles, settings, args.folds),
        f"darts hfc (batch {BATCH})": lambda: run_darts(inputs, args.epochs, BATCH),
    }
    if not args.no_default_batch:
        runs["darts hfc (batch 32)"] = lambda: run_darts(inputs, args.epochs, 32)
    if not args.no_fast:
        runs[f"darts, hand loop ({BATCH})"] = lambda: run_darts_fast(inputs, args.epochs, BATCH)
    # warm-up, untimed: first-call costs (lazy imports, torch and Lightning set-up)
    run_ours(candles, our_settings(1, args.threads), args.folds)
    run_darts(inputs, 1, BATCH)
    times: dict[str, list[float]] = {name: [] for name in runs}
    maes: dict[str, float] = {}
    for r in range(args.rounds):  # alternated, so load changes hit every side alike
        for name, fn in runs.items():
            seconds, pred = fn()
            if len(pred) != len(y):
                raise SystemExit(f"{name}: {len(pred)} forecasts for {len(y)} targets")
            times[name].append(seconds)
            maes[name] = float(np.mean(np.abs(y - pred)))
            print(f"  round {r + 1}: {name:<26} {seconds:8.2f} s", flush=True)
    base = statistics.median(times[f"ours (batch {BATCH})"])
    print(f"MAE of persistence (zero return): {np.mean(np.abs(y)):.6f}")
    best = min(times[f"ours (batch {BATCH})"])
    print(f"{'run':<26} {'median s':>9} {'/ ours':>8} {'min s':>8} {'/ ours':>8} {'MAE':>10}")
    for name, values in times.items():
        med, low = statistics.median(values), min(values)
        print(
            f"{name:<26} {med:>9.2f} {med / base:>7.2f}x {low:>8.2f} {low / best:>7.2f}x "
            f"{maes[name]:>10.6f}"
        )


if __name__ == "__main__":
    main()
