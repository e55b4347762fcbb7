"""Plain-text tables for reports (the backtest's, and the CLI's training summary)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["grid", "num", "pct"]


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
