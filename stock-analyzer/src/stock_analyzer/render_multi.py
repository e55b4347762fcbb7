"""Text rendering of several symbols' results (``train --symbols``, ``backtest --global``).

Kept beside ``stock_analyzer.render`` (whose helpers it uses); no torch, no pandas.
"""

from __future__ import annotations

from typing import Any

from stock_analyzer.render import grid, num, pct

__all__ = ["global_backtest_table", "trained_table"]


def _failures(errors: list[dict[str, str]]) -> list[str]:
    return [f"{e['symbol']}: {e['error']}" for e in errors]


def trained_table(
    evaluations: dict[str, dict[str, Any]], ids: dict[str, str], errors: list[dict[str, str]]
) -> str:
    """One row per trained symbol: first horizon's held-out MAE, persistence, coverage.

    Args:
        evaluations: ``symbol -> {"h<H>": {...}}`` as ``finance_demo.evaluate`` returns.
        ids: ``symbol -> registry id`` (a global model: the same id on every row).
        errors: ``{"symbol", "error"}`` of the symbols that failed.
    """
    rows = [("symbol", "test samples", "MAE", "persist.", "direction", "coverage", "model")]
    for symbol, evaluation in evaluations.items():
        if not evaluation:
            rows.append((symbol, "0", "n/a", "n/a", "n/a", "n/a", ids.get(symbol, "-")))
            continue
        name, m = next(iter(evaluation.items()))
        rows.append(
            (
                f"{symbol} [{name}]",
                str(m["samples"]),
                num(m["mae"], ".6f"),
                num(m["mae_persistence"], ".6f"),
                pct(m["direction_accuracy"]),
                pct(m["coverage"]),
                ids.get(symbol, "-"),
            )
        )
    lines = grid(rows) if len(rows) > 1 else ["no symbol trained"]
    return "\n".join(lines + _failures(errors))


def _p(test: dict[str, Any]) -> str:
    return num(test.get("pvalue"), ".3f")


def global_backtest_table(result: Any, errors: list[dict[str, str]]) -> str:
    """The global-vs-per-symbol walk-forward comparison, one row per symbol.

    ``DM p`` columns are the Diebold–Mariano p-values of global vs per-symbol on absolute
    errors and on Winkler losses; the last line says, per loss, on how many symbols the
    global model is significantly better or worse at 5 %.
    """
    rows = [
        ("symbol", "samples", "persist.", "MAE per-sym", "MAE global", "DM p",
         "cover per-sym", "cover global", "Winkler per-sym", "Winkler global", "DM p"),
    ]  # fmt: skip
    tally = {"mae": [0, 0], "winkler": [0, 0]}
    for row in result.rows:
        per, glob = row["per_symbol"], row["global"]
        for key, test in (("mae", row["dm_mae"]), ("winkler", row["dm_winkler"])):
            p, stat = test.get("pvalue"), test.get("statistic")
            if p is not None and stat is not None and p < 0.05:
                tally[key][0 if stat < 0 else 1] += 1
        rows.append(
            (
                row["symbol"],
                str(row["samples"]),
                num(row["persistence"]["mae"], ".6f"),
                num(per["mae"], ".6f"),
                num(glob["mae"], ".6f"),
                _p(row["dm_mae"]),
                pct(per["coverage"]),
                pct(glob["coverage"]),
                num(per["winkler"], ".5f"),
                num(glob["winkler"], ".5f"),
                _p(row["dm_winkler"]),
            )
        )
    lines = grid(rows) if len(rows) > 1 else ["no symbol had test samples"]
    if len(rows) > 1:
        lines.append(
            f"global vs per-symbol at 5%: MAE better on {tally['mae'][0]}, worse on "
            f"{tally['mae'][1]}; Winkler better on {tally['winkler'][0]}, worse on "
            f"{tally['winkler'][1]} of {len(result.rows)} symbols"
        )
    return "\n".join(lines + _failures(errors))


def multi_summary_text(summary: Any) -> str:
    """A multi-symbol live run (``finance_demo.MultiSummary``): one row per symbol, totals.

    Each row: ticks, predictions, outcomes, and for the first horizon the live MAE beside
    persistence's and the interval coverage; then the polls, failures and why it stopped.
    """
    rows = [("symbol", "ticks", "predictions", "outcomes", "MAE", "persist.", "coverage",
             "skipped", "bad")]  # fmt: skip
    for symbol, s in summary.symbols.items():
        m = next(iter(s.metrics.values()), None) if s.metrics else None
        seen = m is not None and m.count
        rows.append(
            (
                symbol,
                str(s.ticks),
                str(s.predictions),
                str(s.outcomes),
                num(m.mae, ".5f") if seen else "n/a",
                num(m.mae_persistence, ".5f") if seen else "n/a",
                pct(m.coverage) if seen else "n/a",
                str(s.skipped),
                str(s.bad_candles),
            )
        )
    lines = grid(rows)
    failing = ", ".join(f"{k} ({v})" for k, v in summary.symbol_errors.items())
    lines.append(
        f"{len(summary.symbols)} symbols, polls {summary.polls} (one batched request each), "
        f"fetch failures {summary.failures}, predictions {summary.predictions}, outcomes "
        f"{summary.outcomes} in {summary.seconds:.1f} s (stopped: {summary.stopped})"
    )
    if failing:
        lines.append(f"symbols that failed in some polls: {failing}")
    if summary.log_path:
        lines.append(f"log: {summary.log_path}")
    return "\n".join(lines)


def forecasts_table(bodies: list[dict[str, Any]], errors: list[dict[str, str]]) -> str:
    """One row per symbol's forecast (``Forecast.to_dict()``): its first horizon and regime."""
    rows = [("symbol", "candle", "close", "horizon", "direction", "return", "price",
             "interval", "regime", "model")]  # fmt: skip
    for body in bodies:
        d = body["price_decimals"]
        h = body["horizons"][0]
        rows.append(
            (
                body["symbol"],
                str(body["time"])[:19],
                f"{body['close']:.{d}f}",
                f"h{h['horizon']}",
                h["direction"],
                f"{h['predicted_return']:+.3%}",
                f"{h['predicted_price']:.{d}f}",
                f"[{h['lower_price']:.{d}f}, {h['upper_price']:.{d}f}]",
                body["regime"],
                str(body["model"]),
            )
        )
    lines = grid(rows) if len(rows) > 1 else ["no forecast"]
    return "\n".join(lines + _failures(errors))
