"""The REST service's FastAPI app (``stock-analyzer serve``; extra ``stock-analyzer[serve]``).

No logic of its own: the registry is ``finance_demo.Registry``, the forecast
``finance_demo.forecast.forecast``, training ``finance_demo.train_model``. What it adds is
the service's plumbing:

- loaded models in a bounded LRU cache, reloaded when the file's mtime or size changes;
- the candles of the static sources (``sample``, ``replay``) cached per
  (symbol, interval, source);
- training jobs on a ``ThreadPoolExecutor(1)`` with a bounded queue;
- ``Authorization: Bearer <token>`` on ``DELETE /models/{id}`` and ``POST /train``
  (401 missing, 403 wrong; refused when the server has no token);
- request bodies bounded (64 KiB -> 413), pydantic validation (422), and every error a
  JSON ``{"error": "..."}``, never a traceback.

Imported only by ``stock_analyzer.serve`` (fastapi is an optional dependency).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from stock_analyzer import __version__

__all__ = ["MAX_BODY_BYTES", "ModelCache", "create_app"]

log = logging.getLogger("stock_analyzer.serve")

#: Largest request body accepted (bytes); larger ones get 413.
MAX_BODY_BYTES = 64 * 1024
#: Training jobs waiting or running at most; more get 429.
MAX_PENDING_JOBS = 4
#: Finished jobs remembered for ``GET /jobs/{id}``.
MAX_JOBS_KEPT = 200
#: Forecasts remembered (same model file version, same candles, same request).
MEMO_SIZE = 512
#: Sources whose candles never change while the server runs (cached, forecasts memoized).
STATIC_SOURCES = ("sample", "replay")
#: Seconds a "latest model of a symbol" answer is reused before asking the registry again.
LATEST_TTL = 1.0

_local = threading.local()


def one_torch_thread() -> None:
    """Give this request thread one torch (OpenMP) thread, once.

    ``torch.set_num_threads`` holds for the calling thread only: a request thread would
    otherwise start one OpenMP thread per core and make each small forecast 10-20x
    slower on a busy 2-core machine (measured: 108 ms instead of 6 ms).
    """
    if getattr(_local, "torch_threads", None) != 1:
        import torch

        torch.set_num_threads(1)
        _local.torch_threads = 1


_SYMBOL = r"^[A-Za-z0-9^=._\-]{1,32}$"
_INTERVAL = r"^[1-9][0-9]{0,3}(m|h|d|wk|mo)$"
_MODEL_ID = r"^[A-Za-z0-9._\-]{1,128}$"
Source = Literal["yahoo", "sample", "replay"]


class ForecastRequest(BaseModel):
    """Body of ``POST /forecast``."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=_SYMBOL, description="Ticker, e.g. ^GSPC")
    interval: str | None = Field(
        None, pattern=_INTERVAL, description="Candle interval (default: the model's)"
    )
    model: str | None = Field(
        None, pattern=_MODEL_ID, description="Registry id (default: the latest for symbol)"
    )
    horizons: list[Annotated[int, Field(ge=1, le=100_000)]] | None = Field(
        None, max_length=32, description="Only these horizons (default: all of the model's)"
    )
    level: float | None = Field(None, gt=0, lt=1, description="Interval level")
    source: Source = Field("yahoo", description="Where the candles come from")


