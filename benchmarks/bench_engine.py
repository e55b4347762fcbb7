"""Benchmark of the executor seam: the 4-sample, 10-fold backtest serially, on processes, on Ray.

Run: .venv/bin/python benchmarks/bench_engine.py [--quick] [--rounds N] [--workers N]
     [--epochs N] [--period P] [--ray]

The backtest as a user runs it, the whole command each time (its interpreter start,
imports, the pool's or cluster's start and shutdown are all in its time)::

    stock-analyzer backtest --source sample --symbols ^GSPC,MSFT,IBM,EURUSD=X \\
        --folds 10 -q --report FILE --engine serial|process|ray

with the default settings and the whole samples (daily: ^GSPC 5,031 candles, MSFT 7,983,
IBM 3,270, EURUSD=X's hourly sample as days); ``--period 5y`` cuts them, ``--epochs N``
overrides the epochs, ``--quick`` is 2 years, 1 epoch, 3 folds. The 40 folds of the four
symbols go to the engine as one queue, the longest training first. The commands
alternate (serial, process[, ray], serial, ...) for ``--rounds`` rounds (default 1); the
medians, the ratio serial / process (the target is >= 1.7x on 2 cores) and serial / ray
are printed, and every report is checked to hold the same metrics and fold records as
the serial one (timings aside), bit for bit.

Public tools only: the ``stock-analyzer`` executable beside this interpreter.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYMBOLS = "^GSPC,MSFT,IBM,EURUSD=X"


def command(engine: str, report: Path, args: argparse.Namespace) -> list[str]:
    exe = Path(sys.executable).with_name("stock-analyzer")
    argv = [str(exe), "backtest", "--source", "sample", "--symbols", SYMBOLS, "-q"]
    period = "2y" if args.quick else args.period
    if period:
        argv += ["--period", period]
    argv += ["--folds", "3" if args.quick else "10", "--report", str(report)]
    argv += ["--engine", engine]
    if args.workers and engine != "serial":
        argv += ["--workers", str(args.workers)]
    epochs = 1 if args.quick else args.epochs
    if epochs:
        argv += ["--epochs", str(epochs)]
    return argv


def comparable(path: Path) -> dict:
    """A report file without its timings: metrics and fold records per symbol."""
    body = json.loads(path.read_text())
    out = {}
    for symbol, report in body["reports"].items():
        folds = [{k: v for k, v in f.items() if k != "seconds"} for f in report["folds"]]
        out[symbol] = {"metrics": report["metrics"], "folds": folds}
    return {"reports": out, "errors": body["errors"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--epochs", type=int, help="default: the settings' default")
    parser.add_argument("--period", help="default: the whole samples")
    parser.add_argument("--ray", action="store_true")
    args = parser.parse_args()
    engines = ["serial", "process"] + (["ray"] if args.ray else [])
    times: dict[str, list[float]] = {e: [] for e in engines}
    with tempfile.TemporaryDirectory() as tmp:
        reference = None
        print(" ".join(command("ENGINE", Path("FILE"), args)[1:]))
        for r in range(args.rounds):
            for engine in engines:
                report = Path(tmp) / f"{engine}-{r}.json"
                start = time.perf_counter()
                done = subprocess.run(command(engine, report, args), capture_output=True, text=True)
                seconds = time.perf_counter() - start
                if done.returncode != 0:
                    sys.exit(f"{engine} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
                times[engine].append(seconds)
                body = comparable(report)
                if reference is None:
                    reference = body
                same = body == reference
                print(f"round {r + 1} {engine:8s} {seconds:7.2f} s  same report: {same}")
                if not same:
                    sys.exit(f"the {engine} engine's report differs from the serial one")
    med = {e: statistics.median(t) for e, t in times.items()}
    for engine in engines:
        print(f"{engine:8s} median {med[engine]:7.2f} s over {len(times[engine])} run(s)")
    print(f"ratio serial / process: {med['serial'] / med['process']:.2f}x (target >= 1.7x)")
    if args.ray:
        print(f"ratio serial / ray:     {med['serial'] / med['ray']:.2f}x")


if __name__ == "__main__":
    main()
