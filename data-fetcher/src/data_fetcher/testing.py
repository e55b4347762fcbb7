"""Offline stand-ins for Yahoo Finance, so the yahoo path runs through yfinance's own parsing.

:class:`YahooChartSession` is a ``requests.Session`` that answers Yahoo's v8 chart API
from candles you give it (by default the shipped samples); hand it to
``Fetcher(..., source="yahoo", session=...)``. :func:`isolated_yfinance` resets
yfinance's process-wide state (shared session, response cache, tz/cookie cache folder).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import requests

from .intervals import INTERVALS, PERIODS, infer_interval, resample_candles, slice_period
from .sample import SAMPLE_SYMBOLS, load_sample

__all__ = ["YahooChartSession", "chart_json", "isolated_yfinance"]

_VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
_META = {
    "^GSPC": ("America/New_York", "INDEX", "USD", "SNP"),
    "MSFT": ("America/New_York", "EQUITY", "USD", "NMS"),
    "IBM": ("America/New_York", "EQUITY", "USD", "NYQ"),
    "EURUSD=X": ("Europe/London", "CURRENCY", "USD", "CCY"),
}


def _epoch(index: pd.DatetimeIndex) -> list[int]:
    return [int(t.timestamp()) for t in index]


def chart_json(
    symbol: str,
    candles: pd.DataFrame,
    interval: str,
    *,
    timezone: str = "America/New_York",
    instrument_type: str = "EQUITY",
    currency: str = "USD",
    exchange: str = "NMS",
    range_: str = "1mo",
) -> dict:
    """Build Yahoo's v8 chart answer for ``candles`` (what ``/v8/finance/chart/SYM`` returns).

    Intraday answers carry ``tradingPeriods`` (one whole-day session per date).
    """
    stamps = _epoch(candles.index)
    local = candles.index.tz_convert(timezone)
    offset = int(local[-1].utcoffset().total_seconds()) if len(local) else 0
    meta = {
        "currency": currency,
        "symbol": symbol,
        "exchangeName": exchange,
        "fullExchangeName": exchange,
        "instrumentType": instrument_type,
        "firstTradeDate": stamps[0] if stamps else None,
        "regularMarketTime": stamps[-1] if stamps else None,
        "hasPrePostMarketData": False,
        "gmtoffset": offset,
        "timezone": "GMT",
        "exchangeTimezoneName": timezone,
        "regularMarketPrice": float(candles["Close"].iloc[-1]) if len(candles) else None,
        "priceHint": 4,
        "dataGranularity": interval,
        "range": range_,
        "validRanges": _VALID_RANGES,
    }
    if interval.endswith(("m", "h")) and not interval.endswith("mo"):
        days = pd.DatetimeIndex(sorted(set(local.normalize())))
        meta["tradingPeriods"] = [
            [
                {
                    "timezone": "GMT",
                    "start": int(day.timestamp()),
                    "end": int((day + pd.Timedelta(days=1)).timestamp()),
                    "gmtoffset": int(day.utcoffset().total_seconds()),
                }
            ]
            for day in days
        ]
    result: dict = {"meta": meta}
    if len(candles):
        result["timestamp"] = stamps
        quote = {
            "open": candles["Open"].tolist(),
            "high": candles["High"].tolist(),
            "low": candles["Low"].tolist(),
            "close": candles["Close"].tolist(),
            "volume": [int(v) for v in candles["Volume"]],
        }
        result["indicators"] = {
            "quote": [quote],
            "adjclose": [{"adjclose": candles["Close"].tolist()}],
        }
    else:
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    return {"chart": {"result": [result], "error": None}}


class YahooChartSession(requests.Session):
    """A ``requests.Session`` that plays Yahoo Finance offline.

    Chart requests (``/v8/finance/chart/SYMBOL``) are answered from ``candles`` (symbol ->
    candles frame; default: the shipped samples), cut to the requested ``range`` or
    ``period1``/``period2`` (counted back from the last candle) and resampled to a coarser
    ``interval``. Unknown symbols get Yahoo's 404 answer. Scripted ``faults`` are used up
    one per chart request, in order: ``"dns"`` (curl_cffi ``DNSError``), ``"connection"``
    (``requests.ConnectionError``), ``"timeout"``, an int HTTP status (``429``, ``503``...),
    or ``"empty"`` (a valid answer without candles). ``offline=True`` fails every request
    with a DNS error. ``log`` records every ``(method, url, params)``.

    Examples:
        >>> session = YahooChartSession(faults=[429])
        >>> session.get("https://query2.finance.yahoo.com/v8/finance/chart/IBM").status_code
        429
        >>> session.get("https://query2.finance.yahoo.com/v8/finance/chart/IBM").json()[
        ...     "chart"]["result"][0]["meta"]["exchangeTimezoneName"]
        'America/New_York'
    """

    def __init__(
        self,
        candles: dict[str, pd.DataFrame] | None = None,
        *,
        faults: list[str | int] | None = None,
        offline: bool = False,
    ) -> None:
        super().__init__()
        self.candles = candles
        self.faults = list(faults or [])
        self.offline = offline
        self.log: list[tuple[str, str, dict]] = []

    @property
    def chart_requests(self) -> int:
        """Number of chart requests received so far."""
        return sum("/v8/finance/chart/" in url for _, url, _ in self.log)

    def _series(self, symbol: str) -> pd.DataFrame | None:
        if self.candles is not None:
            return self.candles.get(symbol)
        return load_sample(symbol) if symbol in SAMPLE_SYMBOLS else None

    def request(self, method, url, params=None, **kwargs):  # noqa: D102 (requests' signature)
        params = dict(params or {})
        parts = urlsplit(url)
        for key, values in parse_qs(parts.query).items():
            params.setdefault(key, values[-1])
        self.log.append((method, url, params))
        if self.offline:
            from curl_cffi.requests.exceptions import DNSError

            raise DNSError(f"Failed to resolve host '{parts.hostname}' (offline test session)")
        if "/v8/finance/chart/" in parts.path:
            return self._chart(method, url, parts.path.rsplit("/", 1)[-1], params)
        if parts.path.endswith("/getcrumb"):
            return self._response(url, 200, b"offline-crumb", "text/plain")
        if "consent" in (parts.hostname or ""):
            return self._response(url, 200, b"<html><body></body></html>", "text/html")
        body = {"finance": {"result": None, "error": {"code": "Not Found"}}}
        return self._response(url, 404, json.dumps(body).encode(), "application/json")

    def _chart(self, method: str, url: str, symbol: str, params: dict):
        if self.faults:
            fault = self.faults.pop(0)
            if fault == "dns":
                from curl_cffi.requests.exceptions import DNSError

                raise DNSError("Failed to resolve host 'query2.finance.yahoo.com'")
            if fault == "connection":
                raise requests.exceptions.ConnectionError("Connection refused (test session)")
            if fault == "timeout":
                raise requests.exceptions.ReadTimeout("Read timed out (test session)")
            if isinstance(fault, int):
                text = b"Too Many Requests" if fault == 429 else b"<html>Server Error</html>"
                return self._response(url, fault, text, "text/html")
            if fault != "empty":
                raise ValueError(f"unknown fault {fault!r}")
            series = self._series(symbol)
            if series is not None:
                series = series.iloc[:0]
        else:
            series = self._series(symbol)
        if series is None:
            body = {
                "chart": {
                    "result": None,
                    "error": {
                        "code": "Not Found",
                        "description": "No data found, symbol may be delisted",
                    },
                }
            }
            return self._response(url, 404, json.dumps(body).encode(), "application/json")
        interval = params.get("interval", "1d")
        native = infer_interval(series.index) or "1d"
        if len(series) and INTERVALS.get(interval, INTERVALS["1d"]) >= INTERVALS[native]:
            series = resample_candles(series, native, interval)
        if "period1" in params or "period2" in params:
            start = pd.Timestamp(int(params.get("period1") or 0), unit="s", tz="UTC")
            end = pd.Timestamp(int(params.get("period2") or 2**33), unit="s", tz="UTC")
            series = series[(series.index >= start) & (series.index < end)]
        elif len(series) and params.get("range", "1mo") in PERIODS:
            series = slice_period(series, params.get("range", "1mo"))
        tz, kind, currency, exchange = _META.get(
            symbol, ("America/New_York", "EQUITY", "USD", "NMS")
        )
        body = chart_json(
            symbol,
            series,
            interval,
            timezone=tz,
            instrument_type=kind,
            currency=currency,
            exchange=exchange,
            range_=params.get("range", ""),
        )
        return self._response(url, 200, json.dumps(body).encode(), "application/json")

    def _response(self, url: str, status: int, content: bytes, ctype: str):
        response = requests.Response()
        response.status_code = status
        response._content = content
        response.url = url
        response.encoding = "utf-8"
        response.reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}.get(
            status, "Error"
        )
        response.headers["Content-Type"] = ctype
        return response


@contextlib.contextmanager
def isolated_yfinance(cache_dir: str | Path) -> Iterator[None]:
    """Run a block with fresh yfinance process state, restored afterwards.

    Resets the shared ``YfData`` session singleton (cookie strategy, crumb), clears its
    response ``lru_cache`` and points yfinance's tz/cookie cache folder at ``cache_dir``.
    """
    import yfinance
    from yfinance import base as yf_base
    from yfinance import cache as yf_cache
    from yfinance import data as yf_data

    singletons = yf_data.SingletonMeta._instances
    saved = singletons.pop(yf_data.YfData, None)
    managers = {
        yf_cache._TzCacheManager: "_tz_cache",
        yf_cache._CookieCacheManager: "_Cookie_cache",
        yf_cache._ISINCacheManager: "_isin_cache",
    }
    saved_managers = {cls: getattr(cls, attr) for cls, attr in managers.items()}
    old_location = yf_cache._TzDBManager.get_location()
    old_counter = yf_base._tz_info_fetch_ctr

    def reset() -> None:
        yf_data.YfData.cache_get.cache_clear()
        for cls, attr in managers.items():
            setattr(cls, attr, None)
        yf_base._tz_info_fetch_ctr = 0

    reset()
    yfinance.set_tz_cache_location(str(cache_dir))
    try:
        yield
    finally:
        reset()
        yfinance.set_tz_cache_location(old_location)
        for cls, attr in managers.items():
            setattr(cls, attr, saved_managers[cls])
        yf_base._tz_info_fetch_ctr = old_counter
        singletons.pop(yf_data.YfData, None)
        if saved is not None:
            singletons[yf_data.YfData] = saved
