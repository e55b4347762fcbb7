"""The executor seam: run independent jobs (folds, symbols) serially, on processes or on Ray.

:func:`make_engine` returns an object with the subset of the
:class:`concurrent.futures.Executor` interface the pipeline uses: ``submit`` (returns a
:class:`concurrent.futures.Future`), ``map`` (results in submission order), ``shutdown``
and the context manager, plus ``kind``, ``workers`` (how many jobs run at once) and
``as_completed``. A job is a picklable top-level function and picklable arguments; it
returns the same value on every engine, so that a seeded training gives the same bits
wherever it runs (:func:`call_with_threads` fixes torch's thread count for a job).

- ``serial``: runs each job inline, in the caller's thread, at ``submit`` (deterministic
  order; an exception is kept in the future, Ctrl-C propagates at once).
- ``process``: a :class:`~concurrent.futures.ProcessPoolExecutor` of ``spawn`` workers
  (one per core by default); each worker runs torch with one thread and ignores Ctrl-C,
  which the caller handles.
- ``ray``: a thin adapter over ``ray.remote`` tasks (one CPU each) on the cluster at
  ``ray_address``, on the Ray already initialized in this process, or else on a local
  one started for the engine (and stopped by its ``shutdown``). Needs the ``[ray]`` extra.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from finance_demo.errors import PipelineError, SettingsError

__all__ = [
    "ENGINE_KINDS",
    "EngineError",
    "ProcessEngine",
    "RayEngine",
    "SerialEngine",
    "call_with_threads",
    "completed",
    "current_threads",
    "make_engine",
]

#: The engine kinds :func:`make_engine` knows.
ENGINE_KINDS = ("serial", "process", "ray")

#: Largest ``workers`` accepted (a typo such as 10000 would fork that many processes).
MAX_WORKERS = 1024

RAY_MISSING = "the ray engine needs Ray, which is not installed: pip install 'finance-demo[ray]'"


class EngineError(PipelineError):
    """An engine cannot be set up (e.g. Ray missing or unreachable); one-line message."""


def current_threads() -> int:
    """Torch's intra-op thread count in this process (imports torch)."""
    import torch

    return int(torch.get_num_threads())


