"""On-disk cache of fetched candles: one gzip JSON file per (symbol, interval, period)."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .intervals import interval_timedelta
from .validate import validate_candles

__all__ = ["CACHE_ENV", "CandleCache", "default_cache_dir", "default_ttl"]

#: Environment variable that overrides the default cache directory.
CACHE_ENV = "STOCK_ANALYZER_CACHE_DIR"
_FORMAT = 1

logger = logging.getLogger("data_fetcher")


def default_cache_dir() -> Path:
    """``$STOCK_ANALYZER_CACHE_DIR`` if set, else the user cache dir of stock-analyzer."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("stock-analyzer")) / "candles"


def default_ttl(interval: str) -> float:
    """Seconds a cached result stays fresh: 1 min below 1h, 5 min below 1d, 1 h for daily+."""
    step = interval_timedelta(interval)
    if step < pd.Timedelta(hours=1):
        return 60.0
    if step < pd.Timedelta(days=1):
        return 300.0
    return 3600.0


class CandleCache:
    """Stores candles per key on disk; expired or unreadable entries count as misses.

    Files are written atomically (temporary file + rename) as gzip JSON holding the
    fetch time, the time zone and the candles as CSV (floats round-trip exactly).

    Examples:
        >>> import tempfile, pandas as pd
        >>> cache = CandleCache(tempfile.mkdtemp(), ttl=60)
        >>> idx = pd.date_range("2024-01-01", periods=2, freq="D", tz="America/New_York")
        >>> df = pd.DataFrame({c: [1.0, 2.0] for c in
        ...                    ["Open", "High", "Low", "Close", "Volume"]}, index=idx)
        >>> _ = cache.store(("MSFT", "1d", "5d"), df)
        >>> cache.load(("MSFT", "1d", "5d")).equals(df)
        True
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        if ttl < 0:
            raise ValueError(f"ttl must be >= 0 seconds, got {ttl}")
        self.ttl = float(ttl)
        self.clock = clock

    def path(self, key: tuple[str, ...]) -> Path:
        """File that holds ``key`` (unsafe characters become ``_``)."""
        safe = "_".join(re.sub(r"[^A-Za-z0-9.=^-]", "_", part) for part in key)
        return self.directory / f"{safe}.json.gz"

    def load(self, key: tuple[str, ...]) -> pd.DataFrame | None:
        """Return the cached candles of ``key``, or ``None`` if absent, expired or corrupt."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                entry = json.load(fh)
            if entry.get("format") != _FORMAT or entry.get("key") != list(key):
                raise ValueError("unexpected format or key")
            age = self.clock() - float(entry["fetched_at"])
            if age > self.ttl or age < -60:
                logger.debug("cache entry %s expired (%.0fs old)", path, age)
                return None
            frame = pd.read_csv(io.StringIO(entry["csv"]), index_col=0)
            frame.index = pd.DatetimeIndex(
                pd.to_datetime(frame.index, format="ISO8601", utc=True)
            ).tz_convert(entry["tz"])
            frame.index.name = entry.get("index_name") or "Date"
            return validate_candles(frame, key[0])
        except Exception as exc:  # any unreadable entry is a miss, never a crash
            logger.warning("ignoring unreadable cache file %s (%s); fetching again", path, exc)
            return None

    def store(self, key: tuple[str, ...], candles: pd.DataFrame) -> Path | None:
        """Write ``candles`` under ``key``; returns the file, or ``None`` if it failed."""
        path = self.path(key)
        entry = {
            "format": _FORMAT,
            "key": list(key),
            "fetched_at": self.clock(),
            "tz": str(candles.index.tz),
            "index_name": candles.index.name,
            "csv": candles.to_csv(date_format="%Y-%m-%dT%H:%M:%S%z"),
        }
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json.gz")
            try:
                with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as gz:
                    gz.write(json.dumps(entry).encode("utf-8"))
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            logger.warning("could not write cache file %s (%s)", path, exc)
            return None
        return path
