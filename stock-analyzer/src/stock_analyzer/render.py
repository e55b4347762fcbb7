"""Rendering, in one place: every text table, summary line and plot the CLI shows.

Scores are computed in ``finance_demo`` (``evaluate``, ``BacktestReport``, ``Summary``);
this module only lays them out. Nothing here imports torch or pandas, and matplotlib is
imported inside the plot functions, so ``stock-analyzer info`` stays fast.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "backtest_table",
    "evaluation_table",
    "format_info",
    "grid",
    "many_backtests_table",
    "num",
    "pct",
    "plot_backtest",
    "plot_training",
    "prediction_line",
    "summary_text",
]


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def pct(x: Any) -> str:
    """Format a share as a percentage with one decimal (``n/a`` for missing or nan/inf)."""
    return "n/a" if _missing(x) else f"{x:.1%}"


def num(x: Any, fmt: str) -> str:
    """Format a number with ``fmt`` (``n/a`` for missing or nan/inf)."""
    return "n/a" if _missing(x) else format(x, fmt)


def grid(rows: list[tuple[str, ...]]) -> list[str]:
    """Lay out rows of strings as left-aligned columns, a rule under the first row.

    Examples:
        >>> for line in grid([("a", "bb"), ("ccc", "d")]):
        ...     print(line)
        a    bb
        ---  --
        ccc  d
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def evaluation_table(evaluation: dict[str, dict[str, Any]], price_decimals: int = 2) -> str:
    """Format the test-part evaluation of a model (one block of rows per horizon).

    Args:
        evaluation: ``model.metadata["evaluation"]`` (see ``finance_demo.evaluate``).
        price_decimals: The instrument's price precision (``PipelineSpec.price_decimals``);
            price errors get two more decimals.

    Returns:
        A fixed-width table: metric, model, reference.
    """
    rows = [("metric", "model", "reference")]
    price_fmt = f".{price_decimals + 2}f"
    for name, ev in evaluation.items():
        rows.append((f"[{name}] test samples", str(ev.get("samples", "")), ""))
        rows += [
            (
                "MAE (log return)",
                num(ev.get("mae"), ".5f"),
                num(ev.get("mae_persistence"), ".5f") + " persist.",
            ),
            (
                "MAE (price)",
                num(ev.get("price_mae"), price_fmt),
                num(ev.get("price_mae_persistence"), price_fmt) + " persist.",
            ),
            (
                "direction accuracy",
                pct(ev.get("direction_accuracy")),
                pct(ev.get("always_up")) + " always-up",
            ),
            (
                "interval coverage",
                pct(ev.get("coverage")),
                pct(ev.get("level")) + " nominal",
            ),
        ]
    return "\n".join(grid(rows))