def call_with_threads(
    threads: int | None, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    """Run ``fn(*args, **kwargs)`` with ``threads`` torch threads, then restore the count.

    Submit this with the caller's thread count so that a job computes the same bits in
    whatever process it runs (``None``: leave the count alone).
    """
    from finance_demo.training import torch_threads

    with torch_threads(threads):
        return fn(*args, **kwargs)


def completed(
    engine: cf.Executor,
    calls: Iterable[tuple[Callable[..., Any], tuple[Any, ...]]],
    ahead: int = 0,
) -> Iterator[tuple[int, cf.Future]]:
    """Submit ``(fn, args)`` calls, one per worker in flight; yield them as they end.

    Holding back the calls beyond the engine's ``workers`` keeps progress honest (a
    serial engine runs each call when it is submitted, then yields it) and leaves little
    to cancel. Closing the generator (or an exception, Ctrl-C included) cancels the calls
    still in flight: use it in ``contextlib.closing``.

    Args:
        engine: An engine of :func:`make_engine` or any ``concurrent.futures.Executor``.
        calls: ``(fn, args)`` pairs, submitted in order as ``engine.submit(fn, *args)``.
        ahead: Calls queued beyond one per worker (on a pool: the next job is already in
            a worker's queue when one ends, instead of one round trip later).

    Yields:
        ``(index, future)`` of each finished call (index in ``calls``); calls that end
        together come in index order. ``future.result()`` returns or raises the call's.
    """
    limit = max(1, getattr(engine, "workers", None) or getattr(engine, "_max_workers", 1))
    if not isinstance(engine, SerialEngine):
        limit += max(0, ahead)
    todo = iter(enumerate(calls))
    running: dict[cf.Future, int] = {}
    try:
        while True:
            for index, (fn, args) in itertools.islice(todo, limit - len(running)):
                running[engine.submit(fn, *args)] = index
            if not running:
                return
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in sorted(done, key=running.__getitem__):
                yield running.pop(future), future
    finally:
        for future in running:
            future.cancel()


def _as_completed(futures: Iterable[cf.Future]) -> Iterator[cf.Future]:
    return cf.as_completed(list(futures))


class SerialEngine(cf.Executor):
    """Runs each job inline at ``submit``, in the caller's thread and order."""

    kind = "serial"
    workers = 1

    def __init__(self) -> None:
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` now; return its finished future."""
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: cf.Future = cf.Future()
        future.set_running_or_notify_cancel()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # kept for .result(), as a pool would; Ctrl-C propagates
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse further jobs (nothing runs in the background)."""
        self._shutdown = True

    @staticmethod
    def as_completed(futures: Iterable[cf.Future]) -> Iterator[cf.Future]:
        """The futures in the order given (a serial engine's are finished at submit)."""
        futures = list(futures)
        yield from (f for f in futures if f.done())
        yield from cf.as_completed([f for f in futures if not f.done()])

    def __repr__(self) -> str:
        return "SerialEngine()"


def _init_process_worker(warm: bool = False) -> None:
    """A pool worker: one torch thread, and Ctrl-C is the parent's business.

    ``warm``: load what a backtest or training job needs before the first job comes.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # pragma: no cover - only if torch already ran parallel work
        pass
    if warm:
        _warm_up()


def _warm_up() -> None:
    """Import the training and backtest modules, and what torch loads on first use.

    A fresh worker spends about 2 s of its first job in imports: the pipeline's modules,
    ``arch`` for the GARCH baseline, and ``torch._dynamo``, which torch imports the first
    time an optimizer is made. Done here, it happens while the parent still fetches and
    plans, and the first job's time is the job's own.
    """
    import importlib

    import torch

    importlib.import_module("finance_demo.backtest")  # with training, model, stats
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # loads torch._dynamo
    try:
        import arch  # noqa: F401
    except ImportError:  # the [garch] extra is optional
        pass


def _nothing() -> None:
    """A job that does nothing: submitted once per worker to start the pool at once."""


def _start_method() -> str:
    """``fork`` where it is safe and fast, else ``spawn``.

    A forked worker starts at once with what the parent has imported (the rest it loads
    in its initializer while the parent goes on: the CLI starts its pool before its own
    heavy imports), and exits without tearing its interpreter down. Fork is used on
    Linux only, and only while this process runs a single Python thread: a fork copies
    locks that another thread may hold. Workers set torch to one thread, so they never
    enter an OpenMP parallel region the parent left.
    """
    import multiprocessing
    import sys

    if (
        sys.platform == "linux"
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    ):
        return "fork"
    return "spawn"


class ProcessEngine(cf.ProcessPoolExecutor):
    """A process pool, each worker running torch with one thread and ignoring Ctrl-C.

    Args:
        workers: Processes (default one per core).
        warm: Start every worker now, with the pipeline's modules loaded (see
            :func:`_warm_up`), instead of at the first job; ``False`` starts workers
            lazily with torch only (for light jobs).
        start_method: ``"fork"`` or ``"spawn"`` (default: fork on Linux while this
            process has one thread, else spawn). The results are the same either way.
    """

    kind = "process"

    def __init__(
        self, workers: int | None = None, *, warm: bool = True, start_method: str | None = None
    ) -> None:
        import functools
        import multiprocessing

        self.workers = workers or _cpu_count()
        self.start_method = start_method or _start_method()
        if warm and self.start_method == "fork":
            # torch and the pipeline once, here (the parent needs them too); the workers
            # inherit them and load the rest in parallel, while the parent goes on
            import importlib

            importlib.import_module("finance_demo.backtest")
        super().__init__(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context(self.start_method),
            initializer=functools.partial(_init_process_worker, warm),
        )
        if warm:
            for _ in range(self.workers):  # start the workers now (fork: all at the first)
                self.submit(_nothing)

    as_completed = staticmethod(_as_completed)

    def __repr__(self) -> str:
        return f"ProcessEngine(workers={self.workers}, start_method={self.start_method!r})"


def _ray_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The one Ray task: a job, in a worker whose torch runs one thread (like a pool's)."""
    global _RAY_WORKER_READY
    if not _RAY_WORKER_READY:
        import torch

        torch.set_num_threads(1)
        _RAY_WORKER_READY = True
    return fn(*args, **kwargs)


_RAY_WORKER_READY = False


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EngineError(RAY_MISSING) from None
    return ray


class _RayFuture(cf.Future):
    """A future of one Ray task; ``cancel()`` also cancels the task."""

    def __init__(self, ray: Any, ref: Any, live: set[Any], lock: threading.Lock) -> None:
        super().__init__()
        self._ray = ray
        self._ref = ref
        self._live = live
        self._engine_lock = lock

    def cancel(self) -> bool:
        """Cancel the future, then its task (which may be running: Ray interrupts it)."""
        if not super().cancel():  # first, so that the task's end does not resolve it
            return False
        self.set_running_or_notify_cancel()  # wake wait() / as_completed(), as pools do
        with self._engine_lock:
            self._live.discard(self)
        try:
            self._ray.cancel(self._ref)
        except Exception:  # pragma: no cover - already finished or the cluster is gone
            pass
        return True


class RayEngine(cf.Executor):
    """``ray.remote`` tasks of one CPU each; futures resolve in the caller's process."""

    kind = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        ray = _import_ray()
        self._ray = ray
        self._owns = False
        self._lock = threading.Lock()
        self._live: set[_RayFuture] = set()
        if not ray.is_initialized():
            try:
                if address is not None:
                    ray.init(address=address, include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(
                        num_cpus=workers or _cpu_count(),
                        include_dashboard=False,
                        log_to_driver=False,
                    )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = address or "a local cluster"
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise EngineError(f"cannot start Ray on {where}: {first}") from None
            self._owns = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = min(workers, cpus) if workers else max(1, cpus)
        self._task = ray.remote(num_cpus=1, max_retries=0)(_ray_call)
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Start ``fn(*args, **kwargs)`` as a Ray task; return its future."""
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        ref = self._task.remote(fn, args, kwargs)
        future = _RayFuture(self._ray, ref, self._live, self._lock)
        with self._lock:
            self._live.add(future)
        ref.future().add_done_callback(lambda inner: self._resolve(future, inner))
        return future

    def _resolve(self, future: _RayFuture, inner: cf.Future) -> None:
        with self._lock:
            self._live.discard(future)
        if future.cancelled():
            return
        try:
            exc = inner.exception()
        except cf.CancelledError:
            exc = cf.CancelledError()
        try:
            if exc is None:
                future.set_result(inner.result())
            else:
                # a task's error comes back wrapped in a RayTaskError; hand back the job's
                # own exception (its one-line message), as the other engines do
                cause = getattr(exc, "cause", None)
                future.set_exception(cause if isinstance(cause, BaseException) else exc)
        except cf.InvalidStateError:  # cancelled meanwhile
            pass

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Wait for (or cancel) the tasks in flight; stop Ray if this engine started it."""
        if self._shutdown:
            return
        self._shutdown = True
        with self._lock:
            live = list(self._live)
        if cancel_futures:
            for future in live:
                future.cancel()
        elif wait:
            cf.wait(live)
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()

    as_completed = staticmethod(_as_completed)

    def __repr__(self) -> str:
        return f"RayEngine(workers={self.workers})"


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def make_engine(
    kind: str = "serial", workers: int | None = None, ray_address: str | None = None
) -> SerialEngine | ProcessEngine | RayEngine:
    """Return an engine that runs jobs serially, on a process pool or on Ray.

    Args:
        kind: ``"serial"``, ``"process"`` or ``"ray"``.
        workers: Jobs at once: processes of the pool (default one per core), CPUs of the
            local Ray cluster (default one per core; capped by the cluster's CPUs); must
            be ``None`` or 1 for ``serial``.
        ray_address: Address of a running Ray cluster (``"ray://host:10001"``,
            ``"host:6379"``, ``"auto"``); only for ``ray``. ``None``: the Ray already
            initialized in this process, or else a local one started for the engine.

    Returns:
        The engine; use it as a context manager (or call ``shutdown()``).

    Raises:
        SettingsError: An unknown kind, a bad ``workers``, or ``ray_address`` without Ray.
        EngineError: Ray is not installed (the message names ``pip install
            'finance-demo[ray]'``) or cannot be started or reached.

    Examples:
        >>> with make_engine("serial") as engine:
        ...     list(engine.map(pow, [2, 3], [5, 2]))
        [32, 9]
        >>> make_engine("threads")
        Traceback (most recent call last):
        ...
        finance_demo.errors.SettingsError: unknown engine 'threads'; use serial, process or ray
    """
    if kind not in ENGINE_KINDS:
        raise SettingsError(f"unknown engine {kind!r}; use {', '.join(ENGINE_KINDS[:-1])} or ray")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS
    ):
        raise SettingsError(f"workers must be an integer in [1, {MAX_WORKERS}], got {workers!r}")
    if ray_address is not None and kind != "ray":
        raise SettingsError(f"ray_address applies to the ray engine only, not {kind!r}")
    if kind == "serial":
        if workers not in (None, 1):
            raise SettingsError(f"the serial engine runs one job at a time; got workers={workers}")
        return SerialEngine()
    if kind == "process":
        return ProcessEngine(workers)
    return RayEngine(workers, ray_address)
