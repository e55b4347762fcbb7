"""Text rendering of the registry and of one-shot forecasts (``models list``, ``forecast``).

Kept beside ``stock_analyzer.render`` (whose helpers it uses); no torch, no pandas.
"""

from __future__ import annotations

from typing import Any

from stock_analyzer.render import grid, num, pct

__all__ = ["forecast_text", "models_table"]


def _size(n: int) -> str:
    return f"{n / 1024:.0f} KiB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MiB"


def models_table(entries: list[Any]) -> str:
    """The registry's entries as a table: id, symbol, interval, created, horizons, scores.

    The scores are the first horizon's test MAE against persistence and the interval
    coverage, as recorded at training.
    """
    rows = [("id", "symbol", "interval", "created", "horizons", "test MAE", "persist.", "cover")]
    for e in entries:
        first = e.evaluation.get(f"h{e.horizons[0]}", {}) if e.horizons else {}
        rows.append(
            (
                e.id,
                e.symbol or "-",
                e.interval or "-",
                e.created,
                ",".join(map(str, e.horizons)),
                num(first.get("mae"), ".5f"),
                num(first.get("mae_persistence"), ".5f"),
                pct(first.get("coverage")),
            )
        )
    return "\n".join(grid(rows))


def forecast_text(body: dict[str, Any]) -> str:
    """A one-shot forecast (``Forecast.to_dict()``) as a few lines of text."""
    d = body["price_decimals"]
    lines = [
        f"{body['symbol']} {body['interval']}  based on the candle of {body['time']}  "
        f"close {body['close']:.{d}f}  (model {body['model']})",
        f"regime: {body['regime']} (sigma {body['sigma_ratio']:.2f}x its recent median, "
        f"longest-horizon mean {body['trend_sigmas']:+.2f} sigma)",
    ]
    rows = [("horizon", "direction", "return", "price", f"{body['level']:.0%} interval")]
    for h in body["horizons"]:
        rows.append(
            (
                f"h{h['horizon']}",
                _direction_cell(h),
                f"{h['predicted_return']:+.3%}",
                f"{h['predicted_price']:.{d}f}",
                f"[{h['lower_price']:.{d}f}, {h['upper_price']:.{d}f}]",
            )
        )
    return "\n".join(lines + grid(rows))


def _direction_cell(h: dict[str, Any]) -> str:
    """``up``, with the heads' outputs when the model has them: ``up (P(up) 0.54, trend +0.21)``."""
    extra = []
    if "p_up" in h:
        extra.append(f"P(up) {h['p_up']:.2f}")
    if "trend" in h:
        extra.append(f"trend {h['trend']:+.2f}")
    return h["direction"] if not extra else f"{h['direction']} ({', '.join(extra)})"