class TrainRequest(BaseModel):
    """Body of ``POST /train``."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=_SYMBOL)
    interval: str = Field("1d", pattern=_INTERVAL)
    source: Source = "yahoo"
    settings: dict[str, dict[str, Any]] | None = Field(
        None, description="Sections buffer, features, model, training, evaluation"
    )


class ModelCache:
    """Loaded models by file, bounded LRU, reloaded when the file changes (mtime, size, inode).

    Args:
        size: Models kept at most.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = max(1, size)
        self._models: OrderedDict[Path, tuple[tuple[int, int, int], Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, path: Path) -> Any:
        """The model in ``path``, loaded once per version of the file.

        Raises:
            FileNotFoundError: The file is gone.
            ModelError: The file is not a loadable model.
        """
        from model import load_forecaster

        stat = path.stat()
        version = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._lock:
            hit = self._models.get(path)
            if hit is not None and hit[0] == version:
                self._models.move_to_end(path)
                return hit[1]
        model = load_forecaster(path)
        with self._lock:
            self.loads += 1
            self._models[path] = (version, model)
            self._models.move_to_end(path)
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        return model

    def version(self, path: Path) -> tuple[int, int, int] | None:
        """The (mtime_ns, size, inode) of the loaded ``path`` (``None``: not loaded)."""
        with self._lock:
            hit = self._models.get(path)
        return None if hit is None else hit[0]

    def __len__(self) -> int:
        return len(self._models)


class _BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is answered 413 before the app sees it."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await self._too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # no Content-Length (chunked): read the body here, bounded, and replay it
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._too_large(scope, receive, send)
                return
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Any, receive: Any, send: Any) -> None:
        response = JSONResponse({"error": f"request body over {self.limit} bytes"}, status_code=413)
        await response(scope, receive, send)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _status_of(exc: Exception) -> int:
    """The HTTP status of a package error (see ``stock_analyzer.options.user_errors``)."""
    from data_fetcher import FetcherError, FetchError
    from finance_demo import ForeignModelError, PipelineError, RegistryError

    from model import ModelError

    if isinstance(exc, RegistryError):
        return 404
    if isinstance(exc, FetchError):
        return 502
    if isinstance(exc, (ModelError, ForeignModelError)):
        return 500
    if isinstance(exc, (PipelineError, FetcherError)):
        return 422
    return 500


