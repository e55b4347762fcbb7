"""Text rendering of a model comparison (``backtest --models``): one table, one verdict.

Kept beside ``stock_analyzer.render`` (whose helpers it uses); no torch, no pandas.
"""

from __future__ import annotations

from typing import Any

from stock_analyzer.render import grid, num, pct

__all__ = ["comparison_table", "comparison_verdict"]

_HEAD = (
    "model",
    "MAE",
    "skill",
    "dir.acc",
    "coverage",
    "Winkler",
    "DM persist.",
    "p",
    "DM EWMA",
    "p",
    "DM GARCH",
    "p",
)


def _dm(test: dict[str, Any] | None) -> tuple[str, str]:
    if not test:
        return "-", "-"
    return num(test.get("statistic"), "+.2f"), num(test.get("pvalue"), ".3f")


def _row(name: str, point: dict[str, Any] | None, band: dict[str, Any] | None) -> tuple:
    point, band = point or {}, band or {}
    return (
        name,
        num(point.get("mae"), ".6f") if point else "-",
        pct(point.get("skill")) if point else "-",
        pct(point.get("direction_accuracy")) if "direction_accuracy" in point else "-",
        pct(band.get("coverage")) if band else "-",
        num(band.get("winkler"), ".5f") if band else "-",
        *_dm(point.get("diebold_mariano")),
        *_dm(band.get("dm_ewma_winkler")),
        *_dm(band.get("dm_garch_winkler")),
    )


def comparison_table(report: Any) -> str:
    """Every kind beside the baselines, per horizon, with the Diebold–Mariano tests.

    DM persist. tests the kind's absolute errors against persistence's; DM EWMA and DM
    GARCH test its interval's Winkler losses against those baselines' (a negative
    statistic: the kind's losses are lower; two-sided p-values).

    Args:
        report: A ``finance_demo.ComparisonReport``.

    Returns:
        The tables (one per horizon), the interrupted note if any.
    """
    blocks = []
    for name, m in report.metrics.items():
        points, bands = m["points"], m["intervals"]
        rows = [_HEAD]
        rows += [_row(k, points.get(k), bands.get(k)) for k in report.kinds]
        rows += [_row(b, points.get(b), None) for b in ("ridge", "drift", "persistence")]
        rows.append(("always-up", "-", "-", pct(m["always_up"]["direction_accuracy"])) + ("-",) * 8)
        for b in ("constant", "ewma", "garch"):
            if b in bands:
                rows.append(_row(f"{b} band", None, bands[b]))
        head = (
            f"{report.symbol or ''} {report.interval or ''} {name}: {m['samples']} "
            f"out-of-sample samples in {len(report.folds)} folds, "
            f"{report.level:.0%} intervals"
        ).strip()
        blocks.append("\n".join([head, *grid(rows)]))
    if report.interrupted:
        blocks.append(
            f"interrupted: {len(report.folds)} of {report.folds_planned} folds finished; "
            "the scores cover those folds only"
        )
    return "\n\n".join(blocks)


def comparison_verdict(report: Any) -> str:
    """One plain sentence: which kind beats persistence and EWMA significantly.

    Examples:
        >>> class R:
        ...     kinds, metrics = ("lstm",), {"h1": {}}
        ...     def winners(self): return []
        ...     def beats(self, k, r): return False
        >>> print(comparison_verdict(R()))
        No kind beats both persistence (MAE) and EWMA (Winkler) significantly at 5%.
    """
    winners = report.winners()
    if winners:
        return (
            f"{', '.join(winners)} beat{'s' if len(winners) == 1 else ''} persistence (MAE) "
            "and EWMA (Winkler) significantly at 5% on every horizon."
        )
    partial = []
    for ref, label in (("persistence", "persistence"), ("ewma", "EWMA")):
        kinds = [k for k in report.kinds if report.beats(k, ref)]
        if kinds:
            partial.append(f"{label} alone is beaten by {', '.join(kinds)}")
    tail = f" ({'; '.join(partial)})" if partial else ""
    return f"No kind beats both persistence (MAE) and EWMA (Winkler) significantly at 5%{tail}."