def format_info(path: str, header: Any, spec: Any, problem: str | None = None) -> str:
    """Format a model file's header for ``stock-analyzer info``.

    Args:
        path: The model file.
        header: ``model.read_header(path)`` (config, metadata, training, versions, created).
        spec: The file's ``finance_demo.PipelineSpec``, or ``None`` when it has none.
        problem: Why the spec could not be read (shown instead of it).

    Returns:
        Several lines of text.
    """
    meta = header.metadata
    lines = [f"model file: {path}"]
    glob = meta.get("global") if isinstance(meta.get("global"), dict) else None
    if glob is not None:
        symbols = [str(s) for s in glob.get("symbols") or []]
        shown = ", ".join(symbols[:20]) + (
            f" and {len(symbols) - 20} more" if len(symbols) > 20 else ""
        )
        lines.append(
            f"global model of {len(symbols)} symbols: {shown} (symbol embedding "
            f"{'on' if glob.get('embedding') else 'off'}; forecast one with --symbol)"
        )
        if spec is not None:
            lines.append(f"interval: {spec.interval}")
    elif spec is not None:
        lines += [f"symbol: {spec.symbol}", f"interval: {spec.interval}"]
    lines.append(f"created: {header.created}")
    if spec is not None:
        lines.append(
            f"pipeline: buffer_size={spec.buffer_size}, step_size={spec.step_size}, "
            f"window_size={spec.window_size}, normalize={spec.normalize}, "
            f"seq_len={spec.seq_len}, horizons={','.join(map(str, spec.horizons))}, "
            f"level={spec.level:g}, price_decimals={spec.price_decimals}"
        )
        if spec.features.covariates:  # columns that predict/forecast data must carry
            lines.append(f"covariates: {', '.join(spec.features.covariates)}")
    elif problem:
        lines.append(f"pipeline: {problem}")
    lines.append("network: " + ", ".join(f"{k}={v}" for k, v in header.config.to_dict().items()))
    for section in ("training", "dataset"):
        body = meta.get(section)
        if isinstance(body, dict):
            lines.append(f"{section}: " + ", ".join(f"{k}={v}" for k, v in body.items()))
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in header.versions.items()))
    history = header.training.get("history") or []
    if history:
        last = history[-1]
        lines.append(
            f"history: {len(history)} epochs, last train_loss {num(last.get('train_loss'), '.4f')}"
            f", val_loss {num(last.get('val_loss'), '.4f')}"
        )
    evaluation = meta.get("evaluation")
    if evaluation and glob is not None and isinstance(evaluation, dict):
        from stock_analyzer.render_multi import trained_table

        lines.append("test evaluation per symbol:")
        lines.append(trained_table(evaluation, {}, []))
    elif evaluation:
        lines.append("test evaluation:")
        lines.append(evaluation_table(evaluation, spec.price_decimals if spec else 2))
    return "\n".join(lines)


def prediction_line(record: dict[str, Any], price_decimals: int = 2) -> str:
    """One live prediction record as a line: time, close, horizon, price and interval.

    Examples:
        >>> r = {"time": "2026-01-02T10:00:00+00:00", "close": 1.16201, "horizon": 1,
        ...      "predicted_price": 1.162344, "lower_price": 1.16102, "upper_price": 1.16371,
        ...      "predicted_return": 0.000287}
        >>> prediction_line(r, 5)
        '2026-01-02T10:00:00  close 1.16201  h1 -> 1.16234 [1.16102, 1.16371]  (+0.029%)'
    """
    d = price_decimals
    return (
        f"{record['time'][:19]}  close {record['close']:.{d}f}  h{record['horizon']} -> "
        f"{record['predicted_price']:.{d}f} [{record['lower_price']:.{d}f}, "
        f"{record['upper_price']:.{d}f}]  ({record['predicted_return']:+.3%})"
    )


def summary_text(summary: Any) -> str:
    """The live loop's ``finance_demo.Summary`` as a few lines."""
    lines = [
        f"ticks {summary.ticks}, predictions {summary.predictions}, outcomes "
        f"{summary.outcomes}, skipped {summary.skipped}, fetch failures {summary.failures}, "
        f"bad candles {summary.bad_candles} (stopped: {summary.stopped})"
    ]
    for name, m in summary.metrics.items():
        if not m.count:
            lines.append(f"{name}: no realized outcome yet")
            continue
        lines.append(
            f"{name}: MAE {m.mae:.5f} (persistence {m.mae_persistence:.5f}), "
            f"direction accuracy {m.direction_accuracy:.1%} (always-up {m.always_up:.1%}), "
            f"interval coverage {m.coverage:.1%} over {m.count} outcomes"
        )
    if summary.recalibrated:
        lines.append(f"interval recalibrated on {summary.recalibrated} realized outcomes")
    weights = getattr(summary, "weights", None)
    if weights is not None:
        shares = " / ".join(f"{w:.3f}" for w in weights)
        lines.append(f"ensemble weights {shares} after {summary.observed} realized outcomes")
    if summary.log_path:
        lines.append(f"log: {summary.log_path}")
    return "\n".join(lines)


def _save(fig: Any, path: Any) -> None:
    """Save a figure as PNG through ``finance_demo.atomic_write`` (never half-written)."""
    import io

    import matplotlib.pyplot as plt
    from finance_demo.files import atomic_write

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=110)
    finally:
        plt.close(fig)
    atomic_write(path, buffer.getvalue())