def create_app(
    registry: str | os.PathLike[str] | None = None,
    token: str | None = None,
    *,
    cache_size: int = 8,
    max_body: int = MAX_BODY_BYTES,
    train_workers: int = 1,
) -> FastAPI:
    """Build the service's app.

    Args:
        registry: The model registry directory (default: ``finance_demo``'s default).
        token: The bearer token of ``DELETE /models/{id}`` and ``POST /train``
            (``None``: those endpoints refuse every request).
        cache_size: Loaded models kept.
        max_body: Largest request body (bytes).
        train_workers: Training jobs run at once.
    """
    from finance_demo import Registry

    reg = Registry(registry)
    models = ModelCache(cache_size)
    candle_cache: dict[tuple[str, str, str], Any] = {}
    candle_lock = threading.Lock()
    jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
    jobs_lock = threading.Lock()
    lookups: dict[tuple[Any, ...], tuple[Any, float]] = {}
    lookup_lock = threading.Lock()
    memo: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
    memo_lock = threading.Lock()
    executor = ThreadPoolExecutor(max_workers=max(1, train_workers), thread_name_prefix="train")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        executor.shutdown(wait=False, cancel_futures=True)  # a running job is abandoned

    app = FastAPI(
        lifespan=lifespan,
        title="stock-analyzer",
        version=__version__,
        description="Registered LSTM models: list, forecast, train. DELETE and POST /train "
        "need `Authorization: Bearer <token>`.",
    )
    app.state.registry = reg
    app.state.models = models
    app.state.executor = executor
    app.add_middleware(_BodyLimit, limit=max_body)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": f"internal error ({type(exc).__name__}); see the server log"},
            status_code=500,
        )

    def fail(exc: Exception) -> HTTPException:
        text = " ".join(str(exc).split())[:500] or type(exc).__name__
        if isinstance(exc, OSError) and not str(exc):
            text = exc.strerror or type(exc).__name__
        return HTTPException(status_code=_status_of(exc), detail=text)

    def authorized(authorization: Annotated[str | None, Header()] = None) -> None:
        if token is None:
            raise HTTPException(
                403, "this server has no token; start it with --token-file or STOCK_ANALYZER_TOKEN"
            )
        if not authorization:
            raise HTTPException(
                401, "missing Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
            )
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise HTTPException(403, "wrong token")

    def entry_body(entry: Any) -> dict[str, Any]:
        body = entry.to_dict()
        body["file"] = Path(body.pop("path")).name
        return body

    def candles_of(symbol: str, interval: str, source: str) -> Any:
        from data_fetcher import Fetcher
        from finance_demo.forecast import completed_candles

        key = (symbol, interval, source)
        static = source in ("sample", "replay")
        if static:
            with candle_lock:
                hit = candle_cache.get(key)
            if hit is not None:
                return hit
        try:
            frame = Fetcher(symbol, interval=interval, source=source).fetch_historical()
        except ValueError as exc:  # a bad interval for the source
            raise HTTPException(422, " ".join(str(exc).split())[:500]) from None
        frame = completed_candles(frame, interval)
        if static:
            with candle_lock:
                candle_cache[key] = frame
                while len(candle_cache) > 64:
                    candle_cache.pop(next(iter(candle_cache)))
        return frame

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness: the version and how many models are loaded."""
        return {"status": "ok", "version": __version__, "models_loaded": len(models)}

    @app.get("/models")
    def list_models(symbol: str | None = None, interval: str | None = None) -> list[dict]:
        """The registered models, newest first (optionally one symbol / interval)."""
        try:
            return [entry_body(e) for e in reg.list(symbol=symbol, interval=interval)]
        except Exception as exc:
            raise fail(exc) from None

    @app.get("/models/{model_id}")
    def show_model(model_id: str) -> dict[str, Any]:
        """One model: its entry and its file's metadata (pipeline, dataset, evaluation)."""
        from model import read_header

        try:
            entry = reg.get(model_id)
            header = read_header(entry.path)
        except Exception as exc:
            raise fail(exc) from None
        return {
            **entry_body(entry),
            "metadata": header.metadata,
            "network": header.config.to_dict(),
            "versions": header.versions,
        }

    @app.delete("/models/{model_id}", dependencies=[Depends(authorized)])
    def delete_model(model_id: str) -> dict[str, Any]:
        """Delete a model (needs the token)."""
        try:
            entry = reg.delete(model_id)
        except Exception as exc:
            raise fail(exc) from None
        with lookup_lock:
            lookups.clear()
        return {"deleted": entry.id}

    def lookup(req: ForecastRequest) -> Any:
        """The registry entry a request means.

        Answers are remembered: an id's while its file exists, a latest-per-symbol one
        for ``LATEST_TTL`` seconds (and until this server trains or deletes a model).
        """
        key = lookup_key(req)
        now = time.monotonic()
        with lookup_lock:
            hit = lookups.get(key)
        if hit is not None and (key[0] == "id" or now - hit[1] < LATEST_TTL):
            if hit[0].path.is_file():
                return hit[0]
        if req.model is not None:
            entry = reg.get(req.model)
        else:
            entry = reg.latest(req.symbol, req.interval)
            if entry is None:
                what = req.symbol + (f" {req.interval}" if req.interval else "")
                raise HTTPException(404, f"no model for {what}; POST /train first")
        with lookup_lock:
            lookups[key] = (entry, now)
            while len(lookups) > 1024:
                lookups.pop(next(iter(lookups)))
        return entry

    def lookup_key(req: ForecastRequest) -> tuple[Any, ...]:
        if req.model is not None:
            return ("id", req.model)
        return ("latest", req.symbol, req.interval)

    def memo_key(req: ForecastRequest, entry: Any, version: Any) -> tuple[Any, ...]:
        horizons = tuple(req.horizons or ())
        return (entry.path, version, req.symbol, req.interval, req.source, req.level, horizons)

    def memoized(req: ForecastRequest) -> bytes | None:
        """The answer without any work, if there is one.

        That is: static candles (cached for good), a known entry, a loaded model whose
        file has not changed, and the same request as before.
        """
        if req.source not in STATIC_SOURCES:
            return None
        key = lookup_key(req)
        with lookup_lock:
            hit = lookups.get(key)
        if hit is None or (key[0] == "latest" and time.monotonic() - hit[1] >= LATEST_TTL):
            return None
        entry = hit[0]
        try:
            stat = entry.path.stat()
        except OSError:
            return None
        version = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if models.version(entry.path) != version:
            return None
        with memo_lock:
            return memo.get(memo_key(req, entry, version))

    def compute(req: ForecastRequest) -> bytes:
        """Look the model up, load it (cached), fetch the candles (cached) and forecast."""
        from finance_demo import bind_symbol, spec_of
        from finance_demo.forecast import forecast

        one_torch_thread()
        try:
            entry = lookup(req)
            try:
                model = models.get(entry.path)
            except FileNotFoundError:
                raise HTTPException(404, f"model {entry.id} was deleted") from None
            model = bind_symbol(model, req.symbol)  # a global model: the asked symbol's
            spec = spec_of(model)
            interval = spec.interval or req.interval or "1d"
            if req.interval is not None and req.interval != interval:
                raise HTTPException(
                    422, f"model {entry.id} was trained on {interval} candles, not {req.interval}"
                )
            frame = candles_of(req.symbol, interval, req.source)
            result = forecast(
                model, frame, req.level, horizons=req.horizons, symbol=req.symbol, label=entry.id
            )
            body = json.dumps(result.to_dict(), allow_nan=False, separators=(",", ":")).encode()
        except HTTPException:
            raise
        except Exception as exc:
            raise fail(exc) from None
        if req.source in STATIC_SOURCES:
            # the same model file and the same (static) candles give the same forecast
            key = memo_key(req, entry, models.version(entry.path))
            with memo_lock:
                memo[key] = body
                while len(memo) > MEMO_SIZE:
                    memo.popitem(last=False)
        return body

    @app.post("/forecast", response_class=Response)
    async def post_forecast(req: ForecastRequest) -> Response:
        """The forecast now for every (or the given) horizon of a model.

        Answers: ``symbol, interval, time, close`` (the candle it is based on), ``level``,
        ``price_decimals``, ``regime``, ``model`` and per horizon ``predicted_return,
        sigma, lower_return, upper_return, predicted_price, lower_price, upper_price,
        direction`` (and ``p_up`` for a model with the direction head, ``trend`` with the
        trend head).
        """
        body = memoized(req)
        if body is None:
            body = await run_in_threadpool(compute, req)
        return Response(body, media_type="application/json")

    def run_job(job_id: str, req: TrainRequest, settings: Any) -> None:
        from finance_demo import train_model

        with jobs_lock:
            jobs[job_id].update(status="running", started=_now())
        try:
            frame = candles_of(req.symbol, req.interval, req.source)
            model = train_model(frame, settings, symbol=req.symbol, interval=req.interval)
            entry = reg.add(model)
            with lookup_lock:
                lookups.clear()  # a "latest" answer may have changed
            update = {"status": "done", "model_id": entry.id, "evaluation": entry.evaluation}
        except HTTPException as exc:
            update = {"status": "failed", "error": str(exc.detail)}
        except Exception as exc:  # a failed job is reported, never raised
            log.warning("training job %s failed: %s", job_id, exc)
            update = {"status": "failed", "error": " ".join(str(exc).split())[:500]}
        with jobs_lock:
            jobs[job_id].update(update, finished=_now())

    @app.post("/train", status_code=202, dependencies=[Depends(authorized)])
    def post_train(req: TrainRequest) -> dict[str, Any]:
        """Queue a training job on the candles of a symbol (needs the token)."""
        from finance_demo import SettingsError, load_settings

        try:
            settings = load_settings(req.settings or {})
        except SettingsError as exc:
            raise HTTPException(422, f"settings: {exc}") from None
        with jobs_lock:
            pending = sum(j["status"] in ("queued", "running") for j in jobs.values())
            if pending >= MAX_PENDING_JOBS:
                raise HTTPException(429, f"{pending} training jobs pending; try again later")
            job_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)
            jobs[job_id] = {
                "id": job_id,
                "status": "queued",
                "symbol": req.symbol,
                "interval": req.interval,
                "source": req.source,
                "created": _now(),
            }
            while len(jobs) > MAX_JOBS_KEPT:
                oldest = next(iter(jobs))
                if jobs[oldest]["status"] in ("queued", "running"):
                    break
                jobs.pop(oldest)
        executor.submit(run_job, job_id, req, settings)
        return {"job": job_id, "status": "queued"}

    @app.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict[str, Any]:
        """A training job: queued, running, done (with its model id) or failed."""
        with jobs_lock:
            job = jobs.get(job_id)
            if job is None:
                raise HTTPException(404, f"no job {job_id!r}")
            return dict(job)

    return app


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