def plot_training(
    path: str,
    history: list[dict[str, Any]],
    rows: Any,
    title: str,
    *,
    level: float = 0.9,
    reliability: dict[str, list[tuple[float, float]]] | None = None,
    attention: Any = None,
    last: int = 250,
) -> None:
    """Draw what a training run learned, so that a reader cannot mistake a lag for skill.

    Top row: the losses per epoch (integer ticks; the loss is the Gaussian negative
    log-likelihood of the standardized returns, lower is better), the reliability diagram
    (empirical coverage of the test part against the nominal level, per horizon; on the
    diagonal is calibrated), and, for attention networks, the mean attention per
    timestep. Then one row per horizon, in returns: the realized return, the predicted
    mean and its interval over the last ``last`` test samples, and the rolling coverage
    (50 samples) against the nominal level. Last, the price panel of the first horizon,
    titled for what it is: the close at t+h against the forecast made at t (a price
    forecast always looks close to the price; the returns panels show the skill).

    Args:
        path: Output PNG file.
        history: Per-epoch records (``epoch``, ``train_loss``, ``val_loss``).
        rows: Test-part rows of ``finance_demo.prediction_rows`` (every horizon).
        title: Figure title.
        level: The interval level of ``rows``.
        reliability: ``finance_demo.coverage_by_level`` output (``None``: not drawn).
        attention: ``(N, seq_len)`` attention weights of test samples (``None``: none).
        last: Test samples drawn per panel.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    rows = rows[np.isfinite(rows["realized_return"].to_numpy(dtype=float))]
    horizons = sorted(int(h) for h in set(rows["horizon"])) if len(rows) else []
    n_rows = 2 + len(horizons)
    fig, axes = plt.subplots(n_rows, 3, figsize=(15, 3.4 * n_rows), squeeze=False)
    ax = axes[0][0]
    if history and "train_loss" in history[0]:
        epochs = [int(r["epoch"]) for r in history]
        ax.plot(epochs, [r["train_loss"] for r in history], marker="o", label="train")
        ax.plot(epochs, [r["val_loss"] for r in history], marker="o", label="validation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(
        xlabel="epoch", ylabel="Gaussian NLL (standardized returns)", title="loss (lower is better)"
    )
    ax.legend(fontsize=8)
    ax = axes[0][1]
    ax.plot([0.4, 1.0], [0.4, 1.0], color="grey", lw=0.8, ls="--", label="calibrated")
    for name, points in (reliability or {}).items():
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", label=name)
    ax.set(xlabel="nominal level", ylabel="empirical coverage (test)", title="reliability")
    ax.legend(fontsize=8)
    ax = axes[0][2]
    if attention is not None and len(attention):
        weights = np.asarray(attention, dtype=float)
        ax.imshow(weights[-min(len(weights), 100) :], aspect="auto", cmap="viridis")
        ax.set(
            xlabel="timestep in the input sequence (right = newest)",
            ylabel="test sample",
            title="attention weights (last 100 test samples)",
        )
    else:
        ax.axis("off")
    for i, h in enumerate(horizons, start=1):
        part = rows[rows["horizon"] == h].iloc[-last:]
        t = part["time"]
        y = part["realized_return"].to_numpy(dtype=float)
        ax = axes[i][0]
        ax.fill_between(
            t, part["lower_return"], part["upper_return"], alpha=0.25, label=f"{level:.0%} interval"
        )
        ax.plot(t, y, lw=0.8, color="black", label="realized return")
        ax.plot(t, part["predicted_return"], lw=1.0, label="predicted mean")
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set(title=f"h{h}: log return from t to t+{h} (forecast made at t)", ylabel="log return")
        ax.legend(fontsize=8)
        inside = (part["lower_return"].to_numpy() <= y) & (y <= part["upper_return"].to_numpy())
        rolling = np.convolve(inside, np.ones(50) / 50, mode="valid") if len(inside) >= 50 else []
        ax = axes[i][1]
        if len(rolling):
            ax.plot(t.iloc[49:], rolling, lw=1.0, label="rolling coverage (50)")
        ax.axhline(level, color="grey", ls="--", lw=0.8, label=f"nominal {level:.0%}")
        ax.set(title=f"h{h}: interval coverage over time", ylim=(0, 1.02))
        ax.legend(fontsize=8)
        for a in axes[i][:2]:
            a.tick_params(axis="x", labelrotation=30, labelsize=7)
        axes[i][2].hist(y - part["predicted_return"].to_numpy(dtype=float), bins=40)
        axes[i][2].set(title=f"h{h}: forecast errors (log return)")
    ax = axes[-1][0]
    gs = ax.get_gridspec()
    for a in axes[-1]:
        a.remove()
    ax = fig.add_subplot(gs[-1, :])
    if horizons:
        h = horizons[0]
        part = rows[rows["horizon"] == h].iloc[-last:]
        t = part["time"]
        ax.fill_between(t, part["lower_price"], part["upper_price"], alpha=0.25, label="interval")
        ax.plot(t, part["realized_price"], lw=1.0, color="black", label=f"close at t+{h}")
        ax.plot(t, part["predicted_price"], lw=1.0, label="forecast made at t")
        ax.plot(t, part["close"], lw=0.8, ls=":", color="grey", label="close at t (no change)")
        ax.set(
            title=f"price: the close at t+{h} against the forecast made at t (it tracks the "
            "price because it starts from it; skill is in the returns panels)",
            ylabel="price",
        )
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def backtest_table(report: Any) -> str:
    """Format a ``finance_demo.BacktestReport``'s scores as text tables (one per horizon).

    Args:
        report: The backtest's report.

    Returns:
        Point forecasts (MAE, RMSE, skill vs persistence, direction accuracy with its
        95% Wilson interval, p-values of the binomial test against always-up and of
        Pesaran–Timmermann, Diebold–Mariano vs persistence), then intervals (coverage,
        Winkler score, mean width).
    """
    blocks = []
    first = report.folds[0]["test_start"][:10] if report.folds else "?"
    last = report.folds[-1]["test_end"][:10] if report.folds else "?"
    for name, m in report.metrics.items():
        head = (
            f"{report.symbol or ''} {report.interval or ''} [{name}] {m['samples']} out-of-sample "
            f"samples in {len(report.folds)} folds, {first} .. {last}"
        ).strip()
        rows = [
            ("model", "MAE", "RMSE", "skill", "dir.acc", "95% CI", "p>up", "PT p", "DM", "DM p")
        ]
        for model, s in m["points"].items():
            ci = s.get("direction_ci95")
            dm = s.get("diebold_mariano") or {}
            rows.append(
                (
                    model,
                    num(s["mae"], ".6f"),
                    num(s["rmse"], ".6f"),
                    pct(s["skill"]),
                    pct(s.get("direction_accuracy")) if ci else "-",
                    f"{pct(ci[0])}-{pct(ci[1])}" if ci else "-",
                    num((s.get("binomial_vs_always_up") or {}).get("pvalue"), ".3f") if ci else "-",
                    num((s.get("pesaran_timmermann") or {}).get("pvalue"), ".3f") if ci else "-",
                    num(dm.get("statistic"), "+.2f") if ci else "-",
                    num(dm.get("pvalue"), ".3f") if ci else "-",
                )
            )
        au = m["always_up"]
        ci = au["direction_ci95"]
        rows.append(
            (
                "always-up",
                "-",
                "-",
                "-",
                pct(au["direction_accuracy"]),
                f"{pct(ci[0])}-{pct(ci[1])}",
                "-",
                "-",
                "-",
                "-",
            )
        )
        irows = [
            (f"interval ({report.level:.0%})", "coverage", "Winkler", "mean width", "DM lstm", "p")
        ]
        for model, s in m["intervals"].items():
            dm = s.get("dm_lstm_winkler") or {}
            irows.append(
                (
                    model,
                    pct(s["coverage"]),
                    num(s["winkler"], ".5f"),
                    num(s["mean_width"], ".5f"),
                    num(dm.get("statistic"), "+.2f") if dm else "-",
                    num(dm.get("pvalue"), ".3f") if dm else "-",
                )
            )
        blocks.append("\n".join([head, *grid(rows), "", *grid(irows)]))
    if report.interrupted:
        blocks.append(
            f"interrupted: {len(report.folds)} of {report.folds_planned} folds finished; "
            "the scores cover those folds only"
        )
    return "\n\n".join(blocks)


def many_backtests_table(reports: dict[str, Any], errors: list[dict[str, str]]) -> str:
    """One row per symbol of several backtests (first horizon), then the failed symbols.

    Args:
        reports: ``symbol -> BacktestReport``.
        errors: ``{"symbol", "error"}`` of the symbols that failed.

    Returns:
        The table, and one ``SYMBOL: reason`` line per failure.
    """
    rows = [
        ("symbol", "samples", "MAE lstm", "persist.", "skill", "coverage", "Winkler lstm",
         "EWMA", "GARCH"),
    ]  # fmt: skip
    for symbol, report in reports.items():
        name, m = next(iter(report.metrics.items()))
        points, bands = m["points"], m["intervals"]
        rows.append(
            (
                f"{symbol} [{name}]",
                str(m["samples"]),
                num(points["lstm"]["mae"], ".6f"),
                num(points["persistence"]["mae"], ".6f"),
                pct(points["lstm"]["skill"]),
                pct(bands["lstm"]["coverage"]),
                num(bands["lstm"]["winkler"], ".5f"),
                num((bands.get("ewma") or {}).get("winkler"), ".5f"),
                num((bands.get("garch") or {}).get("winkler"), ".5f"),
            )
        )
    lines = grid(rows) if len(rows) > 1 else ["no symbol finished"]
    lines += [f"{e['symbol']}: {e['error']}" for e in errors]
    return "\n".join(lines)


def plot_backtest(report: Any, path: Any, last: int = 250) -> None:
    """Draw a ``finance_demo.BacktestReport`` into a PNG (matplotlib, Agg backend).

    Left: the last ``last`` out-of-sample predicted prices of the first horizon with
    the LSTM's interval, against the realized prices. Right: cumulative absolute
    error (log return) of the LSTM and the point baselines minus that of persistence,
    over all folds (dotted lines: fold starts).

    Args:
        report: The backtest's report.
        path: Output PNG file.
        last: Samples drawn in the left panel.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from finance_demo.backtest_report import POINT_MODELS

    p = report.predictions
    h = report.horizons[0]
    y = p["y"][:, 0]
    times = np.asarray(p["time"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 4.8))
    sl = slice(max(0, len(y) - last), len(y))
    close = p["close"][sl]
    ax1.fill_between(
        times[sl],
        close * np.exp(p["lstm_lower"][sl, 0]),
        close * np.exp(p["lstm_upper"][sl, 0]),
        alpha=0.25,
        label=f"LSTM {report.level:.0%} interval",
    )
    ax1.plot(times[sl], close * np.exp(y[sl]), color="black", lw=1.0, label=f"realized (t+{h})")
    ax1.plot(times[sl], close * np.exp(p["lstm"][sl, 0]), lw=1.0, label="LSTM predicted")
    ax1.set(title=f"last {len(close)} out-of-sample predictions", ylabel="price")
    ax1.legend(loc="best", fontsize=8)
    base = np.cumsum(np.abs(y))
    for name in POINT_MODELS:
        pred = np.zeros_like(y) if name == "persistence" else p[name][:, 0]
        ax2.plot(times, np.cumsum(np.abs(y - pred)) - base, lw=1.0, label=name)
    for f in report.folds[1:]:
        ax2.axvline(np.datetime64(f["test_start"][:19]), color="grey", lw=0.5, ls=":")
    ax2.set(
        title="cumulative |error| minus persistence's (below 0 = better)",
        ylabel="log-return units",
    )
    ax2.legend(loc="best", fontsize=8)
    fig.suptitle(f"walk-forward backtest {report.symbol or ''} {report.interval or ''} h{h}")
    fig.autofmt_xdate()
    fig.tight_layout()
    _save(fig, path)
